/**
 * Predictive distribution and uncertainty decomposition for classifiers.
 *
 * Input: per-sample class (log-)probabilities of shape `[S, N, C]` (S
 * posterior samples, N examples, C classes), as returned by the methods'
 * `predict`. The Bayesian model average is `p̄(c|x) = (1/S) Σ_s p_s(c|x)`,
 * computed in log space with log-sum-exp, and its entropy is split as
 *
 * - total      `H[p̄]`                         (entropy of the predictive),
 * - aleatoric  `(1/S) Σ_s H[p_s]`              (expected entropy),
 * - epistemic  `H[p̄] − (1/S) Σ_s H[p_s]`       (mutual information, ≥ 0).
 *
 * Entropies are in nats. All loops run on typed arrays with float64
 * accumulators.
 *
 * @module
 */

import { findBad, readPredictions } from "./_input.ts";
import type { PredictionInput } from "./types.ts";

/**
 * Options for reading classification predictions.
 *
 * @example
 * ```ts
 * import type { ClassificationOptions } from "@bayes/nn";
 * const opts: ClassificationOptions = { logProbs: false };
 * ```
 */
export interface ClassificationOptions {
  /**
   * Whether the predictions are log-probabilities (default `true`, what the
   * methods' `predict` return) or probabilities.
   */
  logProbs?: boolean;
  /**
   * Largest tolerated `|Σ_c p_s(c|x) − 1|` for any sample and example before
   * an error is thrown (default `1e-3`). It catches probabilities passed as
   * log-probabilities and vice versa, and unnormalised logits. NaN and
   * infinite values are always errors.
   */
  normalizationTolerance?: number;
}

/**
 * The predictive (model-averaged) distribution over classes, `N × C`,
 * row-major.
 *
 * @example
 * ```ts
 * import { predictiveDistribution } from "@bayes/nn";
 * const pd = predictiveDistribution({ data: [0.2, 0.8, 0.6, 0.4], shape: [2, 1, 2] }, {
 *   logProbs: false,
 * });
 * pd.probs; // Float64Array [0.4, 0.6]
 * ```
 */
export interface PredictiveDistribution {
  /** Number of posterior samples S that were averaged. */
  s: number;
  /** Number of examples N. */
  n: number;
  /** Number of classes C. */
  c: number;
  /** `log p̄(c|x_n)` at index `n * C + c`. */
  logProbs: Float64Array;
  /** `p̄(c|x_n)` at index `n * C + c`. */
  probs: Float64Array;
}

/**
 * The predictive distribution plus the per-example entropy decomposition (in
 * nats) and its means over the examples.
 *
 * @example
 * ```ts
 * import { classificationUncertainty } from "@bayes/nn";
 * const u = classificationUncertainty({ data: [1, 0, 0, 1], shape: [2, 1, 2] }, {
 *   logProbs: false,
 * });
 * u.epistemic[0]; // log 2: the two samples disagree completely
 * ```
 */
export interface ClassificationUncertainty extends PredictiveDistribution {
  /** Entropy of the predictive distribution, per example. */
  total: Float64Array;
  /** Expected entropy of the per-sample predictions, per example. */
  aleatoric: Float64Array;
  /** Mutual information `total − aleatoric`, per example (tiny negatives clamped to 0). */
  epistemic: Float64Array;
  /** Mean of `total` over the examples. */
  totalMean: number;
  /** Mean of `aleatoric` over the examples. */
  aleatoricMean: number;
  /** Mean of `epistemic` over the examples. */
  epistemicMean: number;
}

/**
 * Predictions accepted by the classification metrics: raw `[S, N, C]`
 * predictions, or an already computed {@linkcode PredictiveDistribution}
 * (which is then used as is, so the `[S, N, C]` pass runs only once).
 *
 * @example
 * ```ts
 * import type { ClassificationPredictions } from "@bayes/nn";
 * const pred: ClassificationPredictions = { data: [0, -Infinity], shape: [1, 1, 2] };
 * ```
 */
export type ClassificationPredictions = PredictionInput | PredictiveDistribution;

/** Below this, a sum of probabilities is recomputed in log space (subnormals start at 2.2e-308). */
const TINY = 1e-280;

function isPredictive(x: unknown): x is PredictiveDistribution {
  return typeof x === "object" && x !== null &&
    (x as PredictiveDistribution).probs instanceof Float64Array &&
    (x as PredictiveDistribution).logProbs instanceof Float64Array;
}

function mean(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

/**
 * Computes the predictive distribution and the entropy decomposition from
 * `[S, N, C]` predictions (`{ data, shape }`, e.g. from `await readPrediction(pred)`,
 * or a `tf.Tensor3D` on a CPU backend).
 *
 * Cost: one pass over the `[S, N, C]` values with a single `exp` (log input)
 * or `log` (probability input) per value; entries whose probability
 * underflows in every sample (log-prob below about −640) are redone with a
 * max-shifted log-sum-exp, so log-likelihoods stay finite and exact.
 *
 * @example
 * ```ts
 * import { classificationUncertainty } from "@bayes/nn";
 * // two samples, one example, two classes, given as log-probabilities
 * const u = classificationUncertainty({
 *   data: [Math.log(0.9), Math.log(0.1), Math.log(0.5), Math.log(0.5)],
 *   shape: [2, 1, 2],
 * });
 * console.log(u.probs, u.total[0], u.aleatoric[0], u.epistemic[0]);
 * ```
 */
export function classificationUncertainty(
  pred: PredictionInput,
  options: ClassificationOptions = {},
): ClassificationUncertainty {
  const what = "classification predictions";
  const { data, shape } = readPredictions(pred, what, ["S", "N", "C"]);
  const [S, N, C] = shape;
  if (C === 0) throw new RangeError(`${what}: C (number of classes) is 0 in shape [${shape}]`);
  const logInput = options.logProbs ?? true;
  const tol = options.normalizationTolerance ?? 1e-3;
  const NC = N * C;
  const acc = new Float64Array(NC);
  const aleatoric = new Float64Array(N);
  const logProbs = new Float64Array(NC);
  const probs = new Float64Array(NC);

  const rowError = (s: number, n: number, rowSum: number): Error => {
    const off = s * NC + n * C;
    const row = Array.from(data.subarray(off, off + C));
    const bad = findBad(data, shape, logInput ? (v) => v === v && v !== Infinity : (v) => v >= 0);
    if (bad !== undefined) {
      return new RangeError(
        `${what}: invalid value at ${bad}` +
          (logInput
            ? " (log-probabilities must not be NaN or +Infinity)"
            : " (probabilities must be ≥ 0)"),
      );
    }
    return new RangeError(
      `${what}: sample ${s}, example ${n} is not a normalised distribution: ` +
        `Σ_c ${logInput ? "exp(x)" : "p"} = ${rowSum} (expected 1 ± ${tol}); ` +
        `values ${JSON.stringify(row.slice(0, 10))}${C > 10 ? "…" : ""}. ` +
        (logInput
          ? "Pass { logProbs: false } if these are probabilities, or apply log-softmax to logits."
          : "Pass { logProbs: true } if these are log-probabilities."),
    );
  };

  if (logInput) {
    // One pass, one exp per value: Σ_s p_s and the per-sample entropies.
    for (let s = 0; s < S; s++) {
      const off = s * NC;
      for (let n = 0; n < N; n++) {
        const base = n * C;
        let ent = 0;
        let rowSum = 0;
        for (let c = 0; c < C; c++) {
          const i = base + c;
          const x = data[off + i];
          const p = Math.exp(x);
          acc[i] += p;
          rowSum += p;
          if (p > 0) ent -= p * x;
        }
        if (!(Math.abs(rowSum - 1) <= tol)) throw rowError(s, n, rowSum);
        aleatoric[n] += ent;
      }
    }
    const logS = Math.log(S);
    for (let i = 0; i < NC; i++) {
      let lp: number;
      if (acc[i] > TINY) {
        lp = Math.log(acc[i]) - logS;
      } else {
        // every sample gave this class a (near-)underflowing probability:
        // redo this entry with a max-shifted log-sum-exp over the samples
        let m = -Infinity;
        for (let s = 0; s < S; s++) m = Math.max(m, data[s * NC + i]);
        if (m === -Infinity) {
          lp = -Infinity;
        } else {
          let z = 0;
          for (let s = 0; s < S; s++) z += Math.exp(data[s * NC + i] - m);
          lp = m + Math.log(z) - logS;
        }
      }
      logProbs[i] = lp;
      probs[i] = Math.exp(lp);
    }
  } else {
    for (let s = 0; s < S; s++) {
      const off = s * NC;
      for (let n = 0; n < N; n++) {
        const base = n * C;
        let ent = 0;
        let rowSum = 0;
        for (let c = 0; c < C; c++) {
          const i = base + c;
          const p = data[off + i];
          acc[i] += p;
          rowSum += p;
          if (p > 0) ent -= p * Math.log(p);
          else if (p !== 0) throw rowError(s, n, rowSum);
        }
        if (!(Math.abs(rowSum - 1) <= tol)) throw rowError(s, n, rowSum);
        aleatoric[n] += ent;
      }
    }
    for (let i = 0; i < NC; i++) {
      const p = acc[i] / S;
      probs[i] = p;
      logProbs[i] = Math.log(p);
    }
  }

  const total = new Float64Array(N);
  const epistemic = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    const base = n * C;
    let h = 0;
    for (let c = 0; c < C; c++) {
      const p = probs[base + c];
      if (p > 0) h -= p * logProbs[base + c];
    }
    total[n] = h;
    const al = aleatoric[n] / S;
    aleatoric[n] = al;
    // Jensen: H[p̄] ≥ E[H[p_s]]; only rounding can make the difference negative.
    const mi = h - al;
    epistemic[n] = mi > 0 ? mi : 0;
  }
  return {
    s: S,
    n: N,
    c: C,
    logProbs,
    probs,
    total,
    aleatoric,
    epistemic,
    totalMean: mean(total),
    aleatoricMean: mean(aleatoric),
    epistemicMean: mean(epistemic),
  };
}

/**
 * The predictive (model-averaged) distribution of `[S, N, C]` predictions.
 * Given a {@linkcode PredictiveDistribution} (or the result of
 * {@linkcode classificationUncertainty}) it returns it unchanged.
 *
 * @example
 * ```ts
 * import { predictiveDistribution } from "@bayes/nn";
 * const pd = predictiveDistribution({ data: [0.2, 0.8, 0.6, 0.4], shape: [2, 1, 2] }, {
 *   logProbs: false,
 * });
 * console.log(pd.probs); // Float64Array [0.4, 0.6]
 * ```
 */
export function predictiveDistribution(
  pred: ClassificationPredictions,
  options: ClassificationOptions = {},
): PredictiveDistribution {
  if (isPredictive(pred)) {
    if (pred.probs.length !== pred.n * pred.c || pred.logProbs.length !== pred.n * pred.c) {
      throw new RangeError(
        `predictive distribution: probs/logProbs length ${pred.probs.length}/` +
          `${pred.logProbs.length} does not match N × C = ${pred.n} × ${pred.c}`,
      );
    }
    return pred;
  }
  return classificationUncertainty(pred, options);
}
