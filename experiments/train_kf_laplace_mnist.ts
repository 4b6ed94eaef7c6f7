/**
 * Kronecker-factored Laplace approximation on MNIST: trains a MAP network
 * (weight decay as the prior), accumulates the Kronecker factors of the
 * block-diagonal Gauss–Newton curvature in one pass over the training data,
 * optionally tunes the prior precision, and predicts with matrix-normal
 * weight samples or the linearised (GLM) predictive.
 *
 *     deno task train:kfac --epochs 10 --tune val
 *     deno run -A experiments/train_kf_laplace_mnist.ts -h
 *
 * Besides the common outputs it writes `laplace.json` to the results folder:
 * the curvature pass (seconds, examples, truncation), the chosen `τ` and
 * `N`, the tuning table, and the MAP network's own test metrics.
 *
 * @module
 */
import { join } from "node:path";
import { CliError, type FlagValues, runMain } from "../core/cli.ts";
import { predictDataset, readPrediction } from "../core/evaluate.ts";
import { disposePrediction } from "../core/likelihood.ts";
import type { Method } from "../core/method.ts";
import type { LrScheduleName, OptimizerName } from "../core/optim.ts";
import type { ArrayDataset } from "../datasets/types.ts";
import {
  buildKfacLaplace,
  type KfacLaplaceMethod,
  type KfacTuneResult,
} from "../methods/kfac_laplace.ts";
import { classificationMetrics } from "../uncertainty/metrics.ts";
import { writeJson } from "../uncertainty/io.ts";
import { rowRange } from "../datasets/subset.ts";
import { fitInterruptible } from "./lib/fit_interruptible.ts";
import {
  LR_SCHEDULE_FLAG,
  RESUME_HINT,
  runTrainScript,
  type TrainContext,
  type TrainScript,
} from "./lib/train_script.ts";

function validate(f: FlagValues): void {
  if (f.tune === "val") {
    const v = Number(f.valid_size);
    if (!(v >= 1)) throw new CliError(`--valid_size must be ≥ 1 with --tune val, found ${v}`);
  }
}

async function train(
  m: Method,
  trainSet: ArrayDataset,
  ctx: TrainContext,
): Promise<import("../core/train.ts").EpochRecord[]> {
  const method = m as KfacLaplaceMethod;
  const f = ctx.flags;
  let fitSet = trainSet;
  let valid: ArrayDataset | undefined;
  if (f.tune === "val") {
    const v = Number(f.valid_size);
    if (v >= trainSet.n) {
      throw new CliError(
        `--valid_size ${v} leaves no training examples (the training set has ${trainSet.n})`,
      );
    }
    fitSet = rowRange(trainSet, 0, trainSet.n - v);
    valid = rowRange(trainSet, trainSet.n - v, trainSet.n);
    console.error(`tune val: training on ${fitSet.n} examples, validating on the last ${v}`);
  }
  const { history } = await fitInterruptible(method, fitSet, {
    epochs: Number(f.epochs),
    batchSize: Number(f.batch_size),
    seed: Number(f.seed),
    valid: ctx.test,
    evalSamples: 1,
    checkpointDir: String(f.models_dir),
    resume: Boolean(f.resume),
    info: { ...ctx.info, trainExamples: fitSet.n },
    onEpoch: (_r, _m, h) => ctx.onEpoch(h),
  }, RESUME_HINT);

  // The MAP network the posterior is built around, for comparison.
  const mapPred = predictDataset(method.map, ctx.test, 1, Number(f.seed));
  const mapHost = await readPrediction(mapPred);
  disposePrediction(mapPred);
  if (mapHost.task !== "classification") throw new Error("expected a classification prediction");
  const mapMetrics = classificationMetrics(mapHost.logProbs, ctx.test.y);
  console.error(
    `MAP: ${ctx.evaluated} error ${mapMetrics.errorPct.toFixed(2)}%, log-likelihood ${
      mapMetrics.logLikMean.toFixed(4)
    } per example`,
  );

  const curvature = await method.fitCurvature(fitSet);
  const epochSeconds = history.length
    ? history.reduce((a, h) => a + h.seconds, 0) / history.length
    : NaN;
  console.error(
    `curvature pass: ${curvature.n} examples in ${curvature.seconds.toFixed(1)} s` +
      (history.length ? ` (${(curvature.seconds / epochSeconds).toFixed(2)}× an epoch)` : "") +
      `, Gauss–Newton columns kept ${curvature.rowsKept}/${curvature.rowsTotal}`,
  );
  let tuned: KfacTuneResult | null = null;
  if (f.tune === "marglik" || f.tune === "val") {
    tuned = await method.tune({
      method: f.tune,
      valid,
      samples: Number(f.tune_samples),
      seed: Number(f.seed),
      dataScales: f.tune_data_scale && f.tune === "val"
        ? [0.25, 1, 4].map((r) => r * method.prior().dataScale)
        : undefined,
    });
    console.error(
      `tune ${tuned.method}: τ = ${tuned.priorPrecision.toPrecision(4)}, N = ${
        tuned.dataScale.toPrecision(4)
      } (score ${tuned.score.toFixed(4)}, ${tuned.seconds.toFixed(1)} s)`,
    );
  }
  await writeJson(join(String(f.results_dir), "laplace.json"), {
    prior: method.prior(),
    predictive: method.settings.predictive,
    link: method.settings.link,
    lastLayer: method.settings.lastLayer,
    curvature,
    epochSeconds,
    curvatureOverEpoch: curvature.seconds / epochSeconds,
    tune: tuned,
    map: { evaluatedOn: ctx.evaluated, ...mapMetrics },
  });
  return history;
}

/** The script's declaration (exported for tests). */
export const script: TrainScript = {
  name: "train_kf_laplace_mnist.ts",
  description:
    "Trains a MAP network on MNIST, then fits a Kronecker-factored Laplace approximation " +
    "(block-diagonal Gauss–Newton factors from one pass over the training data) and predicts " +
    "with matrix-normal weight samples or the linearised (GLM) predictive; writes per-epoch " +
    "metrics, final test metrics, laplace.json, a training-curve SVG and the model " +
    "(factors saved unscaled, so τ and N can change without a new pass).",
  flags: {
    weight_decay: {
      type: "number",
      default: 0.01,
      min: 0,
      help: "L2 penalty of the MAP training (Gaussian prior precision)",
    },
    hessian_diag_sig: {
      type: "number",
      default: 0.15,
      gt: 0,
      help: "prior std σ of the Laplace posterior: τ = 1/σ² (unless --prior_precision)",
    },
    prior_precision: {
      type: "number",
      gt: 0,
      help: "prior precision τ of the Laplace posterior (overrides --hessian_diag_sig)",
    },
    data_scale: {
      type: "number",
      gt: 0,
      help: "data multiplier N of the factors (default: the training examples)",
    },
    tune: {
      type: "string",
      default: "none",
      choices: ["none", "marglik", "val"],
      help: "choose τ by the Laplace marginal likelihood or the validation log-likelihood",
    },
    valid_size: {
      type: "int",
      default: 5000,
      min: 1,
      help: "with --tune val: the last N training examples are held out for validation",
    },
    tune_samples: {
      type: "int",
      default: 10,
      min: 1,
      help: "posterior samples per candidate when tuning by validation",
    },
    tune_data_scale: {
      type: "boolean",
      default: false,
      help: "with --tune val: also try N/4 and 4N",
    },
    predictive: {
      type: "string",
      default: "sample",
      choices: ["sample", "glm"],
      help: "matrix-normal weight samples (reference) or the linearised network",
    },
    link: {
      type: "string",
      default: "probit",
      choices: ["probit", "mc"],
      help: "GLM predictive: probit approximation or Monte Carlo over the logits",
    },
    last_layer: { type: "boolean", default: false, help: "Laplace on the last layer only" },
    ggn_tol: {
      type: "number",
      default: 1e-3,
      min: 0,
      max: 0.5,
      help: "share of the output Gauss–Newton mass per batch that may be dropped (0 = exact)",
    },
    curvature_batch: {
      type: "int",
      default: 256,
      min: 1,
      help: "examples per batch of the curvature pass",
    },
    optimizer: {
      type: "string",
      default: "momentum",
      choices: ["sgd", "momentum", "adam"],
      help: "MAP update rule",
    },
    momentum: { type: "number", default: 0.5, min: 0, max: 0.999, help: "momentum" },
    lr_schedule: LR_SCHEDULE_FLAG,
  },
  preset: "kfac_laplace",
  defaults: {
    lr: 1e-3,
    models_dir: "models/kfac_laplace",
    results_dir: "results/kfac_laplace",
  },
  validate,
  build: (spec, f) =>
    buildKfacLaplace(spec, {
      lr: f.lr as number,
      weightDecay: f.weight_decay as number,
      optimizer: f.optimizer as OptimizerName,
      momentum: f.momentum as number,
      lrSchedule: f.lr_schedule as LrScheduleName,
      priorPrecision: (f.prior_precision as number | undefined) ??
        1 / (f.hessian_diag_sig as number) ** 2,
      dataScale: (f.data_scale as number | undefined) ?? null,
      predictive: f.predictive as "sample" | "glm",
      link: f.link as "probit" | "mc",
      lastLayer: f.last_layer as boolean,
      ggnTol: f.ggn_tol as number,
      curvatureBatchSize: f.curvature_batch as number,
      autoCurvature: false,
    }),
  train,
};

if (import.meta.main) await runMain(async () => void (await runTrainScript(script)));
