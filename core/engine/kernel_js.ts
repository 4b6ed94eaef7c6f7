/**
 * Compiles a kernel (see `kernel.ts`) to a JavaScript loop over a range of
 * parameters. The generated function takes every array and number as an
 * argument (V8 keeps them in registers; values read from a closure cost 2–3×
 * in these memory-bound loops), so it runs as fast as a hand-written loop.
 *
 * @module
 */
import type { Expr, Kernel, Stmt } from "./kernel.ts";
import { log1pJs, sigmoidJs, softplusJs } from "./cpu_math.ts";

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
  log1p: "l1p",
  sigmoid: "sg",
  softplus: "sp",
};

/**
 * Compiles `k` for the CPU. `present` names the optional inputs given (the
 * others read as 1).
 *
 * @example
 * ```ts
 * import { compileJs, defineKernel } from "@bayes/nn";
 * const k = defineKernel({ name: "axpy", inouts: ["y"], inputs: ["x"], scalars: ["a"], body: "y += a * x;" });
 * const y = new Float32Array([1, 2]);
 * compileJs(k).fn(2, 0, 2, 1, new Float32Array([1, 1]), y, 10); // y = [11, 12]
 * ```
 */
export function compileJs(k: Kernel, present: ReadonlySet<string> = new Set()): JsKernel {
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
  const expr = (e: Expr): string => {
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
        const a = e.args.map(expr);
        if (e.fn === "select") return `((${a[2]}) ? (${a[1]}) : (${a[0]}))`;
        if (e.fn === "clamp") return `Math.min(Math.max(${a[0]}, ${a[1]}), ${a[2]})`;
        return `${MATH[e.fn]}(${a.join(", ")})`;
      }
      case "un":
        return `(${e.op}${expr(e.e)})`;
      case "bin":
        return `(${expr(e.a)} ${e.op === "==" ? "===" : e.op === "!=" ? "!==" : e.op} ${
          expr(e.b)
        })`;
    }
  };
  const sums = new Set(k.sums);
  const stmts = (list: readonly Stmt[], ind: string): string =>
    list.map((s) => {
      switch (s.t) {
        case "let":
          return `${ind}const v_${s.name} = ${expr(s.e)};`;
        case "var":
          return `${ind}let v_${s.name} = ${expr(s.e)};`;
        case "set":
          if (sums.has(s.name)) return `${ind}S_${s.name} ${s.op} ${expr(s.e)};`;
          if (s.index) return `${ind}A_${s.name}[v_${s.index} * n + i] = ${expr(s.e)};`;
          return `${ind}v_${s.name} ${s.op} ${expr(s.e)};`;
        case "if":
          return `${ind}if (${expr(s.cond)}) {\n${stmts(s.then, ind + "  ")}\n${ind}}` +
            (s.else ? ` else {\n${stmts(s.else, ind + "  ")}\n${ind}}` : "");
        case "for":
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
  const source = [
    `"use strict";`,
    `return function kernel_${k.spec.name}(${params.join(", ")}) {`,
    ...k.sums.map((s) => `  let S_${s} = 0;`),
    `  for (let i = i0; i < i1; i++) {`,
    ...pre.map((l) => `    ${l}`),
    stmts(k.body, "    "),
    ...post.map((l) => `    ${l}`),
    `  }`,
    `  return [${k.sums.map((s) => `S_${s}`).join(", ")}];`,
    `};`,
  ].join("\n");
  // Why new Function: the loop is generated from the kernel text; the helpers are arguments
  // of the outer function so the inner loop sees them as constants.
  const make = new Function("sp", "sg", "l1p", source);
  return {
    fn: make(softplusJs, sigmoidJs, log1pJs),
    arrays,
    normals,
    scalars: [...k.scalars],
    source,
  };
}
