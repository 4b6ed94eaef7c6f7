/**
 * Evaluating a method on a dataset: predictions with S posterior samples,
 * reduced on the device to the test log-likelihood and error (or RMSE), of
 * which only a few numbers are read back (asynchronously).
 *
 * The predictive is the average over samples: for classification
 * `p(y|x) = (1/S) Σ_s softmax_s(x)_y` and the predicted class its argmax;
 * for regression the Gaussian mixture `(1/S) Σ_s N(y; μ_s, σ_s²)`, whose
 * mean gives the RMSE. Regression figures are in original units
 * (`y = yMean + yStd·z`, the log-likelihood with the `− log yStd` Jacobian).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ArrayDataset } from "./data.ts";
import { getEngine } from "./engine/current.ts";
import { disposePrediction } from "./likelihood.ts";
import type { Method, Prediction } from "./method.ts";

/** Standardisation of regression targets, to report metrics in original units. */
export interface TargetScale {
  /** Mean subtracted from the targets. */
  yMean: number;
  /** Standard deviation the targets were divided by. */
  yStd: number;
}

/** Metrics of {@linkcode evaluate}. */
export interface EvalResult {
  /** Examples evaluated. */
  n: number;
  /** Test log-likelihood per example (original units for regression). */
  logLikMean: number;
  /** Test log-likelihood summed over the set. */
  logLikSum: number;
  /** Classification error in percent. */
  errorPct?: number;
  /** Regression RMSE in original units. */
  rmse?: number;
}

/**
 * Inputs of a dataset as a `[n, features]` tensor.
 *
 * @example
 * ```ts
 * import { datasetInputs } from "./evaluate.ts";
 * const x = datasetInputs({ x: new Float32Array(6), y: new Int32Array(2), n: 2, xShape: [3], yShape: [] });
 * ```
 */
export function datasetInputs(ds: ArrayDataset): tf.Tensor2D {
  return tf.tensor2d(ds.x, [ds.n, ds.x.length / Math.max(ds.n, 1)]);
}

/**
 * Predicts the whole dataset with `samples` posterior samples (tensors on
 * the backend's device; dispose with `disposePrediction`).
 *
 * @example
 * ```ts
 * import { predictDataset } from "@bayes/nn";
 * // const pred = predictDataset(method, testSet, 100);
 * ```
 */
export function predictDataset(
  method: Method,
  ds: ArrayDataset,
  samples = method.defaultSamples,
  seed = 0,
): Prediction {
  return withInputs(ds, (x) => method.predict(x, { samples, seed }));
}

/** `f` of the dataset's inputs as one tensor, freed afterwards. */
function withInputs<T>(ds: ArrayDataset, f: (x: tf.Tensor2D) => T): T {
  const x = datasetInputs(ds);
  try {
    return f(x);
  } finally {
    x.dispose();
  }
}

/** A prediction as host arrays (one asynchronous read per tensor). */
export type HostPrediction =
  | { task: "classification"; logProbs: { data: Float32Array; shape: number[] } }
  | {
    task: "regression";
    mean: { data: Float32Array; shape: number[] };
    logSigma: { data: Float32Array; shape: number[] };
  };

/**
 * Reads a prediction into host arrays `{ data, shape }` (what the
 * `uncertainty` functions take), without a synchronous GPU read.
 *
 * @example
 * ```ts
 * import { readPrediction } from "@bayes/nn";
 * // const host = await readPrediction(method.predict(x, { samples: 100 }));
 * ```
 */
export async function readPrediction(p: Prediction): Promise<HostPrediction> {
  const engine = getEngine();
  const read = async (t: tf.Tensor) => ({ data: await engine.read(t), shape: [...t.shape] });
  if (p.task === "classification") return { task: p.task, logProbs: await read(p.logProbs) };
  return { task: p.task, mean: await read(p.mean), logSigma: await read(p.logSigma) };
}

/**
 * Log-likelihood sum and error count (classification) or squared error sum
 * (regression, standardised units) of a prediction, as a `[2]` tensor.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { predictionScores } from "./evaluate.ts";
 * const lp = tf.log(tf.tensor3d([[[0.9, 0.1], [0.2, 0.8]]]));
 * predictionScores({ task: "classification", logProbs: lp }, tf.tensor1d([0, 0], "int32")); // [log 0.9 + log 0.2, 1]
 * ```
 */
export function predictionScores(p: Prediction, y: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    if (p.task === "classification") {
      const S = p.logProbs.shape[0], C = p.logProbs.shape[2];
      const logMean = tf.sub(tf.logSumExp(p.logProbs, 0), Math.log(S)); // [N, C]
      const labels = y.reshape([-1]).toInt() as tf.Tensor1D;
      const ll = tf.sum(tf.mul(logMean, tf.oneHot(labels, C)));
      const wrong = tf.sum(tf.cast(tf.notEqual(tf.argMax(logMean, -1), labels), "float32"));
      return tf.stack([ll, wrong]) as tf.Tensor1D;
    }
    const S = p.mean.shape[0];
    const z = y.reshape([1, -1, 1]);
    const logSig = p.logSigma;
    const r = tf.mul(tf.sub(z, p.mean), tf.exp(tf.neg(logSig)));
    const logN = tf.sub(
      tf.neg(tf.add(logSig, tf.mul(0.5, tf.square(r)))),
      0.5 * Math.log(2 * Math.PI),
    );
    const ll = tf.sum(tf.sub(tf.logSumExp(logN, 0), Math.log(S)));
    const sq = tf.sum(tf.square(tf.sub(tf.mean(p.mean, 0), z.reshape([-1, 1]))));
    return tf.stack([ll, sq]) as tf.Tensor1D;
  });
}

/**
 * Error / RMSE and test log-likelihood of `method` on `ds`: of its
 * predictive distribution with `samples` posterior samples, or with
 * `mean: true` of its posterior-mean network alone (`Method.predictMean`).
 *
 * @example
 * ```ts
 * import { evaluate } from "@bayes/nn";
 * // const { errorPct, logLikSum } = await evaluate(method, testSet, { samples: 100 });
 * ```
 */
export async function evaluate(
  method: Method,
  ds: ArrayDataset,
  opts: { samples?: number; seed?: number; scale?: TargetScale; mean?: boolean } = {},
): Promise<EvalResult> {
  if (ds.n < 1) throw new RangeError("evaluate: the dataset is empty");
  if (opts.mean && !method.predictMean) {
    throw new RangeError(`evaluate: ${method.name} has no posterior-mean network (predictMean)`);
  }
  const pred = opts.mean
    ? withInputs(ds, (x) => method.predictMean!(x))
    : predictDataset(method, ds, opts.samples ?? method.defaultSamples, opts.seed ?? 0);
  const y = pred.task === "classification"
    ? tf.tensor1d(ds.y as Int32Array, "int32")
    : tf.tensor1d(ds.y as Float32Array);
  let scores: tf.Tensor1D;
  try {
    scores = predictionScores(pred, y);
  } finally {
    disposePrediction(pred);
    y.dispose();
  }
  const [a, b] = await getEngine().read(scores);
  scores.dispose();
  const n = ds.n;
  if (pred.task === "classification") {
    return { n, logLikMean: a / n, logLikSum: a, errorPct: (100 * b) / n };
  }
  const yStd = opts.scale?.yStd ?? 1;
  const ll = a - n * Math.log(yStd);
  return { n, logLikMean: ll / n, logLikSum: ll, rmse: yStd * Math.sqrt(b / n) };
}
