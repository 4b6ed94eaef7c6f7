/**
 * The matrix-normal posterior of each layer from its Kronecker factors, a
 * prior precision `τ` and a data multiplier `N` (Ritter et al. 2018):
 *
 *     W̃ ~ MN(W̃_MAP, U, V),  U⁻¹ = √N·Q + √τ·I,  V⁻¹ = √N·H + √τ·I
 *
 * (rows of `W̃` ↔ layer inputs plus bias, columns ↔ outputs). This is the
 * reference's convention (`data_scale = √N`, `prior_scale = √τ` with
 * `τ = 1/hessian_diag_sig²`): the precision `U⁻¹ ⊗ V⁻¹` equals
 * `N·Q⊗H + τ·I` plus the cross terms `√(Nτ)(Q⊗I + I⊗H)`, i.e. a damped
 * Kronecker approximation of `N·Q⊗H + τ·I`.
 *
 * Sampling uses triangular square roots (LAPACK `dpotrf` + `dtrtri` in
 * double precision): with `V⁻¹ = L_H L_Hᵀ`, `B = L_H⁻ᵀ` satisfies
 * `B Bᵀ = V`; for the rows, the Cholesky factor of the reversed matrix,
 * `P U⁻¹ P = L' L'ᵀ` (`P` the reversal permutation), gives the *lower*
 * triangular `A = P L'⁻ᵀ P` with `A Aᵀ = U` — lower, so that the weight rows
 * of `W̃ = W̃_MAP + A·E·Bᵀ` (`E` standard normal, drawn on the device:
 * `sampler.ts`) use only the weight rows of `E`, and the bias row is one
 * more small product. Eigendecompositions of `Q` and `H` give every `τ`, `N` at
 * once (marginal likelihood, linearised predictive). Everything here runs
 * once per factor set or prior, on the host (the factors are at most
 * `1201²`).
 *
 * @module
 */
import { getLinalg, type Linalg } from "../../core/linalg.ts";
import type { KronLayerFactors } from "./curvature.ts";

/** The two hyper-parameters of the posterior. */
export interface PriorSettings {
  /** Prior precision `τ` (> 0). */
  priorPrecision: number;
  /** Data multiplier `N` (> 0), normally the number of training examples. */
  dataScale: number;
}

/** Checks a {@linkcode PriorSettings}, naming the bad field. */
export function checkPrior(p: PriorSettings): void {
  if (!(p.priorPrecision > 0 && Number.isFinite(p.priorPrecision))) {
    throw new RangeError(`prior precision τ must be a positive number, found ${p.priorPrecision}`);
  }
  if (!(p.dataScale > 0 && Number.isFinite(p.dataScale))) {
    throw new RangeError(`data scale N must be a positive number, found ${p.dataScale}`);
  }
}

/**
 * `√N·F + √τ·I` in double precision.
 *
 * @example
 * ```ts
 * import { dampedFactor } from "./posterior.ts";
 * dampedFactor(new Float32Array([1, 0, 0, 1]), 2, { priorPrecision: 4, dataScale: 9 }); // 5·I
 * ```
 */
export function dampedFactor(f: Float32Array, d: number, prior: PriorSettings): Float64Array {
  checkPrior(prior);
  const sn = Math.sqrt(prior.dataScale), st = Math.sqrt(prior.priorPrecision);
  const out = new Float64Array(d * d);
  for (let i = 0; i < d * d; i++) out[i] = sn * f[i];
  for (let i = 0; i < d; i++) out[i * d + i] += st;
  return out;
}

/** Square-root factors of a layer's matrix normal, in single precision. */
export interface SamplingFactors {
  /** Rows `inDim + 1` of `W̃`. */
  rows: number;
  /** Columns `outDim` of `W̃`. */
  cols: number;
  /** `A` (lower triangular, `rows×rows`): `A Aᵀ = U`. */
  a: Float32Array;
  /** `Bᵀ = L_H⁻¹` (lower triangular, `cols×cols`): `B Bᵀ = V`. */
  bt: Float32Array;
}

/**
 * Cholesky square roots of the row and column covariances of one layer.
 *
 * @example
 * ```ts
 * import { samplingFactors } from "./posterior.ts";
 * const layer = { layer: 0, inDim: 1, outDim: 1, q: new Float32Array(4), h: new Float32Array(1) };
 * const s = samplingFactors(layer, { priorPrecision: 4, dataScale: 1 }); // a = I/√2, bt = [1/√2]
 * ```
 */
export function samplingFactors(
  layer: KronLayerFactors,
  prior: PriorSettings,
  la: Linalg = getLinalg(),
): SamplingFactors {
  const rows = layer.inDim + 1, cols = layer.outDim;
  const d = dampedFactor(layer.q, rows, prior);
  const last = rows - 1;
  const rev = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < rows; j++) rev[i * rows + j] = d[(last - i) * rows + (last - j)];
  }
  const inv = la.invertLower(la.cholesky(rev, rows), rows); // L'⁻¹
  const a = new Float32Array(rows * rows); // A = P L'⁻ᵀ P: A[i][j] = L'⁻¹[last − j][last − i]
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j <= i; j++) a[i * rows + j] = inv[(last - j) * rows + (last - i)];
  }
  const bt = Float32Array.from(
    la.invertLower(la.cholesky(dampedFactor(layer.h, cols, prior), cols), cols),
  );
  return { rows, cols, a, bt };
}

/**
 * Marginal variances `U_ii·V_jj` of every entry of `W̃` (`rows×cols`).
 *
 * @example
 * ```ts
 * import { marginalVariances } from "./posterior.ts";
 * const f = { rows: 1, cols: 1, a: new Float32Array([2]), bt: new Float32Array([3]) };
 * marginalVariances(f); // [36]
 * ```
 */
export function marginalVariances(f: SamplingFactors): Float32Array {
  const { rows, cols, a, bt } = f;
  const u = new Float64Array(rows), v = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let k = 0; k < rows; k++) s += a[i * rows + k] ** 2;
    u[i] = s;
  }
  for (let k = 0; k < cols; k++) for (let j = 0; j < cols; j++) v[j] += bt[k * cols + j] ** 2;
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] = u[i] * v[j];
  return out;
}

/** Eigendecompositions of a layer's two factors. */
export interface LayerEigen {
  /** Eigenvalues of `Q` (ascending, clamped at 0). */
  qValues: Float64Array;
  /** Eigenvectors of `Q`, row-major, one per column, single precision. */
  qVectors: Float32Array;
  /** Eigenvalues of `H` (ascending, clamped at 0). */
  hValues: Float64Array;
  /** Eigenvectors of `H`, row-major, one per column. */
  hVectors: Float32Array;
}

/**
 * Eigendecomposes `Q` and `H` of a layer (LAPACK `dsyevd`).
 *
 * @example
 * ```ts
 * import { layerEigen } from "./posterior.ts";
 * const layer = { layer: 0, inDim: 1, outDim: 1, q: new Float32Array([2, 0, 0, 1]), h: new Float32Array([3]) };
 * layerEigen(layer).qValues; // [1, 2]
 * ```
 */
export function layerEigen(layer: KronLayerFactors, la: Linalg = getLinalg()): LayerEigen {
  const eig = (f: Float32Array, d: number) => {
    const e = la.eigh(Float64Array.from(f), d);
    return { values: e.values.map((v) => Math.max(v, 0)), vectors: Float32Array.from(e.vectors) };
  };
  const q = eig(layer.q, layer.inDim + 1), h = eig(layer.h, layer.outDim);
  return { qValues: q.values, qVectors: q.vectors, hValues: h.values, hVectors: h.vectors };
}

/**
 * Per eigen-direction variances `1/(√N·λ + √τ)` of `U` (from `Q`) or `V`
 * (from `H`).
 *
 * @example
 * ```ts
 * import { eigenVariances } from "./posterior.ts";
 * eigenVariances(new Float64Array([0, 1]), { priorPrecision: 1, dataScale: 1 }); // [1, 0.5]
 * ```
 */
export function eigenVariances(values: Float64Array, prior: PriorSettings): Float64Array {
  const sn = Math.sqrt(prior.dataScale), st = Math.sqrt(prior.priorPrecision);
  return values.map((l) => 1 / (sn * l + st));
}

/** What the Laplace evidence needs besides the factors. */
export interface EvidenceTerms {
  /** Summed training NLL at the MAP. */
  trainNll: number;
  /** `‖θ_MAP‖²` over the Laplace layers (weights and biases). */
  thetaSq: number;
}

/**
 * Laplace approximation of the log marginal likelihood for the damped
 * Kronecker posterior precision `⊗_l (√N·Q_l + √τ·I)⊗(√N·H_l + √τ·I)` and the
 * prior `N(0, τ⁻¹·I)`:
 * `log p(D) ≈ −NLL(θ*) − ½τ‖θ*‖² − ½(log det P_post − P·log τ)`.
 *
 * @example
 * ```ts
 * import { laplaceEvidence } from "./posterior.ts";
 * const eig = { qValues: new Float64Array([0]), qVectors: new Float32Array([1]),
 *   hValues: new Float64Array([0]), hVectors: new Float32Array([1]) };
 * laplaceEvidence([eig], { priorPrecision: 1, dataScale: 1 }, { trainNll: 0, thetaSq: 0 }); // 0
 * ```
 */
export function laplaceEvidence(
  eigs: LayerEigen[],
  prior: PriorSettings,
  terms: EvidenceTerms,
): number {
  const sn = Math.sqrt(prior.dataScale), st = Math.sqrt(prior.priorPrecision);
  let logDetRatio = 0;
  for (const e of eigs) {
    const rows = e.qValues.length, cols = e.hValues.length;
    let sq = 0, sh = 0;
    for (const l of e.qValues) sq += Math.log1p((sn * l) / st);
    for (const m of e.hValues) sh += Math.log1p((sn * m) / st);
    logDetRatio += cols * sq + rows * sh;
  }
  return -terms.trainNll - 0.5 * prior.priorPrecision * terms.thetaSq - 0.5 * logDetRatio;
}

/**
 * The prior precision maximising {@linkcode laplaceEvidence} for a fixed `N`:
 * a log-spaced scan over `[lo, hi]` refined by golden-section search.
 *
 * @example
 * ```ts
 * import { maximiseEvidence } from "./posterior.ts";
 * // const { priorPrecision } = maximiseEvidence(eigs, 60000, terms);
 * ```
 */
export function maximiseEvidence(
  eigs: LayerEigen[],
  dataScale: number,
  terms: EvidenceTerms,
  lo = 1e-6,
  hi = 1e8,
): { priorPrecision: number; evidence: number } {
  const f = (lt: number) =>
    laplaceEvidence(eigs, { priorPrecision: Math.exp(lt), dataScale }, terms);
  const a0 = Math.log(lo), b0 = Math.log(hi), steps = 140;
  let best = 0, bestV = -Infinity;
  for (let i = 0; i <= steps; i++) {
    const v = f(a0 + ((b0 - a0) * i) / steps);
    if (v > bestV) [best, bestV] = [i, v];
  }
  let a = a0 + ((b0 - a0) * Math.max(best - 1, 0)) / steps;
  let b = a0 + ((b0 - a0) * Math.min(best + 1, steps)) / steps;
  const g = (Math.sqrt(5) - 1) / 2;
  for (let it = 0; it < 60; it++) {
    const c = b - g * (b - a), d = a + g * (b - a);
    if (f(c) >= f(d)) b = d;
    else a = c;
  }
  const lt = (a + b) / 2;
  return { priorPrecision: Math.exp(lt), evidence: f(lt) };
}
