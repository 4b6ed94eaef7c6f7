/**
 * Evaluating a method on a dataset: predictions with S posterior samples, then
 * the uncertainty module's metrics.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ArrayDataset } from "../datasets/types.ts";
import { classificationMetrics } from "../uncertainty/metrics.ts";
import { regressionMetrics } from "../uncertainty/regression.ts";
import { disposePrediction } from "./likelihood.ts";
import type { Method, Prediction } from "./method.ts";

/** Standardisation of regression targets, to report metrics in original units. */
export interface TargetScale {
  /** Mean subtracted from the targets. */
  yMean: number;
  /** Standard deviation the targets were divided by. */
  yStd: number;
}

/** Metrics of {@linkcode evaluate}. */
export interface EvalResult {
  /** Examples evaluated. */
  n: number;
  /** Test log-likelihood per example (original units for regression). */
  logLikMean: number;
  /** Test log-likelihood summed over the set. */
  logLikSum: number;
  /** Classification error in percent. */
  errorPct?: number;
  /** Regression RMSE in original units. */
  rmse?: number;
}

/**
 * Inputs of a dataset as a `[n, features]` tensor.
 *
 * @example
 * ```ts
 * import { datasetInputs } from "@bayes/nn";
 * const x = datasetInputs({ x: new Float32Array(6), y: new Int32Array(2), n: 2, xShape: [3], yShape: [] });
 * ```
 */
export function datasetInputs(ds: ArrayDataset): tf.Tensor2D {
  return tf.tensor2d(ds.x, [ds.n, ds.x.length / Math.max(ds.n, 1)]);
}

/**
 * Predicts the whole dataset with `samples` posterior samples.
 *
 * @example
 * ```ts
 * import { predictDataset } from "@bayes/nn";
 * // const pred = predictDataset(method, testSet, 100);
 * ```
 */
export function predictDataset(
  method: Method,
  ds: ArrayDataset,
  samples = method.defaultSamples,
  seed = 0,
): Prediction {
  const x = datasetInputs(ds);
  try {
    return method.predict(x, { samples, seed });
  } finally {
    x.dispose();
  }
}

/**
 * Error / RMSE and test log-likelihood of `method` on `ds`.
 *
 * @example
 * ```ts
 * import { evaluate } from "@bayes/nn";
 * // const { errorPct, logLikSum } = evaluate(method, testSet, { samples: 100 });
 * ```
 */
export function evaluate(
  method: Method,
  ds: ArrayDataset,
  opts: { samples?: number; seed?: number; scale?: TargetScale } = {},
): EvalResult {
  const pred = predictDataset(method, ds, opts.samples ?? method.defaultSamples, opts.seed ?? 0);
  try {
    if (pred.task === "classification") {
      const m = classificationMetrics(pred.logProbs, ds.y);
      return { n: m.n, logLikMean: m.logLikMean, logLikSum: m.logLikSum, errorPct: m.errorPct };
    }
    const m = regressionMetrics(pred.mean, pred.logSigma, ds.y, {
      yMean: opts.scale?.yMean ?? 0,
      yStd: opts.scale?.yStd ?? 1,
      targetsStandardized: true,
    });
    return { n: m.n, logLikMean: m.logLikMean, logLikSum: m.logLikSum, rmse: m.rmse };
  } finally {
    disposePrediction(pred);
  }
}
