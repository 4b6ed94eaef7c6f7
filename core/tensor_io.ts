/**
 * Making tensors from host data without extra copies, and random tensors
 * filled by the library's {@linkcode Rng}.
 *
 * On the `wasm` backend the output is allocated on the wasm heap and filled
 * in place (zero copy); elsewhere a `Float32Array` is filled and uploaded.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "./rng.ts";

/**
 * A float32 tensor of `shape` whose values are written by `fill` into the
 * tensor's own storage when the backend allows it.
 *
 * @example
 * ```ts
 * import { tensorFromFill } from "@bayes/nn";
 * const t = tensorFromFill([2, 3], (a) => a.fill(1)); // ones
 * ```
 */
export function tensorFromFill(shape: number[], fill: (values: Float32Array) => void): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  // deno-lint-ignore no-explicit-any
  const backend = tf.backend() as any;
  if (tf.getBackend() === "wasm" && size > 0) {
    const info = backend.makeOutput(shape, "float32");
    fill(backend.typedArrayFromHeap(info));
    return tf.engine().makeTensorFromTensorInfo(info);
  }
  const values = new Float32Array(size);
  fill(values);
  return tf.tensor(values, shape, "float32");
}

/**
 * N(mean, std²) samples from `rng` as a tensor (no `tf.randomNormal`).
 *
 * @example
 * ```ts
 * import { randn, Rng } from "@bayes/nn";
 * const eps = randn([1200, 1200], new Rng(0));
 * ```
 */
export function randn(shape: number[], rng: Rng, mean = 0, std = 1): tf.Tensor {
  return tensorFromFill(shape, (v) => rng.fillNormal(v, mean, std));
}

/**
 * U(low, high) samples from `rng` as a tensor.
 *
 * @example
 * ```ts
 * import { randu, Rng } from "@bayes/nn";
 * const u = randu([10], new Rng(0), -0.1, 0.1);
 * ```
 */
export function randu(shape: number[], rng: Rng, low = 0, high = 1): tf.Tensor {
  return tensorFromFill(shape, (v) => rng.fillUniform(v, low, high));
}

/**
 * Inverted-dropout mask: each entry is `1 / keep` with probability `keep`,
 * else 0, so `x * mask` keeps the expectation of `x`.
 *
 * @example
 * ```ts
 * import { dropoutMask, Rng } from "@bayes/nn";
 * const mask = dropoutMask([100, 1200], new Rng(0), 0.5);
 * ```
 */
export function dropoutMask(shape: number[], rng: Rng, keep: number): tf.Tensor {
  if (!(keep > 0 && keep <= 1)) {
    throw new RangeError(`dropout keep probability must be in (0, 1], found ${keep}`);
  }
  const scale = 1 / keep;
  const threshold = keep * 4294967296;
  return tensorFromFill(shape, (v) => {
    for (let i = 0; i < v.length; i++) v[i] = rng.nextUint32() < threshold ? scale : 0;
  });
}

/**
 * Reads a tensor's values synchronously as a Float32Array copy.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { toFloat32 } from "@bayes/nn";
 * toFloat32(tf.ones([2])); // Float32Array [1, 1]
 * ```
 */
export function toFloat32(t: tf.Tensor): Float32Array {
  const d = t.dataSync();
  return d instanceof Float32Array ? d.slice() : Float32Array.from(d as ArrayLike<number>);
}
