/**
 * Train an MC dropout network on MNIST (dropout kept on at prediction).
 *
 *     deno task train:mcdropout --epochs 20
 *     deno run -A experiments/train_mc_dropout_mnist.ts -h
 *
 * @module
 */
import { runMain } from "../core/cli.ts";
import type { LrScheduleName, OptimizerName } from "../core/optim.ts";
import { buildMcDropout } from "../methods/mc_dropout.ts";
import { LR_SCHEDULE_FLAG, runTrainScript, type TrainScript } from "./lib/train_script.ts";

/** The script's declaration (exported for tests). */
export const script: TrainScript = {
  name: "train_mc_dropout_mnist.ts",
  description: "Trains an MC dropout network on MNIST: dropout on the hidden activations during " +
    "training and prediction, weight decay as the prior; predictions average 100 dropout masks.",
  flags: {
    weight_decay: { type: "number", default: 0, min: 0, help: "L2 penalty (prior precision)" },
    dropout: { type: "number", default: 0.5, gt: 0, max: 0.99, help: "dropout rate" },
    optimizer: {
      type: "string",
      default: "momentum",
      choices: ["sgd", "momentum", "adam"],
      help: "update rule",
    },
    momentum: { type: "number", default: 0.5, min: 0, max: 0.999, help: "momentum" },
    lr_schedule: LR_SCHEDULE_FLAG,
  },
  preset: "mc_dropout",
  defaults: {
    lr: 1e-3,
    models_dir: "models/mc_dropout",
    results_dir: "results/mc_dropout",
  },
  build: (spec, f) =>
    buildMcDropout(spec, {
      lr: f.lr as number,
      weightDecay: f.weight_decay as number,
      dropout: f.dropout as number,
      optimizer: f.optimizer as OptimizerName,
      momentum: f.momentum as number,
      lrSchedule: f.lr_schedule as LrScheduleName,
    }),
};

if (import.meta.main) await runMain(async () => void (await runTrainScript(script)));
