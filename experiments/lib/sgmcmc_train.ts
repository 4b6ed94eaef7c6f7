/**
 * What the SG-MCMC training scripts share: the sample-collection and
 * schedule flags, their validation, and a `train` that runs the shared loop
 * with the per-epoch evaluation averaging `--eval_samples` stored samples.
 *
 * @module
 */
import { join } from "node:path";
import { CliError, type FlagSpecs, type FlagValues } from "../../core/cli.ts";
import type { Method } from "../../core/method.ts";
import type { EpochRecord } from "../../core/train.ts";
import type { ArrayDataset } from "../../datasets/types.ts";
import { fitInterruptible } from "./fit_interruptible.ts";
import { RESUME_HINT, type TrainContext } from "./train_script.ts";

/** Flags of sample collection and step-size schedules. */
export const SGMCMC_FLAGS: FlagSpecs = {
  burn_in: { type: "int", min: 0, help: "epochs before the first sample is collected" },
  sample_freq: { type: "int", min: 1, help: "epochs between collected samples" },
  max_samples: {
    type: "int",
    min: 1,
    default: 100,
    help: "most samples kept (oldest dropped), the reference's N_saves",
  },
  memory_samples: {
    type: "int",
    min: 0,
    default: 10,
    help: "samples kept in memory (all are streamed to <models_dir>/samples/)",
  },
  schedule: {
    type: "string",
    default: "fixed",
    choices: ["fixed", "decay", "cyclical"],
    help: "step size: fixed lr, lr·(1+t/decay_b)^-decay_gamma, or cosine cycles (cSG-MCMC)",
  },
  decay_b: { type: "number", gt: 0, default: 1000, help: "decay schedule offset b (steps)" },
  decay_gamma: {
    type: "number",
    gt: 0.5,
    max: 1,
    default: 0.55,
    help: "decay schedule exponent γ in (0.5, 1]",
  },
  cycles: { type: "int", min: 1, default: 4, help: "cyclical schedule: number of cycles" },
  cycle_explore: {
    type: "number",
    min: 0,
    max: 0.99,
    default: 0.8,
    help: "cyclical schedule: fraction of each cycle spent exploring (no noise, no samples)",
  },
};

/** Checks flags that depend on each other (`--burn_in` below `--epochs`). */
export function validateSgmcmcFlags(f: FlagValues): void {
  if (Number(f.burn_in) >= Number(f.epochs)) {
    throw new CliError(
      `--burn_in (${f.burn_in}) must be smaller than --epochs (${f.epochs}): no sample would be collected`,
    );
  }
  // Samples are taken at epoch ends that fall in a cycle's sampling stage: cycles shorter than
  // an epoch would mostly end between epochs and collect nothing. This flag-level rule fails
  // before the data load; the chain's exact count (`checkCollects` in methods/sgmcmc/chain.ts,
  // which also guards library callers) refuses any run that would collect no sample at all.
  const after = Number(f.epochs) - Number(f.burn_in);
  if (f.schedule === "cyclical" && Number(f.cycles) > after) {
    throw new CliError(
      `--cycles (${f.cycles}) must be at most the epochs after burn-in (${after}): samples are ` +
        `taken at the end of epochs in a cycle's sampling stage, so a cycle shorter than an ` +
        `epoch collects none; give more --epochs, fewer --cycles or --schedule fixed`,
    );
  }
}

/** Method settings from the shared flags. */
export function sgmcmcSettings(f: FlagValues): Record<string, unknown> {
  return {
    burnIn: f.burn_in as number,
    sampleFreq: f.sample_freq as number,
    maxSamples: f.max_samples as number,
    memorySamples: f.memory_samples as number,
    sampleDir: join(String(f.models_dir), "samples"),
    schedule: f.schedule,
    decayB: f.decay_b as number,
    decayGamma: f.decay_gamma as number,
    cycles: f.cycles as number,
    cycleExplore: f.cycle_explore as number,
  };
}

/**
 * Trains with the shared loop (checkpoints and resume in `--models_dir`).
 * Each epoch is evaluated on the test set with the samples collected so far
 * (up to `--eval_samples`, evenly spaced; the current weights before the first
 * sample), so the curve shows the sample average's error.
 */
export async function trainSgmcmc(
  method: Method,
  train: ArrayDataset,
  ctx: TrainContext,
): Promise<EpochRecord[]> {
  const f = ctx.flags;
  const r = await fitInterruptible(method, train, {
    epochs: Number(f.epochs),
    batchSize: Number(f.batch_size),
    seed: Number(f.seed),
    valid: ctx.test,
    evalSamples: Number(f.eval_samples),
    checkpointDir: String(f.models_dir),
    resume: Boolean(f.resume),
    info: ctx.info,
    onEpoch: (_rec, _m, h) => ctx.onEpoch(h),
  }, RESUME_HINT);
  return r.history;
}
