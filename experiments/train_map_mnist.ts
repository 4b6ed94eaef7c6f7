/**
 * Train a MAP network (point estimate with weight decay) on MNIST.
 *
 *     deno task train:map --epochs 20 --weight_decay 1e-4
 *     deno run -A experiments/train_map_mnist.ts -h
 *
 * @module
 */
import { runMain } from "../core/cli.ts";
import type { LrScheduleName, OptimizerName } from "../core/optim.ts";
import { buildMap } from "../methods/map.ts";
import { LR_SCHEDULE_FLAG, runTrainScript, type TrainScript } from "./lib/train_script.ts";

/** The script's declaration (exported for tests). */
export const script: TrainScript = {
  name: "train_map_mnist.ts",
  description:
    "Trains a MAP network (maximum a posteriori weights, Gaussian prior as weight decay) " +
    "on MNIST; writes per-epoch metrics, final test metrics, a training-curve SVG and the model.",
  flags: {
    weight_decay: {
      type: "number",
      default: 0,
      min: 0,
      help: "L2 penalty (Gaussian prior precision)",
    },
    optimizer: {
      type: "string",
      default: "momentum",
      choices: ["sgd", "momentum", "adam"],
      help: "update rule",
    },
    momentum: { type: "number", default: 0.5, min: 0, max: 0.999, help: "momentum" },
    lr_schedule: LR_SCHEDULE_FLAG,
  },
  defaults: { lr: 1e-3, models_dir: "models/map", results_dir: "results/map" },
  preset: "map",
  build: (spec, f) =>
    buildMap(spec, {
      lr: f.lr as number,
      weightDecay: f.weight_decay as number,
      optimizer: f.optimizer as OptimizerName,
      momentum: f.momentum as number,
      lrSchedule: f.lr_schedule as LrScheduleName,
    }),
};

if (import.meta.main) await runMain(async () => void (await runTrainScript(script)));
