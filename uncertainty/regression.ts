/**
 * Predictive uncertainty and test metrics for heteroscedastic regression.
 *
 * Input: per-sample predictive means `μ_s(x)` and log standard deviations
 * `log σ_s(x)`, each `[S, N, 1]` (or `[S, N]`), in the *standardised* target
 * units the network was trained in. The predictive is the Gaussian mixture
 * `p(y|x) = (1/S) Σ_s N(y; μ_s, σ_s²)`, with
 *
 * - mean       `E[μ]`,
 * - aleatoric  `E[σ²]`,
 * - epistemic  `Var[μ]` (population variance over samples),
 * - total      `E[σ²] + Var[μ]` (the mixture's variance).
 *
 * Results are reported in original target units: `y = yMean + yStd · z`.
 *
 * @module
 */

import { readPredictions, readVector } from "./_input.ts";
import type { LabelInput, PredictionInput } from "./types.ts";

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/**
 * How targets were standardised for training: `z = (y − yMean) / yStd`.
 *
 * @example
 * ```ts
 * import type { TargetScaling } from "@bayes/nn";
 * const scaling: TargetScaling = { yMean: 22.5, yStd: 9.2 };
 * ```
 */
export interface TargetScaling {
  /** Mean subtracted from the targets (default 0). */
  yMean?: number;
  /** Standard deviation the targets were divided by (default 1). */
  yStd?: number;
}

/**
 * Options for regression metrics.
 *
 * @example
 * ```ts
 * import type { RegressionOptions } from "@bayes/nn";
 * const opts: RegressionOptions = { yMean: 22.5, yStd: 9.2, targetsStandardized: false };
 * ```
 */
export interface RegressionOptions extends TargetScaling {
  /**
   * Whether `targets` are given in standardised units `z` (default `false`:
   * they are in original units `y`). Metrics are reported in original units
   * either way.
   */
  targetsStandardized?: boolean;
}

/**
 * Per-example predictive mean and variance decomposition, in original units.
 *
 * @example
 * ```ts
 * import { regressionUncertainty } from "@bayes/nn";
 * const u = regressionUncertainty({ data: [0, 2], shape: [2, 1, 1] }, 0);
 * console.log(u.mean[0], u.epistemicVar[0], u.aleatoricVar[0]); // 1 1 1
 * ```
 */
export interface RegressionUncertainty {
  /** Number of posterior samples S. */
  s: number;
  /** Number of examples N. */
  n: number;
  /** Predictive mean `yMean + yStd · E[μ]`. */
  mean: Float64Array;
  /** Aleatoric variance `yStd² · E[σ²]`. */
  aleatoricVar: Float64Array;
  /** Epistemic variance `yStd² · Var[μ]`. */
  epistemicVar: Float64Array;
  /** Total predictive variance, `aleatoricVar + epistemicVar`. */
  totalVar: Float64Array;
  /** Mean of `aleatoricVar` over the examples. */
  aleatoricVarMean: number;
  /** Mean of `epistemicVar` over the examples. */
  epistemicVarMean: number;
  /** Mean of `totalVar` over the examples. */
  totalVarMean: number;
}

interface Pair {
  mu: Float32Array | Float64Array;
  logSigma: Float32Array | Float64Array | number;
  S: number;
  N: number;
}

function readPair(mu: PredictionInput, logSigma: PredictionInput | number): Pair {
  const m = readPredictions(mu, "regression mean μ", ["S", "N", "1"], [3, 2]);
  if (m.shape.length === 3 && m.shape[2] !== 1) {
    throw new RangeError(
      `regression mean μ: expected shape [S, N, 1] (one output), found [${m.shape.join(", ")}]`,
    );
  }
  const [S, N] = m.shape;
  if (typeof logSigma === "number") {
    if (!Number.isFinite(logSigma)) {
      throw new RangeError(`regression log σ: expected a finite number, found ${logSigma}`);
    }
    return { mu: m.data, logSigma, S, N };
  }
  const l = readPredictions(logSigma, "regression log σ", ["S", "N", "1"], [3, 2]);
  if (l.shape[0] !== S || l.shape[1] !== N || (l.shape.length === 3 && l.shape[2] !== 1)) {
    throw new RangeError(
      `regression log σ: shape [${l.shape.join(", ")}] does not match μ's shape ` +
        `[${m.shape.join(", ")}] (expected [S, N, 1] = [${S}, ${N}, 1])`,
    );
  }
  return { mu: m.data, logSigma: l.data, S, N };
}

function readScaling(opts: TargetScaling, what: string): { yMean: number; yStd: number } {
  const yMean = opts.yMean ?? 0;
  const yStd = opts.yStd ?? 1;
  if (!Number.isFinite(yMean)) {
    throw new RangeError(`${what}: yMean must be finite, found ${yMean}`);
  }
  if (!(yStd > 0) || !Number.isFinite(yStd)) {
    throw new RangeError(`${what}: yStd must be a positive finite number, found ${yStd}`);
  }
  return { yMean, yStd };
}

function meanOf(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

/**
 * Thrown when a regression prediction holds NaN or ±Infinity (an overflowing
 * or diverged network), so that a caller can tell it from bad arguments.
 *
 * @example
 * ```ts
 * import { NonFinitePredictionError, regressionUncertainty } from "./regression.ts";
 * try {
 *   regressionUncertainty({ data: [Infinity], shape: [1, 1, 1] }, 0);
 * } catch (e) {
 *   e instanceof NonFinitePredictionError; // true
 * }
 * ```
 */
export class NonFinitePredictionError extends RangeError {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "NonFinitePredictionError";
  }
}

function checkFinite(a: Float64Array, what: string): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) {
      throw new NonFinitePredictionError(
        `${what}: non-finite value ${a[i]} for example ${i} (NaN in μ or log σ?)`,
      );
    }
  }
}

/**
 * Predictive mean and the aleatoric/epistemic variance decomposition of a
 * sampled heteroscedastic regression model. `logSigma` may be a number for a
 * homoscedastic model.
 *
 * @example
 * ```ts
 * import { regressionUncertainty } from "@bayes/nn";
 * const mu = { data: [0.1, -0.1, 0.3, 0.5], shape: [2, 2, 1] };
 * const logSigma = { data: [-1, -1, -0.5, -0.5], shape: [2, 2, 1] };
 * const u = regressionUncertainty(mu, logSigma, { yMean: 10, yStd: 2 });
 * console.log(u.mean, u.totalVar);
 * ```
 */
export function regressionUncertainty(
  mu: PredictionInput,
  logSigma: PredictionInput | number,
  scaling: TargetScaling = {},
): RegressionUncertainty {
  const { yMean, yStd } = readScaling(scaling, "regressionUncertainty");
  return decompose(readPair(mu, logSigma), yMean, yStd);
}

function decompose(pair: Pair, yMean: number, yStd: number): RegressionUncertainty {
  const { mu: m, logSigma: ls, S, N } = pair;
  const mean = new Float64Array(N);
  const alea = new Float64Array(N);
  const epi = new Float64Array(N);
  for (let s = 0; s < S; s++) {
    const off = s * N;
    for (let n = 0; n < N; n++) mean[n] += m[off + n];
  }
  for (let n = 0; n < N; n++) mean[n] /= S;
  if (typeof ls === "number") {
    alea.fill(Math.exp(2 * ls));
  } else {
    for (let s = 0; s < S; s++) {
      const off = s * N;
      for (let n = 0; n < N; n++) alea[n] += Math.exp(2 * ls[off + n]);
    }
    for (let n = 0; n < N; n++) alea[n] /= S;
  }
  for (let s = 0; s < S; s++) {
    const off = s * N;
    for (let n = 0; n < N; n++) {
      const d = m[off + n] - mean[n];
      epi[n] += d * d;
    }
  }
  const v2 = yStd * yStd;
  const total = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    mean[n] = yMean + yStd * mean[n];
    alea[n] *= v2;
    epi[n] = (epi[n] / S) * v2;
    total[n] = alea[n] + epi[n];
  }
  checkFinite(total, "regressionUncertainty");
  checkFinite(mean, "regressionUncertainty");
  return {
    s: S,
    n: N,
    mean,
    aleatoricVar: alea,
    epistemicVar: epi,
    totalVar: total,
    aleatoricVarMean: meanOf(alea),
    epistemicVarMean: meanOf(epi),
    totalVarMean: meanOf(total),
  };
}

/**
 * Test log-likelihood under a Gaussian-mixture predictive.
 *
 * @example
 * ```ts
 * import type { RegressionLogLikelihood } from "@bayes/nn";
 * const fmt = (ll: RegressionLogLikelihood) => ll.mean.toFixed(3);
 * ```
 */
export interface RegressionLogLikelihood {
  /** `log p(y_n | x_n)` in original units, per example. */
  perExample: Float64Array;
  /** Sum over the examples. */
  sum: number;
  /** Mean over the examples (the number usually reported for UCI). */
  mean: number;
}

/**
 * Test log-likelihood of the Gaussian-mixture predictive
 * `log (1/S) Σ_s N(z; μ_s, σ_s²) − log yStd` (log-mean-exp over samples), in
 * original target units: the `− log yStd` term is the Jacobian of
 * `z = (y − yMean) / yStd`.
 *
 * @example
 * ```ts
 * import { gaussianMixtureLogLikelihood } from "@bayes/nn";
 * const ll = gaussianMixtureLogLikelihood(
 *   { data: [0, 1], shape: [2, 1, 1] },
 *   { data: [0, 0], shape: [2, 1, 1] },
 *   [5],
 *   { yMean: 4, yStd: 2 },
 * );
 * console.log(ll.sum);
 * ```
 */
export function gaussianMixtureLogLikelihood(
  mu: PredictionInput,
  logSigma: PredictionInput | number,
  targets: LabelInput,
  options: RegressionOptions = {},
): RegressionLogLikelihood {
  const { yMean, yStd } = readScaling(options, "gaussianMixtureLogLikelihood");
  const pair = readPair(mu, logSigma);
  const y = readVector(targets, "targets", pair.N);
  return mixtureLogLik(pair, y, yMean, yStd, options.targetsStandardized ?? false);
}

function mixtureLogLik(
  pair: Pair,
  y: ArrayLike<number>,
  yMean: number,
  yStd: number,
  standardized: boolean,
): RegressionLogLikelihood {
  const { mu: m, logSigma: ls, S, N } = pair;
  const z = new Float64Array(N);
  for (let n = 0; n < N; n++) z[n] = standardized ? y[n] : (y[n] - yMean) / yStd;
  const lp = new Float64Array(S * N);
  const mx = new Float64Array(N).fill(-Infinity);
  for (let s = 0; s < S; s++) {
    const off = s * N;
    for (let n = 0; n < N; n++) {
      const l = typeof ls === "number" ? ls : ls[off + n];
      const r = (z[n] - m[off + n]) * Math.exp(-l);
      const v = -HALF_LOG_2PI - l - 0.5 * r * r;
      lp[off + n] = v;
      if (v > mx[n]) mx[n] = v;
    }
  }
  const acc = new Float64Array(N);
  for (let s = 0; s < S; s++) {
    const off = s * N;
    for (let n = 0; n < N; n++) acc[n] += Math.exp(lp[off + n] - mx[n]);
  }
  const shift = Math.log(S) + Math.log(yStd);
  const perExample = new Float64Array(N);
  let sum = 0;
  for (let n = 0; n < N; n++) {
    const v = mx[n] + Math.log(acc[n]) - shift;
    perExample[n] = v;
    sum += v;
  }
  if (Number.isNaN(sum)) checkFinite(perExample, "gaussianMixtureLogLikelihood");
  return { perExample, sum, mean: sum / N };
}

/**
 * The standard summary of a regression model on a test set, in original
 * target units.
 *
 * @example
 * ```ts
 * import type { RegressionMetrics } from "@bayes/nn";
 * const fmt = (r: RegressionMetrics) => `RMSE ${r.rmse.toFixed(3)}, LL ${r.logLikMean.toFixed(3)}`;
 * ```
 */
export interface RegressionMetrics {
  /** Number of test examples. */
  n: number;
  /** Test log-likelihood summed over the test set. */
  logLikSum: number;
  /** Test log-likelihood per example. */
  logLikMean: number;
  /** Root mean squared error of the predictive mean. */
  rmse: number;
  /** Mean aleatoric variance `E[σ²]` (original units²). */
  aleatoricVarMean: number;
  /** Mean epistemic variance `Var[μ]` (original units²). */
  epistemicVarMean: number;
  /** Mean total predictive variance (original units²). */
  totalVarMean: number;
}

/**
 * Test log-likelihood (Gaussian mixture), RMSE and mean variances of a sampled
 * regression model, all in original target units.
 *
 * @example
 * ```ts
 * import { regressionMetrics } from "@bayes/nn";
 * const mu = { data: [0.1, -0.2, 0.3, 0.0], shape: [2, 2, 1] };
 * const logSigma = { data: [-1, -1, -1, -1], shape: [2, 2, 1] };
 * const m = regressionMetrics(mu, logSigma, [11, 9], { yMean: 10, yStd: 3 });
 * console.log(m.rmse, m.logLikMean);
 * ```
 */
export function regressionMetrics(
  mu: PredictionInput,
  logSigma: PredictionInput | number,
  targets: LabelInput,
  options: RegressionOptions = {},
): RegressionMetrics {
  const { yMean, yStd } = readScaling(options, "regressionMetrics");
  const pair = readPair(mu, logSigma);
  const y = readVector(targets, "targets", pair.N);
  const u = decompose(pair, yMean, yStd);
  const ll = mixtureLogLik(pair, y, yMean, yStd, options.targetsStandardized ?? false);
  let se = 0;
  for (let n = 0; n < u.n; n++) {
    const yn = options.targetsStandardized ? yMean + yStd * y[n] : y[n];
    const d = yn - u.mean[n];
    se += d * d;
  }
  return {
    n: u.n,
    logLikSum: ll.sum,
    logLikMean: ll.mean,
    rmse: Math.sqrt(se / u.n),
    aleatoricVarMean: u.aleatoricVarMean,
    epistemicVarMean: u.epistemicVarMean,
    totalVarMean: u.totalVarMean,
  };
}
