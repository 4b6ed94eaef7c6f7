/**
 * Types of the inputs accepted by the uncertainty functions: prediction
 * tensors or plain `{ data, shape }` arrays, and labels or targets.
 *
 * @module
 */

/**
 * The part of a TensorFlow.js `tf.Tensor` the uncertainty functions use; any
 * `tf.Tensor` matches it, so this module never imports TensorFlow.js. Only
 * tensors on a CPU backend (`cpu`, `wasm`, `tensorflow`) are accepted; a
 * tensor on `webgpu` (or `webgl`) gives a TypeError: read it first with
 * `await readPrediction(pred)` and pass {@linkcode PredictionArray}s.
 *
 * @example
 * ```ts
 * import type { TensorLike } from "@bayes/nn";
 * import * as tf from "@tensorflow/tfjs";
 * const t: TensorLike = tf.zeros([2, 3, 10]);
 * ```
 */
export interface TensorLike {
  /** The tensor's shape. */
  readonly shape: readonly number[];
  /** The tensor's data type (`"float32"`, `"int32"`, …). */
  readonly dtype?: string;
  /** Whether the tensor has been disposed. */
  readonly isDisposed?: boolean;
  /** Synchronously downloads the values (called only for tensors on a CPU backend). */
  dataSync(): ArrayLike<unknown>;
}

/**
 * A prediction array in plain memory: flat data in row-major order and its
 * shape (for example `[S, N, C]`: S posterior samples, N examples, C classes).
 *
 * @example
 * ```ts
 * import type { PredictionArray } from "@bayes/nn";
 * const pred: PredictionArray = {
 *   data: new Float32Array([0.25, 0.75, 0.5, 0.5]),
 *   shape: [1, 2, 2],
 * };
 * ```
 */
export interface PredictionArray {
  /** Flat values, row-major; `data.length` must equal the product of `shape`. */
  data: Float32Array | Float64Array | readonly number[];
  /** The array's shape. */
  shape: readonly number[];
}

/**
 * A TensorFlow.js tensor ({@linkcode TensorLike}) or a {@linkcode PredictionArray}.
 *
 * @example
 * ```ts
 * import type { PredictionInput } from "@bayes/nn";
 * const pred: PredictionInput = { data: [0, 0], shape: [1, 1, 2] };
 * ```
 */
export type PredictionInput = TensorLike | PredictionArray;

/**
 * Integer class labels or real targets: an array-like of numbers or a
 * TensorFlow.js tensor of shape `[N]` (or `[N, 1]`).
 *
 * @example
 * ```ts
 * import type { LabelInput } from "@bayes/nn";
 * const labels: LabelInput = new Int32Array([0, 2, 1]);
 * ```
 */
export type LabelInput = TensorLike | ArrayLike<number>;
