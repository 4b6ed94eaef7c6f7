/**
 * Seeded k-fold cross-validation splits.
 *
 * @module
 */

import { Rng } from "../core/rng.ts";

/**
 * One fold: training and test row indices (each sorted ascending).
 *
 * @example
 * ```ts
 * import { kFold, type Fold } from "@bayes/nn";
 * const folds: Fold[] = kFold(100, 10, 0);
 * ```
 */
export interface Fold {
  /** Rows used for training. */
  train: Int32Array;
  /** Rows held out. */
  test: Int32Array;
}

/**
 * Splits rows `0..n-1` into `k` folds after a seeded shuffle; the test sets
 * partition the rows (sizes differ by at most one, larger folds first, as in
 * scikit-learn's `KFold`), and each fold trains on the other rows. `rng` may
 * be an {@linkcode Rng} or a seed.
 *
 * @example
 * ```ts
 * import { kFold } from "@bayes/nn";
 * import { loadUciTable, splitUci } from "@bayes/nn/datasets";
 * const table = await loadUciTable("yacht");
 * for (const fold of kFold(table.n, 10, 1)) {
 *   const { train, test, yStd } = splitUci(table, fold.train, fold.test);
 * }
 * ```
 */
export function kFold(n: number, k: number, rng: Rng | number = 0): Fold[] {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`kFold: n must be a non-negative integer, found ${n}`);
  }
  if (!Number.isInteger(k) || k < 2 || k > n) {
    throw new RangeError(`kFold: k must be an integer in 2..n (n = ${n}), found ${k}`);
  }
  const r = typeof rng === "number" ? new Rng(rng) : rng;
  const perm = r.permutation(n);
  const folds: Fold[] = [];
  const base = Math.floor(n / k);
  const extra = n % k;
  let start = 0;
  for (let f = 0; f < k; f++) {
    const size = base + (f < extra ? 1 : 0);
    const test = perm.slice(start, start + size).sort();
    const train = new Int32Array(n - size);
    train.set(perm.subarray(0, start));
    train.set(perm.subarray(start + size), start);
    train.sort();
    folds.push({ train, test });
    start += size;
  }
  return folds;
}
