/**
 * Likelihoods of the network outputs and conversion of raw outputs into
 * per-sample predictions.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { NetSpec, Prediction } from "./method.ts";
import { hasGlobalNoise } from "./mlp.ts";
import { misclassifiedTotal, softmaxNllSum } from "./fused_kernels.ts";
import { getEngine } from "./engine/current.ts";

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** Mean and log σ of a regression output `[n, 1|2]` (or `[S, n, 1|2]`), each `[…, 1]`. */
export function regressionMoments(
  spec: NetSpec,
  out: tf.Tensor,
  logNoise?: tf.Tensor,
): { mean: tf.Tensor2D; logSigma: tf.Tensor2D } {
  const lead = out.shape.slice(0, -1);
  const zeros = lead.map(() => 0);
  const mean = tf.slice(out, [...zeros, 0], [...lead, 1]) as tf.Tensor2D;
  if (hasGlobalNoise(spec)) {
    if (!logNoise) throw new Error("homoscedastic regression needs the global log_noise parameter");
    return { mean, logSigma: tf.mul(tf.onesLike(mean), logNoise) as tf.Tensor2D };
  }
  return { mean, logSigma: tf.slice(out, [...zeros, 1], [...lead, 1]) as tf.Tensor2D };
}

/**
 * Summed negative log-likelihood of a minibatch: softmax cross-entropy for
 * classification (`y` int32 labels `[n]`), Gaussian NLL for regression (`y`
 * `[n, 1]`, log σ from the second head or the global `logNoise`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { nllSum } from "./likelihood.ts";
 * const spec = { inputDim: 1, hidden: [], outputDim: 2, task: "classification" as const };
 * nllSum(spec, tf.tensor2d([[0, 0]]), tf.tensor1d([1], "int32")); // log 2
 * ```
 */
export function nllSum(
  spec: NetSpec,
  out: tf.Tensor,
  y: tf.Tensor,
  logNoise?: tf.Tensor,
): tf.Scalar {
  return tf.tidy(() => {
    if (spec.task === "classification") return softmaxNllSum(out, y.reshape([-1]));
    const { mean, logSigma } = regressionMoments(spec, out, logNoise);
    const z = tf.mul(tf.sub(y.reshape([-1, 1]), mean), tf.exp(tf.neg(logSigma)));
    const rows = out.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    return tf.add(tf.sum(tf.add(logSigma, tf.mul(0.5, tf.square(z)))), rows * HALF_LOG_2PI);
  });
}

/**
 * The fraction of a minibatch's examples misclassified, as a scalar tensor:
 * outputs `[n, C]` (or `[S, n, C]`, counted per sample and averaged over the
 * S samples), labels `[n]`. One program on the GPU (the division folded into
 * the count).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { errorRate } from "./likelihood.ts";
 * errorRate(tf.tensor2d([[0, 1], [1, 0]]), tf.tensor1d([1, 1], "int32")); // 0.5
 * ```
 */
export function errorRate(out: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const labels = y.reshape([-1]);
    return misclassifiedTotal(out, labels, (out.rank === 3 ? out.shape[0] : 1) * labels.size);
  });
}

/**
 * Stacks per-sample raw outputs `[N, out]` into a {@linkcode Prediction}
 * (`[S, N, C]` log-probabilities, or mean and log σ `[S, N, 1]`). Disposes
 * the inputs.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { stackPrediction } from "./likelihood.ts";
 * const spec = { inputDim: 1, hidden: [], outputDim: 2, task: "classification" as const };
 * const p = stackPrediction(spec, [tf.tensor2d([[0, 0]])]); // logProbs [1, 1, 2]
 * ```
 */
export function stackPrediction(
  spec: NetSpec,
  outs: tf.Tensor2D[],
  logNoise?: tf.Tensor,
): Prediction {
  const result = tf.tidy((): Prediction => {
    if (spec.task === "classification") {
      return {
        task: "classification",
        logProbs: tf.stack(outs.map((o) => tf.logSoftmax(o))) as tf.Tensor3D,
      };
    }
    const ms = outs.map((o) => regressionMoments(spec, o, logNoise));
    return {
      task: "regression",
      mean: tf.stack(ms.map((m) => m.mean)) as tf.Tensor3D,
      logSigma: tf.stack(ms.map((m) => m.logSigma)) as tf.Tensor3D,
    };
  });
  for (const o of outs) o.dispose();
  return result;
}

/**
 * Checks a `predict` call: a positive integer sample count and inputs with
 * the network's feature count (a clear RangeError instead of a shape error
 * from deep inside tfjs).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { checkPredictInput } from "./likelihood.ts";
 * const spec = { inputDim: 2, hidden: [], outputDim: 2, task: "classification" as const };
 * checkPredictInput(spec, tf.ones([3, 2]) as tf.Tensor2D, 10); // fine
 * ```
 */
export function checkPredictInput(spec: NetSpec, x: tf.Tensor2D, samples: number): void {
  if (!Number.isInteger(samples) || samples < 1) {
    throw new RangeError(`samples must be a positive integer, found ${samples}`);
  }
  if (x.shape[1] !== spec.inputDim) {
    throw new RangeError(
      `predict: inputs have ${x.shape[1]} features, the network expects ${spec.inputDim}`,
    );
  }
}

/**
 * Runs `forward(chunk, sampleIndex)` for every sample and row chunk of `x`
 * and assembles a {@linkcode Prediction}. Keeps memory bounded for large N.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { predictInChunks } from "./likelihood.ts";
 * const spec = { inputDim: 2, hidden: [], outputDim: 2, task: "classification" as const };
 * const p = predictInChunks(spec, tf.ones([10, 2]) as tf.Tensor2D, 3, 4, (x) => tf.zeros([x.shape[0], 2]));
 * ```
 */
export function predictInChunks(
  spec: NetSpec,
  x: tf.Tensor2D,
  samples: number,
  chunk: number,
  forward: (x: tf.Tensor2D, sample: number) => tf.Tensor2D,
  logNoise?: tf.Tensor,
): Prediction {
  checkPredictInput(spec, x, samples);
  const n = x.shape[0];
  const parts: Prediction[] = [];
  for (let start = 0; start < n; start += chunk) {
    const size = Math.min(chunk, n - start);
    const xc = start === 0 && size === n ? x : tf.slice(x, [start, 0], [size, -1]) as tf.Tensor2D;
    const outs: tf.Tensor2D[] = [];
    for (let s = 0; s < samples; s++) outs.push(tf.tidy(() => forward(xc, s)));
    parts.push(stackPrediction(spec, outs, logNoise));
    if (xc !== x) xc.dispose();
  }
  if (parts.length === 1) return parts[0];
  const joined = tf.tidy((): Prediction => {
    if (spec.task === "classification") {
      return {
        task: "classification",
        logProbs: tf.concat(parts.map((p) => (p as { logProbs: tf.Tensor3D }).logProbs), 1),
      };
    }
    const rs = parts as Extract<Prediction, { task: "regression" }>[];
    return {
      task: "regression",
      mean: tf.concat(rs.map((p) => p.mean), 1),
      logSigma: tf.concat(rs.map((p) => p.logSigma), 1),
    };
  });
  for (const p of parts) disposePrediction(p);
  return joined;
}

/** Frees the tensors of a prediction. */
export function disposePrediction(p: Prediction): void {
  if (p.task === "classification") p.logProbs.dispose();
  else {
    p.mean.dispose();
    p.logSigma.dispose();
  }
}

/**
 * Appends the log σ column of homoscedastic regression to raw outputs
 * `[S, n, 1]`: `logNoise` is a scalar or one value per sample `[S]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { appendLogNoise } from "./likelihood.ts";
 * appendLogNoise(tf.zeros([2, 3, 1]), tf.tensor1d([0, 1])); // [2, 3, 2]
 * ```
 */
export function appendLogNoise(out: tf.Tensor, logNoise: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const ln = logNoise.rank === 0 ? logNoise : logNoise.reshape([-1, 1, 1]);
    return tf.concat([out, tf.add(tf.zerosLike(out), ln)], -1);
  });
}

/** A chunk of posterior samples ready to run on row chunks of the inputs. */
export interface SampleChunk {
  /** Raw outputs `[count, rows, out]` of the chunk's samples for inputs `[rows, in]`. */
  forward(x: tf.Tensor2D): tf.Tensor;
  /** Frees what the chunk holds (weight samples). */
  dispose?(): void;
}

/**
 * Predicts `samples` posterior samples for inputs `x`, pushing as many
 * samples through one batched forward pass as the engine's memory budget
 * allows, over row chunks. `chunkOf(first, count)` prepares samples
 * `first … first + count − 1` (e.g. draws their weights once, so every row
 * sees the same weight sample) and returns their forward pass. (A callback
 * of three parameters, `(x, first, count) => raw`, is the earlier form: it
 * is called per row chunk.)
 * Homoscedastic regression: outputs carry the log σ column
 * ({@linkcode appendLogNoise}). `width` is the widest layer and
 * `weightsPerSample` the values one sample's weights take (to size passes).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { predictBatched } from "./likelihood.ts";
 * const spec = { inputDim: 2, hidden: [], outputDim: 2, task: "classification" as const };
 * const p = predictBatched(spec, tf.ones([10, 2]) as tf.Tensor2D, 3, { width: 2 },
 *   (_first, count) => ({ forward: (xc) => tf.zeros([count, xc.shape[0], 2]) }));
 * ```
 */
export function predictBatched(
  spec: NetSpec,
  x: tf.Tensor2D,
  samples: number,
  opts: { chunk?: number; width: number; weightsPerSample?: number },
  chunkOf: (first: number, count: number) => SampleChunk,
): Prediction;
/** The earlier form: `forward(x, first, count)` is called per row chunk. */
export function predictBatched(
  spec: NetSpec,
  x: tf.Tensor2D,
  samples: number,
  opts: { chunk?: number; width: number; weightsPerSample?: number },
  forward: (x: tf.Tensor2D, first: number, count: number) => tf.Tensor,
): Prediction;
export function predictBatched(
  spec: NetSpec,
  x: tf.Tensor2D,
  samples: number,
  opts: { chunk?: number; width: number; weightsPerSample?: number },
  chunkOf:
    | ((first: number, count: number) => SampleChunk)
    | ((x: tf.Tensor2D, first: number, count: number) => tf.Tensor),
): Prediction {
  checkPredictInput(spec, x, samples);
  const prepare = chunkOf.length === 3
    ? (first: number, count: number): SampleChunk => ({
      forward: (xc) =>
        (chunkOf as (x: tf.Tensor2D, first: number, count: number) => tf.Tensor)(xc, first, count),
    })
    : chunkOf as (first: number, count: number) => SampleChunk;
  const engine = getEngine();
  const n = x.shape[0];
  const rows = Math.max(1, Math.min(n, opts.chunk ?? engine.predictRows));
  const perSample = rows * Math.max(opts.width, spec.inputDim) + (opts.weightsPerSample ?? 0);
  const k = engine.samplesPerPass(samples, perSample);
  const rawSpec: NetSpec = hasGlobalNoise(spec) ? { ...spec, noise: "heteroscedastic" } : spec;
  const rowStarts: number[] = [];
  for (let start = 0; start < n; start += rows) rowStarts.push(start);
  const xs = rowStarts.map((start) =>
    rowStarts.length === 1
      ? x
      : tf.slice(x, [start, 0], [Math.min(rows, n - start), -1]) as tf.Tensor2D
  );
  const sampleParts: Prediction[] = [];
  try {
    for (let first = 0; first < samples; first += k) {
      const count = Math.min(k, samples - first);
      const chunk = prepare(first, count);
      try {
        const parts = xs.map((xc) => tf.tidy(() => toPrediction(rawSpec, chunk.forward(xc))));
        sampleParts.push(joinPredictions(parts, 1));
      } finally {
        chunk.dispose?.();
      }
    }
  } finally {
    for (const xc of xs) if (xc !== x) xc.dispose();
  }
  return joinPredictions(sampleParts, 0);
}

/** Raw outputs `[S, n, out]` as a prediction (log-softmax, or mean and log σ). */
function toPrediction(spec: NetSpec, raw: tf.Tensor): Prediction {
  if (spec.task === "classification") {
    return { task: "classification", logProbs: tf.logSoftmax(raw) as tf.Tensor3D };
  }
  const { mean, logSigma } = regressionMoments(spec, raw);
  return {
    task: "regression",
    mean: mean as unknown as tf.Tensor3D,
    logSigma: logSigma as unknown as tf.Tensor3D,
  };
}

/** Concatenates predictions along samples (axis 0) or rows (axis 1); disposes the parts. */
function joinPredictions(parts: Prediction[], axis: 0 | 1): Prediction {
  if (parts.length === 1) return parts[0];
  const joined = tf.tidy((): Prediction => {
    if (parts[0].task === "classification") {
      return {
        task: "classification",
        logProbs: tf.concat(parts.map((p) => (p as { logProbs: tf.Tensor3D }).logProbs), axis),
      };
    }
    const rs = parts as Extract<Prediction, { task: "regression" }>[];
    return {
      task: "regression",
      mean: tf.concat(rs.map((p) => p.mean), axis),
      logSigma: tf.concat(rs.map((p) => p.logSigma), axis),
    };
  });
  for (const p of parts) disposePrediction(p);
  return joined;
}
