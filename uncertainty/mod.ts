/**
 * Uncertainty quantification and evaluation on prediction tensors: the
 * predictive distribution and its entropy decomposition (classification),
 * the Gaussian-mixture predictive (regression), test metrics, calibration,
 * out-of-distribution detection, and results tables with atomic writers.
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
