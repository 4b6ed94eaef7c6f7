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
  return rowRange(ds, 0, Math.min(n, ds.n));
}

/**
 * Rows `[start, end)` of `ds`, as views on the same memory (no copy); other
 * fields are kept. Throws unless `0 ≤ start ≤ end ≤ ds.n`.
 *
 * @example
 * ```ts
 * import { type ArrayDataset } from "@bayes/nn";
 * import { rowRange } from "./subset.ts";
 * const ds: ArrayDataset = { x: Float32Array.of(0, 1, 2), y: Int32Array.of(0, 1, 0), n: 3, xShape: [1], yShape: [] };
 * rowRange(ds, 1, 3).x; // Float32Array [1, 2]
 * ```
 */
export function rowRange<T extends ArrayDataset>(ds: T, start: number, end: number): T {
  if (
    !(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= ds.n)
  ) {
    throw new RangeError(`rowRange: rows [${start}, ${end}) are not within 0..${ds.n}`);
  }
  const dx = shapeSize(ds.xShape);
  const dy = shapeSize(ds.yShape);
  return {
    ...ds,
    x: ds.x.subarray(start * dx, end * dx),
    y: ds.y.subarray(start * dy, end * dy),
    n: end - start,
    xShape: ds.xShape.slice(),
    yShape: ds.yShape.slice(),
  };
}
