/**
 * Helpers of the weight-distribution study: pooling sampled weight sets,
 * summary statistics (mean, std, quantiles, near-zero fraction) and the
 * histogram range.
 *
 * @module
 */

/**
 * Summary statistics of a set of weight values.
 *
 * @example
 * ```ts
 * import { type WeightStats, weightStats } from "./weight_study_stats.ts";
 * const s: WeightStats = weightStats(new Float32Array([1, 2, 3]));
 * ```
 */
export interface WeightStats {
  /** Number of values. */
  n: number;
  /** Mean. */
  mean: number;
  /** Population standard deviation. */
  std: number;
  /** 1% quantile. */
  q01: number;
  /** Median. */
  q50: number;
  /** 99% quantile. */
  q99: number;
  /** Fraction of values with |w| < 1e-3. */
  fractionAbsLt1e3: number;
}

/**
 * The `q`-quantile of ascending `sorted` values, interpolating linearly
 * between order statistics (NumPy's default).
 *
 * @example
 * ```ts
 * import { quantileSorted } from "./weight_study_stats.ts";
 * quantileSorted(new Float32Array([1, 2, 3, 4]), 0.5); // 2.5
 * ```
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be in [0, 1], found ${q}`);
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/** Moves the k-th smallest value of `a[left..right]` to `a[k]` (quickselect, in place). */
function selectKth(a: Float32Array, k: number, left: number, right: number): void {
  while (right > left) {
    // Median-of-three pivot.
    const mid = (left + right) >>> 1;
    const x = a[left], y = a[mid], z = a[right];
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : (x < z ? x : y < z ? z : y);
    let i = left, j = right;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return;
  }
}

/**
 * Quantiles of `values` (NumPy's linear interpolation) by quickselect on a
 * copy: O(n) per quantile instead of a full sort, so tens of millions of
 * weights take well under a second.
 *
 * @example
 * ```ts
 * import { quantiles } from "./weight_study_stats.ts";
 * quantiles(new Float32Array([4, 1, 3, 2]), [0, 0.5, 1]); // [1, 2.5, 4]
 * ```
 */
export function quantiles(values: Float32Array, qs: readonly number[]): number[] {
  const n = values.length;
  if (n === 0) return qs.map(() => NaN);
  const a = values.slice();
  return qs.map((q) => {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be in [0, 1], found ${q}`);
    const pos = q * (n - 1);
    const lo = Math.floor(pos);
    selectKth(a, lo, 0, n - 1);
    const v = a[lo];
    if (pos === lo || lo + 1 >= n) return v;
    let next = Infinity; // the (lo + 1)-th smallest: the minimum right of lo
    for (let i = lo + 1; i < n; i++) if (a[i] < next) next = a[i];
    return v + (pos - lo) * (next - v);
  });
}

/**
 * Mean, standard deviation, 1/50/99% quantiles and the fraction of values
 * with |w| < 1e-3. The input is left as is.
 *
 * @example
 * ```ts
 * import { weightStats } from "./weight_study_stats.ts";
 * const s = weightStats(new Float32Array([0, 0.5, -0.5, 1]));
 * s.fractionAbsLt1e3; // 0.25
 * ```
 */
export function weightStats(values: Float32Array): WeightStats {
  const n = values.length;
  if (n === 0) throw new RangeError("weightStats: no values");
  let s = 0, small = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) throw new RangeError(`weightStats: value ${i} is ${v}`);
    s += v;
    if (Math.abs(v) < 1e-3) small++;
  }
  const mean = s / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2;
  const [q01, q50, q99] = quantiles(values, [0.01, 0.5, 0.99]);
  return { n, mean, std: Math.sqrt(ss / n), q01, q50, q99, fractionAbsLt1e3: small / n };
}

/**
 * Options of {@linkcode poolWeights}.
 *
 * @example
 * ```ts
 * import type { PoolOptions } from "./weight_study_stats.ts";
 * const o: PoolOptions = { perLayer: true, biases: false };
 * ```
 */
export interface PoolOptions {
  /** One group per weight matrix (`l0.w`, …) instead of one pooled group `all`. */
  perLayer?: boolean;
  /** Include the bias vectors (default false: weight matrices only). */
  biases?: boolean;
}

/**
 * Concatenates the values of sampled weight sets (as returned by
 * `Method.sampleWeights`): all weight matrices of all sets into one group
 * `all`, or one group per matrix with `perLayer`. Keys ending in `.w` are
 * weight matrices; `.b` are biases (left out unless `biases`); other keys
 * (e.g. a global noise parameter) are always left out.
 *
 * @example
 * ```ts
 * import { poolWeights } from "./weight_study_stats.ts";
 * const sets = [{ "l0.w": new Float32Array([1, 2]), "l0.b": new Float32Array([0]) }];
 * poolWeights(sets).get("all"); // Float32Array [1, 2]
 * ```
 */
export function poolWeights(
  sets: readonly Record<string, Float32Array>[],
  opts: PoolOptions = {},
): Map<string, Float32Array> {
  if (sets.length === 0) throw new RangeError("poolWeights: no weight sets");
  const keys = Object.keys(sets[0]).filter((k) =>
    k.endsWith(".w") || (opts.biases === true && k.endsWith(".b"))
  );
  if (keys.length === 0) {
    throw new RangeError(
      `poolWeights: no weight matrices (keys ending in .w) among ${
        Object.keys(sets[0]).join(", ")
      }`,
    );
  }
  const groups = new Map<string, string[]>();
  for (const k of keys) {
    const g = opts.perLayer ? k : "all";
    groups.set(g, [...(groups.get(g) ?? []), k]);
  }
  const out = new Map<string, Float32Array>();
  for (const [g, ks] of groups) {
    let total = 0;
    for (const set of sets) {
      for (const k of ks) {
        if (!set[k]) throw new RangeError(`poolWeights: a weight set lacks "${k}"`);
        total += set[k].length;
      }
    }
    const pooled = new Float32Array(total);
    let off = 0;
    for (const set of sets) {
      for (const k of ks) {
        pooled.set(set[k], off);
        off += set[k].length;
      }
    }
    out.set(g, pooled);
  }
  return out;
}

/**
 * The values of `values` that are not exactly zero, and the share of exact
 * zeros (dropped units of MC dropout, pruned weights): a spike at 0 would
 * flatten every other histogram, so the figure leaves them out and names
 * their share in the legend.
 *
 * @example
 * ```ts
 * import { splitZeros } from "./weight_study_stats.ts";
 * const { nonZero, zeroFraction } = splitZeros(new Float32Array([0, 1, 0, 2]));
 * // nonZero [1, 2], zeroFraction 0.5
 * ```
 */
export function splitZeros(values: Float32Array): { nonZero: Float32Array; zeroFraction: number } {
  let zeros = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === 0) zeros++;
  if (zeros === 0) return { nonZero: values, zeroFraction: 0 };
  const nonZero = new Float32Array(values.length - zeros);
  for (let i = 0, j = 0; i < values.length; i++) if (values[i] !== 0) nonZero[j++] = values[i];
  return { nonZero, zeroFraction: zeros / Math.max(values.length, 1) };
}

/**
 * A symmetric histogram range `[-a, a]` covering the central `1 − 2·clip`
 * mass of every group (a = the largest |quantile| over the groups), so one
 * long-tailed method does not squash the others.
 *
 * @example
 * ```ts
 * import { histogramRange } from "./weight_study_stats.ts";
 * histogramRange([new Float32Array([-1, 0, 2])], 0); // [-2, 2]
 * ```
 */
export function histogramRange(groups: readonly Float32Array[], clip: number): [number, number] {
  if (!(clip >= 0 && clip < 0.5)) throw new RangeError(`clip must be in [0, 0.5), found ${clip}`);
  let a = 0;
  for (const g of groups) {
    if (g.length === 0) continue;
    // A strided subsample (≤ 1M values) is plenty for the plotting range.
    const stride = Math.max(1, Math.floor(g.length / 1_000_000));
    const sub = new Float32Array(Math.ceil(g.length / stride));
    for (let i = 0, j = 0; i < g.length; i += stride, j++) sub[j] = g[i];
    const [lo, hi] = quantiles(sub, [clip, 1 - clip]);
    a = Math.max(a, Math.abs(lo), Math.abs(hi));
  }
  if (!(a > 0) || !Number.isFinite(a)) a = 1;
  return [-a, a];
}
