/**
 * Train a Bayesian network on MNIST with SGLD or, with
 * `--use_preconditioning True`, pSGLD (RMSprop-preconditioned SGLD).
 *
 *     deno task train:sgld --epochs 40
 *     deno task train:psgld --epochs 40
 *     deno run -A experiments/train_sgld_mnist.ts -h
 *
 * Samples are streamed to `<models_dir>/samples/sample_NNNN.safetensors`;
 * the final test metrics average the predictions of all collected samples
 * (at most `--test_samples`). Unlike the reference script (whose default is
 * pSGLD), preconditioning is off unless asked for.
 *
 * @module
 */
import { runMain } from "../core/cli.ts";
import type { ScheduleName } from "../methods/sgmcmc/schedule.ts";
import { buildPsgld, buildSgld, PSGLD_DEFAULT_LR, SGLD_DEFAULTS } from "../methods/sgld.ts";
import {
  SGMCMC_FLAGS,
  sgmcmcSettings,
  trainSgmcmc,
  validateSgmcmcFlags,
} from "./lib/sgmcmc_train.ts";
import { runTrainScript, type TrainScript } from "./lib/train_script.ts";

/** The script's declaration (exported for tests). */
export const script: TrainScript = {
  name: "train_sgld_mnist.ts",
  description: "Trains a Bayesian network on MNIST with Stochastic Gradient Langevin Dynamics " +
    "(θ ← θ − (lr/2)·∇U + N(0, lr), ∇U the minibatch estimate of the full-data potential with " +
    "a Gaussian prior), or pSGLD with --use_preconditioning True. After --burn_in epochs a " +
    "weight sample is collected every --sample_freq epochs and streamed to " +
    "<models_dir>/samples/; predictions average the samples. The defaults (lr, schedule, epochs) " +
    "differ between SGLD and pSGLD. Writes per-epoch metrics, final test metrics, a training-curve SVG and the model.",
  flags: {
    use_preconditioning: {
      type: "boolean",
      default: false,
      help: "RMSprop preconditioning (pSGLD); use a larger --lr",
    },
    prior_sig: {
      type: "number",
      gt: 0,
      default: SGLD_DEFAULTS.priorSig,
      help: "standard deviation of the Gaussian prior",
    },
    ...SGMCMC_FLAGS,
    burn_in: { ...SGMCMC_FLAGS.burn_in, default: SGLD_DEFAULTS.burnIn },
    sample_freq: { ...SGMCMC_FLAGS.sample_freq, default: SGLD_DEFAULTS.sampleFreq },
  },
  preset: (f) => f.use_preconditioning ? "psgld" : "sgld",
  defaults: {
    eval_samples: 10,
    models_dir: "models/sgld",
    results_dir: "results/sgld",
  },
  validate: validateSgmcmcFlags,
  // Weights, gradient, preconditioner, plus the samples kept in memory.
  memoryCopies: (f) => 4 + Number(f.memory_samples),
  build: (spec, f) => {
    const settings = {
      ...sgmcmcSettings(f),
      lr: f.lr as number | undefined,
      priorSig: f.prior_sig as number,
      schedule: f.schedule as ScheduleName,
    };
    return f.use_preconditioning ? buildPsgld(spec, settings) : buildSgld(spec, settings);
  },
  train: trainSgmcmc,
};

/** Default `--lr` per variant (the reference's recommendations). */
export const DEFAULT_LR = { sgld: SGLD_DEFAULTS.lr, psgld: PSGLD_DEFAULT_LR };

if (import.meta.main) await runMain(async () => void (await runTrainScript(script)));
