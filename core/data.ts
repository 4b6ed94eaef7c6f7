/**
 * Data as the training loop sees it: a table of examples in host memory, and
 * the seeded order in which minibatches visit it.
 *
 * @module
 */
import type { Rng } from "./rng.ts";

/**
 * A dataset held in typed arrays, one example after the other (row-major).
 *
 * @example
 * ```ts
 * import type { ArrayDataset } from "@bayes/nn";
 * const ds: ArrayDataset = {
 *   x: new Float32Array([0, 1, 2, 3]),
 *   y: new Int32Array([0, 1]),
 *   n: 2,
 *   xShape: [2],
 *   yShape: [],
 *   numClasses: 2,
 * };
 * ```
 */
export interface ArrayDataset {
  /** Inputs, row-major, `n * prod(xShape)` values. */
  x: Float32Array;
  /**
   * Class labels (`Int32Array`, one per example) or regression targets
   * (`Float32Array`, `n * prod(yShape)` values).
   */
  y: Int32Array | Float32Array;
  /** Number of examples. */
  n: number;
  /** Per-example input shape, e.g. `[784]`, `[28, 28]` or `[d]`. */
  xShape: number[];
  /** Per-example target shape: `[]` for class labels, `[1]` for scalar regression. */
  yShape: number[];
  /** Number of classes (classification only). */
  numClasses?: number;
}
/**
 * The rows of each minibatch of an epoch: a seeded permutation (or the
 * stored order without `rng`) cut into batches of `batchSize` (the last one
 * smaller).
 *
 * @example
 * ```ts
 * import { batchIndices } from "./data.ts";
 * import { Rng } from "@bayes/nn";
 * for (const rows of batchIndices(10, 4, new Rng(0))) rows.length; // 4, 4, 2
 * ```
 */
export function* batchIndices(n: number, batchSize: number, rng?: Rng): Generator<Int32Array> {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batch size must be a positive integer, found ${batchSize}`);
  }
  const order = rng ? rng.permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
  for (let start = 0; start < n; start += batchSize) {
    yield order.slice(start, Math.min(n, start + batchSize));
  }
}
