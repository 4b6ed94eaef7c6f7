/**
 * The linearised (GLM) predictive of the Kronecker-factored Laplace
 * posterior (Immer et al. 2021; laplace-torch's recommended predictive): the
 * network outputs are linearised in the weights around the MAP,
 * `f(x, θ) ≈ f(x, θ*) + J(x)(θ − θ*)`, so under the posterior they are
 * Gaussian with mean `f(x, θ*)` and covariance `Σ_f = Σ_l (ãᵀ U_l ã)·(G_l V_l G_lᵀ)`
 * — exact for the matrix-normal layers, with `ã` the layer's augmented input
 * and `G_l = ∂f/∂s_l` the Jacobian of the outputs w.r.t. its pre-activations.
 *
 * The `τ`, `N`-free part is computed once per input chunk in the factors'
 * eigenbases (`(ã E_Q)²` and `G E_H`), so `Σ_f` for any number of prior
 * settings costs only weighted sums (used by the tuner).
 *
 * @module
 */
import { getLinalg, type Linalg, sgemm } from "../../core/linalg.ts";
import type { Rng } from "../../core/rng.ts";
import { type AugLayer, hostForward } from "./host_net.ts";
import { eigenVariances, type LayerEigen, type PriorSettings } from "./posterior.ts";

/** One Laplace layer's share of a projection. */
export interface GlmLayerPart {
  /** Layer index. */
  layer: number;
  /** `(ã E_Q)²`, `[n, inDim + 1]`. */
  p: Float32Array;
  /** `G E_H`, `[n, k, outDim]`; `null` for the output layer (`G = I`). */
  g: Float32Array | null;
}

/** The prior-independent part of the linearised predictive for `n` inputs. */
export interface GlmProjection {
  /** Inputs. */
  n: number;
  /** Outputs per input. */
  k: number;
  /** MAP outputs `[n, k]`. */
  out: Float32Array;
  /** One entry per Laplace layer. */
  parts: GlmLayerPart[];
}

/**
 * Projects inputs `x` (`[n, inputDim]`) for the linearised predictive.
 * `eigs[l]` is the eigendecomposition of layer `l`, or `null` when the layer
 * is fixed at its MAP value.
 *
 * @example
 * ```ts
 * import { glmProject } from "./glm.ts";
 * // const proj = glmProject(mapLayers, eigs, x, n);
 * ```
 */
export function glmProject(
  layers: AugLayer[],
  eigs: (LayerEigen | null)[],
  x: Float32Array,
  n: number,
): GlmProjection {
  const act = hostForward(layers, x, n);
  const L = layers.length;
  const k = layers[L - 1].outDim;
  const parts: GlmLayerPart[] = [];
  // gamma: [n·k, outDim of layer l] = ∂f/∂s_l, per example and output.
  let gamma: Float32Array | null = null;
  for (let l = L - 1; l >= 0; l--) {
    const { inDim, outDim } = layers[l];
    const e = eigs[l];
    if (e) {
      const rows = inDim + 1;
      const p = new Float32Array(n * rows);
      sgemm(false, false, n, rows, rows, 1, act.inputs[l], rows, e.qVectors, rows, 0, p, rows);
      for (let i = 0; i < p.length; i++) p[i] *= p[i];
      let g: Float32Array | null = null;
      if (gamma) {
        g = new Float32Array(n * k * outDim);
        sgemm(
          false,
          false,
          n * k,
          outDim,
          outDim,
          1,
          gamma,
          outDim,
          e.hVectors,
          outDim,
          0,
          g,
          outDim,
        );
      }
      parts.unshift({ layer: l, p, g });
    }
    if (l === 0 || !eigs.slice(0, l).some((v) => v)) break;
    // Back through W_l and the ReLU of layer l − 1: ∂f/∂s_{l−1}.
    const next = new Float32Array(n * k * inDim);
    if (gamma) {
      sgemm(
        false,
        true,
        n * k,
        inDim,
        outDim,
        1,
        gamma,
        outDim,
        layers[l].w,
        outDim,
        0,
        next,
        inDim,
      );
    } else {
      // Output layer: row (i, c) is column c of W.
      const w = layers[l].w;
      for (let c = 0; c < k; c++) {
        for (let j = 0; j < inDim; j++) next[c * inDim + j] = w[j * outDim + c];
      }
      for (let i = 1; i < n; i++) next.copyWithin(i * k * inDim, 0, k * inDim);
    }
    const aIn = act.inputs[l];
    for (let i = 0; i < n; i++) {
      const o = i * (inDim + 1);
      for (let c = 0; c < k; c++) {
        const ro = (i * k + c) * inDim;
        for (let j = 0; j < inDim; j++) if (!(aIn[o + j] > 0)) next[ro + j] = 0;
      }
    }
    gamma = next;
  }
  return { n, k, out: act.out, parts };
}

/**
 * Output covariances `Σ_f` (`[n, k, k]`, double precision) of a projection
 * under the prior settings.
 *
 * @example
 * ```ts
 * import { glmCovariance } from "./glm.ts";
 * // const cov = glmCovariance(proj, eigs, { priorPrecision: 1, dataScale: 60000 });
 * ```
 */
export function glmCovariance(
  proj: GlmProjection,
  eigs: (LayerEigen | null)[],
  prior: PriorSettings,
): Float64Array {
  const { n, k } = proj;
  const cov = new Float64Array(n * k * k);
  for (const part of proj.parts) {
    const e = eigs[part.layer]!;
    const u = eigenVariances(e.qValues, prior), v = eigenVariances(e.hValues, prior);
    const rows = u.length, cols = v.length;
    const q = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      const o = i * rows;
      for (let r = 0; r < rows; r++) s += part.p[o + r] * u[r];
      q[i] = s;
    }
    if (!part.g) {
      // G = I: Σ += q·V, V = E_H diag(v) E_Hᵀ.
      const vm = new Float64Array(k * k);
      const ev = e.hVectors;
      for (let c = 0; c < k; c++) {
        for (let d = 0; d < k; d++) {
          let s = 0;
          for (let j = 0; j < k; j++) s += ev[c * k + j] * ev[d * k + j] * v[j];
          vm[c * k + d] = s;
        }
      }
      for (let i = 0; i < n; i++) {
        for (let t = 0; t < k * k; t++) cov[i * k * k + t] += q[i] * vm[t];
      }
      continue;
    }
    const g = part.g;
    const vf = Float32Array.from(v);
    for (let i = 0; i < n; i++) {
      const base = i * k * cols;
      for (let c = 0; c < k; c++) {
        const oc = base + c * cols;
        for (let d = c; d < k; d++) {
          const od = base + d * cols;
          let s = 0;
          for (let j = 0; j < cols; j++) s += g[oc + j] * g[od + j] * vf[j];
          const val = q[i] * s;
          cov[(i * k + c) * k + d] += val;
          if (d !== c) cov[(i * k + d) * k + c] += val;
        }
      }
    }
  }
  return cov;
}

/**
 * Probit approximation of the softmax of a Gaussian:
 * `log softmax(f / √(1 + π/8·diag Σ_f))`, `[n, k]`.
 *
 * @example
 * ```ts
 * import { probitLogProbs } from "./glm.ts";
 * probitLogProbs(new Float32Array([0, 0]), new Float64Array([1, 0, 0, 1]), 1, 2); // [log ½, log ½]
 * ```
 */
export function probitLogProbs(
  out: Float32Array,
  cov: Float64Array,
  n: number,
  k: number,
): Float32Array {
  const res = new Float32Array(n * k);
  const z = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let c = 0; c < k; c++) {
      z[c] = out[i * k + c] / Math.sqrt(1 + (Math.PI / 8) * cov[(i * k + c) * k + c]);
      max = Math.max(max, z[c]);
    }
    let s = 0;
    for (let c = 0; c < k; c++) s += Math.exp(z[c] - max);
    const lse = max + Math.log(s);
    for (let c = 0; c < k; c++) res[i * k + c] = z[c] - lse;
  }
  return res;
}

/**
 * `samples` draws of the outputs from `N(f*, Σ_f)` (one Cholesky factor per
 * input), each `[n, k]`.
 *
 * @example
 * ```ts
 * import { Rng } from "../../core/rng.ts";
 * import { gaussianOutputSamples } from "./glm.ts";
 * gaussianOutputSamples(new Float32Array([0]), new Float64Array([4]), 1, 1, 3, new Rng(0));
 * ```
 */
export function gaussianOutputSamples(
  out: Float32Array,
  cov: Float64Array,
  n: number,
  k: number,
  samples: number,
  rng: Rng,
  la: Linalg = getLinalg(),
): Float32Array[] {
  const res = Array.from({ length: samples }, () => out.slice());
  const eps = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    const c = cov.slice(i * k * k, (i + 1) * k * k);
    let l: Float64Array | undefined;
    let jitter = 0;
    for (let attempt = 0; !l; attempt++) {
      try {
        l = la.cholesky(c, k);
      } catch (e) {
        if (attempt >= 6) throw e;
        let tr = 0;
        for (let d = 0; d < k; d++) tr += c[d * k + d];
        const add = Math.max((tr / k) * 1e-8, 1e-12) * 10 ** attempt - jitter;
        for (let d = 0; d < k; d++) c[d * k + d] += add;
        jitter += add;
      }
    }
    for (let s = 0; s < samples; s++) {
      for (let d = 0; d < k; d++) eps[d] = rng.normal();
      const o = res[s];
      for (let r = 0; r < k; r++) {
        let v = 0;
        for (let d = 0; d <= r; d++) v += l[r * k + d] * eps[d];
        o[i * k + r] += v;
      }
    }
  }
  return res;
}
