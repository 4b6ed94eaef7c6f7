/**
 * Compiles a kernel (see `kernel.ts`) to a JavaScript loop over a range of
 * parameters. The generated function takes every array and number as an
 * argument (V8 keeps them in registers; values read from a closure cost 2–3×
 * in these memory-bound loops), so it runs as fast as a hand-written loop.
 *
 * @module
 */
import type { Expr, Kernel, Stmt } from "./kernel.ts";
import {
  LOG_TABLE,
  LOG_TABLE_BITS,
  SOFTPLUS_SIGMOID_TABLE,
  TABLE_HI,
  TABLE_LO,
  TABLE_PER_UNIT,
} from "./cpu_math.ts";

/**
 * A compiled kernel: `fn(n, i0, i1, reps, ...arrays, ...noiseOffsets, ...scalars)`
 * runs parameters `[i0, i1)` of a segment of `n` and returns the sums.
 */
export interface JsKernel {
  /** The loop. */
  // deno-lint-ignore no-explicit-any
  fn: (...args: any[]) => number[];
  /** Argument order of the arrays (names of present arguments). */
  arrays: string[];
  /** Normals and uniforms (each takes an array, an offset and a per-sample stride). */
  normals: string[];
  /** Scalar order. */
  scalars: string[];
  /** The generated source (for debugging). */
  source: string;
}

const MATH: Record<string, string> = {
  sqrt: "Math.sqrt",
  exp: "Math.exp",
  log: "Math.log",
  abs: "Math.abs",
  sign: "Math.sign",
  min: "Math.min",
  max: "Math.max",
  pow: "Math.pow",
  log1p: "Math.log1p",
  f32: "Math.fround",
};

/**
 * Compiles `k` for the CPU. `present` names the optional inputs given (the
 * others read as 1, or their stated fallback). With `samples` (≤ 4) the
 * sample loops are unrolled for that many samples: a loop over one sample
 * inside the per-parameter loop costs V8 3× the work of the unrolled body.
 * softplus and sigmoid are table lookups written out inline (a call per
 * parameter costs 3–5× as much).
 *
 * @example
 * ```ts
 * import { compileJs } from "./kernel_js.ts";
 * import { defineKernel } from "./kernel.ts";
 * const k = defineKernel({ name: "axpy", inouts: ["y"], inputs: ["x"], scalars: ["a"], body: "y += a * x;" });
 * const y = new Float32Array([1, 2]);
 * compileJs(k).fn(2, 0, 2, 1, new Float32Array([1, 1]), y, 10); // y = [11, 12]
 * ```
 */
export function compileJs(
  k: Kernel,
  present: ReadonlySet<string> = new Set(),
  opts: { samples?: number } = {},
): JsKernel {
  const arrays: string[] = [];
  const normals: string[] = [];
  const pre: string[] = [];
  const post: string[] = [];
  for (const a of k.args) {
    if (a.kind === "normal" || a.kind === "uniform") {
      normals.push(a.name);
      if (!a.perSample) pre.push(`const v_${a.name} = N_${a.name}[O_${a.name} + i];`);
      continue;
    }
    if (a.optional && !present.has(a.name)) {
      pre.push(`const v_${a.name} = ${a.fallback};`);
      continue;
    }
    arrays.push(a.name);
    if (a.perSample) continue;
    if (a.kind === "input") pre.push(`const v_${a.name} = A_${a.name}[i];`);
    else if (a.kind === "inout") {
      pre.push(`let v_${a.name} = A_${a.name}[i];`);
      post.push(`A_${a.name}[i] = v_${a.name};`);
    } else {
      pre.push(`let v_${a.name} = 0;`);
      post.push(`A_${a.name}[i] = v_${a.name};`);
    }
  }
  const perSampleNormal = new Set(
    k.args.filter((a) => (a.kind === "normal" || a.kind === "uniform") && a.perSample)
      .map((a) => a.name),
  );
  let temp = 0;
  const lookups = new Map<string, number>();
  const lookupLine = (t: number) =>
    `if (in_${t}) { f_${t} = (x_${t} - ${TABLE_LO}) * ${TABLE_PER_UNIT}; j_${t} = f_${t} | 0; }`;
  /** An expression; table lookups it needs are appended to `hoist` as statements. */
  const expr = (e: Expr, hoist: string[]): string => {
    switch (e.t) {
      case "num":
        return String(e.v);
      case "name":
        return `v_${e.name}`;
      case "index":
        return perSampleNormal.has(e.name)
          ? `N_${e.name}[O_${e.name} + ${`v_${e.index}`} * P_${e.name} + i]`
          : `A_${e.name}[v_${e.index} * n + i]`;
      case "call": {
        const a = e.args.map((x) => expr(x, hoist));
        if (e.fn === "select") return `((${a[2]}) ? (${a[1]}) : (${a[0]}))`;
        if (e.fn === "clamp") return `Math.min(Math.max(${a[0]}, ${a[1]}), ${a[2]})`;
        if (e.fn === "softplus" || e.fn === "sigmoid") {
          // softplus and sigmoid of one argument share the lookup (adjacent table columns).
          const col = e.fn === "softplus" ? 0 : 1;
          let t = lookups.get(a[0]);
          if (t === undefined || !hoist.includes(lookupLine(t))) {
            t = temp++;
            lookups.set(a[0], t);
            hoist.push(
              `const x_${t} = ${a[0]}; let f_${t} = 0, j_${t} = 0;`,
              `const in_${t} = x_${t} >= ${TABLE_LO} && x_${t} < ${TABLE_HI};`,
              lookupLine(t),
            );
          }
          const r = `r${col}_${t}`;
          if (!hoist.includes(`let ${r} = 0;`)) {
            const exact = col === 0
              ? `x_${t} > 0 ? x_${t} + Math.log1p(Math.exp(-x_${t})) : Math.log1p(Math.exp(x_${t}))`
              : `x_${t} >= 0 ? 1 / (1 + Math.exp(-x_${t})) : 1 - 1 / (1 + Math.exp(x_${t}))`;
            hoist.push(
              `let ${r} = 0;`,
              `if (in_${t}) { const k = 2 * j_${t} + ${col}; ` +
                `${r} = T[k] + (f_${t} - j_${t}) * (T[k + 2] - T[k]); } else ${r} = ${exact};`,
            );
          }
          return r;
        }
        if (e.fn === "min" || e.fn === "max") {
          // A comparison instead of a Math call (as fast as the loop around it; NaN propagates).
          const t = temp++;
          const op = e.fn === "max" ? ">" : "<";
          hoist.push(
            `const p_${t} = ${a[0]}, q_${t} = ${a[1]};`,
            `const r_${t} = p_${t} ${op} q_${t} || p_${t} !== p_${t} ? p_${t} : ` +
              `q_${t} ${op} p_${t} || q_${t} !== q_${t} ? q_${t} : p_${t};`,
          );
          return `r_${t}`;
        }
        if (e.fn === "log") {
          // log of a float32 from its bits and a table (normal positive numbers), else Math.log.
          const t = temp++;
          const shift = 23 - LOG_TABLE_BITS;
          hoist.push(
            `const x_${t} = ${a[0]}; let r_${t} = 0; F32[0] = x_${t}; const b_${t} = U32[0];`,
            `if (b_${t} >= 0x00800000 && b_${t} < 0x7f800000) { ` +
              `const m_${t} = b_${t} & 0x7fffff; const j_${t} = m_${t} >>> ${shift}; ` +
              `const f_${t} = (m_${t} & ${(1 << shift) - 1}) * ${1 / (1 << shift)}; ` +
              `r_${t} = ((b_${t} >>> 23) - 127) * ${Math.LN2} + LT[j_${t}] + ` +
              `f_${t} * (LT[j_${t} + 1] - LT[j_${t}]); } else r_${t} = Math.log(x_${t});`,
          );
          return `r_${t}`;
        }
        if (e.fn === "sign") {
          // Branch-free for the common case (signs of weights are coin flips: a branch mispredicts).
          return `((${a[0]}) !== 0 ? (${a[0]}) / Math.abs(${a[0]}) : (${a[0]}))`;
        }
        return `${MATH[e.fn]}(${a.join(", ")})`;
      }
      case "un":
        return `(${e.op}${expr(e.e, hoist)})`;
      case "bin":
        return `(${expr(e.a, hoist)} ${e.op === "==" ? "===" : e.op === "!=" ? "!==" : e.op} ${
          expr(e.b, hoist)
        })`;
    }
  };
  const sums = new Set(k.sums);
  const unroll = opts.samples !== undefined && opts.samples <= 4 ? opts.samples : undefined;
  const stmts = (list: readonly Stmt[], ind: string): string =>
    list.map((s) => {
      const hoist: string[] = [];
      const with_ = (line: string) => [...hoist.map((h) => ind + h), ind + line].join("\n");
      switch (s.t) {
        case "let": {
          const v = expr(s.e, hoist);
          return with_(`const v_${s.name} = ${v};`);
        }
        case "var": {
          const v = expr(s.e, hoist);
          return with_(`let v_${s.name} = ${v};`);
        }
        case "set": {
          const v = expr(s.e, hoist);
          if (sums.has(s.name)) return with_(`S_${s.name} ${s.op} ${v};`);
          if (s.index) return with_(`A_${s.name}[v_${s.index} * n + i] = ${v};`);
          return with_(`v_${s.name} ${s.op} ${v};`);
        }
        case "if": {
          const c = expr(s.cond, hoist);
          return with_(
            `if (${c}) {\n${stmts(s.then, ind + "  ")}\n${ind}}` +
              (s.else ? ` else {\n${stmts(s.else, ind + "  ")}\n${ind}}` : ""),
          );
        }
        case "for":
          if (unroll !== undefined) {
            return Array.from(
              { length: unroll },
              (_, r) =>
                `${ind}{\n${ind}  const v_${s.v} = ${r};\n${stmts(s.body, ind + "  ")}\n${ind}}`,
            ).join("\n");
          }
          return `${ind}for (let v_${s.v} = 0; v_${s.v} < reps; v_${s.v}++) {\n${
            stmts(s.body, ind + "  ")
          }\n${ind}}`;
      }
    }).join("\n");
  const params = [
    "n",
    "i0",
    "i1",
    "reps",
    ...arrays.map((a) => `A_${a}`),
    ...normals.flatMap((a) => [`N_${a}`, `O_${a}`, `P_${a}`]),
    ...k.scalars.map((s) => `v_${s}`),
  ];
  const body = stmts(k.body, "    ");
  const source = [
    `"use strict";`,
    `return function kernel_${k.spec.name}(${params.join(", ")}) {`,
    `  const T = table, LT = logTable, F32 = f32, U32 = u32;`,
    ...(unroll !== undefined
      ? [`  if (reps !== ${unroll}) throw new Error("compiled for ${unroll} samples");`]
      : []),
    ...k.sums.map((s) => `  let S_${s} = 0;`),
    `  for (let i = i0; i < i1; i++) {`,
    ...pre.map((l) => `    ${l}`),
    body,
    ...post.map((l) => `    ${l}`),
    `  }`,
    `  return [${k.sums.map((s) => `S_${s}`).join(", ")}];`,
    `};`,
  ].join("\n");
  return { fn: makeKernelFn(source), arrays, normals, scalars: [...k.scalars], source };
}

/**
 * The loop of a compiled kernel's `source` (as `compileJs` gives it), made
 * again — e.g. on a worker thread of the CPU engine's pool.
 *
 * @example
 * ```ts
 * import { compileJs, makeKernelFn } from "./kernel_js.ts";
 * import { defineKernel } from "./kernel.ts";
 * const k = defineKernel({ name: "scale", inouts: ["y"], scalars: ["a"], body: "y *= a;" });
 * const fn = makeKernelFn(compileJs(k).source);
 * fn(1, 0, 1, 1, new Float32Array([2]), 3); // the array now holds 6
 * ```
 */
// deno-lint-ignore no-explicit-any
export function makeKernelFn(source: string): (...args: any[]) => number[] {
  // Why new Function: the loop is generated from the kernel text; the table is an argument of
  // the outer function. (Calling a function in the loop, even on a branch never taken, halves
  // V8's speed here: the exact paths are written out too.)
  const make = new Function("table", "logTable", "f32", "u32", source);
  const scratch = new ArrayBuffer(4);
  return make(
    SOFTPLUS_SIGMOID_TABLE,
    LOG_TABLE,
    new Float32Array(scratch),
    new Uint32Array(scratch),
  );
}
