/**
 * Train a Bayesian network on MNIST with scale-adapted Stochastic Gradient
 * Hamiltonian Monte Carlo (Springenberg et al. 2016): Gaussian prior with a
 * Gamma hyperprior on its precision, mass adapted during burn-in.
 *
 *     deno task train:sghmc --epochs 250 --burn_in 20 --sample_freq 2
 *     deno run -A experiments/train_sghmc_mnist.ts -h
 *
 * Samples are streamed to `<models_dir>/samples/sample_NNNN.safetensors`;
 * the final test metrics average the predictions of all collected samples
 * (at most `--test_samples`).
 *
 * @module
 */
import { runMain } from "../core/cli.ts";
import type { ScheduleName } from "../methods/sgmcmc/schedule.ts";
import { buildSghmc, SGHMC_DEFAULTS } from "../methods/sghmc.ts";
import {
  SGMCMC_FLAGS,
  sgmcmcSettings,
  trainSgmcmc,
  validateSgmcmcFlags,
} from "./lib/sgmcmc_train.ts";
import { runTrainScript, type TrainScript } from "./lib/train_script.ts";

/** The script's declaration (exported for tests). */
export const script: TrainScript = {
  name: "train_sghmc_mnist.ts",
  description: "Trains a Bayesian network on MNIST with scale-adapted SGHMC: during the " +
    "--burn_in epochs the per-weight mass is adapted from running gradient moments; the prior " +
    "precision is Gibbs-resampled from its Gamma posterior; after burn-in a sample is collected " +
    "every --sample_freq epochs and streamed to <models_dir>/samples/. Writes per-epoch " +
    "metrics, final test metrics, a training-curve SVG and the model.",
  flags: {
    ...SGMCMC_FLAGS,
    burn_in: { ...SGMCMC_FLAGS.burn_in, default: SGHMC_DEFAULTS.burnIn },
    sample_freq: { ...SGMCMC_FLAGS.sample_freq, default: SGHMC_DEFAULTS.sampleFreq },
    friction: {
      type: "number",
      gt: 0,
      max: 1,
      default: SGHMC_DEFAULTS.friction,
      help: "friction C (mdecay)",
    },
    grad_std_mul: {
      type: "number",
      min: 0,
      default: SGHMC_DEFAULTS.clipStdMul,
      help: "clip gradient norms above mean + k·std of the last 1000 (0 = no clipping)",
    },
  },
  preset: "sghmc",
  defaults: {
    lr: SGHMC_DEFAULTS.lr,
    eval_samples: 10,
    models_dir: "models/sghmc",
    results_dir: "results/sghmc",
  },
  validate: validateSgmcmcFlags,
  // Weights, momentum, gradient, mass estimates, plus the samples kept in memory.
  memoryCopies: (f) => 5 + Number(f.memory_samples),
  build: (spec, f) =>
    buildSghmc(spec, {
      ...sgmcmcSettings(f),
      lr: f.lr as number,
      friction: f.friction as number,
      clipStdMul: f.grad_std_mul as number,
      schedule: f.schedule as ScheduleName,
    }),
  train: trainSgmcmc,
};

if (import.meta.main) await runMain(async () => void (await runTrainScript(script)));
