/**
 * Weight priors of Bayes by Backprop — isotropic Gaussian, Laplace, and the
 * two-component Gaussian scale mixture of Blundell et al. (2015) — with their
 * log densities, gradients, and the Monte Carlo KL accumulation used in
 * training; plus the closed-form KL between Gaussians.
 *
 * @module
 */
import { softplusTable, TABLE_LO, TABLE_PER_UNIT } from "./softplus.ts";

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** Prior names. */
export type BbbPriorName = "gaussian" | "laplace" | "gmm";

/** The prior names, for validation and help texts. */
export const BBB_PRIORS: readonly BbbPriorName[] = ["gaussian", "laplace", "gmm"];

/** Settings of a prior (one scalar prior shared by every weight and bias). */
export interface BbbPriorSettings {
  /** Which density. */
  prior: BbbPriorName;
  /** Gaussian σ, Laplace scale b, or the mixture's wide σ₁ (> 0). */
  priorSigma: number;
  /** Mixture weight π of the wide component, in (0, 1). */
  gmmPi: number;
  /** Mixture's narrow σ₂ (> 0). */
  gmmSigma2: number;
}

/** A factorised prior p(w) = Π pᵢ(wᵢ). */
export interface BbbPrior {
  /** Name. */
  readonly name: BbbPriorName;
  /** log p(w) of one weight. */
  logDensity(w: number): number;
  /** d log p(w) / dw of one weight. */
  gradLogDensity(w: number): number;
  /**
   * Monte Carlo KL pathwise terms at sampled weights `w = μ + σ·ε` of one
   * segment: for `i` in `[start, end)` (flat indices of `eps`, `gMu`,
   * `gSigma`; the segment's weight is `w[i − start]`) adds
   * `−scale·∂log p/∂w` to `gMu[i]` and that times `eps[i]` to `gSigma[i]`.
   * Returns Σ log p(w) over the segment.
   */
  accumulate(
    w: Float32Array,
    eps: Float32Array,
    gMu: Float32Array,
    gSigma: Float32Array,
    start: number,
    end: number,
    scale: number,
  ): number;
}

/** Raised for invalid Bayes-by-Backprop settings. */
export class BbbSettingsError extends RangeError {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "BbbSettingsError";
  }
}

function positive(name: string, v: number): void {
  if (!(typeof v === "number" && v > 0 && Number.isFinite(v))) {
    throw new BbbSettingsError(`${name} must be a finite number > 0, found ${v}`);
  }
}

/**
 * Isotropic Gaussian prior N(0, σ²).
 *
 * @example
 * ```ts
 * import { gaussianPrior } from "@bayes/nn/methods/bbb";
 * gaussianPrior(0.1).logDensity(0); // −log(0.1·√(2π))
 * ```
 */
export function gaussianPrior(sigma: number): BbbPrior {
  positive("prior sigma", sigma);
  const c = -HALF_LOG_2PI - Math.log(sigma);
  const prec = 1 / (sigma * sigma);
  return {
    name: "gaussian",
    logDensity: (w) => c - 0.5 * w * w * prec,
    gradLogDensity: (w) => -w * prec,
    accumulate: (w, eps, gMu, gSigma, start, end, scale) =>
      (end - start) * c -
      0.5 * prec * gaussianKernel(w, eps, gMu, gSigma, start, end, scale * prec),
  };
}

/**
 * Laplace prior with location 0 and scale b: p(w) = exp(−|w|/b) / (2b).
 *
 * @example
 * ```ts
 * import { laplacePrior } from "@bayes/nn/methods/bbb";
 * laplacePrior(0.1).logDensity(0.2); // −log(0.2) − 2
 * ```
 */
export function laplacePrior(b: number): BbbPrior {
  positive("Laplace prior scale b (prior sigma)", b);
  const c = -Math.log(2 * b);
  const inv = 1 / b;
  return {
    name: "laplace",
    logDensity: (w) => c - Math.abs(w) * inv,
    gradLogDensity: (w) => (w > 0 ? -inv : w < 0 ? inv : 0),
    accumulate: (w, eps, gMu, gSigma, start, end, scale) =>
      (end - start) * c - inv * laplaceKernel(w, eps, gMu, gSigma, start, end, scale * inv),
  };
}

/**
 * Two-component scale mixture π·N(0, σ₁²) + (1−π)·N(0, σ₂²), evaluated per
 * weight in log space (stable for tiny σ₂).
 *
 * @example
 * ```ts
 * import { gmmPrior } from "@bayes/nn/methods/bbb";
 * const p = gmmPrior(0.75, 0.1, 0.0005);
 * p.logDensity(0.05);
 * ```
 */
export function gmmPrior(pi: number, sigma1: number, sigma2: number): BbbPrior {
  if (!(typeof pi === "number" && pi > 0 && pi < 1)) {
    throw new BbbSettingsError(`mixture weight pi must be in (0, 1), found ${pi}`);
  }
  positive("mixture sigma1 (prior sigma)", sigma1);
  positive("mixture sigma2", sigma2);
  // Write the wider component first: log p = a(w) + softplus(z), with
  // a = log πw·N(w; 0, σw²) and z = log[πn·N(w; 0, σn²) / (πw·N(w; 0, σw²))] = C − K·w², K ≥ 0.
  const [piW, sW, piN, sN] = sigma1 >= sigma2 ? [pi, sigma1, 1 - pi, sigma2] : [
    1 - pi,
    sigma2,
    pi,
    sigma1,
  ];
  const a0 = Math.log(piW) - HALF_LOG_2PI - Math.log(sW);
  const h1 = 0.5 / (sW * sW);
  const C = Math.log((piN * sW) / (piW * sN));
  const K = 0.5 / (sN * sN) - h1;
  const pW = 1 / (sW * sW), pN = 1 / (sN * sN);
  const softplus = (z: number) => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));
  const sigmoid = (z: number) => z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
  const exactLog = (w: number) => a0 - h1 * w * w + softplus(C - K * w * w);
  const exactGrad = (w: number) => -w * (pW + sigmoid(C - K * w * w) * (pN - pW));
  return {
    name: "gmm",
    logDensity: exactLog,
    gradLogDensity: exactGrad,
    accumulate: (w, eps, gMu, gSigma, start, end, scale) =>
      gmmKernel(w, eps, gMu, gSigma, start, end, C, K, scale * pW, scale * (pN - pW), a0, h1),
  };
}

/**
 * The mixture's Monte Carlo KL loop (see {@linkcode BbbPrior.accumulate}),
 * at module level with its constants as arguments (V8 keeps them in
 * registers; read from a closure they cost 2–3× here). Branch-free in the
 * common case: z is clamped at −32, where the narrow component's share
 * (< 1.3e-14) no longer matters, and log(1 + eᶻ) and sigmoid(z) come from
 * the interpolation table.
 */
function gmmKernel(
  w: Float32Array,
  eps: Float32Array,
  gMu: Float32Array,
  gSigma: Float32Array,
  start: number,
  end: number,
  C: number,
  K: number,
  kW: number,
  kD: number,
  a0: number,
  h1: number,
): number {
  const t = softplusTable();
  const lo = TABLE_LO, per = TABLE_PER_UNIT;
  let sum = 0, sumW2 = 0;
  for (let i = start; i < end; i++) {
    const wi = w[i - start];
    const w2 = wi * wi;
    sumW2 += w2;
    let z = C - K * w2;
    let sp: number, r: number;
    if (z < 15.99) {
      z = z > -32 ? z : -32;
      const x = (z - lo) * per;
      const j = x | 0;
      const f = x - j;
      const q = 3 * j;
      sp = t[q] + f * (t[q + 3] - t[q]);
      r = t[q + 1] + f * (t[q + 4] - t[q + 1]);
    } else {
      sp = z + Math.log1p(Math.exp(-z));
      r = 1 / (1 + Math.exp(-z));
    }
    sum += sp;
    const g = wi * (kW + kD * r);
    gMu[i] += g;
    gSigma[i] += g * eps[i];
  }
  return (end - start) * a0 - h1 * sumW2 + sum;
}

/** Gaussian prior MC-KL loop: adds k·w to gMu, k·w·ε to gSigma; returns Σ w². */
function gaussianKernel(
  w: Float32Array,
  eps: Float32Array,
  gMu: Float32Array,
  gSigma: Float32Array,
  start: number,
  end: number,
  k: number,
): number {
  let sq = 0;
  for (let i = start; i < end; i++) {
    const wi = w[i - start];
    sq += wi * wi;
    const g = k * wi;
    gMu[i] += g;
    gSigma[i] += g * eps[i];
  }
  return sq;
}

/** Laplace prior MC-KL loop: adds k·sign(w) to gMu, k·sign(w)·ε to gSigma; returns Σ |w|. */
function laplaceKernel(
  w: Float32Array,
  eps: Float32Array,
  gMu: Float32Array,
  gSigma: Float32Array,
  start: number,
  end: number,
  k: number,
): number {
  let abs = 0;
  for (let i = start; i < end; i++) {
    const wi = w[i - start];
    const a = Math.abs(wi);
    abs += a;
    // k·sign(w) without a data-dependent branch (signs are coin flips: a branch mispredicts).
    const g = a > 0 ? (k * wi) / a : 0;
    gMu[i] += g;
    gSigma[i] += g * eps[i];
  }
  return abs;
}

/**
 * The prior described by `s`.
 *
 * @example
 * ```ts
 * import { makeBbbPrior } from "@bayes/nn/methods/bbb";
 * const p = makeBbbPrior({ prior: "laplace", priorSigma: 0.1, gmmPi: 0.75, gmmSigma2: 0.0005 });
 * ```
 */
export function makeBbbPrior(s: BbbPriorSettings): BbbPrior {
  switch (s.prior) {
    case "gaussian":
      return gaussianPrior(s.priorSigma);
    case "laplace":
      return laplacePrior(s.priorSigma);
    case "gmm":
      return gmmPrior(s.gmmPi, s.priorSigma, s.gmmSigma2);
    default:
      throw new BbbSettingsError(
        `prior must be one of ${BBB_PRIORS.join(", ")}, found "${s.prior}"`,
      );
  }
}

/**
 * Closed-form KL( N(μ, σ²) ‖ N(0, σₚ²) ) of one weight.
 *
 * @example
 * ```ts
 * import { gaussianKl } from "@bayes/nn/methods/bbb";
 * gaussianKl(0, 0.1, 0.1); // 0
 * ```
 */
export function gaussianKl(mu: number, sigma: number, priorSigma: number): number {
  const r = sigma / priorSigma;
  return Math.log(priorSigma / sigma) + 0.5 * (r * r + (mu * mu) / (priorSigma * priorSigma)) -
    0.5;
}
