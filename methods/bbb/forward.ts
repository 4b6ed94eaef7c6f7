/**
 * Forward passes of the three Bayes-by-Backprop estimators, as tfjs
 * functions of tensors (so `tf.valueAndGrads` differentiates them); the
 * matmuls run on BLAS, those with a bias as `dense` layers (one fused kernel,
 * whose backward pass skips the data's gradient, which no one asks for), and
 * each layer's noise and activation as one `noisyAffine` (one program on a GPU).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { dense } from "../../core/dense.ts";
import { noisyAffine } from "../../core/fused_kernels.ts";

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
 * import { localForward } from "./forward.ts";
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
    const mean = dense(h, muW[l], muB[l], false) as tf.Tensor2D;
    const v = dense(tf.square(h), varW[l], varB[l], false);
    const [rows, cols] = mean.shape;
    // relu?(mean + √v·ε), one program on a GPU; the first layer's moments are shared by the `reps`
    // samples (its gradient sums over them).
    const r = l === 0 ? reps : 1;
    h = noisyAffine(mean, v, noise([r * rows, cols]), {
      sqrt: true,
      relu: l < L - 1,
    }) as tf.Tensor2D;
  }
  return h;
}

/**
 * Flipout (Wen et al. 2018): one shared perturbation ΔW per sample, made
 * pseudo-independent per example by random signs:
 * `out = h·μ_W + b + ((h∘S)·ΔW)∘R`, with `S` `[n, in]` and `R` `[n, out]`
 * entries ±1. With a leading samples dimension (`ΔW` `[k, in, out]`, `b`
 * `[k, out]`, `S` `[k, n, in]`, `R` `[k, n, out]`) all k samples go through
 * at once and the output is `[k, n, out]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { flipoutForward } from "./forward.ts";
 * const x = tf.ones([4, 2]) as tf.Tensor2D;
 * const out = flipoutForward(x, [tf.zeros([2, 3]) as tf.Tensor2D], [tf.ones([2, 3])],
 *   [tf.zeros([3])], [tf.ones([4, 2])], [tf.ones([4, 3])]);
 * ```
 */
export function flipoutForward(
  x: tf.Tensor2D,
  muW: tf.Tensor2D[],
  deltaW: tf.Tensor[],
  b: tf.Tensor[],
  signIn: tf.Tensor[],
  signOut: tf.Tensor[],
): tf.Tensor {
  let h: tf.Tensor = x;
  const L = muW.length;
  const batched = deltaW[0].rank === 3;
  for (let l = 0; l < L; l++) {
    const relu = l < L - 1;
    if (!batched) {
      const base = dense(h, muW[l], b[l], false);
      const pert = tf.matMul(tf.mul(h, signIn[l]) as tf.Tensor2D, deltaW[l] as tf.Tensor2D);
      // relu?(base + pert·R), one program on a GPU.
      h = noisyAffine(base, pert, signOut[l], { sqrt: false, relu });
    } else {
      const k = deltaW[l].shape[0];
      const [inDim, outDim] = muW[l].shape;
      // The mean path shares μ_W across samples: one matmul over all rows.
      const rows = h.rank === 2 ? h : h.reshape([-1, inDim]);
      let base = tf.matMul(rows as tf.Tensor2D, muW[l]) as tf.Tensor;
      base = h.rank === 2 ? base.expandDims(0) : base.reshape([k, -1, outDim]);
      const hs = tf.mul(h.rank === 2 ? h.expandDims(0) : h, signIn[l]);
      const pert = tf.matMul(hs as tf.Tensor3D, deltaW[l] as tf.Tensor3D);
      const mean = tf.add(base, b[l].reshape([k, 1, outDim]));
      h = noisyAffine(mean, pert, signOut[l], { sqrt: false, relu });
    }
  }
  return h;
}
