/**
 * Step-size schedules of the SG-MCMC samplers and the rule deciding after
 * which epochs a sample is collected.
 *
 * - `fixed`: ε_t = lr (what the reference uses in practice).
 * - `decay`: ε_t = a·(b + t)^−γ with a = lr·b^γ, i.e. ε_t = lr·(1 + t/b)^−γ, so
 *   ε_0 = lr. For γ ∈ (0.5, 1] the sequence meets the Robbins–Monro conditions
 *   Σε_t = ∞, Σε_t² < ∞ (Welling & Teh 2011).
 * - `cyclical`: cosine cycles (Zhang et al. 2020, cSG-MCMC). With T total steps
 *   split into M cycles of L = ⌈T/M⌉ steps and r = (t mod L)/L,
 *   ε_t = lr/2·(cos(π·r) + 1). Steps with r < β (the exploration stage) run
 *   without injected noise; samples are collected in the sampling stage r ≥ β.
 *
 * `t` counts minibatch steps from 0 over the whole run.
 *
 * @module
 */

/** Which step-size schedule a sampler follows. */
export type ScheduleName = "fixed" | "decay" | "cyclical";

/** Schedule settings (see the module doc for the formulas). */
export interface ScheduleSettings {
  /** Schedule kind. */
  schedule: ScheduleName;
  /** Base step size ε_0 (> 0). */
  lr: number;
  /** `decay`: the offset b in steps (> 0). */
  decayB: number;
  /** `decay`: the exponent γ ∈ (0.5, 1]. */
  decayGamma: number;
  /** `cyclical`: number of cycles M (≥ 1). */
  cycles: number;
  /** `cyclical`: exploration fraction β ∈ [0, 1) of each cycle (no noise, no samples). */
  cycleExplore: number;
}

/** Where a step sits in the run, for the schedule. */
export interface ScheduleClock {
  /** Zero-based global step. */
  t: number;
  /** Total steps of the run (epochs × batches per epoch). */
  total: number;
}

/** The step size and whether the step adds noise / may collect samples. */
export interface ScheduleValue {
  /** Step size ε_t. */
  lr: number;
  /** False in the exploration stage of a cyclical schedule. */
  sampling: boolean;
}

/**
 * Checks schedule settings, throwing a `RangeError` naming the bad one.
 *
 * @example
 * ```ts
 * import { checkSchedule } from "./schedule.ts";
 * checkSchedule({ schedule: "decay", lr: 1e-4, decayB: 1000, decayGamma: 0.55, cycles: 4, cycleExplore: 0.8 });
 * ```
 */
export function checkSchedule(s: ScheduleSettings): void {
  if (!(s.lr > 0) || !Number.isFinite(s.lr)) {
    throw new RangeError(`lr must be a finite number > 0, found ${s.lr}`);
  }
  if (!["fixed", "decay", "cyclical"].includes(s.schedule)) {
    throw new RangeError(
      `schedule must be one of fixed, decay, cyclical, found "${s.schedule}"`,
    );
  }
  if (!(s.decayB > 0)) throw new RangeError(`decay_b must be > 0 steps, found ${s.decayB}`);
  if (!(s.decayGamma > 0.5 && s.decayGamma <= 1)) {
    throw new RangeError(
      `decay_gamma must be in (0.5, 1] (Robbins–Monro conditions), found ${s.decayGamma}`,
    );
  }
  if (!Number.isInteger(s.cycles) || s.cycles < 1) {
    throw new RangeError(`cycles must be a positive integer, found ${s.cycles}`);
  }
  if (!(s.cycleExplore >= 0 && s.cycleExplore < 1)) {
    throw new RangeError(`cycle_explore must be in [0, 1), found ${s.cycleExplore}`);
  }
}

/**
 * Position r ∈ [0, 1) of step `t` inside its cosine cycle.
 *
 * @example
 * ```ts
 * import { cyclePosition } from "./schedule.ts";
 * cyclePosition({ t: 50, total: 400 }, 4); // 0.5 (cycles of 100 steps)
 * ```
 */
export function cyclePosition(clock: ScheduleClock, cycles: number): number {
  const len = Math.max(1, Math.ceil(clock.total / cycles));
  return (clock.t % len) / len;
}

/**
 * The clock of step `step` of zero-based `epoch` in a run of `epochs` epochs
 * of `batchesPerEpoch` steps.
 *
 * @example
 * ```ts
 * import { clockAt } from "./schedule.ts";
 * clockAt(2, 5, 10, 100); // { t: 205, total: 1000 }
 * ```
 */
export function clockAt(
  epoch: number,
  step: number,
  epochs: number,
  batchesPerEpoch: number,
): ScheduleClock {
  return { t: epoch * batchesPerEpoch + step, total: Math.max(1, epochs * batchesPerEpoch) };
}

/**
 * The step size at a step, and whether the step is in a sampling stage.
 *
 * @example
 * ```ts
 * import { scheduleAt } from "./schedule.ts";
 * const s = { schedule: "decay" as const, lr: 1e-4, decayB: 100, decayGamma: 1, cycles: 1, cycleExplore: 0 };
 * scheduleAt(s, { t: 100, total: 1000 }).lr; // 5e-5
 * ```
 */
export function scheduleAt(s: ScheduleSettings, clock: ScheduleClock): ScheduleValue {
  switch (s.schedule) {
    case "fixed":
      return { lr: s.lr, sampling: true };
    case "decay":
      return { lr: s.lr * Math.pow(1 + clock.t / s.decayB, -s.decayGamma), sampling: true };
    case "cyclical": {
      const r = cyclePosition(clock, s.cycles);
      return { lr: (s.lr / 2) * (Math.cos(Math.PI * r) + 1), sampling: r >= s.cycleExplore };
    }
  }
}

/** Sample-collection settings (epochs are zero-based). */
export interface CollectSettings {
  /** Epochs before the first sample (≥ 0). */
  burnIn: number;
  /** Collect every `sampleFreq` epochs after burn-in (≥ 1). */
  sampleFreq: number;
}

/**
 * Whether a sample is taken at the end of zero-based `epoch`: after burn-in,
 * every `sampleFreq` epochs starting at epoch `burnIn` (so a run with
 * `epochs > burnIn` always collects at least one sample); with a cyclical
 * schedule only when the epoch ends in a sampling stage.
 *
 * @example
 * ```ts
 * import { collectsAt } from "./schedule.ts";
 * collectsAt(16, { burnIn: 16, sampleFreq: 2 }); // true
 * collectsAt(17, { burnIn: 16, sampleFreq: 2 }); // false
 * ```
 */
export function collectsAt(epoch: number, c: CollectSettings, sampling = true): boolean {
  return sampling && epoch >= c.burnIn && (epoch - c.burnIn) % c.sampleFreq === 0;
}

/**
 * Whether the chain collects a sample at the end of zero-based `epoch` of a
 * run of `epochs` epochs of `batchesPerEpoch` steps: {@link collectsAt}, with
 * the sampling stage read from the schedule at the epoch's last step.
 *
 * @example
 * ```ts
 * import { collectsAtEnd } from "./schedule.ts";
 * const s = { schedule: "cyclical" as const, lr: 1e-3, decayB: 1, decayGamma: 1, cycles: 2, cycleExplore: 0.5, burnIn: 0, sampleFreq: 1 };
 * collectsAtEnd(0, s, 4, 10); // false: epoch 0 ends half way through the first cycle's exploration
 * collectsAtEnd(1, s, 4, 10); // true: the end of the first cycle
 * ```
 */
export function collectsAtEnd(
  epoch: number,
  s: ScheduleSettings & CollectSettings,
  epochs: number,
  batchesPerEpoch: number,
): boolean {
  const clock = clockAt(epoch, batchesPerEpoch - 1, epochs, batchesPerEpoch);
  return collectsAt(epoch, s, scheduleAt(s, clock).sampling);
}

/**
 * How many samples a run of `epochs` epochs of `batchesPerEpoch` steps
 * collects (before any `maxSamples` thinning): the epochs where
 * {@link collectsAtEnd} holds.
 *
 * @example
 * ```ts
 * import { samplesCollected } from "./schedule.ts";
 * const s = { schedule: "cyclical" as const, lr: 1e-3, decayB: 1, decayGamma: 1, cycles: 12, cycleExplore: 0.8, burnIn: 0, sampleFreq: 1 };
 * samplesCollected(s, 60, 469); // 12: one per cycle
 * samplesCollected({ ...s, cycles: 7 }, 2, 10); // 0: both epochs end early in a 3-step cycle
 * ```
 */
export function samplesCollected(
  s: ScheduleSettings & CollectSettings,
  epochs: number,
  batchesPerEpoch: number,
): number {
  let n = 0;
  for (let e = 0; e < epochs; e++) if (collectsAtEnd(e, s, epochs, batchesPerEpoch)) n++;
  return n;
}
