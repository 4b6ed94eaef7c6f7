/**
 * Divergence handling of the UCI study: a training run whose loss becomes
 * non-finite (`fit` throws `DivergenceError`) or whose metrics fail a check
 * (non-finite, or an absurd RMSE) is retried with a new seed, and from the
 * second retry on with the learning rate / step size halved each time; after
 * `maxRestarts` retries the run is given up as diverged. Every failure is
 * reported on stderr (through `log`) with what was running.
 *
 * @module
 */
import { DivergenceError } from "../../core/train.ts";
import type { RegressionMetrics } from "../../uncertainty/regression.ts";
import { isDiverged } from "./uci_summary.ts";

/**
 * One try of a run: its index (0 = the first), seed, and the factor applied
 * to the learning rate (1, 1, ½, ¼, …).
 *
 * @example
 * ```ts
 * import type { Attempt } from "./uci_restarts.ts";
 * const a: Attempt = { index: 2, seed: 15838, lrScale: 0.5 };
 * ```
 */
export interface Attempt {
  /** 0 for the first try, k for the k-th restart. */
  index: number;
  /** Seed of this try. */
  seed: number;
  /** Learning-rate factor of this try. */
  lrScale: number;
}

/**
 * What {@linkcode withRestarts} returns.
 *
 * @example
 * ```ts
 * import type { RestartResult } from "./uci_restarts.ts";
 * const r: RestartResult<number> = { value: 1, restarts: 0, diverged: false, failures: [], attempt: { index: 0, seed: 0, lrScale: 1 } };
 * ```
 */
export interface RestartResult<T> {
  /** The accepted value, or the last try's when every try failed (absent if it threw). */
  value?: T;
  /** Retries made (0 when the first try passed; `maxRestarts` when all failed). */
  restarts: number;
  /** Whether every try failed. */
  diverged: boolean;
  /** Why each failed try failed, in order. */
  failures: string[];
  /** The last try (the accepted one unless diverged). */
  attempt: Attempt;
}

/** Seed offset between tries (a prime, so restarts do not collide with other runs' seeds). */
export const RESTART_SEED_STEP = 7919;

/**
 * The `index`-th try of a run seeded `seed`: seed `seed + 7919·index`,
 * learning-rate factor 1 for the first try and the first restart, then
 * halved at every further restart.
 *
 * @example
 * ```ts
 * import { attemptFor } from "./uci_restarts.ts";
 * attemptFor(10, 3); // { index: 3, seed: 23767, lrScale: 0.25 }
 * ```
 */
export function attemptFor(seed: number, index: number): Attempt {
  return {
    index,
    seed: seed + RESTART_SEED_STEP * index,
    lrScale: index >= 2 ? 0.5 ** (index - 1) : 1,
  };
}

/**
 * Runs `run` until `check` accepts its value, at most `1 + maxRestarts`
 * times (see {@linkcode attemptFor}). A `DivergenceError` thrown by `run`
 * counts as a failed try; any other error propagates. `what` names the run
 * in the stderr lines (data set, split, method).
 *
 * @example
 * ```ts
 * import { withRestarts } from "./uci_restarts.ts";
 * let calls = 0;
 * const r = await withRestarts(
 *   async (a) => (++calls === 1 ? NaN : a.seed),
 *   (v) => (Number.isFinite(v) ? null : `value ${v}`),
 *   { seed: 1, maxRestarts: 3, what: "demo", log: () => {} },
 * );
 * console.log(r.value, r.restarts, r.diverged); // 7920 1 false
 * ```
 */
export async function withRestarts<T>(
  run: (attempt: Attempt) => Promise<T>,
  check: (value: T) => string | null,
  opts: { seed: number; maxRestarts: number; what: string; log?: (line: string) => void },
): Promise<RestartResult<T>> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const failures: string[] = [];
  let value: T | undefined;
  let attempt = attemptFor(opts.seed, 0);
  for (let k = 0; k <= opts.maxRestarts; k++) {
    attempt = attemptFor(opts.seed, k);
    let reason: string | null;
    try {
      value = await run(attempt);
      reason = check(value);
    } catch (e) {
      if (!(e instanceof DivergenceError)) throw e;
      value = undefined;
      reason = e.message.replace(/ Try a smaller --lr\.$/, "");
    }
    if (reason === null) return { value, restarts: k, diverged: false, failures, attempt };
    failures.push(reason);
    if (k < opts.maxRestarts) {
      const next = attemptFor(opts.seed, k + 1);
      log(
        `diverged: ${opts.what} (seed ${attempt.seed}${lrNote(attempt)}): ${reason}; ` +
          `restart ${k + 1}/${opts.maxRestarts} with seed ${next.seed}${lrNote(next)}`,
      );
    } else {
      log(
        `diverged: ${opts.what}: ${reason}; gave up after ${opts.maxRestarts} restart(s) ` +
          "(marked diverged)",
      );
    }
  }
  return { value, restarts: opts.maxRestarts, diverged: true, failures, attempt };
}

/** Four significant digits, without trailing zeros. */
function short(x: number): string {
  return String(Number(x.toPrecision(4)));
}

function lrNote(a: Attempt): string {
  return a.lrScale === 1 ? "" : `, learning rate × ${a.lrScale}`;
}

/** The two metrics the divergence check reads. */
type FitMetrics = Pick<RegressionMetrics, "logLikMean" | "rmse">;

/**
 * Why a fitted regression model's metrics count as diverged, or `null` when
 * they do not. `yStd` is the standard deviation of the targets the model
 * trained on; a model predicting their mean scores an RMSE of about
 * 1 × `yStd` on them. A fit fails when
 *
 * - any set's log-likelihood or RMSE is non-finite;
 * - any set's RMSE exceeds `maxRmseRatio` (default 10) × `yStd`;
 * - the set named `train` (the final fit's own training rows) has an RMSE
 *   above `yStd`: the network fits its training data worse than their mean
 *   does, a chain or optimiser that never found the data (SGHMC on one
 *   yacht split ended at training RMSE 27.4 against a spread of 15.0).
 *
 * `sets` names the metrics (e.g. `train`, `test`; tuning passes only
 * `valid`, where a poor fit just scores low and is not chosen).
 *
 * @example
 * ```ts
 * import { divergenceReason } from "./uci_restarts.ts";
 * const ok = { logLikMean: -1, rmse: 2 };
 * divergenceReason({ train: ok, test: ok }, 3); // null
 * divergenceReason({ test: { ...ok, rmse: 40 } }, 3); // "test RMSE 40 > 10 × training-target std 3"
 * divergenceReason({ train: { ...ok, rmse: 4 } }, 3);
 * // "training RMSE 4 > training-target std 3 (worse than predicting their mean)"
 * ```
 */
export function divergenceReason(
  sets: Readonly<Record<string, FitMetrics>>,
  yStd: number,
  maxRmseRatio = 10,
): string | null {
  for (const [name, m] of Object.entries(sets)) {
    if (!Number.isFinite(m.logLikMean)) return `${name} log-likelihood is ${m.logLikMean}`;
    if (!Number.isFinite(m.rmse)) return `${name} RMSE is ${m.rmse}`;
    if (m.rmse > maxRmseRatio * yStd) {
      return `${name} RMSE ${short(m.rmse)} > ${maxRmseRatio} × training-target std ${short(yStd)}`;
    }
  }
  const train = sets.train;
  if (train && train.rmse > yStd) {
    return `training RMSE ${short(train.rmse)} > training-target std ${short(yStd)} ` +
      "(worse than predicting their mean)";
  }
  return null;
}

/**
 * {@linkcode divergenceReason} for a finished row's recorded metrics
 * (`train_*` and `test_*` columns), or `null` for a row marked diverged
 * (every try already failed). A reused row (an earlier run's, or a
 * record's) is checked again with it, so a row the current check would have
 * restarted is trained again instead of reused: the check is not in the
 * rows' config hash, and a row that passes it is what a run today would
 * produce.
 *
 * @example
 * ```ts
 * import { rowDivergenceReason } from "./uci_restarts.ts";
 * const row = { diverged: false, train_log_lik: -1, train_rmse: 27.4, test_log_lik: -5, test_rmse: 27.6 };
 * rowDivergenceReason(row, 15); // "training RMSE 27.4 > training-target std 15 (worse than predicting their mean)"
 * ```
 */
export function rowDivergenceReason(
  row: Readonly<Record<string, unknown>>,
  yStd: number,
): string | null {
  if (isDiverged(row)) return null;
  // JSON keeps a NaN as null, which Number() would read as 0.
  const num = (v: unknown) => (typeof v === "number" ? v : typeof v === "string" ? Number(v) : NaN);
  return divergenceReason({
    train: { logLikMean: num(row.train_log_lik), rmse: num(row.train_rmse) },
    test: { logLikMean: num(row.test_log_lik), rmse: num(row.test_rmse) },
  }, yStd);
}
