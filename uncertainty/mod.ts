/**
 * Uncertainty quantification and evaluation on predictions: the
 * predictive distribution and its entropy decomposition (classification),
 * the Gaussian-mixture predictive (regression), test metrics, calibration,
 * out-of-distribution detection, and results tables with atomic writers.
 *
 * Predictions are host arrays `{ data, shape }` (what `await
 * readPrediction(pred)` returns), or tensors on a CPU backend (`cpu`, `wasm`,
 * `tensorflow`); a tensor on `webgpu` is refused with a TypeError rather than
 * read synchronously. Nothing here loads TensorFlow.js.
 *
 * @example
 * ```ts
 * import { classificationMetrics } from "@bayes/nn";
 * // [S = 2, N = 1, C = 2] probabilities
 * const m = classificationMetrics({ data: [0.9, 0.1, 0.6, 0.4], shape: [2, 1, 2] }, [0], {
 *   logProbs: false,
 * });
 * console.log(m.logLikSum, m.epistemicMean);
 * ```
 *
 * @module
 */

export type { LabelInput, PredictionArray, PredictionInput, TensorLike } from "./types.ts";
export {
  type ClassificationOptions,
  type ClassificationPredictions,
  type ClassificationUncertainty,
  classificationUncertainty,
  type PredictiveDistribution,
  predictiveDistribution,
} from "./classification.ts";
export {
  brierScore,
  type ClassificationMetrics,
  classificationMetrics,
  errorPercent,
  type LogLikelihood,
  logLikelihood,
} from "./metrics.ts";
export {
  type CalibrationOptions,
  type CalibrationResult,
  expectedCalibrationError,
  type ReliabilityBin,
} from "./calibration.ts";
export { aupr, auroc, type OodDetection, oodDetection } from "./ood.ts";
export {
  gaussianMixtureLogLikelihood,
  type RegressionLogLikelihood,
  type RegressionMetrics,
  regressionMetrics,
  type RegressionOptions,
  type RegressionUncertainty,
  regressionUncertainty,
  type TargetScaling,
} from "./regression.ts";
export { toCsv, writeCsv, writeJson } from "./io.ts";
export {
  aggregate,
  type AggregatedRow,
  type AggregateOptions,
  formatMarkdown,
  type FormatOptions,
  formatText,
  type MetricStat,
  type MetricTable,
  summarize,
  tableRows,
  writeMarkdown,
} from "./tables.ts";
