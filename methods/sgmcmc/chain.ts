/**
 * The machinery shared by SGLD, pSGLD and SGHMC: the network parameters,
 * one gradient evaluation per step, the fused per-tensor update run on the
 * tensors' own memory, the step-size schedule, sample collection in
 * `endEpoch`, prediction by averaging over stored samples, state for
 * checkpoints (incl. the RNG, so resume continues the chain exactly), and the
 * weight/pruning study hooks.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { resolve } from "node:path";
import { checkPredictInput, nllSum, stackPrediction } from "../../core/likelihood.ts";
import type {
  Method,
  MethodState,
  NetSpec,
  Prediction,
  PredictOptions,
  StepInfo,
  StepResult,
  TensorBatch,
} from "../../core/method.ts";
import {
  hasGlobalNoise,
  initLayers,
  layerShapes,
  mlpForward,
  validateSpec,
} from "../../core/mlp.ts";
import { ParamSet } from "../../core/params.ts";
import { Rng } from "../../core/rng.ts";
import type { HostTensor } from "../../core/safetensors.ts";
import { tensorFromFill } from "../../core/tensor_io.ts";
import { InlineNoise, type NoiseSource, WorkerNoise } from "./noise.ts";
import { type SampleLayout, SampleStore, type WeightSample } from "./sample_store.ts";
import { checkSchedule, collectsAt, scheduleAt, type ScheduleSettings } from "./schedule.ts";

/** Settings every SG-MCMC method has (after defaults). */
export interface ChainSettings extends ScheduleSettings {
  /** Standard deviation σ of the Gaussian prior on weights and biases (> 0). */
  priorSig: number;
  /** Epochs before the first sample is collected (≥ 0). */
  burnIn: number;
  /** Collect a sample every `sampleFreq` epochs after burn-in (≥ 1). */
  sampleFreq: number;
  /** Most samples kept; the oldest is dropped beyond it (the reference's `N_saves` = 100). */
  maxSamples: number;
  /** Samples kept in memory when streaming to `sampleDir`. */
  memorySamples: number;
  /** Folder the samples are streamed to (`sample_0007.safetensors`); none = memory only. */
  sampleDir?: string;
  /** Inject the sampler noise (false turns the sampler into its optimizer). */
  noise: boolean;
  /**
   * Draw each step's Gaussian noise one step ahead on a worker thread (same
   * draws, faster; call `dispose()` when done, a live worker keeps the process
   * running). Default false.
   */
  noiseWorker?: boolean;
  /**
   * Homoscedastic regression only: fixes the noise standard deviation (in
   * standardised units) instead of sampling log σ (which has a flat prior).
   */
  noiseStd?: number;
}

/** What the sampler-specific part receives for each step. */
export interface StepContext {
  /** Step size ε_t from the schedule. */
  lr: number;
  /** N/n. */
  gradScale: number;
  /** Whether to inject noise this step. */
  noise: boolean;
  /**
   * False in the exploration stage of a cyclical schedule (an optimisation
   * phase: no noise, no samples); true otherwise.
   */
  sampling: boolean;
  /** Zero-based global step. */
  t: number;
  /** Zero-based epoch. */
  epoch: number;
  /** The chain's random stream (momentum and prior draws). */
  rng: Rng;
  /** This step's N(0, 1) noise for tensor `index` (when `noise` is on). */
  xi(index: number): Float32Array | undefined;
}

/** The sampler-specific part of an SG-MCMC method. */
export interface SamplerCore {
  /** Allocates per-tensor state for the parameters in `layout`. */
  reset(layout: SampleLayout, settings: ChainSettings): void;
  /**
   * Called once per step with the current parameters and gradients (views
   * valid only during the call); may change `ctx.gradScale` (clipping).
   */
  prepare?(
    ctx: StepContext,
    views: () => { theta: Float32Array[]; grads: Float32Array[] },
  ): void;
  /** Writes the updated values of tensor `name` into `out` (noise: `ctx.xi(index)`). */
  update(
    name: string,
    index: number,
    out: Float32Array,
    theta: Float32Array,
    grad: Float32Array,
    ctx: StepContext,
  ): void;
  /** Extra per-step scalars for the training history (e.g. prior std). */
  report?(): Record<string, number>;
  /** State tensors (keys prefixed `opt/`). */
  stateTensors(): Record<string, HostTensor>;
  /** JSON state. */
  stateExtra(): Record<string, unknown>;
  /** Restores {@linkcode SamplerCore.stateTensors} and {@linkcode SamplerCore.stateExtra}. */
  setState(tensors: Record<string, HostTensor>, extra: Record<string, unknown>): void;
}

/** An SG-MCMC method: a {@linkcode Method} with its sample store exposed. */
export type SgmcmcMethod = Method & {
  /** The collected samples. */
  readonly store: SampleStore;
  /** Current chain position as host arrays (`l0.w`, …). */
  current(): WeightSample;
  /** `k` stored samples (evenly spaced over the chain, newest included). */
  sampleWeights(k: number, seed?: number): Record<string, Float32Array>[];
  /** |mean of the stored samples| per weight matrix. */
  pruningScores(): Record<string, Float32Array>;
  /** Zeroes masked weights in the chain and every stored sample. */
  applyPruningMask(keep: Record<string, Uint8Array>): void;
};

// deno-lint-ignore no-explicit-any
type AnyBackend = any;

/** A view on a tensor's values: its own wasm-heap memory, or a host copy elsewhere. */
function view(t: tf.Tensor): Float32Array {
  if (tf.getBackend() === "wasm") {
    return (tf.backend() as AnyBackend).typedArrayFromHeap(t) as Float32Array;
  }
  return t.dataSync() as Float32Array;
}

/**
 * Indices of `k` samples out of `count`: evenly spaced, ending at the newest;
 * with `k > count` samples repeat (each about `k/count` times).
 *
 * @example
 * ```ts
 * import { pickSamples } from "@bayes/nn/methods/sgld";
 * pickSamples(10, 3); // [3, 6, 9]
 * ```
 */
export function pickSamples(count: number, k: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < k; i++) out.push(count - 1 - Math.floor((i * count) / k));
  return out.reverse();
}

/** Validates the shared settings, naming the bad one. */
export function checkChainSettings(s: ChainSettings): void {
  checkSchedule(s);
  if (!(s.priorSig > 0) || !Number.isFinite(s.priorSig)) {
    throw new RangeError(`prior_sig must be a finite number > 0, found ${s.priorSig}`);
  }
  if (!Number.isInteger(s.burnIn) || s.burnIn < 0) {
    throw new RangeError(`burn_in must be a non-negative integer of epochs, found ${s.burnIn}`);
  }
  if (!Number.isInteger(s.sampleFreq) || s.sampleFreq < 1) {
    throw new RangeError(`sample_freq must be an integer ≥ 1 (epochs), found ${s.sampleFreq}`);
  }
  if (!Number.isInteger(s.maxSamples) || s.maxSamples < 1) {
    throw new RangeError(`max_samples must be a positive integer, found ${s.maxSamples}`);
  }
  if (!Number.isInteger(s.memorySamples) || s.memorySamples < 0) {
    throw new RangeError(`memory_samples must be a non-negative integer, found ${s.memorySamples}`);
  }
  if (s.noiseStd !== undefined && !(s.noiseStd > 0)) {
    throw new RangeError(`noise_std must be > 0 when given, found ${s.noiseStd}`);
  }
}

/**
 * Checks that a run of `epochs` epochs collects at least one sample.
 *
 * @example
 * ```ts
 * import { checkBurnIn } from "@bayes/nn/methods/sgld";
 * checkBurnIn(20, 250); // fine
 * ```
 */
export function checkBurnIn(burnIn: number, epochs: number): void {
  if (burnIn >= epochs) {
    throw new RangeError(
      `burn_in (${burnIn} epochs) must be smaller than epochs (${epochs}): no sample would be collected`,
    );
  }
}

/**
 * Builds an SG-MCMC method from its sampler core. Used by
 * `methods/sgld.ts` and `methods/sghmc.ts`.
 *
 * @example
 * ```ts
 * import { buildSgld } from "@bayes/nn/methods/sgld";
 * const m = buildSgld({ inputDim: 4, hidden: [8], outputDim: 3, task: "classification" });
 * m.init(0);
 * ```
 */
export function buildChain(
  name: string,
  spec: NetSpec,
  settings: ChainSettings,
  core: SamplerCore,
): SgmcmcMethod {
  validateSpec(spec);
  checkChainSettings(settings);
  if (settings.noiseStd !== undefined && !hasGlobalNoise(spec)) {
    throw new RangeError("noise_std applies to homoscedastic regression networks only");
  }
  const s: ChainSettings = {
    ...settings,
    sampleDir: settings.sampleDir ? resolve(settings.sampleDir) : undefined,
  };
  const nLayers = spec.hidden.length + 1;
  const sampledNoise = hasGlobalNoise(spec) && s.noiseStd === undefined;
  const layout: SampleLayout = layerShapes(spec).map((p) => ({ name: p.name, shape: p.shape }));
  if (sampledNoise) layout.push({ name: "log_noise", shape: [] });
  const store = new SampleStore({
    layout,
    maxSamples: s.maxSamples,
    memorySamples: s.memorySamples,
    dir: s.sampleDir,
  });
  const fixedLogNoise = s.noiseStd !== undefined ? Math.log(s.noiseStd) : undefined;
  let params: ParamSet | undefined;
  let rng = new Rng(0);
  // The noise stream: its state, and a source started lazily at the first noisy step (so
  // loading a model to predict never starts a worker thread).
  let noiseState: number[] = new Rng(0).getState();
  let noiseSrc: NoiseSource | undefined;
  const noiseSource = (): NoiseSource => {
    noiseSrc ??= s.noiseWorker
      ? new WorkerNoise(totalSize, noiseState)
      : new InlineNoise(totalSize, noiseState);
    return noiseSrc;
  };
  const resetNoise = (state: number[]) => {
    noiseSrc?.dispose();
    noiseSrc = undefined;
    noiseState = state;
  };
  const sizes = layout.map((l) => l.shape.reduce((a, b) => a * b, 1));
  const offsets = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
  const totalSize = sizes.reduce((a, b) => a + b, 0);
  let pruneMask: Record<string, Uint8Array> | undefined;
  let checkedEpochs = -1;

  const need = (): ParamSet => {
    if (!params) throw new Error(`${name}: call init(seed) before step/predict`);
    return params;
  };
  const layersOf = (get: (n: string) => tf.Tensor) => ({
    w: Array.from({ length: nLayers }, (_, i) => get(`l${i}.w`) as tf.Tensor2D),
    b: Array.from({ length: nLayers }, (_, i) => get(`l${i}.b`) as tf.Tensor1D),
  });
  const masked = (sample: WeightSample): WeightSample => {
    if (!pruneMask) return sample;
    const out: WeightSample = { ...sample };
    for (const [k, m] of Object.entries(pruneMask)) {
      const d = sample[k].slice();
      for (let j = 0; j < d.length; j++) if (!m[j]) d[j] = 0;
      out[k] = d;
    }
    return out;
  };
  const current = (): WeightSample => {
    const p = need();
    const out: WeightSample = {};
    for (const { name: n } of layout) out[n] = p.get(n).dataSync().slice() as Float32Array;
    return out;
  };
  const scheduleOf = (info: StepInfo) => ({
    t: info.epoch * info.batchesPerEpoch + info.step,
    total: Math.max(1, info.epochs * info.batchesPerEpoch),
  });

  const method: SgmcmcMethod = {
    name,
    spec,
    settings: { ...s },
    get defaultSamples(): number {
      return Math.max(1, store.count);
    },
    store,
    init(seed: number) {
      params?.dispose();
      rng = new Rng(seed);
      const host = initLayers(spec, rng);
      if (sampledNoise) host.log_noise = { data: new Float32Array([Math.log(0.5)]), shape: [] };
      params = new ParamSet(host, true, name);
      resetNoise(rng.fork(2).getState());
      rng = rng.fork(1);
      core.reset(layout, s);
      store.clear();
      pruneMask = undefined;
    },
    step(batch: TensorBatch, info: StepInfo): StepResult {
      const p = need();
      if (info.epochs !== checkedEpochs) {
        checkBurnIn(s.burnIn, info.epochs);
        checkedEpochs = info.epochs;
      }
      const sched = scheduleAt(s, scheduleOf(info));
      const noiseOn = s.noise && sched.sampling;
      let block: Float32Array | undefined;
      const ctx: StepContext = {
        lr: sched.lr,
        gradScale: info.datasetSize / batch.n,
        noise: noiseOn,
        sampling: sched.sampling,
        t: info.epoch * info.batchesPerEpoch + info.step,
        epoch: info.epoch,
        rng,
        xi: (i: number) => {
          if (!noiseOn) return undefined;
          block ??= noiseSource().next();
          return block.subarray(offsets[i], offsets[i] + sizes[i]);
        },
      };
      const vars = layout.map((l) => p.get(l.name));
      const logNoise = sampledNoise ? p.get("log_noise") : undefined;
      let errors: tf.Tensor | undefined;
      const { value, grads } = tf.variableGrads(() =>
        tf.tidy(() => {
          const out = mlpForward(layersOf((n) => p.get(n)), batch.x);
          if (spec.task === "classification") {
            errors = tf.keep(tf.sum(tf.notEqual(tf.argMax(out, 1), batch.y.reshape([-1]))));
          }
          const ln = logNoise ??
            (fixedLogNoise !== undefined ? tf.scalar(fixedLogNoise) : undefined);
          return nllSum(spec, out, batch.y, ln);
        }), vars);
      const gradList = vars.map((v) => grads[v.name]);
      core.prepare?.(ctx, () => ({ theta: vars.map(view), grads: gradList.map(view) }));
      vars.forEach((v, i) => {
        const next = tensorFromFill(v.shape, (out) => {
          core.update(layout[i].name, i, out, view(v), view(gradList[i]), ctx);
        });
        v.assign(next as tf.Tensor);
        next.dispose();
      });
      const loss = value.dataSync()[0] / batch.n;
      value.dispose();
      tf.dispose(gradList);
      const r: StepResult = { loss, lr: sched.lr, ...core.report?.() };
      if (errors) {
        r.errors = errors.dataSync()[0] / batch.n;
        errors.dispose();
      }
      return r;
    },
    async endEpoch(epoch: number, info: StepInfo): Promise<void> {
      const endClock = scheduleOf({ ...info, step: info.batchesPerEpoch - 1 });
      const sampling = scheduleAt(s, endClock).sampling;
      if (collectsAt(epoch, s, sampling)) await store.add(current(), epoch);
    },
    predict(x: tf.Tensor2D, opts: PredictOptions = {}): Prediction {
      const p = need();
      const k = opts.samples ?? method.defaultSamples;
      checkPredictInput(spec, x, k);
      const chunk = opts.chunk ?? 2000;
      const picks = store.count ? pickSamples(store.count, k) : new Array(k).fill(-1);
      const outs: tf.Tensor2D[] = [];
      let cached = -2;
      let weights: Record<string, tf.Tensor> | undefined;
      const release = () => {
        if (weights) tf.dispose(Object.values(weights));
        weights = undefined;
      };
      try {
        for (const idx of picks) {
          if (idx === cached && outs.length) {
            outs.push(outs[outs.length - 1].clone());
            continue;
          }
          {
            release();
            if (idx < 0) {
              weights = Object.fromEntries(layout.map((l) => [l.name, p.get(l.name).clone()]));
            } else {
              const smp = masked(store.get(idx));
              weights = Object.fromEntries(
                layout.map((l) => [l.name, tf.tensor(smp[l.name], l.shape, "float32")]),
              );
            }
            cached = idx;
          }
          const w = weights!;
          outs.push(tf.tidy(() => {
            const parts: tf.Tensor2D[] = [];
            for (let start = 0; start < x.shape[0]; start += chunk) {
              const size = Math.min(chunk, x.shape[0] - start);
              const xc = size === x.shape[0] ? x : tf.slice(x, [start, 0], [size, -1]);
              parts.push(mlpForward(layersOf((n) => w[n]), xc as tf.Tensor2D));
            }
            let out = parts.length === 1 ? parts[0] : tf.concat(parts, 0) as tf.Tensor2D;
            if (hasGlobalNoise(spec)) {
              const ln = w.log_noise ?? tf.scalar(fixedLogNoise!);
              out = tf.concat([out, tf.mul(tf.onesLike(out), ln)], 1) as tf.Tensor2D;
            }
            return out;
          }));
        }
      } finally {
        release();
      }
      const stackSpec: NetSpec = hasGlobalNoise(spec)
        ? { ...spec, noise: "heteroscedastic" }
        : spec;
      return stackPrediction(stackSpec, outs);
    },
    async getState(): Promise<MethodState> {
      const p = need();
      const st = store.toState();
      const tensors: Record<string, HostTensor> = {
        ...p.toHost(),
        ...core.stateTensors(),
        ...st.tensors,
      };
      if (pruneMask) {
        for (const [k, m] of Object.entries(pruneMask)) {
          tensors[`mask/${k}`] = { data: Float32Array.from(m), shape: [m.length] };
        }
      }
      await Promise.resolve();
      return {
        tensors,
        extra: {
          rng: rng.getState(),
          noise: noiseSrc?.getState() ?? noiseState,
          store: st.extra,
          sampler: core.stateExtra(),
        },
      };
    },
    async setState(state: MethodState): Promise<void> {
      if (!params) method.init(0);
      params!.assign(state.tensors, "", name);
      core.setState(state.tensors, (state.extra.sampler ?? {}) as Record<string, unknown>);
      if (Array.isArray(state.extra.rng)) rng.setState(state.extra.rng as number[]);
      if (Array.isArray(state.extra.noise)) resetNoise(state.extra.noise as number[]);
      store.fromState(state.tensors, (state.extra.store ?? {}) as Record<string, unknown>);
      const masks = Object.entries(state.tensors).filter(([k]) => k.startsWith("mask/"));
      pruneMask = masks.length
        ? Object.fromEntries(masks.map(([k, t]) => [k.slice(5), Uint8Array.from(t.data)]))
        : undefined;
      await Promise.resolve();
    },
    dispose() {
      params?.dispose();
      params = undefined;
      resetNoise(noiseState);
    },
    current,
    sampleWeights(k: number): Record<string, Float32Array>[] {
      if (!Number.isInteger(k) || k < 1) {
        throw new RangeError(`sampleWeights: k must be a positive integer, found ${k}`);
      }
      if (!store.count) return Array.from({ length: k }, () => current());
      return pickSamples(store.count, k).map((i) => {
        const smp = masked(store.get(i));
        return Object.fromEntries(layout.map((l) => [l.name, smp[l.name].slice()]));
      });
    },
    pruningScores(): Record<string, Float32Array> {
      const out: Record<string, Float32Array> = {};
      const n = store.count;
      for (let i = 0; i < nLayers; i++) out[`l${i}.w`] = new Float32Array(0);
      const sets = n ? Array.from({ length: n }, (_, j) => masked(store.get(j))) : [current()];
      for (let i = 0; i < nLayers; i++) {
        const key = `l${i}.w`;
        const acc = new Float64Array(sets[0][key].length);
        for (const smp of sets) for (let j = 0; j < acc.length; j++) acc[j] += smp[key][j];
        out[key] = Float32Array.from(acc, (v) => Math.abs(v / sets.length));
      }
      return out;
    },
    applyPruningMask(keep: Record<string, Uint8Array>): void {
      const p = need();
      for (const [k, m] of Object.entries(keep)) {
        if (!/^l\d+\.w$/.test(k) || !p.vars.has(k)) {
          throw new RangeError(`pruning mask names "${k}", expected a weight matrix l<i>.w`);
        }
        const size = p.get(k).size;
        if (m.length !== size) {
          throw new RangeError(`pruning mask for ${k} has ${m.length} entries, expected ${size}`);
        }
      }
      const merged: Record<string, Uint8Array> = { ...(pruneMask ?? {}) };
      for (const [k, m] of Object.entries(keep)) {
        const prev = merged[k];
        merged[k] = prev
          ? Uint8Array.from(m, (v, j) => (v && prev[j] ? 1 : 0))
          : Uint8Array.from(m);
      }
      pruneMask = merged;
      for (const [k, m] of Object.entries(keep)) {
        const v = p.get(k);
        const data = v.dataSync().slice() as Float32Array;
        for (let j = 0; j < data.length; j++) if (!m[j]) data[j] = 0;
        v.assign(tf.tensor(data, v.shape, "float32"));
      }
    },
  };
  return method;
}
