/**
 * Train a Bayes-by-Backprop network (fully factorised Gaussian posterior) on
 * MNIST, with the reference's flags.
 *
 *     deno task train:bbb --model Laplace_prior --epochs 200
 *     deno run -A experiments/train_bayes_by_backprop_mnist.ts --model Gaussian_prior --estimator flipout
 *     deno run -A experiments/train_bayes_by_backprop_mnist.ts --model Gaussian_prior --eval_mean
 *     deno run -A experiments/train_bayes_by_backprop_mnist.ts -h
 *
 * @module
 */
import { CliError, type FlagValues, runMain } from "../core/cli.ts";
import type { NetSpec } from "../core/method.ts";
import {
  type BbbEstimator,
  type BbbMethod,
  type BbbOptimizer,
  type BbbPriorName,
  type BbbSettings,
  buildBbb,
} from "../methods/bbb.ts";
import { runTrainScript, type TrainScript } from "./lib/train_script.ts";

/**
 * The reference's `--model` choices: the prior and estimator each one means,
 * and the registry entry whose full budget gives the defaults.
 */
export const MODELS: Record<
  string,
  { prior: BbbPriorName; estimator: BbbEstimator; key: string }
> = {
  Gaussian_prior: { prior: "gaussian", estimator: "weight", key: "bbb_gaussian" },
  Laplace_prior: { prior: "laplace", estimator: "weight", key: "bbb_laplace" },
  GMM_prior: { prior: "gmm", estimator: "weight", key: "bbb_gmm" },
  Local_Reparam: { prior: "gaussian", estimator: "local", key: "bbb_local" },
};

/** Two comma-separated finite numbers, or null. */
function pair(s: string): [number, number] | null {
  const parts = s.split(",").map((p) => Number(p.trim()));
  return parts.length === 2 && parts.every(Number.isFinite) ? [parts[0], parts[1]] : null;
}

/** Parses a `lo,hi` range flag. */
export function parseRange(flag: string, s: string): [number, number] {
  const p = pair(s);
  if (!p || p[0] > p[1]) throw new CliError(`--${flag} expects "lo,hi" with lo ≤ hi, found "${s}"`);
  return p;
}

/** Parses `--samples_after`: `none`, or `epochs,samples`. */
export function parseSamplesAfter(s: string): [number, number] | null {
  if (s === "none") return null;
  const p = pair(s);
  if (!p || !p.every((v) => Number.isInteger(v) && v >= 1)) {
    throw new CliError(
      `--samples_after expects "none" or "epochs,samples" (whole numbers ≥ 1), found "${s}"`,
    );
  }
  return p;
}

/** Maps parsed flags to method settings (throws {@linkcode CliError} for bad combinations). */
export function settingsFromFlags(f: FlagValues): BbbSettings {
  const model = MODELS[String(f.model)];
  const estimator = (f.estimator as BbbEstimator | undefined) ?? model.estimator;
  if (f.model === "Local_Reparam" && estimator !== "local") {
    throw new CliError(
      `--model Local_Reparam means --estimator local, found --estimator ${estimator}`,
    );
  }
  return {
    prior: model.prior,
    estimator,
    priorSigma: f.prior_sig as number,
    gmmPi: f.gmm_pi as number,
    gmmSigma2: f.gmm_sigma2 as number,
    kl: f.kl as "auto" | "closed" | "mc",
    nSamples: f.n_samples as number,
    firstEpochSamples: (f.first_epoch_samples as number | undefined) ?? 10,
    samplesAfter: parseSamplesAfter(String(f.samples_after ?? "none")),
    lr: f.lr as number,
    optimizer: f.optimizer as BbbOptimizer,
    momentum: f.momentum as number,
    muInit: parseRange("mu_init", String(f.mu_init)),
    rhoInit: parseRange("rho_init", String(f.rho_init)),
    predictBy: f.predict_by as "weights" | "activations",
  };
}

/** The script's declaration (exported for tests). */
export const script: TrainScript = {
  name: "train_bayes_by_backprop_mnist.ts",
  description:
    "Trains a Bayes-by-Backprop network (factorised Gaussian posterior over every weight) on " +
    "MNIST by minimising the negative ELBO (summed minibatch NLL + KL / number of batches); " +
    "writes per-epoch metrics, final test metrics (100 weight samples), a training-curve SVG " +
    "and the model (μ and ρ).",
  flags: {
    model: {
      type: "string",
      default: "Local_Reparam",
      choices: Object.keys(MODELS),
      help: "prior and estimator, as the reference",
    },
    estimator: {
      type: "string",
      choices: ["weight", "local", "flipout"],
      help: "gradient estimator (default: the model's; weight for the prior models)",
    },
    prior_sig: {
      type: "number",
      default: 0.1,
      gt: 0,
      help: "prior σ (Gaussian), scale b (Laplace) or wide σ₁ (GMM)",
    },
    gmm_pi: { type: "number", default: 0.75, gt: 0, max: 0.999999, help: "GMM weight π of σ₁" },
    gmm_sigma2: { type: "number", default: 0.0005, gt: 0, help: "GMM narrow σ₂" },
    kl: {
      type: "string",
      default: "auto",
      choices: ["auto", "closed", "mc"],
      help: "KL estimate (auto: closed form for the Gaussian prior, else Monte Carlo)",
    },
    n_samples: { type: "int", default: 3, min: 1, help: "Monte Carlo samples per step" },
    first_epoch_samples: {
      type: "int",
      default: 10,
      min: 1,
      help: "samples per step in the first epoch (the reference's script draws more there)",
    },
    samples_after: {
      type: "string",
      default: "none",
      help: '"epochs,samples": after that many epochs, that many samples per step',
    },
    optimizer: {
      type: "string",
      default: "sgd",
      choices: ["sgd", "momentum", "adam"],
      help: "update rule (the reference: plain SGD)",
    },
    momentum: { type: "number", default: 0.9, min: 0, max: 0.999, help: "momentum" },
    mu_init: { type: "string", default: "-0.1,0.1", help: "μ initialised U(lo,hi)" },
    rho_init: {
      type: "string",
      default: "-3,-2",
      help:
        "ρ initialised U(lo,hi); e.g. -8,-7 for a small initial σ (lower error, poor uncertainty)",
    },
    eval_mean: {
      type: "boolean",
      default: false,
      help: "also evaluate the network at the posterior means after every epoch " +
        "(the reference notebooks' dev error; history columns meanErrorPct, meanLogLik)",
    },
    predict_by: {
      type: "string",
      default: "weights",
      choices: ["weights", "activations"],
      help: "prediction samples weights or pre-activations",
    },
  },
  // The Gaussian prior with --estimator flipout is the registry's Flipout row.
  preset: (f) =>
    f.model === "Gaussian_prior" && f.estimator === "flipout"
      ? "bbb_flipout"
      : MODELS[String(f.model)].key,
  defaults: {
    lr: 1e-3,
    models_dir: "models/bbb",
    results_dir: "results/bbb",
  },
  validate: (f) => {
    settingsFromFlags(f);
  },
  // μ and ρ with their gradients and optimizer state, and a weight sample.
  memoryCopies: () => 9,
  build: (spec: NetSpec, f: FlagValues): BbbMethod => buildBbb(spec, settingsFromFlags(f)),
};

if (import.meta.main) await runMain(async () => void (await runTrainScript(script)));
