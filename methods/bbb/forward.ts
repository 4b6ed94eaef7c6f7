/**
 * Forward passes of the three Bayes-by-Backprop estimators, as tfjs
 * functions of tensors (so `tf.valueAndGrads` differentiates them); the
 * matmuls are `tf.fused.matMul` / `tf.matMul`, which run on BLAS.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * Local reparametrisation (Kingma et al. 2015): each pre-activation is drawn
 * from its closed-form Gaussian, mean `h·μ_W + μ_b`, variance
 * `h²·σ_W² + σ_b²`. With `reps > 1` the first layer's moments are computed
 * once and its rows repeated `reps` times (one copy per Monte Carlo sample),
 * so the output has `reps·n` rows. `noise(shape)` returns N(0, 1) draws.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { localForward } from "@bayes/nn/methods/bbb";
 * const out = localForward(tf.ones([4, 2]) as tf.Tensor2D, [tf.zeros([2, 3]) as tf.Tensor2D],
 *   [tf.ones([2, 3]) as tf.Tensor2D], [tf.zeros([3]) as tf.Tensor1D], [tf.zeros([3]) as tf.Tensor1D],
 *   (s) => tf.randomNormal(s), 1);
 * ```
 */
export function localForward(
  x: tf.Tensor2D,
  muW: tf.Tensor2D[],
  varW: tf.Tensor2D[],
  muB: tf.Tensor1D[],
  varB: tf.Tensor1D[],
  noise: (shape: [number, number]) => tf.Tensor,
  reps: number,
): tf.Tensor2D {
  let h = x;
  const L = muW.length;
  for (let l = 0; l < L; l++) {
    const mean = tf.fused.matMul({ a: h, b: muW[l], bias: muB[l] }) as tf.Tensor2D;
    const v = tf.fused.matMul({ a: tf.square(h), b: varW[l], bias: varB[l] });
    const sd = tf.sqrt(v) as tf.Tensor2D;
    const [rows, cols] = mean.shape;
    let out: tf.Tensor2D;
    if (l === 0 && reps > 1) {
      // Broadcast the shared first-layer moments over the samples (a broadcast's gradient is
      // one reduction; tf.tile's backward pass would slice once per repetition).
      const e = noise([reps * rows, cols]).reshape([reps, rows, cols]);
      out = tf.add(mean.reshape([1, rows, cols]), tf.mul(sd.reshape([1, rows, cols]), e))
        .reshape([reps * rows, cols]);
    } else {
      out = tf.add(mean, tf.mul(sd, noise([rows, cols])));
    }
    h = l === L - 1 ? out : tf.relu(out);
  }
  return h;
}

/**
 * Flipout (Wen et al. 2018): one shared perturbation ΔW per sample, made
 * pseudo-independent per example by random signs:
 * `out = h·μ_W + b + ((h∘S)·ΔW)∘R`, with `S` `[n, in]` and `R` `[n, out]`
 * entries ±1.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { flipoutForward } from "@bayes/nn/methods/bbb";
 * const x = tf.ones([4, 2]) as tf.Tensor2D;
 * const out = flipoutForward(x, [tf.zeros([2, 3]) as tf.Tensor2D], [tf.ones([2, 3]) as tf.Tensor2D],
 *   [tf.zeros([3]) as tf.Tensor1D], [tf.ones([4, 2])], [tf.ones([4, 3])]);
 * ```
 */
export function flipoutForward(
  x: tf.Tensor2D,
  muW: tf.Tensor2D[],
  deltaW: tf.Tensor2D[],
  b: tf.Tensor1D[],
  signIn: tf.Tensor[],
  signOut: tf.Tensor[],
): tf.Tensor2D {
  let h = x;
  const L = muW.length;
  for (let l = 0; l < L; l++) {
    const base = tf.fused.matMul({ a: h, b: muW[l], bias: b[l] });
    const pert = tf.mul(tf.matMul(tf.mul(h, signIn[l]) as tf.Tensor2D, deltaW[l]), signOut[l]);
    const out = tf.add(base, pert) as tf.Tensor2D;
    h = l === L - 1 ? out : tf.relu(out);
  }
  return h;
}
