/**
 * Grid search on one outer training split of the UCI study. The tuner is
 * given the table and the outer TRAINING rows only (it has no way to see the
 * test rows): they are split 80/20 into inner training and validation rows
 * (`innerSplit`, seeded), standardised with the inner training rows'
 * statistics (`splitUci`), and every candidate is trained on the inner
 * training rows and scored by its validation log-likelihood per example
 * (original units). Diverged candidates are retried (`withRestarts`) and,
 * when they never converge, left out of the choice. A budget with
 * `tuneSettings` (the registry's cheaper stand-in, e.g. a one-member
 * ensemble) scores the candidates with those settings in place of its own.
 *
 * @module
 */
import { splitUci, type UciTable } from "../../datasets/uci.ts";
import type { UciCandidate } from "./uci_grid.ts";
import { fitTry, type UciFitBase } from "./uci_fit.ts";
import { innerSplit } from "./uci_inner_split.ts";
import { divergenceReason, withRestarts } from "./uci_restarts.ts";

/**
 * The validation score of one candidate.
 *
 * @example
 * ```ts
 * import type { CandidateScore } from "./uci_tune.ts";
 * const s: CandidateScore = {
 *   candidate: { epochs: 40, settings: { lr: 1e-3 } },
 *   validLogLik: -1.2, validRmse: 0.9, seconds: 0.4, restarts: 0, diverged: false,
 * };
 * ```
 */
export interface CandidateScore {
  /** The candidate. */
  candidate: UciCandidate;
  /** Validation log-likelihood per example (nats; `NaN` if diverged). */
  validLogLik: number;
  /** Validation RMSE in target units (`NaN` if diverged). */
  validRmse: number;
  /** Wall-clock seconds of all its tries (training and validation). */
  seconds: number;
  /** Restarts after divergence. */
  restarts: number;
  /** Whether every try diverged. */
  diverged: boolean;
}

/**
 * What {@linkcode tuneOnTraining} returns.
 *
 * @example
 * ```ts
 * import type { TuneResult } from "./uci_tune.ts";
 * const t: TuneResult = { best: -1, scores: [], seconds: 0, nTrain: 8, nValid: 2 };
 * ```
 */
export interface TuneResult {
  /** Index of the chosen candidate in `scores` (highest validation log-likelihood; −1 if all diverged). */
  best: number;
  /** One score per candidate, in grid order. */
  scores: CandidateScore[];
  /** Wall-clock seconds of the whole search. */
  seconds: number;
  /** Inner training rows. */
  nTrain: number;
  /** Validation rows. */
  nValid: number;
}

/**
 * Options of {@linkcode tuneOnTraining}.
 *
 * @example
 * ```ts
 * import type { TuneOptions } from "./uci_tune.ts";
 * const o: TuneOptions = { seed: 0, maxRestarts: 3, what: "yacht split 1/20 MAP" };
 * ```
 */
export interface TuneOptions {
  /** Seed of the inner split and of every candidate's first try (common to all candidates). */
  seed: number;
  /** Retries of a diverged candidate. */
  maxRestarts: number;
  /** Names the run in stderr lines. */
  what: string;
  /** Share of the training rows the candidates train on (default 0.8). */
  trainFraction?: number;
  /** Where divergence lines go (default stderr). */
  log?: (line: string) => void;
  /** Called after each candidate (progress). */
  onCandidate?: (score: CandidateScore, index: number) => void;
}

/**
 * Scores every candidate on an inner split of the outer training rows
 * `trainIndices` of `table` and picks the one with the highest validation
 * log-likelihood (the first on ties). Only rows listed in `trainIndices`
 * are read from `table`.
 *
 * @example
 * ```ts
 * import { tuneOnTraining } from "./uci_tune.ts";
 * // const t = await tuneOnTraining(table, outer.trainIndices, uciGrid("map", "small", 40), base, opts);
 * // t.scores[t.best].candidate
 * ```
 */
export async function tuneOnTraining(
  table: UciTable,
  trainIndices: Int32Array,
  candidates: readonly UciCandidate[],
  base: UciFitBase,
  opts: TuneOptions,
): Promise<TuneResult> {
  if (candidates.length === 0) throw new RangeError("tuneOnTraining: the grid is empty");
  const t0 = performance.now();
  const inner = innerSplit(trainIndices, opts.seed, opts.trainFraction ?? 0.8);
  const split = splitUci(table, inner.train, inner.valid);
  const scale = { yMean: split.yMean, yStd: split.yStd };
  // The budget's stand-in settings for scoring (e.g. a one-member ensemble), if it has them.
  const ts = base.budget.tuneSettings;
  const scoring: UciFitBase = ts
    ? { ...base, budget: { ...base.budget, settings: { ...base.budget.settings, ...ts } } }
    : base;
  const scores: CandidateScore[] = [];
  let best = -1;
  for (const [i, candidate] of candidates.entries()) {
    const c0 = performance.now();
    const r = await withRestarts(
      (a) => fitTry(scoring, candidate, split.train, { valid: split.test }, scale, a),
      (v) => divergenceReason(v.metrics, split.yStd),
      {
        seed: opts.seed,
        maxRestarts: opts.maxRestarts,
        what: `${opts.what} candidate ${i + 1}/${candidates.length} ` +
          JSON.stringify(candidate.settings),
        log: opts.log,
      },
    );
    const m = r.diverged ? undefined : r.value!.metrics.valid;
    const score: CandidateScore = {
      candidate,
      validLogLik: m?.logLikMean ?? NaN,
      validRmse: m?.rmse ?? NaN,
      seconds: (performance.now() - c0) / 1000,
      restarts: r.restarts,
      diverged: r.diverged,
    };
    scores.push(score);
    if (!r.diverged && (best < 0 || score.validLogLik > scores[best].validLogLik)) best = i;
    opts.onCandidate?.(score, i);
  }
  return {
    best,
    scores,
    seconds: (performance.now() - t0) / 1000,
    nTrain: inner.train.length,
    nValid: inner.valid.length,
  };
}
