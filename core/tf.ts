/**
 * The TensorFlow.js this package runs on, and the tensor types of its public
 * API.
 *
 * Tensors are only interchangeable within one copy of TensorFlow.js (one
 * engine, one set of registered backends). Use the {@linkcode tf} exported
 * here, or import exactly `npm:@tensorflow/tfjs@4.22.0`
 * ({@linkcode TFJS_VERSION}), which Deno resolves to the same copy.
 *
 * The tensor types are aliases of the `@tensorflow/tfjs` ones (any
 * `tf.Tensor2D` is a {@linkcode Tensor2D}), named here so the documentation
 * of this package can link them.
 *
 * @module
 */
import * as tfjs from "@tensorflow/tfjs";

/**
 * The version of `@tensorflow/tfjs` this package is built and tested with;
 * import that exact version if you use TensorFlow.js directly.
 *
 * @example
 * ```ts
 * import { TFJS_VERSION } from "@bayes/nn";
 * console.log(`pair with npm:@tensorflow/tfjs@${TFJS_VERSION}`); // 4.22.0
 * ```
 */
export const TFJS_VERSION: string = "4.22.0";

/**
 * The TensorFlow.js module this package uses (`@tensorflow/tfjs` 4.22.0):
 * tensors made with it can be passed to every function here.
 *
 * @example
 * ```ts
 * import { initBackend, tf } from "@bayes/nn";
 * await initBackend({ backend: "wasm", quiet: true });
 * const x = tf.tensor2d([[0.5], [1.5]]);
 * x.shape; // [2, 1]
 * x.dispose();
 * ```
 */
export const tf: typeof tfjs = tfjs;

/**
 * A TensorFlow.js tensor of any rank (`tf.Tensor` of `@tensorflow/tfjs` 4.22.0).
 *
 * @example
 * ```ts
 * import { initBackend, type Tensor, tf } from "@bayes/nn";
 * await initBackend({ backend: "wasm", quiet: true });
 * const t: Tensor = tf.zeros([2, 3]);
 * t.dispose();
 * ```
 */
export type Tensor = tfjs.Tensor;

/**
 * A rank-0 TensorFlow.js tensor (`tf.Scalar`).
 *
 * @example
 * ```ts
 * import { initBackend, type Scalar, tf } from "@bayes/nn";
 * await initBackend({ backend: "wasm", quiet: true });
 * const s: Scalar = tf.scalar(1);
 * s.dispose();
 * ```
 */
export type Scalar = tfjs.Scalar;

/**
 * A rank-1 TensorFlow.js tensor (`tf.Tensor1D`), e.g. class labels `[N]`.
 *
 * @example
 * ```ts
 * import { initBackend, type Tensor1D, tf } from "@bayes/nn";
 * await initBackend({ backend: "wasm", quiet: true });
 * const labels: Tensor1D = tf.tensor1d([0, 2, 1], "int32");
 * labels.dispose();
 * ```
 */
export type Tensor1D = tfjs.Tensor1D;

/**
 * A rank-2 TensorFlow.js tensor (`tf.Tensor2D`), e.g. inputs `[N, features]`.
 *
 * @example
 * ```ts
 * import { initBackend, type Tensor2D, tf } from "@bayes/nn";
 * await initBackend({ backend: "wasm", quiet: true });
 * const x: Tensor2D = tf.tensor2d([[0, 1], [2, 3]]);
 * x.dispose();
 * ```
 */
export type Tensor2D = tfjs.Tensor2D;

/**
 * A rank-3 TensorFlow.js tensor (`tf.Tensor3D`), e.g. per-sample predictions
 * `[S, N, C]`.
 *
 * @example
 * ```ts
 * import { initBackend, type Tensor3D, tf } from "@bayes/nn";
 * await initBackend({ backend: "wasm", quiet: true });
 * const p: Tensor3D = tf.zeros([2, 3, 4]);
 * p.dispose();
 * ```
 */
export type Tensor3D = tfjs.Tensor3D;
