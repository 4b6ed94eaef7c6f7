/**
 * The kernel language's special functions on the CPU: softplus and the
 * logistic sigmoid from an interpolated table, log1p from `Math`.
 *
 * `Math.exp`/`Math.log1p` cost about 90 ns per call under V8; linear
 * interpolation in a table with 1024 points per unit over [−32, 16] costs a
 * few ns, with relative error below 2e-7 (float32 resolution). Values outside
 * the table, and NaN, take the exact path.
 *
 * @module
 */

const LO = -32;
const HI = 16;
const PER_UNIT = 1024;
const COUNT = (HI - LO) * PER_UNIT + 1;

/** Exact softplus log(1 + eˣ), stable for large |x|. */
export function softplusExact(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** Exact logistic sigmoid 1 / (1 + e⁻ˣ). */
export function sigmoidExact(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** Lowest argument of the interpolation table. */
export const TABLE_LO = LO;
/** End (exclusive) of the interpolation table. */
export const TABLE_HI = HI;
/** Table points per unit of the argument. */
export const TABLE_PER_UNIT = PER_UNIT;

// Interleaved pairs [softplus, sigmoid] at LO + i / PER_UNIT.
const TABLE = (() => {
  const t = new Float64Array(2 * (COUNT + 1));
  for (let i = 0; i <= COUNT; i++) {
    const x = LO + i / PER_UNIT;
    t[2 * i] = softplusExact(x);
    t[2 * i + 1] = sigmoidExact(x);
  }
  return t;
})();

/**
 * The interpolation table: pairs `[softplus, sigmoid]` at `TABLE_LO + i /
 * TABLE_PER_UNIT` (for generated loops that inline the lookup).
 *
 * @example
 * ```ts
 * import { SOFTPLUS_SIGMOID_TABLE, TABLE_LO, TABLE_PER_UNIT } from "./cpu_math.ts";
 * SOFTPLUS_SIGMOID_TABLE[2 * (0 - TABLE_LO) * TABLE_PER_UNIT]; // softplus(0) = log 2
 * ```
 */
export const SOFTPLUS_SIGMOID_TABLE: Float64Array = TABLE;

/**
 * softplus(x) = log(1 + eˣ), interpolated (float32-accurate).
 *
 * @example
 * ```ts
 * import { softplusJs } from "./cpu_math.ts";
 * softplusJs(0); // ≈ 0.6931
 * ```
 */
export function softplusJs(x: number): number {
  if (x >= LO && x < HI) {
    const f = (x - LO) * PER_UNIT;
    const j = f | 0;
    const k = 2 * j;
    return TABLE[k] + (f - j) * (TABLE[k + 2] - TABLE[k]);
  }
  return softplusExact(x);
}

/**
 * sigmoid(x) = 1 / (1 + e⁻ˣ), interpolated (float32-accurate).
 *
 * @example
 * ```ts
 * import { sigmoidJs } from "./cpu_math.ts";
 * sigmoidJs(0); // 0.5
 * ```
 */
export function sigmoidJs(x: number): number {
  if (x >= LO && x < HI) {
    const f = (x - LO) * PER_UNIT;
    const j = f | 0;
    const k = 2 * j + 1;
    return TABLE[k] + (f - j) * (TABLE[k + 2] - TABLE[k]);
  }
  return sigmoidExact(x);
}

/** Mantissa bits indexing the log table (2¹¹ intervals: error ≤ 3e-8). */
export const LOG_TABLE_BITS = 11;

/**
 * log(1 + j / 2¹¹), j = 0 … 2¹¹: with a float32's exponent e and mantissa m,
 * log x = e·ln 2 + log(1 + m), interpolated in this table (for generated
 * loops; `Math.log` costs about twice as much there).
 *
 * @example
 * ```ts
 * import { LOG_TABLE } from "./cpu_math.ts";
 * LOG_TABLE[LOG_TABLE.length - 1]; // log 2
 * ```
 */
export const LOG_TABLE: Float64Array = Float64Array.from(
  { length: (1 << LOG_TABLE_BITS) + 1 },
  (_, j) => Math.log1p(j / (1 << LOG_TABLE_BITS)),
);

/** log(1 + x). */
export const log1pJs: (x: number) => number = Math.log1p;

/**
 * The inverse of softplus, for setting ρ from a σ: log(eˢ − 1), `s > 0`.
 *
 * @example
 * ```ts
 * import { softplusInverse, softplusJs } from "./cpu_math.ts";
 * softplusJs(softplusInverse(0.1)); // ≈ 0.1
 * ```
 */
export function softplusInverse(s: number): number {
  if (!(s > 0)) throw new RangeError(`softplus inverse needs a value > 0, found ${s}`);
  return s > 30 ? s : Math.log(Math.expm1(s));
}
