/**
 * Early stopping for {@linkcode fit}: watch one field of the epoch records,
 * stop after `patience` epochs without improvement, and remember the best
 * epoch (its state is kept by the training loop).
 *
 * @module
 */

/** Options of `fit`'s `earlyStopping`. */
export interface EarlyStoppingOptions {
  /** Epochs without improvement before training stops (a positive integer). */
  patience: number;
  /**
   * The epoch-record field watched: `validLogLik` (default; needs `valid`),
   * `validErrorPct`, `validRmse`, `trainLoss`, or a scalar the method reports.
   */
  monitor?: string;
  /** `max` or `min`; default `max` for `validLogLik`, else `min`. */
  mode?: "max" | "min";
  /** The smallest change that counts as an improvement (default 0). */
  minDelta?: number;
  /**
   * Put the best epoch's state back when training ends after it (default
   * true). The state is copied to host memory at each improvement (and, with
   * `checkpointDir`, to `best.safetensors` there), which costs one read of
   * the method's state: turn it off for methods with large states (SG-MCMC
   * sample stores).
   */
  restoreBest?: boolean;
}

/** Early-stopping progress, as saved in checkpoints. */
export interface EarlyStoppingState {
  /** One-based epoch of the best value so far (0: none yet). */
  bestEpoch: number;
  /** The best monitored value so far. */
  bestValue: number;
  /** Epochs since the best one. */
  wait: number;
  /** Whether training was stopped. */
  stopped: boolean;
}

/**
 * The early-stopping rule of {@linkcode EarlyStoppingOptions}.
 *
 * @example
 * ```ts
 * import { EarlyStopper } from "./early_stopping.ts";
 * const es = new EarlyStopper({ patience: 2, monitor: "trainLoss" }, false);
 * es.update(1, { trainLoss: 1.0 }); // improved
 * es.update(2, { trainLoss: 1.1 });
 * es.update(3, { trainLoss: 1.2 });
 * es.state.stopped; // true
 * ```
 */
export class EarlyStopper {
  /** The watched field. */
  readonly monitor: string;
  /** Larger is better (`max`) or smaller (`min`). */
  readonly mode: "max" | "min";
  /** Options with defaults applied. */
  readonly patience: number;
  /** Smallest improvement. */
  readonly minDelta: number;
  /** Whether the best state is restored. */
  readonly restoreBest: boolean;
  /** Progress (saved in checkpoints). */
  state: EarlyStoppingState = { bestEpoch: 0, bestValue: NaN, wait: 0, stopped: false };

  /** Checks the options (`hasValid`: whether `fit` was given a validation set). */
  constructor(opts: EarlyStoppingOptions, hasValid: boolean) {
    if (!Number.isInteger(opts.patience) || opts.patience < 1) {
      throw new RangeError(
        `earlyStopping.patience must be a positive integer, found ${opts.patience}`,
      );
    }
    this.monitor = opts.monitor ?? "validLogLik";
    if (this.monitor.startsWith("valid") && !hasValid) {
      throw new RangeError(
        `earlyStopping watches "${this.monitor}", which needs a validation set: pass fit's ` +
          `\`valid\` (or monitor "trainLoss")`,
      );
    }
    this.mode = opts.mode ?? (this.monitor === "validLogLik" ? "max" : "min");
    if (this.mode !== "max" && this.mode !== "min") {
      throw new RangeError(`earlyStopping.mode must be "max" or "min", found "${opts.mode}"`);
    }
    this.patience = opts.patience;
    this.minDelta = opts.minDelta ?? 0;
    if (!(this.minDelta >= 0)) {
      throw new RangeError(`earlyStopping.minDelta must be ≥ 0, found ${opts.minDelta}`);
    }
    this.restoreBest = opts.restoreBest ?? true;
  }

  /**
   * Records epoch `epoch`'s record; returns whether it is the best so far.
   * Sets `state.stopped` after `patience` epochs without improvement.
   */
  update(epoch: number, record: Record<string, number | undefined>): boolean {
    const v = record[this.monitor];
    if (v === undefined) {
      throw new RangeError(
        `earlyStopping.monitor "${this.monitor}" is not in the epoch record (fields: ${
          Object.keys(record).join(", ")
        })`,
      );
    }
    const s = this.state;
    const better = Number.isFinite(v) &&
      (s.bestEpoch === 0 ||
        (this.mode === "max" ? v > s.bestValue + this.minDelta : v < s.bestValue - this.minDelta));
    if (better) {
      s.bestEpoch = epoch;
      s.bestValue = v;
      s.wait = 0;
    } else {
      s.wait++;
      if (s.wait >= this.patience) s.stopped = true;
    }
    return better;
  }

  /** Restores progress saved in a checkpoint (ignores malformed values). */
  restore(saved: unknown): void {
    const o = saved as Partial<EarlyStoppingState> | undefined;
    if (!o || typeof o.bestEpoch !== "number" || typeof o.wait !== "number") return;
    this.state = {
      bestEpoch: o.bestEpoch,
      bestValue: typeof o.bestValue === "number" ? o.bestValue : NaN,
      wait: o.wait,
      stopped: o.stopped === true,
    };
  }
}
