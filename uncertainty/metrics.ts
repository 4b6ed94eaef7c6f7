/**
 * Test-set metrics of classifiers computed from their predictive
 * distribution: log-likelihood, error rate, Brier score, and the one-call
 * {@linkcode classificationMetrics} summary used by the experiments.
 *
 * @module
 */

import { readLabels } from "./_input.ts";
import { expectedCalibrationError } from "./calibration.ts";
import {
  type ClassificationOptions,
  type ClassificationPredictions,
  type ClassificationUncertainty,
  classificationUncertainty,
  predictiveDistribution,
} from "./classification.ts";
import type { LabelInput, PredictionInput } from "./types.ts";

/**
 * Test log-likelihood `log p̄(y_n | x_n)` in nats: per example, summed over
 * the test set (how the reference papers report it, e.g. MAP −572.9 on
 * MNIST) and averaged.
 *
 * @example
 * ```ts
 * import type { LogLikelihood } from "@bayes/nn";
 * const fmt = (ll: LogLikelihood) => `${ll.sum.toFixed(1)} (${ll.mean.toFixed(4)} per example)`;
 * ```
 */
export interface LogLikelihood {
  /** `log p̄(y_n | x_n)` for each example. */
  perExample: Float64Array;
  /** Sum over the examples. */
  sum: number;
  /** Mean over the examples. */
  mean: number;
}

/**
 * Test log-likelihood of integer labels under the predictive distribution.
 *
 * @example
 * ```ts
 * import { logLikelihood } from "@bayes/nn";
 * const ll = logLikelihood({ data: [0.5, 0.5, 0.9, 0.1], shape: [1, 2, 2] }, [1, 0], {
 *   logProbs: false,
 * });
 * console.log(ll.sum); // log 0.5 + log 0.9
 * ```
 */
export function logLikelihood(
  pred: ClassificationPredictions,
  labels: LabelInput,
  options: ClassificationOptions = {},
): LogLikelihood {
  const { n: N, c: C, logProbs } = predictiveDistribution(pred, options);
  const y = readLabels(labels, N, C);
  const perExample = new Float64Array(N);
  let sum = 0;
  for (let n = 0; n < N; n++) {
    const v = logProbs[n * C + y[n]];
    perExample[n] = v;
    sum += v;
  }
  return { perExample, sum, mean: sum / N };
}

/**
 * Classification error in percent (0–100), predicting the first arg-max of
 * the predictive distribution.
 *
 * @example
 * ```ts
 * import { errorPercent } from "@bayes/nn";
 * const e = errorPercent({ data: [0.2, 0.8, 0.9, 0.1], shape: [1, 2, 2] }, [1, 1], {
 *   logProbs: false,
 * });
 * console.log(e); // 50
 * ```
 */
export function errorPercent(
  pred: ClassificationPredictions,
  labels: LabelInput,
  options: ClassificationOptions = {},
): number {
  const { n: N, c: C, probs } = predictiveDistribution(pred, options);
  const y = readLabels(labels, N, C);
  let wrong = 0;
  for (let n = 0; n < N; n++) {
    const base = n * C;
    let best = 0;
    for (let c = 1; c < C; c++) if (probs[base + c] > probs[base + best]) best = c;
    if (best !== y[n]) wrong++;
  }
  return (100 * wrong) / N;
}

/**
 * Brier score: `(1/N) Σ_n Σ_c (p̄(c|x_n) − [y_n = c])²`, in [0, 2] (summed
 * over classes, averaged over examples).
 *
 * @example
 * ```ts
 * import { brierScore } from "@bayes/nn";
 * const b = brierScore({ data: [0.25, 0.75], shape: [1, 1, 2] }, [1], { logProbs: false });
 * console.log(b); // 0.25² + 0.25² = 0.125
 * ```
 */
export function brierScore(
  pred: ClassificationPredictions,
  labels: LabelInput,
  options: ClassificationOptions = {},
): number {
  const { n: N, c: C, probs } = predictiveDistribution(pred, options);
  const y = readLabels(labels, N, C);
  let sum = 0;
  for (let n = 0; n < N; n++) {
    const base = n * C;
    for (let c = 0; c < C; c++) {
      const d = probs[base + c] - (c === y[n] ? 1 : 0);
      sum += d * d;
    }
  }
  return sum / N;
}

/**
 * The standard summary of a classifier on a test set.
 *
 * @example
 * ```ts
 * import type { ClassificationMetrics } from "@bayes/nn";
 * const show = (m: ClassificationMetrics) => `${m.errorPct.toFixed(2)}% error, ECE ${m.ece}`;
 * ```
 */
export interface ClassificationMetrics {
  /** Number of test examples. */
  n: number;
  /** Test log-likelihood summed over the test set (nats). */
  logLikSum: number;
  /** Test log-likelihood per example (nats). */
  logLikMean: number;
  /** Error in percent. */
  errorPct: number;
  /** Brier score (sum over classes, mean over examples). */
  brier: number;
  /** Expected calibration error, 15 equal-width bins, in [0, 1]. */
  ece: number;
  /** Mean entropy of the predictive distribution (nats). */
  totalEntropyMean: number;
  /** Mean expected entropy of the per-sample predictions (nats). */
  aleatoricMean: number;
  /** Mean mutual information (nats). */
  epistemicMean: number;
}

/**
 * All standard classification metrics in one pass over the `[S, N, C]`
 * predictions (default: log-probabilities, as `predict` returns them).
 * Passing a {@linkcode ClassificationUncertainty} reuses it.
 *
 * @example
 * ```ts
 * import { classificationMetrics } from "@bayes/nn";
 * const pred = { data: [0.9, 0.1, 0.3, 0.7, 0.7, 0.3, 0.1, 0.9], shape: [2, 2, 2] };
 * const m = classificationMetrics(pred, [0, 1], { logProbs: false });
 * console.log(m.errorPct, m.logLikSum, m.epistemicMean);
 * ```
 */
export function classificationMetrics(
  pred: ClassificationPredictions,
  labels: LabelInput,
  options: ClassificationOptions = {},
): ClassificationMetrics {
  const u: ClassificationUncertainty = isUncertainty(pred)
    ? pred
    : classificationUncertainty(predictiveOrThrow(pred), options);
  const ll = logLikelihood(u, labels);
  return {
    n: u.n,
    logLikSum: ll.sum,
    logLikMean: ll.mean,
    errorPct: errorPercent(u, labels),
    brier: brierScore(u, labels),
    ece: expectedCalibrationError(u, labels).ece,
    totalEntropyMean: u.totalMean,
    aleatoricMean: u.aleatoricMean,
    epistemicMean: u.epistemicMean,
  };
}

function isUncertainty(x: unknown): x is ClassificationUncertainty {
  return typeof x === "object" && x !== null &&
    (x as ClassificationUncertainty).total instanceof Float64Array &&
    (x as ClassificationUncertainty).probs instanceof Float64Array;
}

function predictiveOrThrow(pred: ClassificationPredictions): PredictionInput {
  if ((pred as { probs?: unknown }).probs instanceof Float64Array) {
    throw new TypeError(
      "classificationMetrics: needs the [S, N, C] predictions (or classificationUncertainty's " +
        "result) to compute the entropy decomposition; a bare predictive distribution is not enough",
    );
  }
  return pred as PredictionInput;
}
