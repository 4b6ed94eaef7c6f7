/**
 * Layers with the bias folded into the weights (one extra input fixed at 1)
 * as host arrays — how tests write small networks — and their upload as
 * weight and bias tensors; plus a typed `tf.tidy` for objects of tensors.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LayerTensors } from "../../core/mlp.ts";

/**
 * One layer, `s = [a, 1]·W̃`: `w` is row-major `[inDim + 1, outDim]`, the
 * weight matrix `[inDim, outDim]` followed by the bias row.
 */
export interface AugLayer {
  /** Inputs (without the appended 1). */
  inDim: number;
  /** Outputs. */
  outDim: number;
  /** Row-major `[inDim + 1, outDim]`: weights then bias. */
  w: Float32Array;
}

/**
 * Joins a weight `[in, out]` and a bias `[out]` into an augmented layer.
 *
 * @example
 * ```ts
 * import { augment } from "./host_net.ts";
 * const l = augment(new Float32Array([1, 2, 3, 4]), new Float32Array([5, 6]), 2, 2);
 * l.w; // [1, 2, 3, 4, 5, 6]
 * ```
 */
export function augment(w: Float32Array, b: Float32Array, inDim: number, outDim: number): AugLayer {
  if (w.length !== inDim * outDim || b.length !== outDim) {
    throw new RangeError(
      `layer ${inDim}→${outDim}: weight has ${w.length} values (expected ${inDim * outDim}), ` +
        `bias ${b.length} (expected ${outDim})`,
    );
  }
  const aug = new Float32Array((inDim + 1) * outDim);
  aug.set(w);
  aug.set(b, inDim * outDim);
  return { inDim, outDim, w: aug };
}

/**
 * Uploads augmented host layers as weight and bias tensors (the caller
 * disposes them).
 *
 * @example
 * ```ts
 * import { augment, layerTensors } from "./host_net.ts";
 * const t = layerTensors([augment(new Float32Array([1, 2]), new Float32Array([3]), 2, 1)]);
 * t.w[0].shape; // [2, 1]
 * ```
 */
export function layerTensors(layers: readonly AugLayer[]): LayerTensors {
  return {
    w: layers.map((l) => tf.tensor2d(l.w.subarray(0, l.inDim * l.outDim), [l.inDim, l.outDim])),
    b: layers.map((l) => tf.tensor1d(l.w.slice(l.inDim * l.outDim))),
  };
}

/**
 * `tf.tidy` for a function returning an object of tensors (kept), typed.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { tidyObject } from "./host_net.ts";
 * const { a } = tidyObject(() => ({ a: tf.add(tf.ones([2]), 1) }));
 * ```
 */
export function tidyObject<T>(fn: () => T): T {
  return tf.tidy(fn as unknown as () => tf.TensorContainer) as unknown as T;
}
