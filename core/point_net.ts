/**
 * A network trained to a point estimate with a tfjs optimizer, optionally
 * with (MC) dropout on the hidden activations. MAP, MC dropout and each
 * bootstrap-ensemble member are this, with different settings.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { nllSum, predictInChunks } from "./likelihood.ts";
import type {
  Method,
  MethodState,
  NetSpec,
  Prediction,
  PredictOptions,
  StepResult,
  TensorBatch,
} from "./method.ts";
import { hasGlobalNoise, initLayers, type LayerTensors, mlpForward, validateSpec } from "./mlp.ts";
import {
  assignHost,
  makeOptimizer,
  type OptimizerName,
  optimizerState,
  ParamSet,
  setOptimizerState,
} from "./params.ts";
import { Rng } from "./rng.ts";
import { dropoutMask, toFloat32 } from "./tensor_io.ts";

/** Settings shared by point-estimate networks. */
export interface PointNetSettings {
  /** Learning rate (> 0). */
  lr: number;
  /** L2 penalty `weightDecay/2·‖θ‖²` added to the summed minibatch NLL (≥ 0). */
  weightDecay: number;
  /** Update rule. */
  optimizer: OptimizerName;
  /** Momentum for `optimizer: "momentum"`. */
  momentum: number;
  /** Dropout rate on hidden activations in training (0 = none). */
  dropout: number;
  /** Keep dropout on at prediction (MC dropout). */
  mcPredict: boolean;
}

/** A point-estimate network method, with its layers exposed. */
export type PointNet = Method & {
  /** Current weights as tensors (for the studies). */
  layers(): LayerTensors;
  /** Weight sets (dropout-masked for MC dropout). */
  sampleWeights(k: number, seed?: number): Record<string, Float32Array>[];
  /** |w| per weight. */
  pruningScores(): Record<string, Float32Array>;
  /** Zeroes the weights whose mask entry is 0. */
  applyPruningMask(keep: Record<string, Uint8Array>): void;
};

/** Validates settings, naming the bad one. */
export function checkPointNetSettings(s: PointNetSettings): void {
  if (!(s.lr > 0)) throw new RangeError(`lr must be > 0, found ${s.lr}`);
  if (!(s.weightDecay >= 0)) {
    throw new RangeError(`weight_decay must be ≥ 0, found ${s.weightDecay}`);
  }
  if (!(s.dropout >= 0 && s.dropout < 1)) {
    throw new RangeError(`dropout rate must be in [0, 1), found ${s.dropout}`);
  }
  if (!(s.momentum >= 0 && s.momentum < 1)) {
    throw new RangeError(`momentum must be in [0, 1), found ${s.momentum}`);
  }
}

/**
 * Builds a point-estimate network method. Used by `methods/map.ts` and
 * `methods/mc_dropout.ts`.
 *
 * @example
 * ```ts
 * import { buildPointNet } from "@bayes/nn";
 * const m = buildPointNet("map", { inputDim: 2, hidden: [8], outputDim: 2, task: "classification" }, {
 *   lr: 1e-3, weightDecay: 0, optimizer: "adam", momentum: 0, dropout: 0, mcPredict: false,
 * });
 * ```
 */
export function buildPointNet(name: string, spec: NetSpec, settings: PointNetSettings): PointNet {
  validateSpec(spec);
  checkPointNetSettings(settings);
  let params: ParamSet | undefined;
  let opt: tf.Optimizer | undefined;
  let rng = new Rng(0);
  const keep = 1 - settings.dropout;
  const nLayers = spec.hidden.length + 1;

  const need = () => {
    if (!params || !opt) throw new Error(`${name}: call init(seed) before step/predict`);
    return { params, opt };
  };
  const layersOf = (p: ParamSet): LayerTensors => ({
    w: Array.from({ length: nLayers }, (_, i) => p.get(`l${i}.w`) as tf.Tensor2D),
    b: Array.from({ length: nLayers }, (_, i) => p.get(`l${i}.b`) as tf.Tensor1D),
  });
  const dropoutHook = (r: Rng) => (h: tf.Tensor2D) =>
    tf.mul(h, dropoutMask(h.shape, r, keep)) as tf.Tensor2D;

  return {
    name,
    spec,
    settings: { ...settings },
    defaultSamples: settings.mcPredict && settings.dropout > 0 ? 100 : 1,
    init(seed: number) {
      params?.dispose();
      opt?.dispose();
      rng = new Rng(seed);
      const host = initLayers(spec, rng);
      if (hasGlobalNoise(spec)) {
        host.log_noise = { data: new Float32Array([Math.log(0.5)]), shape: [] };
      }
      params = new ParamSet(host, true, name);
      opt = makeOptimizer(settings);
      rng = rng.fork(1);
    },
    step(batch: TensorBatch): StepResult {
      const { params, opt } = need();
      let errors: tf.Tensor | undefined;
      const vars = params.list();
      const layers = layersOf(params);
      const logNoise = hasGlobalNoise(spec) ? params.get("log_noise") : undefined;
      const { value, grads } = tf.variableGrads(() => {
        const out = mlpForward(
          layers,
          batch.x,
          settings.dropout > 0 ? dropoutHook(rng) : undefined,
        );
        if (spec.task === "classification") {
          errors = tf.keep(tf.sum(tf.notEqual(tf.argMax(out, 1), batch.y.reshape([-1]))));
        }
        let loss = nllSum(spec, out, batch.y, logNoise);
        if (settings.weightDecay > 0) {
          const sq = tf.addN(
            [...layers.w, ...layers.b].map((v: tf.Tensor) => tf.sum(tf.square(v))),
          );
          loss = tf.add(loss, tf.mul(0.5 * settings.weightDecay, sq));
        }
        return loss as tf.Scalar;
      }, vars);
      opt.applyGradients(grads);
      const loss = value.dataSync()[0] / batch.n;
      value.dispose();
      tf.dispose(Object.values(grads));
      const r: StepResult = { loss };
      if (errors) {
        r.errors = errors.dataSync()[0] / batch.n;
        errors.dispose();
      }
      return r;
    },
    predict(x: tf.Tensor2D, opts: PredictOptions = {}): Prediction {
      const { params } = need();
      const samples = opts.samples ?? this.defaultSamples;
      const layers = layersOf(params);
      const r = new Rng(opts.seed ?? 0).fork(7);
      const mc = settings.mcPredict && settings.dropout > 0;
      const logNoise = hasGlobalNoise(spec) ? params.get("log_noise") : undefined;
      return predictInChunks(
        spec,
        x,
        samples,
        opts.chunk ?? 2000,
        (xc) => mlpForward(layers, xc, mc ? dropoutHook(r) : undefined),
        logNoise,
      );
    },
    async getState(): Promise<MethodState> {
      const { params, opt } = need();
      return {
        tensors: { ...params.toHost(), ...(await optimizerState(opt, params)) },
        extra: { rng: rng.getState() },
      };
    },
    async setState(state: MethodState) {
      if (!params) this.init(0);
      params!.assign(state.tensors, "", name);
      opt!.dispose();
      opt = makeOptimizer(settings);
      await setOptimizerState(opt, params!, state.tensors);
      if (Array.isArray(state.extra.rng)) rng.setState(state.extra.rng as number[]);
    },
    dispose() {
      params?.dispose();
      opt?.dispose();
      params = undefined;
      opt = undefined;
    },
    layers(): LayerTensors {
      return layersOf(need().params);
    },
    sampleWeights(k: number, seed = 0): Record<string, Float32Array>[] {
      const host = need().params.toHost();
      const r = new Rng(seed).fork(11);
      const out: Record<string, Float32Array>[] = [];
      for (let s = 0; s < k; s++) {
        const set: Record<string, Float32Array> = {};
        for (let i = 0; i < nLayers; i++) {
          const w = host[`l${i}.w`], b = host[`l${i}.b`];
          const data = w.data.slice();
          if (settings.mcPredict && settings.dropout > 0 && i > 0) {
            // A dropout mask on layer i's inputs is a weight sample with rows
            // zeroed (and the kept rows scaled by 1/keep).
            const [rows, cols] = w.shape;
            for (let row = 0; row < rows; row++) {
              const f = r.uniform() < keep ? 1 / keep : 0;
              for (let c = 0; c < cols; c++) data[row * cols + c] *= f;
            }
          }
          set[`l${i}.w`] = data;
          set[`l${i}.b`] = b.data.slice();
        }
        out.push(set);
      }
      return out;
    },
    pruningScores(): Record<string, Float32Array> {
      const out: Record<string, Float32Array> = {};
      for (let i = 0; i < nLayers; i++) {
        out[`l${i}.w`] = toFloat32(need().params.get(`l${i}.w`)).map(Math.abs);
      }
      return out;
    },
    applyPruningMask(keepMask: Record<string, Uint8Array>): void {
      const { params } = need();
      for (const [name, mask] of Object.entries(keepMask)) {
        const v = params.get(name);
        const data = toFloat32(v);
        if (data.length !== mask.length) {
          throw new RangeError(
            `pruning mask for ${name} has ${mask.length} entries, expected ${data.length}`,
          );
        }
        for (let j = 0; j < data.length; j++) if (!mask[j]) data[j] = 0;
        assignHost(v, data);
      }
    },
  };
}
