/**
 * Compiles a kernel (see `kernel.ts`) to a WGSL compute shader: one thread
 * per parameter (grid-stride over a segment; several segments per dispatch),
 * normals from Philox computed where they are used, sums reduced per
 * workgroup into a partials buffer.
 *
 * @module
 */
import type { Expr, Kernel, Stmt } from "./kernel.ts";
import { PHILOX_WGSL } from "./philox.ts";

/** Threads per workgroup. */
export const WORKGROUP = 256;

/** What a word of the uniform buffer holds. */
export type WgslUniform =
  | { name: string; type: "u32"; role: "reps" }
  /** Of segment `seg`: its size, global offset, first partial, first workgroup, workgroups. */
  | { name: string; type: "u32"; role: "n" | "goff" | "pbase" | "wstart" | "wcount"; seg: number }
  /** A noise block's key, tag and draw counter (shared by the segments). */
  | { name: string; type: "u32"; role: "noise"; arg: string; field: NoiseField }
  /** A scalar's value for segment `seg`. */
  | { name: string; type: "f32"; role: "scalar"; arg: string; seg: number };

/** The words of a noise block in the uniforms. */
export type NoiseField = "k0" | "k1" | "tag" | "dlo" | "dhi";
const NOISE_FIELDS: readonly NoiseField[] = ["k0", "k1", "tag", "dlo", "dhi"];

/** A compiled shader and how to bind it. */
export interface WgslKernel {
  /** Shader source. */
  code: string;
  /** Segments one dispatch covers (each with its own arrays, sizes and scalars). */
  segments: number;
  /**
   * Present arrays in binding order within a segment: segment `g`'s arrays
   * take bindings `1 + g·arrays.length …`.
   */
  arrays: { name: string; write: boolean }[];
  /** Scalars read from device buffers, in binding order after the arrays. */
  deviceScalars: string[];
  /** Uniform layout: the 32-bit words, in order. */
  uniforms: WgslUniform[];
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
 * Compiles `k` to WGSL for `segments` segments per dispatch. `present`
 * names the optional inputs given; `deviceScalars` the scalars passed as
 * one-element device tensors.
 *
 * One dispatch runs the segments side by side: segment `g` owns workgroups
 * `wstart_g … wstart_g + wcount_g − 1`, which stride over its values, so a
 * whole parameter vector (weights and biases of every layer) is one
 * dispatch instead of one per segment — on a GPU each dispatch costs host
 * time whatever its size. Bindings: 0 the uniforms, then each segment's
 * arrays, then device-resident scalars, then the partials buffer (when the
 * kernel has sums: one partial per workgroup and sum).
 *
 * @example
 * ```ts
 * import { compileWgsl } from "./kernel_wgsl.ts";
 * import { defineKernel } from "./kernel.ts";
 * const k = defineKernel({ name: "axpy", inouts: ["y"], inputs: ["x"], scalars: ["a"], body: "y += a * x;" });
 * compileWgsl(k, new Set(), new Set(), 2).code.includes("b_y_1"); // true
 * ```
 */
export function compileWgsl(
  k: Kernel,
  present: ReadonlySet<string> = new Set(),
  deviceScalars: ReadonlySet<string> = new Set(),
  segments = 1,
): WgslKernel {
  if (!Number.isInteger(segments) || segments < 1) {
    throw new RangeError(`segments must be a positive integer, found ${segments}`);
  }
  const G = segments;
  const arrays: { name: string; write: boolean }[] = [];
  /** Per-segment statements before and after the body (`#` stands for the segment). */
  const pre: string[] = [];
  const post: string[] = [];
  const uniforms: WgslUniform[] = [{ name: "reps", type: "u32", role: "reps" }];
  for (let g = 0; g < G; g++) {
    for (const role of ["n", "goff", "pbase", "wstart", "wcount"] as const) {
      uniforms.push({ name: `${role}_${g}`, type: "u32", role, seg: g });
    }
  }
  const normals = new Map<string, "normal" | "uniform">();
  for (const a of k.args) {
    if (a.kind === "normal" || a.kind === "uniform") {
      normals.set(a.name, a.kind);
      for (const field of NOISE_FIELDS) {
        uniforms.push({
          name: `z_${a.name}_${field}`,
          type: "u32",
          role: "noise",
          arg: a.name,
          field,
        });
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
    if (a.kind === "input") pre.push(`let v_${a.name} = b_${a.name}_#[i];`);
    else if (a.kind === "inout") {
      pre.push(`var v_${a.name} = b_${a.name}_#[i];`);
      post.push(`b_${a.name}_#[i] = v_${a.name};`);
    } else {
      pre.push(`var v_${a.name} = 0.0;`);
      post.push(`b_${a.name}_#[i] = v_${a.name};`);
    }
  }
  for (const s of k.scalars) {
    if (deviceScalars.has(s)) continue;
    for (let g = 0; g < G; g++) {
      uniforms.push({ name: `s_${s}_${g}`, type: "f32", role: "scalar", arg: s, seg: g });
    }
  }
  const scalarRef = (s: string) => deviceScalars.has(s) ? `d_${s}[0]` : `u.s_${s}_#`;
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
          : `b_${e.name}_#[v_${e.index} * u.n_# + i]`;
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
          if (s.index) return `${ind}b_${s.name}_#[v_${s.index} * u.n_# + i] = ${expr(s.e)};`;
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
  // The loop over one segment's values, written once; `#` becomes the segment's index.
  const loop = [
    `for (var i: u32 = lw * ${WORKGROUP}u + lid.x; i < u.n_#; i = i + u.wcount_# * ${WORKGROUP}u) {`,
    ...pre.map((l) => `  ${l}`),
    stmts(k.body, "  "),
    ...post.map((l) => `  ${l}`),
    `}`,
  ].join("\n");
  const decl: string[] = [
    `struct U {\n${uniforms.map((f) => `  ${f.name}: ${f.type},`).join("\n")}\n}`,
    `@group(0) @binding(0) var<uniform> u: U;`,
  ];
  let binding = 1;
  for (let g = 0; g < G; g++) {
    for (const a of arrays) {
      decl.push(
        `@group(0) @binding(${binding++}) var<storage, ${
          a.write ? "read_write" : "read"
        }> b_${a.name}_${g}: array<f32>;`,
      );
    }
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
      `  if (lid.x == 0u) { partials_[pbase + lw * ${k.sums.length}u + ${j}u] = red_[0]; }`,
      `  workgroupBarrier();`,
    ].join("\n")
  );
  // Which segment this workgroup serves: the last whose first workgroup it has reached.
  const find = Array.from({ length: G - 1 }, (_, j) => j + 1).map((g) =>
    `  if (wid.x >= u.wstart_${g}) { seg = ${g}u; }`
  );
  const cases = Array.from({ length: G }, (_, g) =>
    [
      `    case ${g}u: {`,
      `      lw = wid.x - u.wstart_${g};`,
      `      pbase = u.pbase_${g};`,
      loop.replaceAll("#", String(g)).split("\n").map((l) => `      ${l}`).join("\n"),
      `    }`,
    ].join("\n"));
  const code = [
    `// kernel ${k.spec.name}, ${G} segment(s)`,
    ...decl,
    PHILOX_WGSL,
    HELPERS,
    `@compute @workgroup_size(${WORKGROUP})`,
    `fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {`,
    ...k.sums.map((s) => `  var acc_${s}: f32 = 0.0;`),
    `  var seg: u32 = 0u;`,
    ...find,
    `  var lw: u32 = 0u;`,
    `  var pbase: u32 = 0u;`,
    `  switch (seg) {`,
    ...cases,
    `    default: {}`,
    `  }`,
    ...reduce,
    `}`,
  ].join("\n");
  return { code, segments: G, arrays, deviceScalars: devScalars, uniforms, hasSums };
}

function normalCall(name: string, kind: "normal" | "uniform", sample: string): string {
  const f = (x: string) => `u.z_${name}_${x}`;
  return `philox_${kind}(${f("k0")}, ${f("k1")}, ${f("tag")}, ${f("dlo")}, ${
    f("dhi")
  }, ${sample}, u.goff_# + i)`;
}
