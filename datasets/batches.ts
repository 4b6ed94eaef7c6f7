/**
 * Seeded, shuffling minibatch iteration over an {@linkcode ArrayDataset}.
 *
 * @module
 */

import type { Rng } from "../core/rng.ts";
import { type ArrayDataset, shapeSize } from "./types.ts";

/**
 * Options of {@linkcode batches}.
 *
 * @example
 * ```ts
 * import { Rng, type BatchOptions } from "@bayes/nn";
 * const opts: BatchOptions = { batchSize: 128, rng: new Rng(1), fixedLast: true };
 * ```
 */
export interface BatchOptions {
  /** Examples per batch (positive integer). */
  batchSize: number;
  /** Random stream for shuffling; required when `shuffle` is true. */
  rng?: Rng;
  /** Visit examples in a random order (default: true when `rng` is given). */
  shuffle?: boolean;
  /** Skip a final batch smaller than `batchSize`. */
  dropLast?: boolean;
  /**
   * Pad the final batch to `batchSize` by wrapping around to the start of the
   * epoch's order (for steps compiled for a fixed batch shape).
   */
  fixedLast?: boolean;
}

/**
 * One minibatch: fresh arrays (safe to hand to `tf.tensor`).
 *
 * @example
 * ```ts
 * import { type ArrayDataset, type Batch, batches } from "@bayes/nn";
 * const ds: ArrayDataset = { x: new Float32Array(80), y: new Int32Array(40), n: 40, xShape: [2], yShape: [] };
 * const first: Batch = batches(ds, { batchSize: 32 }).next().value!;
 * first.n; // 32
 * ```
 */
export interface Batch {
  /** Inputs, `n * prod(xShape)` values. */
  x: Float32Array;
  /** Targets, same type as the dataset's `y`. */
  y: Int32Array | Float32Array;
  /** Rows in this batch (including wrapped-around padding). */
  n: number;
  /** Dataset row of each batch row. */
  indices: Int32Array;
  /** How many trailing rows are wrap-around padding (`fixedLast`), else 0. */
  padded: number;
}

/**
 * Iterates over `ds` in minibatches — one epoch per call. With an `rng` the
 * order is a fresh seeded permutation; without one it is the stored order.
 * The last batch may be smaller, dropped (`dropLast`) or padded by wrapping
 * around (`fixedLast`).
 *
 * @example
 * ```ts
 * import { batches, loadMnist, Rng } from "@bayes/nn";
 * const train = await loadMnist("mnist", "train", { limit: 1000 });
 * const rng = new Rng(0);
 * for (let epoch = 0; epoch < 3; epoch++) {
 *   for (const b of batches(train, { batchSize: 100, rng })) {
 *     // b.x: Float32Array(100 * 784), b.y: Int32Array(100)
 *   }
 * }
 * ```
 */
export function* batches(ds: ArrayDataset, opts: BatchOptions): Generator<Batch, void, undefined> {
  const { batchSize } = opts;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, found ${batchSize}`);
  }
  if (opts.dropLast && opts.fixedLast) {
    throw new RangeError("batches: choose at most one of dropLast and fixedLast");
  }
  const shuffle = opts.shuffle ?? opts.rng !== undefined;
  if (shuffle && !opts.rng) {
    throw new TypeError("batches: shuffle needs an rng (pass { rng: new Rng(seed) })");
  }
  const n = ds.n;
  if (n === 0) return;
  const order = shuffle ? opts.rng!.permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
  const dx = shapeSize(ds.xShape);
  const dy = shapeSize(ds.yShape);
  const YArray = ds.y instanceof Int32Array ? Int32Array : Float32Array;
  for (let start = 0; start < n; start += batchSize) {
    const real = Math.min(batchSize, n - start);
    if (real < batchSize && opts.dropLast) return;
    const size = real < batchSize && opts.fixedLast ? batchSize : real;
    const indices = new Int32Array(size);
    for (let k = 0; k < size; k++) indices[k] = order[(start + k) % n];
    const x = new Float32Array(size * dx);
    const y = new YArray(size * dy);
    for (let k = 0; k < size; k++) {
      const i = indices[k];
      if (dx === 1) x[k] = ds.x[i];
      else x.set(ds.x.subarray(i * dx, i * dx + dx), k * dx);
      if (dy === 1) y[k] = ds.y[i];
      else y.set(ds.y.subarray(i * dy, i * dy + dy), k * dy);
    }
    yield { x, y, n: size, indices, padded: size - real };
  }
}
