/**
 * One training try of the UCI study: build a method's heteroscedastic
 * regression network with a candidate's settings (learning rate scaled for
 * a restart), train it on a standardised training set, evaluate it on
 * named standardised sets in original target units, and free it.
 *
 * @module
 */
import type { NetSpec } from "../../core/method.ts";
import type { ArrayDataset } from "../../datasets/types.ts";
import type { MethodEntry } from "../../methods/registry.ts";
import { NonFinitePredictionError, type RegressionMetrics } from "../../uncertainty/regression.ts";
import type { UciCandidate } from "./uci_grid.ts";
import type { Attempt } from "./uci_restarts.ts";
import {
  evalRegression,
  type RegressionBudget,
  samplesFor,
  trainRegression,
  withEpochs,
} from "./regression_study_train.ts";

/**
 * What every try of one data set and method shares: the method, its
 * network, the set's budget and the posterior samples per prediction.
 *
 * @example
 * ```ts
 * import { METHODS } from "../../methods/registry.ts";
 * import type { UciFitBase } from "./uci_fit.ts";
 * const base: UciFitBase = {
 *   entry: METHODS.map,
 *   spec: { inputDim: 6, hidden: [50], outputDim: 1, task: "regression", noise: "heteroscedastic" },
 *   budget: { epochs: 40, batchSize: 128, settings: {}, fromRegistry: true },
 *   samples: 20,
 * };
 * ```
 */
export interface UciFitBase {
  /** The method. */
  entry: MethodEntry;
  /** The regression network. */
  spec: NetSpec;
  /** Epochs, batch size and settings for this data set (before a candidate's overrides). */
  budget: RegressionBudget;
  /** Posterior samples per prediction (1 for point methods). */
  samples: number;
}

/**
 * The budget of one candidate: the base budget's settings overridden by the
 * candidate's, trained for the candidate's epochs (settings counted in
 * epochs rescaled, see `withEpochs`); without a candidate, the base budget.
 *
 * @example
 * ```ts
 * import { candidateBudget } from "./uci_fit.ts";
 * const b = { epochs: 400, batchSize: 128, settings: { lr: 1e-3, burnIn: 100 }, fromRegistry: true };
 * candidateBudget(b, { epochs: 200, settings: { lr: 3e-3 } }).settings; // { lr: 0.003, burnIn: 50 }
 * ```
 */
export function candidateBudget(
  budget: RegressionBudget,
  candidate?: UciCandidate,
): RegressionBudget {
  if (!candidate) return budget;
  return withEpochs(
    { ...budget, settings: { ...budget.settings, ...candidate.settings } },
    candidate.epochs,
  );
}

/**
 * Result of one try: training seconds, the metrics per evaluated set, and
 * the learning rate used (`undefined` for a method without one).
 *
 * @example
 * ```ts
 * import type { UciFitResult } from "./uci_fit.ts";
 * const r: UciFitResult = { seconds: 1.5, metrics: {}, samples: 20, lr: 0.001 };
 * ```
 */
export interface UciFitResult {
  /** Wall-clock seconds of `fit`. */
  seconds: number;
  /** Metrics in original units, keyed like `evalSets`. */
  metrics: Record<string, RegressionMetrics>;
  /** Posterior samples per prediction, all members' together (1 per member for point methods). */
  samples: number;
  /** Learning rate / step size of this try. */
  lr?: number;
}

/** Seed offset between the members of one try (a prime apart from the restarts' 7919). */
const MEMBER_SEED_STEP = 104729;

/**
 * Trains one try of `base` with `candidate` on `train` (standardised, with
 * target scale `scale`) using `attempt`'s seed and learning-rate factor,
 * evaluates every set of `evalSets`, and disposes the method. With
 * `members` > 1 the try trains that many networks with the same settings
 * (member `k` seeded `attempt.seed + 104729·k`, so member 0 is the
 * single-network try) and evaluates their pooled predictions, an ensemble of
 * the method; `seconds` sums their training. A non-finite loss of any member
 * throws `DivergenceError` (from `fit`).
 *
 * @example
 * ```ts
 * import { fitTry } from "./uci_fit.ts";
 * // const r = await fitTry(base, cand, split.train, { valid: split.test }, scale, attemptFor(0, 0));
 * ```
 */
export async function fitTry(
  base: UciFitBase,
  candidate: UciCandidate | undefined,
  train: ArrayDataset,
  evalSets: Record<string, ArrayDataset>,
  scale: { yMean: number; yStd: number },
  attempt: Attempt,
  members = 1,
): Promise<UciFitResult> {
  if (!Number.isInteger(members) || members < 1) {
    throw new RangeError(`members must be a positive integer, found ${members}`);
  }
  const budget = candidateBudget(base.budget, candidate);
  let settings = budget.settings;
  const methods = [base.entry.build(base.spec, settings)];
  try {
    // The learning rate asked for, else the method's default.
    const asked = settings.lr ?? methods[0].settings.lr;
    let lr = typeof asked === "number" ? asked : undefined;
    if (attempt.lrScale !== 1 && lr !== undefined) {
      methods.pop()!.dispose();
      lr *= attempt.lrScale;
      settings = { ...settings, lr };
      methods.push(base.entry.build(base.spec, settings));
    }
    let seconds = 0;
    for (let k = 0; k < members; k++) {
      if (k > 0) methods.push(base.entry.build(base.spec, settings));
      const seed = attempt.seed + MEMBER_SEED_STEP * k;
      seconds += await trainRegression(methods[k], train, budget, seed, scale);
    }
    const metrics: Record<string, RegressionMetrics> = {};
    for (const [name, ds] of Object.entries(evalSets)) {
      try {
        metrics[name] = await evalRegression(methods, ds, base.samples, attempt.seed, scale);
      } catch (e) {
        // A network whose loss stayed finite can still predict ±Infinity (log σ overflowing
        // on a row unlike the training rows): a divergence of this try (NaN metrics, which
        // `divergenceReason` reports), not a failure of the whole study.
        if (!(e instanceof NonFinitePredictionError)) throw e;
        metrics[name] = nonFiniteMetrics(ds.n);
      }
    }
    return { seconds, metrics, samples: members * samplesFor(methods[0], base.samples), lr };
  } finally {
    for (const m of methods) m.dispose();
  }
}

/** The metrics of a prediction that was not finite: all NaN. */
function nonFiniteMetrics(n: number): RegressionMetrics {
  return {
    n,
    logLikSum: NaN,
    logLikMean: NaN,
    rmse: NaN,
    aleatoricVarMean: NaN,
    epistemicVarMean: NaN,
    totalVarMean: NaN,
  };
}
