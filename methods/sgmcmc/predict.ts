/**
 * Prediction of an SG-MCMC chain: its stored samples pushed through the
 * network in batches (`forwardLayers` with `[k, …]` weight tensors built from
 * k stored samples, k from the engine's `samplesPerPass`), or the current
 * chain position before any sample was collected.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Layout, ParamVec } from "../../core/engine/engine.ts";
import {
  appendLogNoise,
  checkPredictInput,
  disposePrediction,
  predictBatched,
  type SampleChunk,
} from "../../core/likelihood.ts";
import type { NetSpec, Prediction } from "../../core/method.ts";
import { forwardLayers, hasGlobalNoise } from "../../core/mlp.ts";
import type { SampleStore, WeightSample } from "./sample_store.ts";

/**
 * Indices of `k` samples out of `count`: evenly spaced, ending at the newest;
 * with `k > count` samples repeat (each about `k/count` times).
 *
 * @example
 * ```ts
 * import { pickSamples } from "./predict.ts";
 * pickSamples(10, 3); // [3, 6, 9]
 * ```
 */
export function pickSamples(count: number, k: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < k; i++) out.push(count - 1 - Math.floor((i * count) / k));
  return out.reverse();
}

/** What {@linkcode predictSamples} needs. */
export interface SamplePredictArgs {
  /** The network. */
  spec: NetSpec;
  /** θ's layout (with `log_noise` when it is sampled). */
  layout: Layout;
  /** The stored samples. */
  store: SampleStore;
  /** Applies the pruning mask to a stored sample. */
  masked: (s: WeightSample) => WeightSample;
  /** The chain position (used while the store is empty). */
  theta: ParamVec;
  /** log σ when it is fixed (`noiseStd`), for homoscedastic regression. */
  fixedLogNoise?: number;
  /** Inputs `[N, inputDim]`. */
  x: tf.Tensor2D;
  /** Posterior samples S (evenly spaced stored samples, the newest included). */
  samples: number;
  /** Rows per forward chunk. */
  chunk?: number;
}

/**
 * Per-sample predictions `[S, N, …]` from the stored samples: sample picks
 * by {@linkcode pickSamples}; each distinct stored sample is computed once
 * (repeats are copies). Homoscedastic regression appends each sample's log σ.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { buildSgld } from "@bayes/nn/methods/sgld";
 * const m = buildSgld({ inputDim: 2, hidden: [4], outputDim: 2, task: "classification" });
 * m.init(0);
 * const p = m.predict(tf.ones([3, 2]) as tf.Tensor2D, { samples: 2 }); // predictSamples inside
 * ```
 */
export function predictSamples(a: SamplePredictArgs): Prediction {
  const { spec, layout, store, x, samples } = a;
  checkPredictInput(spec, x, samples);
  const nLayers = spec.hidden.length + 1;
  const layerSegs = layout.segments.slice(0, 2 * nLayers);
  const width = Math.max(...spec.hidden, 1);
  const homo = hasGlobalNoise(spec);
  if (!store.count) {
    // One weight set (the chain position): computed once, repeated for the samples asked for.
    const ws = a.theta.tensors;
    const ln = homo
      ? (a.fixedLogNoise !== undefined ? undefined : ws[layout.index("log_noise")])
      : undefined;
    return predictBatched(spec, x, 1, { chunk: a.chunk, width }, (): SampleChunk => ({
      forward: (xc: tf.Tensor2D) => {
        const out = forwardLayers(ws.slice(0, 2 * nLayers), xc).expandDims(0);
        const raw = homo ? appendLogNoise(out, ln ?? tf.scalar(a.fixedLogNoise!)) : out;
        return samples === 1 ? raw : tf.tile(raw, [samples, 1, 1]);
      },
    }));
  }
  const picks = pickSamples(store.count, samples);
  const distinct = [...new Set(picks)]; // picks are ascending
  const pred = predictBatched(
    spec,
    x,
    distinct.length,
    { chunk: a.chunk, width, weightsPerSample: layout.total },
    (first: number, count: number): SampleChunk => {
      const sets = distinct.slice(first, first + count).map((i) => a.masked(store.get(i)));
      // One sample: plain weight matrices (the faster rank-2 path); more: a samples dimension.
      const ws = layerSegs.map((g) => {
        if (count === 1) return tf.tensor(sets[0][g.name], [...g.shape], "float32");
        const data = new Float32Array(count * g.size);
        sets.forEach((smp, j) => data.set(smp[g.name], j * g.size));
        return tf.tensor(data, [count, ...g.shape], "float32");
      });
      const ln = !homo
        ? undefined
        : a.fixedLogNoise !== undefined
        ? tf.scalar(a.fixedLogNoise)
        : tf.tensor1d(sets.map((smp) => smp.log_noise[0]));
      return {
        forward: (xc: tf.Tensor2D) => {
          const out = forwardLayers(ws, xc);
          const raw = count === 1 ? out.expandDims(0) : out;
          return ln ? appendLogNoise(raw, ln) : raw;
        },
        dispose: () => tf.dispose(ln ? [...ws, ln] : ws),
      };
    },
  );
  if (distinct.length === samples) return pred;
  // Repeated picks: gather the distinct samples' predictions into the requested order.
  const where = new Map(distinct.map((v, j) => [v, j]));
  const order = tf.tensor1d(picks.map((v) => where.get(v)!), "int32");
  const out = tf.tidy((): Prediction =>
    pred.task === "classification"
      ? { task: "classification", logProbs: tf.gather(pred.logProbs, order) }
      : {
        task: "regression",
        mean: tf.gather(pred.mean, order),
        logSigma: tf.gather(pred.logSigma, order),
      }
  );
  order.dispose();
  disposePrediction(pred);
  return out;
}
