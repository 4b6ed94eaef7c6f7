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

export * from "./types.ts";
export * from "./classification.ts";
export * from "./metrics.ts";
export * from "./calibration.ts";
export * from "./ood.ts";
export * from "./regression.ts";
export * from "./io.ts";
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
