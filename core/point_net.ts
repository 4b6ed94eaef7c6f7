/**
 * A network trained to a point estimate, optionally with (MC) dropout on the
 * hidden activations. MAP, MC dropout, each bootstrap-ensemble member and the
 * network under a Laplace approximation are this, with different settings.
 *
 * The math: minimise the summed minibatch negative log-likelihood plus
 * `weightDecay/2·‖θ‖²` (the Gaussian prior of MAP), with one update rule
 * (`core/optim.ts`) applied to θ in one fused pass; with dropout, each hidden
 * unit is kept with probability `1 − rate` and scaled by `1/(1 − rate)`
 * (inverted dropout), in training and — for MC dropout — at prediction,
 * where each posterior sample is one set of masks.
 *
 * State: θ (a parameter vector over the network's layout), the update rule's
 * slots and step count, the dropout noise stream, and an optional pruning
 * mask.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { getEngine } from "./engine/current.ts";
import { scaledTotal } from "./fused_kernels.ts";
import type { Engine, NoiseStream, ParamVec } from "./engine/engine.ts";
import { defineKernel, type Kernel } from "./engine/kernel.ts";
import { appendLogNoise, errorRate, nllSum, predictBatched } from "./likelihood.ts";
import type {
  Method,
  MethodState,
  NetSpec,
  Prediction,
  PredictOptions,
  StepInfo,
  StepResult,
  TensorBatch,
} from "./method.ts";
import {
  forwardLayers,
  hasGlobalNoise,
  initFlat,
  type LayerTensors,
  netLayout,
  validateSpec,
} from "./mlp.ts";
import {
  checkOptimizer,
  LR_SCHEDULES,
  lrScheduleFactor,
  type LrScheduleName,
  type OptimizerName,
  OptimizerState,
  updateRule,
} from "./optim.ts";
import { Rng } from "./rng.ts";
import type { Tensor } from "./tf.ts";
import { hostToFlat, vecFromHost, vecToHost } from "./vectors.ts";

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
  /** Learning-rate schedule over the planned run (default `constant`). */
  lrSchedule?: LrScheduleName;
}

/** A point-estimate network method, with its layers exposed. */
export type PointNet = Method & {
  /**
   * Current weights as tensors (views: do not keep or dispose; training
   * updates them in place, and `tf.clone` of one shares its storage, so copy
   * with `await w.data()` to keep a snapshot).
   */
  layers(): LayerTensors;
  /**
   * Every parameter tensor in layout order (`l0.w, l0.b, …`, then `log_noise`
   * for homoscedastic regression): views, do not keep or dispose.
   */
  parameters(): readonly Tensor[];
  /** Weight sets (dropout-masked for MC dropout). */
  sampleWeights(k: number, seed?: number): Promise<Record<string, Float32Array>[]>;
  /** |w| per weight. */
  pruningScores(): Promise<Record<string, Float32Array>>;
  /** Zeroes the weights whose mask entry is 0 (they stay 0 in further training). */
  applyPruningMask(keep: Record<string, Uint8Array>): void;
};

/** Validates settings, naming the bad one. */
export function checkPointNetSettings(s: PointNetSettings): void {
  checkOptimizer(s);
  if (!(s.weightDecay >= 0)) {
    throw new RangeError(`weight_decay must be ≥ 0, found ${s.weightDecay}`);
  }
  if (!(s.dropout >= 0 && s.dropout < 1)) {
    throw new RangeError(`dropout rate must be in [0, 1), found ${s.dropout}`);
  }
  if (!(s.momentum >= 0 && s.momentum < 1)) {
    throw new RangeError(`momentum must be in [0, 1), found ${s.momentum}`);
  }
  if (s.lrSchedule !== undefined && !LR_SCHEDULES.includes(s.lrSchedule)) {
    throw new RangeError(
      `lr_schedule must be one of ${LR_SCHEDULES.join(", ")}, found "${s.lrSchedule}"`,
    );
  }
}

const updates = new Map<OptimizerName, Kernel>();

/**
 * The update of θ: gradient of the summed NLL plus weight decay, the rule,
 * and the pruning mask (pruned weights stay exactly 0). Sums `wd·θ²` before
 * the update for the reported loss.
 */
function pointUpdate(rule: OptimizerName): Kernel {
  let k = updates.get(rule);
  if (!k) {
    const r = updateRule(rule, "p", "g + wd * p");
    k = defineKernel({
      name: `point_${rule}`,
      inputs: ["g", "keep?"],
      inouts: ["p", ...r.slots],
      scalars: ["wd", ...r.scalars],
      sums: ["wsq"],
      body: `wsq += wd * p * p; ${r.body} p = keep * p;`,
    });
    updates.set(rule, k);
  }
  return k;
}

/** Noise stream purposes of a point network. */
const DROPOUT_NOISE = 1;

/**
 * Builds a point-estimate network method. Used by `methods/map.ts`,
 * `methods/mc_dropout.ts`, the ensemble and the Laplace approximation.
 *
 * @example
 * ```ts
 * import { buildPointNet } from "./point_net.ts";
 * const m = buildPointNet("map", { inputDim: 2, hidden: [8], outputDim: 2, task: "classification" }, {
 *   lr: 1e-3, weightDecay: 0, optimizer: "adam", momentum: 0, dropout: 0, mcPredict: false,
 * });
 * ```
 */
export function buildPointNet(name: string, spec: NetSpec, settings: PointNetSettings): PointNet {
  validateSpec(spec);
  checkPointNetSettings(settings);
  const layout = netLayout(spec);
  const nLayers = spec.hidden.length + 1;
  const keepP = 1 - settings.dropout;
  const mc = settings.mcPredict && settings.dropout > 0;
  const decay = layout.segments.map((s) => (s.name === "log_noise" ? 0 : settings.weightDecay));
  const update = pointUpdate(settings.optimizer);
  interface State {
    engine: Engine;
    theta: ParamVec;
    opt: OptimizerState;
    noise: NoiseStream;
    mask?: ParamVec;
  }
  let st: State | undefined;

  const need = (): State => {
    if (!st) throw new Error(`${name}: call init(seed) before step/predict`);
    return st;
  };
  const release = () => {
    if (!st) return;
    st.theta.dispose();
    st.opt.dispose();
    st.mask?.dispose();
    st = undefined;
  };
  const fresh = (seed: number, theta?: Float32Array): State => {
    release();
    const engine = getEngine();
    const rng = new Rng(seed);
    const values = theta ?? initFlat(spec, layout, rng);
    return {
      engine,
      theta: engine.vector(layout, values),
      opt: new OptimizerState(settings, engine, layout, ["p"]),
      noise: engine.noise(seed, DROPOUT_NOISE),
    };
  };
  const dropout = (noise: NoiseStream) => (h: tf.Tensor) =>
    tf.mul(h, noise.bernoulliTensor(h.shape, keepP, 1 / keepP));
  const logNoiseOf = (ws: readonly tf.Tensor[]) =>
    hasGlobalNoise(spec) ? ws[layout.index("log_noise")] : undefined;

  const method: PointNet = {
    name,
    spec,
    settings: { ...settings },
    defaultSamples: mc ? 100 : 1,
    init(seed: number) {
      st = fresh(seed);
    },
    step(batch: TensorBatch, info: StepInfo): StepResult {
      const s = need();
      const perEpoch = info.batchesPerEpoch;
      const lr = settings.lr * lrScheduleFactor(
        settings.lrSchedule ?? "constant",
        info.epoch * perEpoch + info.step,
        info.epochs * perEpoch,
      );
      let errors: tf.Scalar | undefined;
      const f = (...ws: tf.Tensor[]) => {
        const out = forwardLayers(ws, batch.x, settings.dropout > 0 ? dropout(s.noise) : undefined);
        if (spec.task === "classification") errors = tf.keep(errorRate(out, batch.y));
        return nllSum(spec, out, batch.y, logNoiseOf(ws));
      };
      const { value, grads } = tf.valueAndGrads(f)([...s.theta.tensors]);
      const { sums } = s.engine.run(update, layout, {
        arrays: { g: grads, keep: s.mask, p: s.theta, ...s.opt.slots },
        scalars: { wd: decay, ...s.opt.scalars(lr) },
      });
      const loss = scaledTotal(value, sums!, 0.5, batch.n);
      tf.dispose([value, sums!, ...grads]);
      const r: StepResult = { loss };
      if (errors) r.errors = errors;
      return r;
    },
    predict(x: tf.Tensor2D, opts: PredictOptions = {}): Prediction {
      const s = need();
      const samples = opts.samples ?? method.defaultSamples;
      const ws = s.theta.tensors;
      const noise = s.engine.noise(opts.seed ?? 0, 7);
      const layers = ws.slice(0, 2 * nLayers);
      const ln = logNoiseOf(ws);
      const width = Math.max(...spec.hidden, 1);
      if (!mc) {
        // One weight set: compute once, repeat for the samples asked for.
        return predictBatched(spec, x, 1, { chunk: opts.chunk, width }, () => ({
          forward: (xc) => {
            const out = forwardLayers(layers, xc).expandDims(0);
            const raw = ln ? appendLogNoise(out, ln) : out;
            return samples === 1 ? raw : tf.tile(raw, [samples, 1, 1]);
          },
        }));
      }
      const forward = (xc: tf.Tensor2D, count: number) => {
        // The first layer does not depend on the masks: computed once for all samples, whose
        // copies then travel as extra rows through the rest of the network.
        const rows = xc.shape[0];
        const h0 = tf.relu(tf.add(tf.matMul(xc, layers[0]), layers[1])) as tf.Tensor2D;
        const mask = noise.bernoulliTensor([count, rows, h0.shape[1]], keepP, 1 / keepP);
        let h = tf.mul(h0.expandDims(0), mask).reshape([count * rows, h0.shape[1]]);
        for (let i = 1; i < nLayers; i++) {
          const last = i === nLayers - 1;
          h = tf.fused.matMul({
            a: h as tf.Tensor2D,
            b: layers[2 * i] as tf.Tensor2D,
            bias: layers[2 * i + 1],
            activation: last ? "linear" : "relu",
          });
          if (!last) h = dropout(noise)(h);
        }
        const out = h.reshape([count, rows, -1]);
        return ln ? appendLogNoise(out, ln) : out;
      };
      return predictBatched(
        spec,
        x,
        samples,
        { chunk: opts.chunk, width },
        (_first, count) => ({ forward: (xc) => forward(xc, count) }),
      );
    },
    async getState(): Promise<MethodState> {
      const s = need();
      const tensors = { ...(await vecToHost(s.theta)), ...(await s.opt.toHost()) };
      if (s.mask) Object.assign(tensors, await vecToHost(s.mask, "mask/"));
      return {
        tensors,
        extra: { noise: s.noise.getState(), engine: s.engine.kind },
      };
    },
    setState(state: MethodState): Promise<void> {
      const source = `${name} state`;
      const theta = hostToFlat(layout, state.tensors, "", source);
      const s = fresh(0, theta);
      s.opt.fromHost(state.tensors, s.engine, source);
      if (state.tensors[`mask/${layout.segments[0].name}`]) {
        s.mask = vecFromHost(s.engine, layout, state.tensors, "mask/", source);
      }
      const noise = state.extra.noise;
      if (Array.isArray(noise) && state.extra.engine === s.engine.kind) {
        s.noise.setState(noise as number[]);
      }
      st = s;
      return Promise.resolve();
    },
    dispose() {
      release();
    },
    parameters(): readonly tf.Tensor[] {
      return need().theta.tensors;
    },
    layers(): LayerTensors {
      const ws = need().theta.tensors;
      return {
        w: Array.from({ length: nLayers }, (_, i) => ws[2 * i] as tf.Tensor2D),
        b: Array.from({ length: nLayers }, (_, i) => ws[2 * i + 1] as tf.Tensor1D),
      };
    },
    async sampleWeights(k: number, seed = 0): Promise<Record<string, Float32Array>[]> {
      const host = await need().theta.toSegments();
      const r = new Rng(seed).fork(11);
      const out: Record<string, Float32Array>[] = [];
      for (let s = 0; s < k; s++) {
        const set: Record<string, Float32Array> = {};
        for (let i = 0; i < nLayers; i++) {
          const w = host[`l${i}.w`];
          const data = w.slice();
          if (mc && i > 0) {
            // A dropout mask on layer i's inputs is a weight sample with rows
            // zeroed (and the kept rows scaled by 1/keep).
            const cols = layout.get(`l${i}.w`).shape[1];
            for (let row = 0; row < data.length / cols; row++) {
              const f = r.uniform() < keepP ? 1 / keepP : 0;
              for (let c = 0; c < cols; c++) data[row * cols + c] *= f;
            }
          }
          set[`l${i}.w`] = data;
          set[`l${i}.b`] = host[`l${i}.b`].slice();
        }
        out.push(set);
      }
      return out;
    },
    async pruningScores(): Promise<Record<string, Float32Array>> {
      const host = await need().theta.toSegments();
      const out: Record<string, Float32Array> = {};
      for (let i = 0; i < nLayers; i++) out[`l${i}.w`] = host[`l${i}.w`].map(Math.abs);
      return out;
    },
    applyPruningMask(keepMask: Record<string, Uint8Array>): void {
      const s = need();
      const flat = new Float32Array(layout.total).fill(1);
      for (const [key, m] of Object.entries(keepMask)) {
        const seg = layout.get(key);
        if (m.length !== seg.size) {
          throw new RangeError(
            `pruning mask for ${key} has ${m.length} entries, expected ${seg.size}`,
          );
        }
        for (let j = 0; j < seg.size; j++) flat[seg.off + j] = m[j] ? 1 : 0;
      }
      const mask = s.engine.vector(layout, flat);
      if (s.mask) {
        s.engine.run(MASK_AND, layout, { arrays: { m: s.mask, k: mask } });
        mask.dispose();
      } else s.mask = mask;
      s.engine.run(APPLY_MASK, layout, { arrays: { keep: s.mask, p: s.theta } });
    },
  };
  return method;
}

const MASK_AND = defineKernel({
  name: "mask_and",
  inputs: ["k"],
  inouts: ["m"],
  body: "m = m * k;",
});
const APPLY_MASK = defineKernel({
  name: "apply_mask",
  inputs: ["keep"],
  inouts: ["p"],
  body: "p = keep * p;",
});
