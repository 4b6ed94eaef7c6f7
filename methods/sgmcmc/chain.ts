/**
 * The machinery shared by SGLD, pSGLD and SGHMC, on the parameter engine.
 *
 * State ({@linkcode ChainState}): θ as a parameter vector over the network's
 * layout (with `log_noise` when it is sampled), the sampler's per-parameter
 * slots as vectors, the engine noise stream of the injected noise, the
 * chain's host {@linkcode Rng} (Gibbs draws of SGHMC's prior), an optional
 * pruning mask; the step-size schedule and the {@linkcode SampleStore}.
 *
 * One step: forward and backward through tfjs (`tf.valueAndGrads` on
 * θ's tensors), then the sampler's update kernel (one engine run, fused
 * with its noise). Samples are read asynchronously at the end of collecting
 * epochs; `predict` pushes stored samples through the network in batches;
 * the state (incl. the noise stream and the RNG) makes resume continue the
 * chain exactly.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { resolve } from "node:path";
import { getEngine } from "../../core/engine/current.ts";
import type {
  Engine,
  Layout,
  NoiseBlock,
  NoiseStream,
  ParamVec,
} from "../../core/engine/engine.ts";
import { errorRate, nllSum } from "../../core/likelihood.ts";
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
  forwardLayers,
  hasGlobalNoise,
  initFlat,
  netLayout,
  validateSpec,
} from "../../core/mlp.ts";
import { Rng } from "../../core/rng.ts";
import type { HostTensor } from "../../core/safetensors.ts";
import { hostToFlat, vecToHost } from "../../core/vectors.ts";
import { APPLY_MASK } from "./kernels.ts";
import { pickSamples, predictSamples } from "./predict.ts";
import { type SampleLayout, SampleStore, type WeightSample } from "./sample_store.ts";
import {
  checkSchedule,
  clockAt,
  collectsAtEnd,
  samplesCollected,
  scheduleAt,
  type ScheduleSettings,
} from "./schedule.ts";

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
   * Homoscedastic regression only: fixes the noise standard deviation (in
   * standardised units) instead of sampling log σ (which has a flat prior).
   */
  noiseStd?: number;
}

/** A per-parameter vector of a sampler (a kernel array). */
export interface SlotSpec {
  /** The kernel's array name. */
  name: string;
  /** Checkpoint key: tensors `opt/<segment>/<key>`. */
  key: string;
  /** Initial value of every entry. */
  init: number;
  /** Derived from the other slots and recomputed by the sampler: not saved. */
  transient?: boolean;
}

/** What the sampler-specific part receives for each step. */
export interface StepContext {
  /** The engine. */
  engine: Engine;
  /** θ's layout. */
  layout: Layout;
  /** θ (updated in place by the sampler's kernel). */
  theta: ParamVec;
  /** The sampler's slots by kernel name. */
  slots: Record<string, ParamVec>;
  /** Gradient of the summed minibatch NLL, one tensor per segment. */
  grads: tf.Tensor[];
  /** The pruning mask, when one was applied. */
  keep?: ParamVec;
  /** Step size ε_t from the schedule. */
  lr: number;
  /** N/n. */
  gradScale: number;
  /** This step's N(0, 1) noise block (when noise is on). */
  xi?: NoiseBlock;
  /**
   * False in the exploration stage of a cyclical schedule (an optimisation
   * phase: no noise, no samples); true otherwise.
   */
  sampling: boolean;
  /** Zero-based global step. */
  t: number;
  /** Zero-based epoch. */
  epoch: number;
  /** The chain's host random stream (Gibbs draws). */
  rng: Rng;
  /** The chain's engine noise stream (further blocks, e.g. momentum draws). */
  stream: NoiseStream;
}

/** The sampler-specific part of an SG-MCMC method. */
export interface SamplerCore {
  /** Per-parameter vectors the sampler keeps. */
  readonly slots: readonly SlotSpec[];
  /** Resets the sampler's own state for `layout` on `engine` (at init and before setState). */
  reset(layout: Layout, engine: Engine): void;
  /**
   * Called each step after the gradient was dispatched, before the update
   * (may read the device: SGHMC's rare Gibbs draws).
   */
  prepare?(ctx: StepContext): void | Promise<void>;
  /** Runs the update (one kernel, normally) on `ctx.theta` and the slots. */
  update(ctx: StepContext): void;
  /** Extra per-step scalars for the training history (e.g. prior std). */
  report?(): Record<string, number>;
  /** JSON state. */
  stateExtra(): Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Restores {@linkcode SamplerCore.stateExtra}. */
  setState(extra: Record<string, unknown>): void;
  /** Frees device memory the core holds. */
  dispose?(): void;
}

/** The device and host state of a chain. */
export interface ChainState {
  /** The engine holding the vectors. */
  engine: Engine;
  /** The chain position θ. */
  theta: ParamVec;
  /** The sampler's slots by kernel name. */
  slots: Record<string, ParamVec>;
  /** The injected noise. */
  noise: NoiseStream;
  /** Host draws (SGHMC's Gibbs step). */
  rng: Rng;
  /** Pruning mask over the layout (1 keep, 0 pruned). */
  mask?: ParamVec;
  /** The same mask on the host, for the pruned weight matrices only. */
  hostMask?: Record<string, Uint8Array>;
}

/** An SG-MCMC method: a {@linkcode Method} with its sample store exposed. */
export type SgmcmcMethod = Method & {
  /** The collected samples. */
  readonly store: SampleStore;
  /** Current chain position as host arrays (`l0.w`, …). */
  current(): Promise<WeightSample>;
  /** `k` stored samples (evenly spaced over the chain, newest included). */
  sampleWeights(k: number, seed?: number): Promise<Record<string, Float32Array>[]>;
  /** |mean of the stored samples| per weight matrix. */
  pruningScores(): Promise<Record<string, Float32Array>>;
  /** Zeroes masked weights in the chain (they stay 0) and every stored sample. */
  applyPruningMask(keep: Record<string, Uint8Array>): void;
};

/** The chain as the samplers built on it see it: also θ's layout and the sampler slots. */
export type SgmcmcChain = SgmcmcMethod & {
  /** θ's layout (the network's, with `log_noise` when it is sampled). */
  readonly layout: Layout;
  /** The sampler slot `name` (a view: valid until the next step; do not keep). */
  slot(name: string): ParamVec;
};

export { pickSamples };

/** Noise stream purpose of the injected noise. */
const SGMCMC_NOISE = 2;

/**
 * Validates the shared settings, naming the bad one.
 *
 * @example
 * ```ts
 * import { checkChainSettings } from "./chain.ts";
 * import { SGLD_DEFAULTS } from "@bayes/nn/methods/sgld";
 * checkChainSettings(SGLD_DEFAULTS); // fine
 * ```
 */
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
 * Checks that a run of `epochs` epochs of `batchesPerEpoch` steps collects at
 * least one sample, throwing a `RangeError` that names the settings to change:
 * burn-in as long as the run, or cyclical-schedule cycles whose sampling
 * stages all fall between epoch ends (samples are taken at epoch ends).
 *
 * @example
 * ```ts
 * import { checkCollects } from "./chain.ts";
 * import { SGLD_DEFAULTS } from "@bayes/nn/methods/sgld";
 * checkCollects(SGLD_DEFAULTS, 250, 469); // fine
 * ```
 */
export function checkCollects(s: ChainSettings, epochs: number, batchesPerEpoch: number): void {
  if (s.burnIn >= epochs) {
    throw new RangeError(
      `burn_in (${s.burnIn} epochs) must be smaller than epochs (${epochs}): no sample would be collected`,
    );
  }
  if (samplesCollected(s, epochs, batchesPerEpoch) === 0) {
    throw new RangeError(
      `no sample would be collected: samples are taken at the end of epochs in a sampling stage, ` +
        `and with schedule ${s.schedule}, cycles ${s.cycles}, cycle_explore ${s.cycleExplore}, ` +
        `burn_in ${s.burnIn} and sample_freq ${s.sampleFreq} over ${epochs} epochs of ` +
        `${batchesPerEpoch} steps none does; give more epochs, fewer cycles, a smaller ` +
        `cycle_explore or sample_freq 1`,
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
): SgmcmcChain {
  validateSpec(spec);
  checkChainSettings(settings);
  if (settings.noiseStd !== undefined && !hasGlobalNoise(spec)) {
    throw new RangeError("noise_std applies to homoscedastic regression networks only");
  }
  const s: ChainSettings = {
    ...settings,
    sampleDir: settings.sampleDir ? resolve(settings.sampleDir) : undefined,
  };
  // Models saved before the engine may carry `noiseWorker` (noise drawn on a worker
  // thread): the engine draws the noise now, so it is accepted and dropped.
  delete (s as unknown as Record<string, unknown>).noiseWorker;
  const nLayers = spec.hidden.length + 1;
  const sampledNoise = hasGlobalNoise(spec) && s.noiseStd === undefined;
  const layout = netLayout(spec, sampledNoise);
  const sampleLayout: SampleLayout = layout.segments.map((g) => ({
    name: g.name,
    shape: [...g.shape],
  }));
  const store = new SampleStore({
    layout: sampleLayout,
    maxSamples: s.maxSamples,
    memorySamples: s.memorySamples,
    dir: s.sampleDir,
  });
  const fixedLogNoise = s.noiseStd !== undefined ? Math.log(s.noiseStd) : undefined;
  let st: ChainState | undefined;
  let checked = { epochs: -1, batchesPerEpoch: -1 };

  const need = (): ChainState => {
    if (!st) throw new Error(`${name}: call init(seed) before step/predict`);
    return st;
  };
  const release = () => {
    if (!st) return;
    st.theta.dispose();
    for (const v of Object.values(st.slots)) v.dispose();
    st.mask?.dispose();
    st = undefined;
  };
  /** A fresh state: θ from `theta` or the seeded initialisation, fresh slots and streams. */
  const fresh = (seed: number, theta?: Float32Array): ChainState => {
    release();
    core.dispose?.();
    const engine = getEngine();
    core.reset(layout, engine);
    const rng = new Rng(seed);
    const values = theta ?? initFlat(spec, layout, rng);
    const slots: Record<string, ParamVec> = {};
    for (const sl of core.slots) slots[sl.name] = engine.vector(layout, sl.init);
    return {
      engine,
      theta: engine.vector(layout, values),
      slots,
      noise: engine.noise(seed, SGMCMC_NOISE),
      rng: new Rng(seed).fork(1),
    };
  };
  const masked = (sample: WeightSample): WeightSample => {
    const mask = st?.hostMask;
    if (!mask) return sample;
    const out: WeightSample = { ...sample };
    for (const [k, m] of Object.entries(mask)) {
      const d = sample[k].slice();
      for (let j = 0; j < d.length; j++) if (!m[j]) d[j] = 0;
      out[k] = d;
    }
    return out;
  };
  const current = (): Promise<WeightSample> => need().theta.toSegments();
  const logNoiseOf = (ws: readonly tf.Tensor[]): tf.Tensor | undefined => {
    if (sampledNoise) return ws[layout.index("log_noise")];
    return fixedLogNoise !== undefined ? tf.scalar(fixedLogNoise) : undefined;
  };

  const method: SgmcmcChain = {
    name,
    spec,
    settings: { ...s },
    get defaultSamples(): number {
      return Math.max(1, store.count);
    },
    store,
    layout,
    init(seed: number) {
      st = fresh(seed);
      store.clear();
    },
    async step(batch: TensorBatch, info: StepInfo): Promise<StepResult> {
      const c = need();
      if (info.epochs !== checked.epochs || info.batchesPerEpoch !== checked.batchesPerEpoch) {
        checkCollects(s, info.epochs, info.batchesPerEpoch);
        checked = { epochs: info.epochs, batchesPerEpoch: info.batchesPerEpoch };
      }
      const clock = clockAt(info.epoch, info.step, info.epochs, info.batchesPerEpoch);
      const sched = scheduleAt(s, clock);
      const noiseOn = s.noise && sched.sampling;
      let errors: tf.Scalar | undefined;
      const f = (...ws: tf.Tensor[]) => {
        const out = forwardLayers(ws.slice(0, 2 * nLayers), batch.x);
        if (spec.task === "classification") errors = tf.keep(errorRate(out, batch.y));
        return nllSum(spec, out, batch.y, logNoiseOf(ws));
      };
      const { value, grads } = tf.valueAndGrads(f)([...c.theta.tensors]);
      const ctx: StepContext = {
        engine: c.engine,
        layout,
        theta: c.theta,
        slots: c.slots,
        grads,
        keep: c.mask,
        lr: sched.lr,
        gradScale: info.datasetSize / batch.n,
        sampling: sched.sampling,
        t: clock.t,
        epoch: info.epoch,
        rng: c.rng,
        stream: c.noise,
      };
      try {
        const pending = core.prepare?.(ctx);
        if (pending) await pending;
        if (st !== c) throw new Error(`${name}: the state changed during a step`);
        ctx.xi = noiseOn ? c.noise.take(layout) : undefined;
        core.update(ctx);
      } catch (e) {
        value.dispose();
        errors?.dispose();
        throw e;
      } finally {
        ctx.xi?.release();
        tf.dispose(grads);
      }
      const r: StepResult = { loss: tf.tidy(() => tf.div(value, batch.n)), lr: sched.lr };
      value.dispose();
      Object.assign(r, core.report?.());
      if (errors) r.errors = errors;
      return r;
    },
    async endEpoch(epoch: number, info: StepInfo): Promise<void> {
      if (collectsAtEnd(epoch, s, info.epochs, info.batchesPerEpoch)) {
        await store.add(await current(), epoch);
      }
    },
    predict(x: tf.Tensor2D, opts: PredictOptions = {}): Prediction {
      const c = need();
      return predictSamples({
        spec,
        layout,
        store,
        masked,
        theta: c.theta,
        fixedLogNoise,
        x,
        samples: opts.samples ?? method.defaultSamples,
        chunk: opts.chunk,
      });
    },
    async getState(): Promise<MethodState> {
      const c = need();
      const tensors: Record<string, HostTensor> = { ...(await vecToHost(c.theta)) };
      for (const sl of core.slots) {
        if (sl.transient) continue;
        const parts = await c.slots[sl.name].toSegments();
        for (const g of layout.segments) {
          tensors[`opt/${g.name}/${sl.key}`] = { data: parts[g.name], shape: [...g.shape] };
        }
      }
      const sampler = await core.stateExtra();
      const stored = store.toState();
      Object.assign(tensors, stored.tensors);
      for (const [k, m] of Object.entries(c.hostMask ?? {})) {
        tensors[`mask/${k}`] = { data: Float32Array.from(m), shape: [m.length] };
      }
      return {
        tensors,
        extra: {
          rng: c.rng.getState(),
          noise: c.noise.getState(),
          engine: c.engine.kind,
          store: stored.extra,
          sampler,
        },
      };
    },
    setState(state: MethodState): Promise<void> {
      const source = `${name} state`;
      const theta = hostToFlat(layout, state.tensors, "", source);
      const c = fresh(0, theta);
      try {
        for (const sl of core.slots) {
          if (sl.transient) continue;
          const flat = new Float32Array(layout.total);
          for (const g of layout.segments) {
            const key = `opt/${g.name}/${sl.key}`;
            const t = state.tensors[key];
            if (!t) throw new Error(`${source}: missing tensor "${key}"`);
            if (t.data.length !== g.size) {
              throw new Error(
                `${source}: tensor "${key}" has ${t.data.length} values, expected ${g.size}`,
              );
            }
            flat.set(t.data, g.off);
          }
          c.slots[sl.name].dispose();
          c.slots[sl.name] = c.engine.vector(layout, flat);
        }
        const extra = state.extra;
        if (Array.isArray(extra.rng)) c.rng.setState(extra.rng as number[]);
        if (Array.isArray(extra.noise) && extra.engine === c.engine.kind) {
          c.noise.setState(extra.noise as number[]);
        }
        core.setState((extra.sampler ?? {}) as Record<string, unknown>);
        store.fromState(state.tensors, (extra.store ?? {}) as Record<string, unknown>);
        const masks = Object.entries(state.tensors).filter(([k]) => k.startsWith("mask/"));
        st = c;
        if (masks.length) {
          setMask(Object.fromEntries(masks.map(([k, t]) => [k.slice(5), Uint8Array.from(t.data)])));
        }
      } catch (e) {
        st = c;
        release();
        throw e;
      }
      return Promise.resolve();
    },
    dispose() {
      release();
      core.dispose?.();
    },
    current,
    slot(slotName: string): ParamVec {
      const v = need().slots[slotName];
      if (!v) {
        throw new RangeError(
          `${name} has no slot "${slotName}" (have ${core.slots.map((x) => x.name).join(", ")})`,
        );
      }
      return v;
    },
    async sampleWeights(k: number): Promise<Record<string, Float32Array>[]> {
      if (!Number.isInteger(k) || k < 1) {
        throw new RangeError(`sampleWeights: k must be a positive integer, found ${k}`);
      }
      if (!store.count) {
        const cur = await current();
        return Array.from(
          { length: k },
          () => Object.fromEntries(Object.entries(cur).map(([n, v]) => [n, v.slice()])),
        );
      }
      return pickSamples(store.count, k).map((i) => {
        const smp = masked(store.get(i));
        return Object.fromEntries(sampleLayout.map((l) => [l.name, smp[l.name].slice()]));
      });
    },
    async pruningScores(): Promise<Record<string, Float32Array>> {
      const out: Record<string, Float32Array> = {};
      const n = store.count;
      const sets = n ? Array.from({ length: n }, (_, j) => masked(store.get(j))) : [
        await current(),
      ];
      for (let i = 0; i < nLayers; i++) {
        const key = `l${i}.w`;
        const acc = new Float64Array(sets[0][key].length);
        for (const smp of sets) for (let j = 0; j < acc.length; j++) acc[j] += smp[key][j];
        out[key] = Float32Array.from(acc, (v) => Math.abs(v / sets.length));
      }
      return out;
    },
    applyPruningMask(keep: Record<string, Uint8Array>): void {
      const c = need();
      for (const [k, m] of Object.entries(keep)) {
        if (!/^l\d+\.w$/.test(k) || !layout.segments.some((g) => g.name === k)) {
          throw new RangeError(`pruning mask names "${k}", expected a weight matrix l<i>.w`);
        }
        const size = layout.get(k).size;
        if (m.length !== size) {
          throw new RangeError(`pruning mask for ${k} has ${m.length} entries, expected ${size}`);
        }
      }
      const merged: Record<string, Uint8Array> = { ...(c.hostMask ?? {}) };
      for (const [k, m] of Object.entries(keep)) {
        const prev = merged[k];
        merged[k] = prev
          ? Uint8Array.from(m, (v, j) => (v && prev[j] ? 1 : 0))
          : Uint8Array.from(m);
      }
      setMask(merged);
    },
  };

  /** Installs a host mask: the device mask vector, applied to θ and the slots. */
  const setMask = (hostMask: Record<string, Uint8Array>) => {
    const c = need();
    const flat = new Float32Array(layout.total).fill(1);
    for (const [k, m] of Object.entries(hostMask)) {
      const g = layout.get(k);
      for (let j = 0; j < g.size; j++) flat[g.off + j] = m[j] ? 1 : 0;
    }
    c.mask?.dispose();
    c.mask = c.engine.vector(layout, flat);
    c.hostMask = hostMask;
    c.engine.run(APPLY_MASK, layout, { arrays: { keep: c.mask, p: c.theta } });
    // A pruned weight's momentum (SGHMC) is zeroed too; running averages stay as they are.
    if (c.slots.mom) c.engine.run(APPLY_MASK, layout, { arrays: { keep: c.mask, p: c.slots.mom } });
  };
  return method;
}
