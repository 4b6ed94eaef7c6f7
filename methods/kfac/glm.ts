/**
 * The linearised (GLM) predictive of the Kronecker-factored Laplace
 * posterior (Immer et al. 2021; laplace-torch's recommended predictive), on
 * the device: the network outputs are linearised in the weights around the
 * MAP, `f(x, θ) ≈ f(x, θ*) + J(x)(θ − θ*)`, so under the posterior they are
 * Gaussian with mean `f(x, θ*)` and covariance
 * `Σ_f = Σ_l (ãᵀ U_l ã)·(G_l V_l G_lᵀ)` — exact for the matrix-normal
 * layers, with `ã` the layer's augmented input and `G_l = ∂f/∂s_l` the
 * Jacobian of the outputs w.r.t. its pre-activations.
 *
 * The `τ`, `N`-free part is computed once per input chunk in the factors'
 * eigenbases (`(ã E_Q)²` and `G E_H`, tfjs `matMul`s), so `Σ_f` for any
 * number of prior settings costs only weighted sums (used by the tuner). The
 * probit link needs only the diagonal of `Σ_f`; Monte Carlo draws use a
 * batched `k×k` Cholesky factor computed with tensor ops.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { NoiseStream } from "../../core/engine/engine.ts";
import type { LayerTensors } from "../../core/mlp.ts";
import { tidyObject } from "./host_net.ts";
import { eigenVariances, type LayerEigen, type PriorSettings } from "./posterior.ts";

/** A layer's eigendecomposition, its eigenvectors also on the device. */
export interface DeviceEigen {
  /** Eigenvalues and host eigenvectors. */
  host: LayerEigen;
  /** The rows of `E_Q` (one eigenvector per column) for the inputs, `[inDim, inDim + 1]`. */
  qTop: tf.Tensor2D;
  /** The row of `E_Q` for the constant 1 (bias), `[inDim + 1]`. */
  qBias: tf.Tensor1D;
  /** `E_H` `[outDim, outDim]`. */
  hVectors: tf.Tensor2D;
}

/**
 * Uploads the eigenvectors of a layer's factors.
 *
 * @example
 * ```ts
 * import { deviceEigen } from "./glm.ts";
 * // const e = deviceEigen(layerEigen(factors.layers[0]));
 * ```
 */
export function deviceEigen(e: LayerEigen): DeviceEigen {
  const r = e.qValues.length, c = e.hValues.length;
  return {
    host: e,
    qTop: tf.tensor2d(e.qVectors.subarray(0, (r - 1) * r), [r - 1, r]),
    qBias: tf.tensor1d(e.qVectors.slice((r - 1) * r)),
    hVectors: tf.tensor2d(e.hVectors, [c, c]),
  };
}

/**
 * Frees the device eigenvectors.
 *
 * @example
 * ```ts
 * import { deviceEigen, disposeEigen } from "./glm.ts";
 * // const e = deviceEigen(layerEigen(factors.layers[0])); … disposeEigen(e);
 * ```
 */
export function disposeEigen(e: DeviceEigen): void {
  tf.dispose([e.qTop, e.qBias, e.hVectors]);
}

/** One Laplace layer's share of a projection. */
export interface GlmLayerPart {
  /** Layer index. */
  layer: number;
  /** `(ã E_Q)²`, `[n, inDim + 1]`. */
  p: tf.Tensor2D;
  /** `G E_H`, `[n, k, outDim]`; `null` for the output layer (`G = I`). */
  g: tf.Tensor3D | null;
}

/** The prior-independent part of the linearised predictive for `n` inputs. */
export interface GlmProjection {
  /** Inputs. */
  n: number;
  /** Outputs per input. */
  k: number;
  /** MAP outputs `[n, k]`. */
  out: tf.Tensor2D;
  /** One entry per Laplace layer. */
  parts: GlmLayerPart[];
}

/**
 * Projects inputs `x` (`[n, inputDim]`) for the linearised predictive.
 * `eigs[l]` is the eigendecomposition of layer `l`, or `null` when the layer
 * is fixed at its MAP value. Free with {@linkcode disposeProjection}.
 *
 * @example
 * ```ts
 * import { glmProject } from "./glm.ts";
 * // const proj = glmProject(map.layers(), eigs, x);
 * ```
 */
export function glmProject(
  net: LayerTensors,
  eigs: readonly (DeviceEigen | null)[],
  x: tf.Tensor2D,
): GlmProjection {
  return tidyObject((): GlmProjection => {
    const L = net.w.length;
    const n = x.shape[0];
    const k = net.w[L - 1].shape[1];
    const inputs: tf.Tensor2D[] = [];
    let a: tf.Tensor2D = x;
    for (let l = 0; l < L; l++) {
      inputs.push(a);
      a = tf.fused.matMul({
        a,
        b: net.w[l],
        bias: net.b[l],
        activation: l === L - 1 ? "linear" : "relu",
      }) as tf.Tensor2D;
    }
    const parts: GlmLayerPart[] = [];
    // gamma: [n, k, outDim of layer l] = ∂f/∂s_l per example and output; null = identity.
    let gamma: tf.Tensor3D | null = null;
    for (let l = L - 1; l >= 0; l--) {
      const [inDim, outDim] = net.w[l].shape;
      const e = eigs[l];
      if (e) {
        // ã·E_Q without materialising ã: the bias row of E_Q enters as a bias.
        const p = tf.square(
          tf.fused.matMul({ a: inputs[l], b: e.qTop, bias: e.qBias }),
        ) as tf.Tensor2D;
        const g = gamma
          ? tf.matMul(gamma.reshape([n * k, outDim]), e.hVectors).reshape([n, k, outDim])
          : null;
        parts.unshift({ layer: l, p, g: g as tf.Tensor3D | null });
      }
      if (l === 0 || !eigs.slice(0, l).some((v) => v)) break;
      // Back through W_l and the ReLU of layer l − 1: ∂f/∂s_{l−1}.
      const live = tf.cast(tf.greater(inputs[l], 0), "float32").reshape([n, 1, inDim]);
      const back = gamma
        ? tf.matMul(gamma.reshape([n * k, outDim]), net.w[l], false, true).reshape([n, k, inDim])
        : tf.transpose(net.w[l]).reshape([1, k, inDim]);
      gamma = tf.mul(back, live) as tf.Tensor3D;
    }
    return { n, k, out: a, parts };
  });
}

/**
 * Frees a projection's tensors.
 *
 * @example
 * ```ts
 * import { disposeProjection, glmProject } from "./glm.ts";
 * // const proj = glmProject(net, eigs, x); … disposeProjection(proj);
 * ```
 */
export function disposeProjection(p: GlmProjection): void {
  tf.dispose([p.out, ...p.parts.flatMap((q) => (q.g ? [q.p, q.g] : [q.p]))]);
}

/** Eigen-direction variances of one layer under a prior, as device columns. */
function variances(e: LayerEigen, prior: PriorSettings) {
  const u = eigenVariances(e.qValues, prior), v = eigenVariances(e.hValues, prior);
  return { u, v, uT: tf.tensor2d(Float32Array.from(u), [u.length, 1]) };
}

/** `E_H diag(v) E_Hᵀ` on the host, uploaded (`[k, k]`). */
function outputCovariance(e: LayerEigen, v: Float64Array): tf.Tensor2D {
  const k = v.length, ev = e.hVectors;
  const vm = new Float32Array(k * k);
  for (let c = 0; c < k; c++) {
    for (let d = 0; d < k; d++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += ev[c * k + j] * ev[d * k + j] * v[j];
      vm[c * k + d] = s;
    }
  }
  return tf.tensor2d(vm, [k, k]);
}

/**
 * Output covariances `Σ_f` (`[n, k, k]`) of a projection under a prior.
 *
 * @example
 * ```ts
 * import { glmCovariance } from "./glm.ts";
 * // const cov = glmCovariance(proj, eigs, { priorPrecision: 1, dataScale: 60000 });
 * ```
 */
export function glmCovariance(
  proj: GlmProjection,
  eigs: readonly (DeviceEigen | null)[],
  prior: PriorSettings,
): tf.Tensor3D {
  const { n, k } = proj;
  return tf.tidy(() => {
    let cov = tf.zeros([n, k, k]);
    for (const part of proj.parts) {
      const e = eigs[part.layer]!.host;
      const { v, uT } = variances(e, prior);
      const q = tf.matMul(part.p, uT).reshape([n, 1, 1]);
      let term: tf.Tensor;
      if (!part.g) term = tf.mul(q, outputCovariance(e, v).reshape([1, k, k]));
      else {
        const cols = v.length;
        const gs = tf.mul(
          part.g,
          tf.tensor1d(Float32Array.from(v, Math.sqrt)).reshape([1, 1, cols]),
        );
        term = tf.mul(q, tf.matMul(gs, gs, false, true));
      }
      cov = tf.add(cov, term);
    }
    return cov as tf.Tensor3D;
  });
}

/**
 * The diagonal of `Σ_f` (`[n, k]`) under a prior: what the probit link
 * needs, without the `k×k` blocks.
 *
 * @example
 * ```ts
 * import { glmVariances } from "./glm.ts";
 * // const v = glmVariances(proj, eigs, prior);
 * ```
 */
export function glmVariances(
  proj: GlmProjection,
  eigs: readonly (DeviceEigen | null)[],
  prior: PriorSettings,
): tf.Tensor2D {
  const { n, k } = proj;
  return tf.tidy(() => {
    let out = tf.zeros([n, k]);
    for (const part of proj.parts) {
      const e = eigs[part.layer]!.host;
      const { v, uT } = variances(e, prior);
      const q = tf.matMul(part.p, uT); // [n, 1]
      let diag: tf.Tensor;
      if (!part.g) {
        const ev = e.hVectors, vd = new Float32Array(k);
        for (let c = 0; c < k; c++) for (let j = 0; j < k; j++) vd[c] += ev[c * k + j] ** 2 * v[j];
        diag = tf.mul(q, tf.tensor2d(vd, [1, k]));
      } else {
        const cols = v.length;
        const vT = tf.tensor2d(Float32Array.from(v), [cols, 1]);
        const s = tf.matMul(tf.square(part.g).reshape([n * k, cols]), vT).reshape([n, k]);
        diag = tf.mul(q, s);
      }
      out = tf.add(out, diag);
    }
    return out as tf.Tensor2D;
  });
}

/**
 * Probit approximation of the softmax of a Gaussian, as logits:
 * `f / √(1 + π/8·diag Σ_f)` (their log-softmax is the predictive).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { probitLogits } from "./glm.ts";
 * probitLogits(tf.tensor2d([[0, 2]]), tf.tensor2d([[0, 8 / Math.PI * 3]])); // [[0, 1]]
 * ```
 */
export function probitLogits(out: tf.Tensor2D, variance: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.div(out, tf.sqrt(tf.add(1, tf.mul(Math.PI / 8, variance)))));
}

/**
 * Probit log-probabilities `log softmax(f / √(1 + π/8·diag Σ_f))`, `[n, k]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { probitLogProbs } from "./glm.ts";
 * probitLogProbs(tf.tensor2d([[0, 0]]), tf.tensor2d([[1, 1]])); // [[log ½, log ½]]
 * ```
 */
export function probitLogProbs(out: tf.Tensor2D, variance: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.logSoftmax(probitLogits(out, variance)));
}

/**
 * Lower Cholesky factors of a batch of symmetric positive (semi-)definite
 * `k×k` matrices (`[n, k, k]`), column by column with tensor ops. Pivots are
 * floored at `1e-10` of the matrix's mean diagonal (a jitter for matrices
 * that are only numerically semi-definite).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { choleskyBatched } from "./glm.ts";
 * choleskyBatched(tf.tensor3d([[[4, 2], [2, 3]]])); // [[[2, 0], [1, √2]]]
 * ```
 */
export function choleskyBatched(cov: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const [n, k] = cov.shape;
    const diag = tf.sum(tf.mul(cov, tf.eye(k).reshape([1, k, k])), 2); // [n, k]
    const floor = tf.add(tf.mul(tf.mean(diag, 1, true), 1e-10), 1e-30); // [n, 1]
    const cols: tf.Tensor2D[] = [];
    for (let j = 0; j < k; j++) {
      let c: tf.Tensor2D = tf.slice(cov, [0, 0, j], [n, k, 1]).reshape([n, k]);
      if (j > 0) {
        const prev = tf.stack(cols, 2) as tf.Tensor3D; // [n, k, j]: L[:, i, m], m < j
        const rowJ = tf.slice(prev, [0, j, 0], [n, 1, j]).reshape([n, j, 1]);
        c = tf.sub(c, tf.matMul(prev, rowJ).reshape([n, k]));
      }
      const pivot = tf.maximum(tf.slice(c, [0, j], [n, 1]), floor);
      const below = tf.tensor1d(Float32Array.from({ length: k }, (_, i) => (i >= j ? 1 : 0)));
      cols.push(tf.mul(tf.div(c, tf.sqrt(pivot)), below));
    }
    return tf.stack(cols, 2) as tf.Tensor3D;
  });
}

/**
 * `count` draws of the outputs from `N(f*, L Lᵀ)` (`L` from
 * {@linkcode choleskyBatched}), `[count, n, k]`, the noise taken from `noise`.
 *
 * @example
 * ```ts
 * // const draws = gaussianOutputSamples(proj.out, choleskyBatched(cov), noise, 10);
 * ```
 */
export function gaussianOutputSamples(
  out: tf.Tensor2D,
  chol: tf.Tensor3D,
  noise: NoiseStream,
  count: number,
): tf.Tensor3D {
  return tf.tidy(() => {
    const [n, k] = out.shape;
    const eps = tf.transpose(noise.normalTensor([count, n, k]), [1, 2, 0]); // [n, k, count]
    const d = tf.transpose(tf.matMul(chol, eps), [2, 0, 1]); // [count, n, k]
    return tf.add(d, out.reshape([1, n, k])) as tf.Tensor3D;
  });
}
