/**
 * Out-of-distribution detection scores. Out-of-distribution examples are the
 * positive class and a higher score (for example predictive entropy or
 * mutual information) means "more likely out of distribution".
 *
 * @module
 */

function sortedScores(scores: ArrayLike<number>, what: string): Float64Array {
  if (scores === null || typeof scores !== "object" || typeof scores.length !== "number") {
    throw new TypeError(`${what}: expected an array of numbers`);
  }
  if (scores.length === 0) throw new RangeError(`${what}: need at least one score, found none`);
  const out = Float64Array.from(scores);
  for (let i = 0; i < out.length; i++) {
    if (Number.isNaN(out[i])) throw new RangeError(`${what}[${i}] is NaN`);
  }
  return out.sort();
}

/**
 * Area under the ROC curve for separating out-of-distribution (positive)
 * from in-distribution (negative) examples: the probability that a random
 * OOD example scores higher than a random in-distribution one, ties counting
 * 1/2 (the Mann–Whitney statistic). O((n + m) log(n + m)).
 *
 * @example
 * ```ts
 * import { auroc } from "@bayes/nn";
 * auroc([0.1, 0.2], [0.3, 0.4]); // 1
 * auroc([0.5, 0.5], [0.5]); // 0.5
 * ```
 */
export function auroc(inScores: ArrayLike<number>, outScores: ArrayLike<number>): number {
  const a = sortedScores(inScores, "auroc: in-distribution scores");
  const b = sortedScores(outScores, "auroc: out-of-distribution scores");
  // For each OOD score v: (# in < v) + ½ (# in == v), via two pointers on sorted arrays.
  let lt = 0; // # in-scores < current v
  let le = 0; // # in-scores <= current v
  let wins = 0;
  for (let j = 0; j < b.length; j++) {
    const v = b[j];
    while (lt < a.length && a[lt] < v) lt++;
    if (le < lt) le = lt;
    while (le < a.length && a[le] <= v) le++;
    wins += lt + 0.5 * (le - lt);
  }
  return wins / (a.length * b.length);
}

/**
 * Area under the precision–recall curve with OOD as the positive class,
 * computed as average precision `Σ_k (R_k − R_{k−1}) P_k` over the distinct
 * score thresholds from high to low (tied scores enter together, as in
 * scikit-learn's `average_precision_score`).
 *
 * @example
 * ```ts
 * import { aupr } from "@bayes/nn";
 * aupr([0.1, 0.4], [0.35, 0.8]); // 0.8333… = ½·1 + ½·⅔
 * ```
 */
export function aupr(inScores: ArrayLike<number>, outScores: ArrayLike<number>): number {
  const a = sortedScores(inScores, "aupr: in-distribution scores");
  const b = sortedScores(outScores, "aupr: out-of-distribution scores");
  let i = a.length - 1;
  let j = b.length - 1;
  let tp = 0;
  let fp = 0;
  let ap = 0;
  while (j >= 0) {
    // next threshold: the largest remaining score
    const t = i >= 0 && a[i] > b[j] ? a[i] : b[j];
    const tp0 = tp;
    while (j >= 0 && b[j] === t) {
      tp++;
      j--;
    }
    while (i >= 0 && a[i] === t) {
      fp++;
      i--;
    }
    if (tp > tp0) ap += ((tp - tp0) / b.length) * (tp / (tp + fp));
  }
  return ap;
}

/**
 * OOD detection summary.
 *
 * @example
 * ```ts
 * import type { OodDetection } from "@bayes/nn";
 * const fmt = (r: OodDetection) => `AUROC ${r.auroc.toFixed(3)}, AUPR ${r.aupr.toFixed(3)}`;
 * ```
 */
export interface OodDetection {
  /** Area under the ROC curve (OOD positive). */
  auroc: number;
  /** Average precision (OOD positive). */
  aupr: number;
}

/**
 * AUROC and AUPR of detecting out-of-distribution inputs by a score (higher =
 * more OOD), e.g. `classificationUncertainty(pred).epistemic`.
 *
 * @example
 * ```ts
 * import { oodDetection } from "@bayes/nn";
 * const r = oodDetection([0.1, 0.2, 0.3], [0.25, 0.9]);
 * console.log(r.auroc, r.aupr);
 * ```
 */
export function oodDetection(
  inScores: ArrayLike<number>,
  outScores: ArrayLike<number>,
): OodDetection {
  return { auroc: auroc(inScores, outScores), aupr: aupr(inScores, outScores) };
}
