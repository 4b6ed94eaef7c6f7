/**
 * Compiles a kernel (see `kernel.ts`) to a WGSL compute shader: one thread
 * per parameter (grid-stride over a segment), normals from Philox computed
 * where they are used, sums reduced per workgroup into a partials buffer.
 *
 * Bindings: 0 the uniforms, then the present arrays in declaration order,
 * then device-resident scalars, then the partials buffer (when the kernel
 * has sums).
 *
 * @module
 */
import type { Expr, Kernel, Stmt } from "./kernel.ts";
import { PHILOX_WGSL } from "./philox.ts";

/** Threads per workgroup. */
export const WORKGROUP = 256;

/** A compiled shader and how to bind it. */
export interface WgslKernel {
  /** Shader source. */
  code: string;
  /** Present arrays in binding order (from binding 1). */
  arrays: { name: string; write: boolean }[];
  /** Scalars read from device buffers, in binding order after the arrays. */
  deviceScalars: string[];
  /** Uniform layout: names of the 32-bit words, in order. */
  uniforms: { name: string; type: "u32" | "f32" }[];
  /** Whether a partials buffer is bound last. */
  hasSums: boolean;
}

const FN: Record<string, string> = {
  sqrt: "sqrt",
  exp: "exp",
  log: "log",
  abs: "abs",
  sign: "sign",
  min: "min",
  max: "max",
  pow: "pow",
  clamp: "clamp",
  select: "select",
  log1p: "log1p_",
  f32: "f32",
  sigmoid: "sigmoid_",
  softplus: "softplus_",
};

const HELPERS = /* wgsl */ `
fn log1p_(x: f32) -> f32 {
  let u = 1.0 + x;
  if (u == 1.0) { return x; }
  if (u > 1e30) { return log(u); }
  return log(u) * x / (u - 1.0);
}
fn softplus_(x: f32) -> f32 {
  if (x > 0.0) { return x + log1p_(exp(-x)); }
  return log1p_(exp(x));
}
fn sigmoid_(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}
`;

function lit(v: number): string {
  const s = String(v);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/**
 * Compiles `k` to WGSL. `present` names the optional inputs given;
 * `deviceScalars` the scalars passed as one-element device tensors.
 *
 * @example
 * ```ts
 * import { compileWgsl } from "./kernel_wgsl.ts";
 * import { defineKernel } from "./kernel.ts";
 * const k = defineKernel({ name: "axpy", inouts: ["y"], inputs: ["x"], scalars: ["a"], body: "y += a * x;" });
 * compileWgsl(k).code.includes("@compute"); // true
 * ```
 */
export function compileWgsl(
  k: Kernel,
  present: ReadonlySet<string> = new Set(),
  deviceScalars: ReadonlySet<string> = new Set(),
): WgslKernel {
  const arrays: { name: string; write: boolean }[] = [];
  const pre: string[] = [];
  const post: string[] = [];
  const uniforms: { name: string; type: "u32" | "f32" }[] = [
    { name: "n", type: "u32" },
    { name: "goff", type: "u32" },
    { name: "reps", type: "u32" },
    { name: "pbase", type: "u32" },
  ];
  const normals = new Map<string, "normal" | "uniform">();
  for (const a of k.args) {
    if (a.kind === "normal" || a.kind === "uniform") {
      normals.set(a.name, a.kind);
      for (const f of ["k0", "k1", "tag", "dlo", "dhi"]) {
        uniforms.push({ name: `n_${a.name}_${f}`, type: "u32" });
      }
      if (!a.perSample) pre.push(`let v_${a.name} = ${normalCall(a.name, a.kind, "0u")};`);
      continue;
    }
    if (a.optional && !present.has(a.name)) {
      pre.push(`let v_${a.name} = ${lit(a.fallback)};`);
      continue;
    }
    arrays.push({ name: a.name, write: a.kind !== "input" });
    if (a.perSample) continue;
    if (a.kind === "input") pre.push(`let v_${a.name} = b_${a.name}[i];`);
    else if (a.kind === "inout") {
      pre.push(`var v_${a.name} = b_${a.name}[i];`);
      post.push(`b_${a.name}[i] = v_${a.name};`);
    } else {
      pre.push(`var v_${a.name} = 0.0;`);
      post.push(`b_${a.name}[i] = v_${a.name};`);
    }
  }
  for (const s of k.scalars) {
    if (!deviceScalars.has(s)) uniforms.push({ name: `s_${s}`, type: "f32" });
  }
  const scalarRef = (s: string) => deviceScalars.has(s) ? `d_${s}[0]` : `u.s_${s}`;
  const scalars = new Set(k.scalars);
  const sums = new Set(k.sums);
  const expr = (e: Expr): string => {
    switch (e.t) {
      case "num":
        return lit(e.v);
      case "name":
        return scalars.has(e.name) ? scalarRef(e.name) : `v_${e.name}`;
      case "index":
        return normals.has(e.name)
          ? normalCall(e.name, normals.get(e.name)!, `v_${e.index}`)
          : `b_${e.name}[v_${e.index} * u.n + i]`;
      case "call":
        return `${FN[e.fn]}(${e.args.map(expr).join(", ")})`;
      case "un":
        return `(${e.op}${expr(e.e)})`;
      case "bin":
        return `(${expr(e.a)} ${e.op} ${expr(e.b)})`;
    }
  };
  const stmts = (list: readonly Stmt[], ind: string): string =>
    list.map((s) => {
      switch (s.t) {
        case "let":
          return `${ind}let v_${s.name} = ${expr(s.e)};`;
        case "var":
          return `${ind}var v_${s.name} = ${expr(s.e)};`;
        case "set":
          if (sums.has(s.name)) return `${ind}acc_${s.name} ${s.op} ${expr(s.e)};`;
          if (s.index) return `${ind}b_${s.name}[v_${s.index} * u.n + i] = ${expr(s.e)};`;
          return `${ind}v_${s.name} ${s.op} ${expr(s.e)};`;
        case "if":
          return `${ind}if (${expr(s.cond)}) {\n${stmts(s.then, ind + "  ")}\n${ind}}` +
            (s.else ? ` else {\n${stmts(s.else, ind + "  ")}\n${ind}}` : "");
        case "for":
          return `${ind}for (var v_${s.v}: u32 = 0u; v_${s.v} < u.reps; v_${s.v} = v_${s.v} + 1u) {\n${
            stmts(s.body, ind + "  ")
          }\n${ind}}`;
      }
    }).join("\n");
  const decl: string[] = [
    `struct U {\n${uniforms.map((f) => `  ${f.name}: ${f.type},`).join("\n")}\n}`,
    `@group(0) @binding(0) var<uniform> u: U;`,
  ];
  let binding = 1;
  for (const a of arrays) {
    decl.push(
      `@group(0) @binding(${binding++}) var<storage, ${
        a.write ? "read_write" : "read"
      }> b_${a.name}: array<f32>;`,
    );
  }
  const devScalars = k.scalars.filter((s) => deviceScalars.has(s));
  for (const s of devScalars) {
    decl.push(`@group(0) @binding(${binding++}) var<storage, read> d_${s}: array<f32>;`);
  }
  const hasSums = k.sums.length > 0;
  if (hasSums) {
    decl.push(`@group(0) @binding(${binding++}) var<storage, read_write> partials_: array<f32>;`);
    decl.push(`var<workgroup> red_: array<f32, ${WORKGROUP}>;`);
  }
  const reduce = k.sums.map((s, j) =>
    [
      `  red_[lid.x] = acc_${s};`,
      `  workgroupBarrier();`,
      `  for (var st: u32 = ${WORKGROUP / 2}u; st > 0u; st = st >> 1u) {`,
      `    if (lid.x < st) { red_[lid.x] = red_[lid.x] + red_[lid.x + st]; }`,
      `    workgroupBarrier();`,
      `  }`,
      `  if (lid.x == 0u) { partials_[u.pbase + wid.x * ${k.sums.length}u + ${j}u] = red_[0]; }`,
      `  workgroupBarrier();`,
    ].join("\n")
  );
  const code = [
    `// kernel ${k.spec.name}`,
    ...decl,
    PHILOX_WGSL,
    HELPERS,
    `@compute @workgroup_size(${WORKGROUP})`,
    `fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,`,
    `        @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {`,
    ...k.sums.map((s) => `  var acc_${s}: f32 = 0.0;`),
    `  let stride = nwg.x * ${WORKGROUP}u;`,
    `  for (var i: u32 = gid.x; i < u.n; i = i + stride) {`,
    ...pre.map((l) => `    ${l}`),
    stmts(k.body, "    "),
    ...post.map((l) => `    ${l}`),
    `  }`,
    ...reduce,
    `}`,
  ].join("\n");
  return { code, arrays, deviceScalars: devScalars, uniforms, hasSums };
}

function normalCall(name: string, kind: "normal" | "uniform", sample: string): string {
  const f = (x: string) => `u.n_${name}_${x}`;
  return `philox_${kind}(${f("k0")}, ${f("k1")}, ${f("tag")}, ${f("dlo")}, ${
    f("dhi")
  }, ${sample}, u.goff + i)`;
}
