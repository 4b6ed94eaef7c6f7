/**
 * Calibration of classifiers: expected calibration error (ECE) and the data
 * of a reliability diagram, computed on the top-label confidence
 * `max_c p̄(c|x)` (Guo et al., 2017).
 *
 * @module
 */

import { readLabels } from "./_input.ts";
import {
  type ClassificationOptions,
  type ClassificationPredictions,
  predictiveDistribution,
} from "./classification.ts";
import type { LabelInput } from "./types.ts";

/**
 * One bin of a reliability diagram: the examples whose top-label confidence
 * lies in `(lower, upper]` (the first bin also holds confidence exactly 0).
 *
 * @example
 * ```ts
 * import type { ReliabilityBin } from "@bayes/nn";
 * const bin: ReliabilityBin = {
 *   lower: 0.9,
 *   upper: 1,
 *   count: 10,
 *   meanConfidence: 0.95,
 *   accuracy: 0.9,
 * };
 * ```
 */
export interface ReliabilityBin {
  /** Lower edge (exclusive, except for the first bin). */
  lower: number;
  /** Upper edge (inclusive). */
  upper: number;
  /** Number of examples in the bin. */
  count: number;
  /** Mean top-label confidence in the bin (`NaN` when `count` is 0). */
  meanConfidence: number;
  /** Fraction of the bin's examples classified correctly (`NaN` when `count` is 0). */
  accuracy: number;
}

/**
 * The expected calibration error and the reliability-diagram bins it was
 * computed from.
 *
 * @example
 * ```ts
 * import type { CalibrationResult } from "@bayes/nn";
 * function report(r: CalibrationResult): string {
 *   return `ECE ${(100 * r.ece).toFixed(2)}% over ${r.bins.length} bins`;
 * }
 * ```
 */
export interface CalibrationResult {
  /** `Σ_b (n_b / N) |accuracy_b − meanConfidence_b|`, in [0, 1]. */
  ece: number;
  /** Largest `|accuracy_b − meanConfidence_b|` over non-empty bins (maximum calibration error). */
  mce: number;
  /** The bins, from low to high confidence. */
  bins: ReliabilityBin[];
}

/**
 * Options of {@linkcode expectedCalibrationError}.
 *
 * @example
 * ```ts
 * import type { CalibrationOptions } from "@bayes/nn";
 * const opts: CalibrationOptions = { bins: 10, logProbs: true };
 * ```
 */
export interface CalibrationOptions extends ClassificationOptions {
  /** Number of equal-width confidence bins on [0, 1] (default 15). */
  bins?: number;
}

/**
 * Expected calibration error with equal-width bins (default 15) on the
 * top-label confidence, plus the reliability-diagram data (per bin: count,
 * mean confidence, accuracy). The predicted class is the first arg-max.
 *
 * @example
 * ```ts
 * import { expectedCalibrationError } from "@bayes/nn";
 * const pred = { data: [0.9, 0.1, 0.8, 0.2], shape: [1, 2, 2] };
 * const { ece, bins } = expectedCalibrationError(pred, [0, 1], { logProbs: false });
 * console.log(ece, bins.filter((b) => b.count > 0));
 * ```
 */
export function expectedCalibrationError(
  pred: ClassificationPredictions,
  labels: LabelInput,
  options: CalibrationOptions = {},
): CalibrationResult {
  const B = options.bins ?? 15;
  if (!Number.isInteger(B) || B < 1) {
    throw new RangeError(`expectedCalibrationError: bins must be a positive integer, found ${B}`);
  }
  const pd = predictiveDistribution(pred, options);
  const { n: N, c: C, probs } = pd;
  const y = readLabels(labels, N, C);
  const count = new Float64Array(B);
  const confSum = new Float64Array(B);
  const correct = new Float64Array(B);
  for (let n = 0; n < N; n++) {
    const base = n * C;
    let best = 0;
    let conf = probs[base];
    for (let c = 1; c < C; c++) {
      if (probs[base + c] > conf) {
        conf = probs[base + c];
        best = c;
      }
    }
    // bin b holds (b/B, (b+1)/B]; confidence 0 goes to bin 0
    let b = Math.ceil(conf * B) - 1;
    if (b < 0) b = 0;
    else if (b >= B) b = B - 1;
    count[b]++;
    confSum[b] += conf;
    if (best === y[n]) correct[b]++;
  }
  let ece = 0;
  let mce = 0;
  const bins: ReliabilityBin[] = [];
  for (let b = 0; b < B; b++) {
    const k = count[b];
    const meanConfidence = k > 0 ? confSum[b] / k : NaN;
    const accuracy = k > 0 ? correct[b] / k : NaN;
    if (k > 0) {
      const gap = Math.abs(accuracy - meanConfidence);
      ece += (k / N) * gap;
      if (gap > mce) mce = gap;
    }
    bins.push({ lower: b / B, upper: (b + 1) / B, count: k, meanConfidence, accuracy });
  }
  return { ece, mce, bins };
}
