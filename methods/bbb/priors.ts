/**
 * Weight priors of Bayes by Backprop — isotropic Gaussian, Laplace, and the
 * two-component Gaussian scale mixture of Blundell et al. (2015) — as host
 * functions (log density and its gradient) and as kernel text for the
 * parameter engine; plus the closed-form KL between Gaussians.
 *
 * @module
 */

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
   * Kernel text computing, from a kernel variable `w`, `lp_<tag>` = log p(w)
   * and `gp_<tag>` = −d log p(w)/dw (the KL's pathwise gradient), with its
   * scalars (pass {@linkcode BbbPrior.constants}).
   */
  kernel(w: string, tag: string): string;
  /** Values of the scalars {@linkcode BbbPrior.kernel} reads. */
  readonly constants: Readonly<Record<string, number>>;
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
 * import { gaussianPrior } from "./priors.ts";
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
    kernel: (w, t) => `let lp_${t} = pc - 0.5 * ${w} * ${w} * pprec; let gp_${t} = ${w} * pprec;`,
    constants: { pc: c, pprec: prec },
  };
}

/**
 * Laplace prior with location 0 and scale b: p(w) = exp(−|w|/b) / (2b).
 *
 * @example
 * ```ts
 * import { laplacePrior } from "./priors.ts";
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
    kernel: (w, t) => `let lp_${t} = pc - abs(${w}) * pinv; let gp_${t} = sign(${w}) * pinv;`,
    constants: { pc: c, pinv: inv },
  };
}

/**
 * Two-component scale mixture π·N(0, σ₁²) + (1−π)·N(0, σ₂²), evaluated per
 * weight in log space (stable for tiny σ₂): with the wider component written
 * first, log p = a₀ − h·w² + softplus(z), z = C − K·w², K ≥ 0.
 *
 * @example
 * ```ts
 * import { gmmPrior } from "./priors.ts";
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
  const [piW, sW, piN, sN] = sigma1 >= sigma2
    ? [pi, sigma1, 1 - pi, sigma2]
    : [1 - pi, sigma2, pi, sigma1];
  const a0 = Math.log(piW) - HALF_LOG_2PI - Math.log(sW);
  const h1 = 0.5 / (sW * sW);
  const C = Math.log((piN * sW) / (piW * sN));
  const K = 0.5 / (sN * sN) - h1;
  const pW = 1 / (sW * sW), pN = 1 / (sN * sN);
  const softplus = (z: number) => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));
  const sigmoid = (z: number) => z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
  return {
    name: "gmm",
    logDensity: (w) => a0 - h1 * w * w + softplus(C - K * w * w),
    gradLogDensity: (w) => -w * (pW + sigmoid(C - K * w * w) * (pN - pW)),
    // Below z = −32 the narrow component's share (< 1.3e-14) no longer matters: the wide
    // Gaussian alone, without the softplus and sigmoid, which then cost most of a CPU kernel's
    // time (most weights of a trained network are there: 96% in the MNIST table's run).
    kernel: (w, t) =>
      `let z_${t} = gc - gk * ${w} * ${w}; ` +
      `var lp_${t} = ga0 - gh1 * ${w} * ${w}; var gp_${t} = ${w} * gpw; ` +
      `if (z_${t} > -32) { lp_${t} += softplus(z_${t}); gp_${t} += ${w} * sigmoid(z_${t}) * gpd; }`,
    constants: { ga0: a0, gh1: h1, gc: C, gk: K, gpw: pW, gpd: pN - pW },
  };
}

/**
 * The prior described by `s`.
 *
 * @example
 * ```ts
 * import { makeBbbPrior } from "./priors.ts";
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
 * import { gaussianKl } from "./priors.ts";
 * gaussianKl(0, 0.1, 0.1); // 0
 * ```
 */
export function gaussianKl(mu: number, sigma: number, priorSigma: number): number {
  const r = sigma / priorSigma;
  return Math.log(priorSigma / sigma) + 0.5 * (r * r + (mu * mu) / (priorSigma * priorSigma)) -
    0.5;
}
