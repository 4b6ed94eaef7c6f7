/**
 * One row of the UCI study: one data set, method and outer split (a fixed
 * split or a cross-validation fold). With a grid, the settings are chosen
 * on the split's training rows (`tuneOnTraining`: inner 80/20 split,
 * validation log-likelihood), then the chosen candidate is trained on the
 * whole training split (standardised with its statistics) and evaluated on
 * the training and test rows; without one, the budget's settings are
 * trained directly. With `members` > 1 the final fit trains that many
 * networks with the chosen settings and evaluates their pooled predictions
 * (an ensemble of the method, labelled e.g. `MC Dropout ×5`); tuning scores
 * each candidate with one network. Every fit is retried on divergence (`withRestarts`); a
 * row whose final fit never converges (or whose every candidate diverged)
 * is marked `diverged`, keeps no metrics, and is left out of the summaries.
 *
 * @module
 */
import type { UciSplit, UciTable } from "../../datasets/uci.ts";
import { candidateText, type GridSize, type UciCandidate } from "./uci_grid.ts";
import { candidateBudget, fitTry, type UciFitBase, type UciFitResult } from "./uci_fit.ts";
import { divergenceReason, type RestartResult, withRestarts } from "./uci_restarts.ts";
import { type CandidateScore, tuneOnTraining, type TuneResult } from "./uci_tune.ts";

/**
 * Columns of `uci.csv` (and of each row in `uci.json`), in order.
 *
 * @example
 * ```ts
 * import { UCI_COLUMNS } from "./uci_job.ts";
 * UCI_COLUMNS.includes("chosen"); // true
 * ```
 */
export const UCI_COLUMNS = [
  "protocol",
  "dataset",
  "method",
  "key",
  "fold",
  "n_train",
  "n_test",
  "hidden",
  "epochs",
  "batch_size",
  "members",
  "samples",
  "train_log_lik",
  "train_rmse",
  "test_log_lik",
  "test_rmse",
  "train_seconds",
  "tune",
  "chosen",
  "valid_log_lik",
  "valid_rmse",
  "n_valid",
  "tune_seconds",
  "grid_scores",
  "restarts",
  "tune_restarts",
  "lr_scale",
  "diverged",
  "failure",
  "seconds",
  "config",
] as const;

/**
 * One row of `uci.csv` / `uci.json`.
 *
 * @example
 * ```ts
 * import type { UciRow } from "./uci_job.ts";
 * const r: UciRow = { dataset: "yacht", test_rmse: 0.9 };
 * ```
 */
export type UciRow = Record<string, string | number | boolean>;

/**
 * Everything one row needs.
 *
 * @example
 * ```ts
 * import type { UciJob } from "./uci_job.ts";
 * // const job: UciJob = { protocol: "splits", fold: 0, table, outer, base, seed: 0, maxRestarts: 3, config: "…" };
 * ```
 */
export interface UciJob {
  /** `cv` or `splits`. */
  protocol: string;
  /** Fold or split index. */
  fold: number;
  /** The whole set in original units (the tuner reads only the training rows). */
  table: UciTable;
  /** The outer split, standardised with its training rows' statistics. */
  outer: UciSplit;
  /** Method, network, this set's budget, samples. */
  base: UciFitBase;
  /** The grid to tune over (absent: no tuning). */
  grid?: { size: GridSize; candidates: readonly UciCandidate[] };
  /** Seed of the inner split and the fits. */
  seed: number;
  /** Retries after a divergence. */
  maxRestarts: number;
  /** Networks of the final fit, pooled (default 1). */
  members?: number;
  /** Hash of the settings (for resuming). */
  config: string;
  /** Names the run in stderr lines (default `<protocol> <set> #<fold> <method>`). */
  what?: string;
  /** Where divergence lines go (default stderr). */
  log?: (line: string) => void;
}

/**
 * The `method` label of a row: the registry's label, followed by `×N` for an
 * ensemble of N final fits.
 *
 * @example
 * ```ts
 * import { uciLabel } from "./uci_job.ts";
 * uciLabel("MC Dropout", 1); // "MC Dropout"
 * uciLabel("MC Dropout", 5); // "MC Dropout ×5"
 * ```
 */
export function uciLabel(label: string, members: number): string {
  return members > 1 ? `${label} ×${members}` : label;
}

function gridScoresText(t: TuneResult): string {
  return JSON.stringify(t.scores.map((s: CandidateScore) => ({
    ...JSON.parse(candidateText(s.candidate)),
    valid_log_lik: Number.isFinite(s.validLogLik) ? s.validLogLik : null,
    valid_rmse: Number.isFinite(s.validRmse) ? s.validRmse : null,
    seconds: Number(s.seconds.toFixed(3)),
    restarts: s.restarts,
    diverged: s.diverged,
  })));
}

/**
 * Runs one row (see the module doc) and returns it. `tune_restarts` sums the
 * candidates' restarts; `restarts` and `lr_scale` are the final fit's.
 *
 * @example
 * ```ts
 * import { runUciJob } from "./uci_job.ts";
 * // const row = await runUciJob({ protocol: "splits", fold: 0, table, outer, base, grid, seed: 0, maxRestarts: 3, config });
 * // row.chosen → '{"epochs":40,"dropout":0.1,"weightDecay":0.0001}'
 * ```
 */
export async function runUciJob(job: UciJob): Promise<UciRow> {
  const t0 = performance.now();
  const { outer, base } = job;
  const what = job.what ?? `${job.protocol} ${outer.name} #${job.fold} ${base.entry.label}`;
  let tune: TuneResult | undefined;
  let chosen: UciCandidate | undefined;
  if (job.grid) {
    tune = await tuneOnTraining(job.table, outer.trainIndices, job.grid.candidates, base, {
      seed: job.seed,
      maxRestarts: job.maxRestarts,
      what,
      log: job.log,
    });
    chosen = tune.best >= 0 ? tune.scores[tune.best].candidate : undefined;
  }
  const budget = candidateBudget(base.budget, chosen);
  const members = job.members ?? 1;
  const scale = { yMean: outer.yMean, yStd: outer.yStd };
  let final: RestartResult<UciFitResult> | undefined;
  if (!tune || chosen) {
    final = await withRestarts(
      (a) =>
        fitTry(
          base,
          chosen,
          outer.train,
          { train: outer.train, test: outer.test },
          scale,
          a,
          members,
        ),
      (v) => divergenceReason(v.metrics, outer.yStd),
      { seed: job.seed, maxRestarts: job.maxRestarts, what, log: job.log },
    );
  }
  const diverged = !final || final.diverged;
  const ok = diverged ? undefined : final!.value!;
  const best = tune && tune.best >= 0 ? tune.scores[tune.best] : undefined;
  return {
    protocol: job.protocol,
    dataset: outer.name,
    method: uciLabel(base.entry.label, members),
    key: base.entry.key,
    fold: job.fold,
    n_train: outer.train.n,
    n_test: outer.test.n,
    hidden: base.spec.hidden[0],
    epochs: budget.epochs,
    batch_size: budget.batchSize,
    members,
    samples: final?.value?.samples ?? members * base.samples,
    train_log_lik: ok?.metrics.train.logLikMean ?? NaN,
    train_rmse: ok?.metrics.train.rmse ?? NaN,
    test_log_lik: ok?.metrics.test.logLikMean ?? NaN,
    test_rmse: ok?.metrics.test.rmse ?? NaN,
    train_seconds: ok?.seconds ?? NaN,
    tune: job.grid ? job.grid.size : "none",
    chosen: chosen ? candidateText(chosen) : "",
    valid_log_lik: best?.validLogLik ?? NaN,
    valid_rmse: best?.validRmse ?? NaN,
    n_valid: tune?.nValid ?? 0,
    tune_seconds: tune?.seconds ?? 0,
    grid_scores: tune ? gridScoresText(tune) : "",
    restarts: final?.restarts ?? 0,
    tune_restarts: tune ? tune.scores.reduce((s, c) => s + c.restarts, 0) : 0,
    lr_scale: final?.attempt.lrScale ?? 1,
    diverged,
    failure: !final
      ? "every candidate of the grid diverged"
      : final.diverged
      ? final.failures.at(-1) ?? ""
      : "",
    seconds: (performance.now() - t0) / 1000,
    config: job.config,
  };
}
