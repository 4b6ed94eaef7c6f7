/**
 * The predictive distribution of a method summarised without ever holding
 * all `[S, N, C]` samples: inputs are predicted a row chunk at a time, each
 * chunk's samples are reduced on the device (mean probabilities and expected
 * entropy, or mean, variances and the mixture log-likelihood), and only the
 * per-example summaries are read back, asynchronously. Peak memory is about
 * `S × rows × C` values.
 *
 * Each chunk is predicted with the same `seed`, so methods that draw
 * weights (Bayes by Backprop, KFAC Laplace) use the same weight samples for
 * every chunk, and stored samples (ensembles, SG-MCMC) are the same anyway;
 * MC dropout draws its masks per row, as in one call.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type {
  ClassificationMetrics,
  ClassificationUncertainty,
  RegressionMetrics,
  RegressionOptions,
  RegressionUncertainty,
} from "../uncertainty/mod.ts";
import { classificationMetrics } from "../uncertainty/metrics.ts";
import { type HostPrediction, readPrediction } from "./evaluate.ts";
import { getEngine } from "./engine/current.ts";
import { type InputsLike, toInputs } from "./inputs.ts";
import { disposePrediction } from "./likelihood.ts";
import type { Method, Prediction } from "./method.ts";
import type { Tensor, Tensor2D } from "./tf.ts";

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** Options of {@linkcode predictSummary}. */
export interface SummaryOptions extends RegressionOptions {
  /** Posterior samples S (default: the method's `defaultSamples`). */
  samples?: number;
  /** Seed of the prediction noise (default 0). */
  seed?: number;
  /**
   * Class labels, or regression targets (original units unless
   * `targetsStandardized`): adds `metrics` to the summary.
   */
  targets?: ArrayLike<number>;
  /** Rows predicted per call (default: S · rows · outputs ≤ 2²² values). */
  rows?: number;
}

/**
 * Classification summary: the predictive distribution and its entropy
 * decomposition per example (nats), plus the test metrics when targets were
 * given.
 *
 * @example
 * ```ts
 * import type { ClassificationSummary } from "@bayes/nn";
 * const mostUncertain = (s: ClassificationSummary) => s.epistemic.indexOf(Math.max(...s.epistemic));
 * ```
 */
export interface ClassificationSummary extends ClassificationUncertainty {
  /** Classification. */
  task: "classification";
  /** Log-likelihood, error, Brier score, ECE and entropy means (when `targets` were given). */
  metrics?: ClassificationMetrics;
}

/**
 * Regression summary in original target units: predictive mean and the
 * aleatoric / epistemic variance split per example, plus the test metrics
 * (Gaussian-mixture log-likelihood, RMSE) when targets were given.
 *
 * @example
 * ```ts
 * import type { RegressionSummary } from "@bayes/nn";
 * const band = (s: RegressionSummary, i: number) => 2 * Math.sqrt(s.totalVar[i]);
 * ```
 */
export interface RegressionSummary extends RegressionUncertainty {
  /** Regression. */
  task: "regression";
  /** Log-likelihood per example, original units (when `targets` were given). */
  logLik?: Float64Array;
  /** Log-likelihood, RMSE and mean variances (when `targets` were given). */
  metrics?: RegressionMetrics;
}

/**
 * What {@linkcode predictSummary} returns: a classification or a
 * regression summary (narrow on `task`).
 *
 * @example
 * ```ts
 * import type { PredictiveSummary } from "@bayes/nn";
 * const spread = (s: PredictiveSummary) =>
 *   s.task === "classification" ? s.epistemicMean : s.epistemicVarMean;
 * ```
 */
export type PredictiveSummary = ClassificationSummary | RegressionSummary;

/** Per-chunk device reduction: `[rows, k]` columns read back. */
function reduceChunk(p: Prediction, z?: Tensor): Tensor2D {
  return tf.tidy(() => {
    if (p.task === "classification") {
      const lp = p.logProbs; // [S, r, C]
      const S = lp.shape[0];
      const logMean = tf.sub(tf.logSumExp(lp, 0), Math.log(S)); // [r, C]
      const safe = tf.maximum(lp, -1e30); // exp(−∞)·(−∞) would be NaN
      const ent = tf.neg(tf.sum(tf.mul(tf.exp(safe), safe), -1)); // [S, r]
      const aleatoric = tf.mean(ent, 0).expandDims(1); // [r, 1]
      return tf.concat([logMean, aleatoric], 1) as Tensor2D;
    }
    const mu = p.mean.squeeze([2]) as Tensor2D; // [S, r]
    const ls = p.logSigma.squeeze([2]) as Tensor2D;
    const S = mu.shape[0];
    const m = tf.mean(mu, 0);
    const epi = tf.mean(tf.square(tf.sub(mu, m)), 0);
    const ale = tf.mean(tf.exp(tf.mul(2, ls)), 0);
    const cols = [m, ale, epi];
    if (z) {
      const r = tf.mul(tf.sub(z, mu), tf.exp(tf.neg(ls)));
      const logN = tf.sub(tf.neg(tf.add(ls, tf.mul(0.5, tf.square(r)))), HALF_LOG_2PI);
      cols.push(tf.sub(tf.logSumExp(logN, 0), Math.log(S)));
    }
    return tf.stack(cols, 1) as Tensor2D;
  });
}

function mean(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return a.length ? s / a.length : NaN;
}

/**
 * Predicts `inputs` and summarises the predictive distribution per example,
 * chunk by chunk (see the module notes): for classification the mean
 * probabilities with total / aleatoric / epistemic entropy, for regression
 * the mean with aleatoric / epistemic / total variance (original units).
 * With `targets` it adds the test metrics. Inputs may be plain arrays
 * ({@linkcode InputsLike}).
 *
 * @example
 * ```ts
 * import { fit, gpToyData, initBackend, predictSummary } from "@bayes/nn";
 * import { buildMcDropout } from "@bayes/nn/methods/mc_dropout";
 * await initBackend({ backend: "wasm", quiet: true });
 * const data = gpToyData({ kind: "hetero", seed: 0, n: 64, gridSize: 20 });
 * const m = buildMcDropout({ inputDim: 1, hidden: [16], outputDim: 1, task: "regression" });
 * await fit(m, data.train, { epochs: 2, batchSize: 32, seed: 0, progress: false });
 * const s = await predictSummary(m, data.grid, { samples: 20 });
 * if (s.task === "regression") console.log(s.mean[0], s.aleatoricVar[0], s.epistemicVar[0]);
 * ```
 */
export async function predictSummary(
  method: Method,
  inputs: InputsLike,
  opts: SummaryOptions = {},
): Promise<PredictiveSummary> {
  const samples = opts.samples ?? method.defaultSamples;
  if (!Number.isInteger(samples) || samples < 1) {
    throw new RangeError(`samples must be a positive integer, found ${samples}`);
  }
  const yMean = opts.yMean ?? 0, yStd = opts.yStd ?? 1;
  if (!Number.isFinite(yMean) || !(yStd > 0) || !Number.isFinite(yStd)) {
    throw new RangeError(
      `predictSummary: need a finite yMean and yStd > 0, found ${yMean}, ${yStd}`,
    );
  }
  const spec = method.spec;
  const x = toInputs(inputs, spec.inputDim);
  const n = x.shape[0];
  const classification = spec.task === "classification";
  const C = classification ? spec.outputDim : 1;
  const targets = opts.targets;
  if (targets && targets.length !== n) {
    throw new RangeError(`predictSummary: ${targets.length} targets for ${n} inputs`);
  }
  const rows = Math.max(
    1,
    Math.min(n, opts.rows ?? Math.floor(2 ** 22 / (samples * Math.max(C, 2)))),
  );
  const cols = classification ? C + 1 : targets ? 4 : 3;
  const out = new Float64Array(n * cols);
  let S = samples;
  try {
    for (let start = 0; start < n; start += rows) {
      const size = Math.min(rows, n - start);
      const xc = size === n ? x : tf.slice(x, [start, 0], [size, -1]) as Tensor2D;
      let z: Tensor | undefined;
      if (targets && !classification) {
        const zs = new Float32Array(size);
        for (let i = 0; i < size; i++) {
          const t = targets[start + i];
          zs[i] = opts.targetsStandardized ? t : (t - yMean) / yStd;
        }
        z = tf.tensor1d(zs);
      }
      let reduced: Tensor2D;
      try {
        const p = method.predict(xc, { samples, seed: opts.seed ?? 0 });
        S = p.task === "classification" ? p.logProbs.shape[0] : p.mean.shape[0];
        try {
          reduced = reduceChunk(p, z);
        } finally {
          disposePrediction(p);
        }
      } finally {
        if (xc !== x) xc.dispose();
        z?.dispose();
      }
      const values = await getEngine().read(reduced);
      reduced.dispose();
      out.set(values, start * cols);
    }
  } finally {
    x.dispose();
  }
  return classification
    ? classificationSummary(out, n, C, S, targets)
    : regressionSummary(out, n, S, yMean, yStd, opts, targets);
}

function classificationSummary(
  out: Float64Array,
  n: number,
  C: number,
  S: number,
  targets?: ArrayLike<number>,
): ClassificationSummary {
  const logProbs = new Float64Array(n * C), probs = new Float64Array(n * C);
  const total = new Float64Array(n), aleatoric = new Float64Array(n);
  const epistemic = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let h = 0;
    for (let c = 0; c < C; c++) {
      const lp = out[i * (C + 1) + c];
      const p = Math.exp(lp);
      logProbs[i * C + c] = lp;
      probs[i * C + c] = p;
      if (p > 0) h -= p * lp;
    }
    total[i] = h;
    aleatoric[i] = out[i * (C + 1) + C];
    epistemic[i] = Math.max(0, h - aleatoric[i]);
  }
  const s: ClassificationSummary = {
    task: "classification",
    s: S,
    n,
    c: C,
    logProbs,
    probs,
    total,
    aleatoric,
    epistemic,
    totalMean: mean(total),
    aleatoricMean: mean(aleatoric),
    epistemicMean: mean(epistemic),
  };
  if (targets) s.metrics = classificationMetrics(s, targets);
  return s;
}

function regressionSummary(
  out: Float64Array,
  n: number,
  S: number,
  yMean: number,
  yStd: number,
  opts: RegressionOptions,
  targets?: ArrayLike<number>,
): RegressionSummary {
  const cols = targets ? 4 : 3;
  const m = new Float64Array(n), ale = new Float64Array(n), epi = new Float64Array(n);
  const tot = new Float64Array(n);
  const v2 = yStd * yStd;
  for (let i = 0; i < n; i++) {
    m[i] = yMean + yStd * out[i * cols];
    ale[i] = v2 * out[i * cols + 1];
    epi[i] = v2 * out[i * cols + 2];
    tot[i] = ale[i] + epi[i];
  }
  const s: RegressionSummary = {
    task: "regression",
    s: S,
    n,
    mean: m,
    aleatoricVar: ale,
    epistemicVar: epi,
    totalVar: tot,
    aleatoricVarMean: mean(ale),
    epistemicVarMean: mean(epi),
    totalVarMean: mean(tot),
  };
  if (targets) {
    const ll = new Float64Array(n);
    let sum = 0, se = 0;
    for (let i = 0; i < n; i++) {
      ll[i] = out[i * cols + 3] - Math.log(yStd);
      sum += ll[i];
      const y = opts.targetsStandardized ? yMean + yStd * targets[i] : targets[i];
      se += (y - m[i]) ** 2;
    }
    s.logLik = ll;
    s.metrics = {
      n,
      logLikSum: sum,
      logLikMean: sum / n,
      rmse: Math.sqrt(se / n),
      aleatoricVarMean: s.aleatoricVarMean,
      epistemicVarMean: s.epistemicVarMean,
      totalVarMean: s.totalVarMean,
    };
  }
  return s;
}

/**
 * Predicts `inputs` (plain arrays accepted, {@linkcode InputsLike}) and
 * reads the per-sample predictions into host arrays `{ data, shape }` (what
 * the `uncertainty` functions take), freeing the tensors. Holds all
 * `[S, N, C]` values: use {@linkcode predictSummary} for large inputs.
 *
 * @example
 * ```ts
 * import { classificationUncertainty, initBackend, predictHost } from "@bayes/nn";
 * import { buildMcDropout } from "@bayes/nn/methods/mc_dropout";
 * await initBackend({ backend: "wasm", quiet: true });
 * const m = buildMcDropout({ inputDim: 2, hidden: [8], outputDim: 3, task: "classification" });
 * m.init(0);
 * const p = await predictHost(m, [[0, 1], [1, 0]], { samples: 5 });
 * if (p.task === "classification") console.log(classificationUncertainty(p.logProbs).epistemic);
 * ```
 */
export async function predictHost(
  method: Method,
  inputs: InputsLike,
  opts: { samples?: number; seed?: number } = {},
): Promise<HostPrediction> {
  const x = toInputs(inputs, method.spec.inputDim);
  let p: Prediction;
  try {
    p = method.predict(x, { samples: opts.samples, seed: opts.seed });
  } finally {
    x.dispose();
  }
  try {
    return await readPrediction(p);
  } finally {
    disposePrediction(p);
  }
}
