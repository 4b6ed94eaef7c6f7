/**
 * Flat storage of a Bayesian network's parameters: every weight matrix and
 * bias vector is a segment of one `Float32Array` (for μ, ρ, σ, gradients…),
 * so per-parameter work is one loop; and zero-copy access to tensor data on
 * the wasm heap.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { NetSpec } from "../../core/method.ts";
import { layerShapes } from "../../core/mlp.ts";

/** One weight matrix or bias vector inside the flat parameter arrays. */
export interface ParamSegment {
  /** Canonical name, `l{i}.w` or `l{i}.b`. */
  name: string;
  /** Layer index. */
  layer: number;
  /** Weight matrix (`w`) or bias (`b`). */
  kind: "w" | "b";
  /** Tensor shape (`[in, out]` or `[out]`). */
  shape: number[];
  /** First flat index. */
  off: number;
  /** Number of values. */
  size: number;
}

/**
 * The segments of a network, in the order `l0.w, l0.b, l1.w, …`, and the
 * total parameter count.
 *
 * @example
 * ```ts
 * import { paramSegments } from "@bayes/nn/methods/bbb";
 * const { segments, total } = paramSegments({ inputDim: 2, hidden: [3], outputDim: 2, task: "classification" });
 * // total = 2·3 + 3 + 3·2 + 2 = 17
 * ```
 */
export function paramSegments(spec: NetSpec): { segments: ParamSegment[]; total: number } {
  const segments: ParamSegment[] = [];
  let off = 0;
  for (const p of layerShapes(spec)) {
    const size = p.shape.reduce((a, b) => a * b, 1);
    const dot = p.name.indexOf(".");
    segments.push({
      name: p.name,
      layer: Number(p.name.slice(1, dot)),
      kind: p.name.endsWith(".w") ? "w" : "b",
      shape: p.shape,
      off,
      size,
    });
    off += size;
  }
  return { segments, total: off };
}

/**
 * The float32 values of `t`: a view of the wasm heap on the `wasm` backend
 * (valid until the next tensor allocation), else `dataSync()`. Read-only use.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { heapValues } from "@bayes/nn/methods/bbb";
 * const v = heapValues(tf.ones([3])); // Float32Array [1, 1, 1]
 * ```
 */
export function heapValues(t: tf.Tensor): Float32Array {
  if (t.dtype !== "float32") return Float32Array.from(t.dataSync() as ArrayLike<number>);
  if (tf.getBackend() === "wasm") {
    // deno-lint-ignore no-explicit-any
    return (tf.backend() as any).typedArrayFromHeap(t) as Float32Array;
  }
  return t.dataSync() as Float32Array;
}
