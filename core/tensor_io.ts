/**
 * Random tensors filled by the library's seeded {@linkcode Rng} on the host
 * (for benchmarks and tests; methods draw their noise through the engine's
 * noise streams, `core/engine`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "./rng.ts";

/**
 * N(mean, std²) samples from `rng` as a tensor (no `tf.randomNormal`).
 *
 * @example
 * ```ts
 * import { initBackend, Rng } from "@bayes/nn";
 * import { randn } from "./tensor_io.ts";
 * await initBackend({ backend: "wasm", quiet: true });
 * const eps = randn([1200, 1200], new Rng(0));
 * ```
 */
export function randn(shape: number[], rng: Rng, mean = 0, std = 1): tf.Tensor {
  return tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1), mean, std), shape);
}

/**
 * U(low, high) samples from `rng` as a tensor.
 *
 * @example
 * ```ts
 * import { initBackend, Rng } from "@bayes/nn";
 * import { randu } from "./tensor_io.ts";
 * await initBackend({ backend: "wasm", quiet: true });
 * const u = randu([10], new Rng(0), -0.1, 0.1);
 * ```
 */
export function randu(shape: number[], rng: Rng, low = 0, high = 1): tf.Tensor {
  return tf.tensor(rng.uniformArray(shape.reduce((a, b) => a * b, 1), low, high), shape);
}
