/**
 * Shared machinery of the regression studies (`regression_toy.ts`,
 * `uci.ts`): the training budget of a method's regression network (the
 * registry's `regression` entry, or a fallback), building a method for a
 * regression head (skipping methods that cannot), training with `fit`, and
 * evaluating in original target units.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { FlagSpecs, FlagValues } from "../../core/cli.ts";
import { readPrediction, type TargetScale } from "../../core/evaluate.ts";
import { disposePrediction } from "../../core/likelihood.ts";
import type { Method, NetSpec, Prediction } from "../../core/method.ts";
import { fit } from "../../core/train.ts";
import type { ArrayDataset } from "../../datasets/types.ts";
import type { MethodEntry } from "../../methods/registry.ts";
import {
  type RegressionMetrics,
  regressionMetrics,
  type RegressionUncertainty,
  regressionUncertainty,
} from "../../uncertainty/regression.ts";

/**
 * Budget used for a method whose registry entry has no `regression` field:
 * the method's own default settings, 400 epochs, minibatches of 128.
 *
 * @example
 * ```ts
 * import { REGRESSION_FALLBACK } from "./regression_study_train.ts";
 * REGRESSION_FALLBACK.epochs; // 400
 * ```
 */
export const REGRESSION_FALLBACK: { epochs: number; batchSize: number } = {
  epochs: 400,
  batchSize: 128,
};

/**
 * Epochs, batch size and settings of a regression network.
 *
 * @example
 * ```ts
 * import type { RegressionBudget } from "./regression_study_train.ts";
 * const b: RegressionBudget = { epochs: 400, batchSize: 128, settings: {}, fromRegistry: false };
 * ```
 */
export interface RegressionBudget {
  /** Training epochs. */
  epochs: number;
  /** Minibatch size. */
  batchSize: number;
  /** The fewest minibatch steps of a UCI fit (registry `regression.minSteps`); none when absent. */
  minSteps?: number;
  /** Settings replacing `settings`' while the UCI study scores grid candidates (registry `regression.tuneSettings`). */
  tuneSettings?: Record<string, unknown>;
  /** Settings passed to the method's builder. */
  settings: Record<string, unknown>;
  /** Whether the budget came from the registry (else the fallback). */
  fromRegistry: boolean;
}

/** Settings counted in epochs, rescaled when the number of epochs changes. */
export const EPOCH_SETTINGS: readonly string[] = ["burnIn", "sampleFreq"];

/**
 * `budget` trained for `epochs` epochs instead: settings counted in epochs
 * (SG-MCMC `burnIn`, `sampleFreq`) are rescaled in proportion, so a shorter
 * run still burns in for the same share of training and collects samples
 * (`burnIn` rounded down, `sampleFreq` at least 1).
 *
 * @example
 * ```ts
 * import { withEpochs } from "./regression_study_train.ts";
 * const b = { epochs: 400, batchSize: 128, settings: { burnIn: 100, sampleFreq: 3 }, fromRegistry: true };
 * withEpochs(b, 40).settings; // { burnIn: 10, sampleFreq: 1 }
 * ```
 */
export function withEpochs(budget: RegressionBudget, epochs: number): RegressionBudget {
  if (epochs === budget.epochs) return budget;
  const settings = { ...budget.settings };
  const ratio = epochs / budget.epochs;
  for (const k of EPOCH_SETTINGS) {
    const v = settings[k];
    if (typeof v !== "number") continue;
    settings[k] = k === "burnIn" ? Math.floor(v * ratio) : Math.max(1, Math.round(v * ratio));
  }
  return { ...budget, epochs, settings };
}

/**
 * The regression budget of `entry` (registry `regression` field, else
 * {@linkcode REGRESSION_FALLBACK}), with `--epochs`/`--batch_size`
 * overrides from `flags` when given (see {@linkcode withEpochs}).
 *
 * @example
 * ```ts
 * import { METHODS } from "../../methods/registry.ts";
 * import { regressionBudget } from "./regression_study_train.ts";
 * regressionBudget(METHODS.map, { epochs: 50 }).epochs; // 50
 * ```
 */
export function regressionBudget(entry: MethodEntry, flags: FlagValues = {}): RegressionBudget {
  const r = entry.regression;
  const base: RegressionBudget = {
    epochs: r?.epochs ?? REGRESSION_FALLBACK.epochs,
    batchSize: flags.batch_size !== undefined
      ? Number(flags.batch_size)
      : r?.batchSize ?? REGRESSION_FALLBACK.batchSize,
    settings: { ...(r?.settings ?? {}) },
    ...(r?.minSteps !== undefined ? { minSteps: r.minSteps } : {}),
    ...(r?.tuneSettings !== undefined ? { tuneSettings: { ...r.tuneSettings } } : {}),
    fromRegistry: r !== undefined,
  };
  return flags.epochs !== undefined ? withEpochs(base, Number(flags.epochs)) : base;
}

/**
 * Flags both regression studies have (`--epochs`, `--batch_size`,
 * `--test_samples`).
 *
 * @example
 * ```ts
 * import { REGRESSION_FLAGS } from "./regression_study_train.ts";
 * REGRESSION_FLAGS.epochs.type; // "int"
 * ```
 */
export const REGRESSION_FLAGS: FlagSpecs = {
  epochs: {
    type: "int",
    min: 1,
    help: "training epochs for every method (default: the registry's regression budget)",
  },
  batch_size: {
    type: "int",
    min: 1,
    help: "minibatch size (default: the registry's regression budget)",
  },
  test_samples: {
    type: "int",
    min: 1,
    help: "posterior samples per prediction (default: 100 with --full, 20 quick; 1 for MAP)",
  },
};

/**
 * Builds `entry`'s method for a regression network, or returns `undefined`
 * (after logging why) when the method does not support regression heads.
 *
 * @example
 * ```ts
 * import { METHODS } from "../../methods/registry.ts";
 * import { buildRegression } from "./regression_study_train.ts";
 * const m = buildRegression(METHODS.map, {
 *   inputDim: 1, hidden: [200], outputDim: 1, task: "regression", noise: "heteroscedastic",
 * }, {});
 * ```
 */
export function buildRegression(
  entry: MethodEntry,
  spec: NetSpec,
  settings: Record<string, unknown>,
  log: (line: string) => void = (l) => console.error(l),
): Method | undefined {
  try {
    return entry.build(spec, settings);
  } catch (e) {
    log(
      `${entry.label}: cannot build a ${spec.noise ?? "heteroscedastic"} regression network ` +
        `(${(e as Error).message}); skipped`,
    );
    return undefined;
  }
}

/**
 * Trains `method` on a standardised regression set with `fit` (no per-epoch
 * evaluation, no progress line) and returns the wall-clock seconds.
 *
 * @example
 * ```ts
 * import { trainRegression } from "./regression_study_train.ts";
 * // const secs = await trainRegression(m, split.train, budget, 0, { yMean, yStd });
 * ```
 */
export async function trainRegression(
  method: Method,
  train: ArrayDataset,
  budget: { epochs: number; batchSize: number },
  seed: number,
  scale: TargetScale,
): Promise<number> {
  const t0 = performance.now();
  await fit(method, train, {
    epochs: budget.epochs,
    batchSize: Math.min(budget.batchSize, train.n),
    seed,
    scale,
    progress: false,
  });
  return (performance.now() - t0) / 1000;
}

/**
 * Posterior samples for a method: 1 for point estimates, else `samples`.
 *
 * @example
 * ```ts
 * import { samplesFor } from "./regression_study_train.ts";
 * import { buildMap } from "../../methods/map.ts";
 * samplesFor(buildMap({ inputDim: 1, hidden: [4], outputDim: 1, task: "regression" }), 100); // 1
 * ```
 */
export function samplesFor(method: Method, samples: number): number {
  return method.defaultSamples > 1 ? samples : 1;
}

type HostArray = { data: Float32Array; shape: number[] };

/** Predicts `n` standardised rows and reads μ and log σ asynchronously (tensors freed). */
async function predictRaw(
  method: Method,
  x: Float32Array,
  n: number,
  samples: number,
  seed: number,
): Promise<{ mean: HostArray; logSigma: HostArray }> {
  const xt = tf.tensor2d(x, [n, x.length / Math.max(n, 1)]);
  let p: Prediction;
  try {
    p = method.predict(xt, { samples: samplesFor(method, samples), seed });
  } finally {
    xt.dispose();
  }
  try {
    if (p.task !== "regression") {
      throw new TypeError(`${method.name}: expected a regression prediction`);
    }
    const host = await readPrediction(p);
    if (host.task !== "regression") throw new TypeError("expected a regression read");
    return host;
  } finally {
    disposePrediction(p);
  }
}

/**
 * Test log-likelihood, RMSE and mean variances of `method` on a
 * standardised set, in original units (`regressionMetrics` with the
 * training split's `yMean`/`yStd`), from a prediction read asynchronously.
 * Given several methods (the members of an ensemble of fits), their
 * predictions are pooled as one equal-weight mixture: each contributes
 * `samples` samples (1 for a point method), member `k` predicting with seed
 * `seed + k`.
 *
 * @example
 * ```ts
 * import { evalRegression } from "./regression_study_train.ts";
 * // const m = await evalRegression(method, split.test, 100, 0, { yMean, yStd });
 * // const pooled = await evalRegression([m1, m2, m3], split.test, 100, 0, { yMean, yStd });
 * ```
 */
export async function evalRegression(
  method: Method | readonly Method[],
  ds: ArrayDataset,
  samples: number,
  seed: number,
  scale: TargetScale,
): Promise<RegressionMetrics> {
  const methods: readonly Method[] = "predict" in method ? [method] : method;
  const parts: { mean: HostArray; logSigma: HostArray }[] = [];
  for (let k = 0; k < methods.length; k++) {
    parts.push(await predictRaw(methods[k], ds.x, ds.n, samples, seed + k));
  }
  return regressionMetrics(
    concatSamples(parts.map((p) => p.mean)),
    concatSamples(parts.map((p) => p.logSigma)),
    ds.y,
    { yMean: scale.yMean, yStd: scale.yStd, targetsStandardized: true },
  );
}

/** Sample arrays `[S_k, N, 1]` stacked along the sample axis into `[ΣS_k, N, 1]`. */
function concatSamples(parts: readonly HostArray[]): HostArray {
  if (parts.length === 1) return parts[0];
  const data = new Float32Array(parts.reduce((n, p) => n + p.data.length, 0));
  let at = 0;
  for (const p of parts) {
    data.set(p.data, at);
    at += p.data.length;
  }
  return { data, shape: [parts.reduce((s, p) => s + p.shape[0], 0), ...parts[0].shape.slice(1)] };
}

/**
 * Predictive mean and aleatoric/epistemic variances (original units) of
 * `method` at standardised inputs `x` (`n` rows), from a prediction read
 * asynchronously.
 *
 * @example
 * ```ts
 * import { predictUncertainty } from "./regression_study_train.ts";
 * // const u = await predictUncertainty(method, gridStd, 300, 100, 0, { yMean, yStd });
 * ```
 */
export async function predictUncertainty(
  method: Method,
  x: Float32Array,
  n: number,
  samples: number,
  seed: number,
  scale: TargetScale,
): Promise<RegressionUncertainty> {
  const p = await predictRaw(method, x, n, samples, seed);
  return regressionUncertainty(p.mean, p.logSigma, scale);
}
