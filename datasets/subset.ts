/**
 * Row subsets of an {@linkcode ArrayDataset}.
 *
 * @module
 */

import { type ArrayDataset, shapeSize } from "./types.ts";

/**
 * A new dataset holding the rows `indices` of `ds` (copied, in that order;
 * repeats allowed). Other fields (e.g. `numClasses`, `normalization`) are kept.
 *
 * @example
 * ```ts
 * import { type ArrayDataset, subset } from "@bayes/nn";
 * const ds: ArrayDataset = { x: Float32Array.of(0, 1, 2), y: Int32Array.of(0, 1, 0), n: 3, xShape: [1], yShape: [] };
 * const firstAndThird = subset(ds, [0, 2]);
 * firstAndThird.n; // 2
 * ```
 */
export function subset<T extends ArrayDataset>(ds: T, indices: ArrayLike<number>): T {
  const dx = shapeSize(ds.xShape);
  const dy = shapeSize(ds.yShape);
  const m = indices.length;
  const x = new Float32Array(m * dx);
  const y = ds.y instanceof Int32Array ? new Int32Array(m * dy) : new Float32Array(m * dy);
  for (let k = 0; k < m; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= ds.n) {
      throw new RangeError(`subset: index ${i} at position ${k} is outside 0..${ds.n - 1}`);
    }
    x.set(ds.x.subarray(i * dx, i * dx + dx), k * dx);
    y.set(ds.y.subarray(i * dy, i * dy + dy), k * dy);
  }
  return { ...ds, x, y, n: m, xShape: ds.xShape.slice(), yShape: ds.yShape.slice() };
}

/**
 * The first `n` rows of `ds` (all of them when it has fewer), as views on
 * the same memory (no copy).
 *
 * @example
 * ```ts
 * import { loadMnist, take } from "@bayes/nn";
 * const small = take(await loadMnist("mnist", "test"), 500);
 * small.n; // 500
 * ```
 */
export function take<T extends ArrayDataset>(ds: T, n: number): T {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`take: n must be a non-negative integer, found ${n}`);
  }
  const m = Math.min(n, ds.n);
  const dx = shapeSize(ds.xShape);
  const dy = shapeSize(ds.yShape);
  return {
    ...ds,
    x: ds.x.subarray(0, m * dx),
    y: ds.y.subarray(0, m * dy),
    n: m,
    xShape: ds.xShape.slice(),
    yShape: ds.yShape.slice(),
  };
}
