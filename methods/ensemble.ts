/**
 * Bootstrap MAP ensemble: `nNets` independently initialised MAP networks,
 * each trained on its own random subsample of the training set (a fraction
 * `subsample` of the rows, drawn without replacement per member, seeded).
 * Prediction returns one sample per member; averaging the members'
 * predictive distributions is left to the uncertainty module, as for every
 * other method.
 *
 * The ensemble fits the common method shape, so `fit` trains it unchanged:
 * each `step` updates every member (a point network on the parameter
 * engine) on the rows of the minibatch that belong to its subsample (found
 * from `TensorBatch.indices` on the host, gathered with `tf.gather` where
 * the batch lives) and reports the members' mean loss as a device scalar,
 * so a GPU is never waited for. `predict` pushes as many members through
 * one batched forward pass (their weights stacked into `[count, …]`
 * tensors) as the engine's memory budget allows. Members are independent,
 * so on the CPU engine `trainEnsembleParallel`
 * (`methods/ensemble_parallel.ts`) can also train them in Deno workers;
 * both paths give the same members.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type {
  Method,
  MethodState,
  NetSpec,
  Prediction,
  PredictOptions,
  StepInfo,
  StepResult,
  StepScalar,
  TensorBatch,
} from "../core/method.ts";
import { appendLogNoise, predictBatched, type SampleChunk } from "../core/likelihood.ts";
import { countParams, forwardLayers, hasGlobalNoise, validateSpec } from "../core/mlp.ts";
import type { LrScheduleName, OptimizerName } from "../core/optim.ts";
import { buildPointNet, checkPointNetSettings, type PointNet } from "../core/point_net.ts";
import { Rng } from "../core/rng.ts";
import type { HostTensor } from "../core/safetensors.ts";
import { stripUndefined } from "../core/settings.ts";

/** The shared types this module's API refers to. */
export type * from "../core/public_types.ts";

export {
  defaultEnsembleWorkers,
  type ParallelFitOptions,
  trainEnsembleParallel,
} from "./ensemble_parallel.ts";

/** Settings of {@linkcode buildEnsemble}. */
export interface EnsembleSettings {
  /** Number of member networks (default 10; the reference uses 100). */
  nNets?: number;
  /** Fraction of the training rows each member trains on, in (0, 1] (default 0.8). */
  subsample?: number;
  /** Learning rate of every member (default 1e-3; summed minibatch NLL as the reference). */
  lr?: number;
  /** Weight decay of every member (default 0): adds `weightDecay/2·‖θ‖²` to the loss. */
  weightDecay?: number;
  /** Update rule (default `momentum`, as the reference). */
  optimizer?: OptimizerName;
  /** Momentum (default 0.5, the reference's). */
  momentum?: number;
  /** Learning-rate schedule of every member over the planned run (default `constant`). */
  lrSchedule?: LrScheduleName;
}

/** Default ensemble settings. */
export const ENSEMBLE_DEFAULTS: Required<EnsembleSettings> = {
  nNets: 10,
  subsample: 0.8,
  lr: 1e-3,
  weightDecay: 0,
  optimizer: "momentum",
  momentum: 0.5,
  lrSchedule: "constant",
};

/** Options of {@linkcode buildEnsemble} that are not method settings. */
export interface EnsembleBuildOptions {
  /**
   * Build only these members (global indices in `0..nNets-1`); used by the
   * parallel trainer so a worker holds just its share. Default: all.
   */
  memberIds?: number[];
}

/** A bootstrap ensemble, with access to its members and their subsamples. */
export type EnsembleMethod = Method & {
  /** Settings after defaults. */
  readonly settings: Readonly<Required<EnsembleSettings>>;
  /** Global indices of the members this object holds (all of `0..nNets-1` unless built with `memberIds`). */
  readonly memberIds: readonly number[];
  /** The member networks, in `memberIds` order (after `init`). */
  members(): PointNet[];
  /**
   * Membership bitmap over the dataset rows of member `id` (1 = in its
   * subsample), once the dataset size is known (first step or a loaded state).
   */
  membership(id: number): Uint8Array;
  /** Training-set size the subsamples were drawn for, or `undefined` before the first step. */
  datasetSize(): number | undefined;
  /** One weight set per member (cycled when `k` exceeds the member count). */
  sampleWeights(k: number, seed?: number): Promise<Record<string, Float32Array>[]>;
  /** |w| of every member's weight matrices, keyed `m{id}/l{i}.w`. */
  pruningScores(): Promise<Record<string, Float32Array>>;
  /** Zeroes member weights where `keep` is 0; keys as {@linkcode EnsembleMethod.pruningScores}. */
  applyPruningMask(keep: Record<string, Uint8Array>): void;
};

/** Rng key offsets: member initialisation and member subsamples. */
const INIT_KEY = 1_000_000;
const SUBSET_KEY = 2_000_000;

/**
 * Validates ensemble settings, throwing a `RangeError` that names the bad one.
 *
 * @example
 * ```ts
 * import { checkEnsembleSettings, ENSEMBLE_DEFAULTS } from "@bayes/nn/methods/ensemble";
 * checkEnsembleSettings({ ...ENSEMBLE_DEFAULTS, subsample: 0.5 }); // ok
 * ```
 */
export function checkEnsembleSettings(s: Required<EnsembleSettings>): void {
  if (!Number.isInteger(s.nNets) || s.nNets < 1) {
    throw new RangeError(`n_nets must be a positive integer, found ${s.nNets}`);
  }
  if (!(s.subsample > 0 && s.subsample <= 1)) {
    throw new RangeError(`subsample must be a fraction in (0, 1], found ${s.subsample}`);
  }
  checkPointNetSettings({ ...s, dropout: 0, mcPredict: false });
}

/**
 * The rows of member `id`'s subsample: `round(fraction·n)` (at least 1)
 * distinct rows drawn without replacement, sorted, determined by
 * `(seed, id, n, fraction)` alone.
 *
 * @example
 * ```ts
 * import { memberSubset } from "@bayes/nn/methods/ensemble";
 * memberSubset(0, 3, 1000, 0.8).length; // 800
 * ```
 */
export function memberSubset(seed: number, id: number, n: number, fraction: number): Int32Array {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`dataset size must be a positive integer, found ${n}`);
  }
  const m = Math.max(1, Math.min(n, Math.round(fraction * n)));
  return new Rng(seed).fork(SUBSET_KEY + id).permutation(n).slice(0, m).sort();
}

/**
 * The initialisation seed of member `id` of an ensemble seeded with `seed`.
 *
 * @example
 * ```ts
 * import { memberSeed } from "@bayes/nn/methods/ensemble";
 * memberSeed(0, 0) !== memberSeed(0, 1); // true
 * ```
 */
export function memberSeed(seed: number, id: number): number {
  return new Rng(seed).fork(INIT_KEY + id).int(2 ** 31);
}

/** The mean of step scalars, on the device when any is a tensor (disposes the tensors). */
function meanScalar(xs: StepScalar[]): StepScalar {
  if (xs.length === 0) return 0;
  if (xs.every((x) => typeof x === "number")) {
    return (xs as number[]).reduce((a, b) => a + b, 0) / xs.length;
  }
  const out = tf.tidy(() =>
    tf.div(
      tf.addN(xs.map((x) => (typeof x === "number" ? tf.scalar(x) : x.reshape([])))),
      xs.length,
    )
  );
  for (const x of xs) if (typeof x !== "number") x.dispose();
  return out;
}

function parseMemberIds(ids: number[] | undefined, nNets: number): number[] {
  if (!ids) return Array.from({ length: nNets }, (_, i) => i);
  if (ids.length === 0) throw new RangeError("memberIds must name at least one member");
  const seen = new Set<number>();
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= nNets) {
      throw new RangeError(`member id ${id} is out of range: expected an integer in [0, ${nNets})`);
    }
    if (seen.has(id)) throw new RangeError(`member id ${id} is listed twice`);
    seen.add(id);
  }
  return [...ids];
}

/**
 * Builds a bootstrap MAP ensemble. `predict` returns one sample per member
 * (`samples` = min(requested, nNets), default nNets); state tensors are the
 * members' parameters and optimizer slots under `m{id}/`.
 *
 * @example
 * ```ts
 * import { buildEnsemble } from "@bayes/nn/methods/ensemble";
 * import { initBackend } from "@bayes/nn";
 * await initBackend({ backend: "wasm", quiet: true });
 * const ens = buildEnsemble(
 *   { inputDim: 784, hidden: [1200, 1200], outputDim: 10, task: "classification" },
 *   { nNets: 5, subsample: 0.8, weightDecay: 1e-4 },
 * );
 * ens.init(0);
 * ```
 */
export function buildEnsemble(
  spec: NetSpec,
  settings: EnsembleSettings = {},
  opts: EnsembleBuildOptions = {},
): EnsembleMethod {
  validateSpec(spec);
  const s: Required<EnsembleSettings> = { ...ENSEMBLE_DEFAULTS, ...stripUndefined(settings) };
  checkEnsembleSettings(s);
  const ids = parseMemberIds(opts.memberIds, s.nNets);
  const memberSettings = {
    lr: s.lr,
    weightDecay: s.weightDecay,
    optimizer: s.optimizer,
    momentum: s.momentum,
    lrSchedule: s.lrSchedule,
    dropout: 0,
    mcPredict: false,
  };
  const layerSize = countParams(spec);
  let members: PointNet[] | undefined;
  let seed = 0;
  let n: number | undefined;
  let masks: Uint8Array[] | undefined;

  const need = (): PointNet[] => {
    if (!members) throw new Error("ensemble: call init(seed) before step/predict");
    return members;
  };
  const drawSubsets = (size: number) => {
    n = size;
    masks = ids.map((id) => {
      const mask = new Uint8Array(size);
      for (const r of memberSubset(seed, id, size, s.subsample)) mask[r] = 1;
      return mask;
    });
  };
  const slot = (id: number): number => {
    const j = ids.indexOf(id);
    if (j < 0) throw new RangeError(`ensemble holds members ${ids.join(", ")}, not ${id}`);
    return j;
  };

  return {
    name: "ensemble",
    spec,
    settings: s,
    memberIds: ids,
    defaultSamples: ids.length,
    init(newSeed: number): void {
      for (const m of members ?? []) m.dispose();
      seed = newSeed;
      n = undefined;
      masks = undefined;
      members = ids.map((id) => {
        const m = buildPointNet("map", spec, memberSettings);
        m.init(memberSeed(seed, id));
        return m;
      });
    },
    async step(batch: TensorBatch, info: StepInfo): Promise<StepResult> {
      const ms = need();
      const idx = batch.indices;
      if (!idx || idx.length !== batch.n) {
        throw new Error(
          "ensemble.step needs batch.indices (the dataset row of each example) to select each " +
            `member's subsample; found ${
              idx ? `${idx.length} indices for ${batch.n} rows` : "none"
            }`,
        );
      }
      if (masks === undefined) drawSubsets(info.datasetSize);
      else if (info.datasetSize !== n) {
        throw new RangeError(
          `ensemble: the members' subsamples were drawn for a training set of ${n} rows, ` +
            `this step comes from one of ${info.datasetSize}`,
        );
      }
      for (let i = 0; i < idx.length; i++) {
        if (idx[i] < 0 || idx[i] >= n!) {
          throw new RangeError(`ensemble: batch row index ${idx[i]} is outside [0, ${n})`);
        }
      }
      const losses: StepScalar[] = [], errs: StepScalar[] = [];
      const rows = new Int32Array(batch.n);
      for (let j = 0; j < ms.length; j++) {
        const mask = masks![j];
        let count = 0;
        for (let i = 0; i < batch.n; i++) if (mask[idx[i]]) rows[count++] = i;
        if (count === 0) continue;
        let r: StepResult;
        if (count === batch.n) r = await ms[j].step(batch, info);
        else {
          // The member's rows of the minibatch, gathered where the batch lives.
          const sub: TensorBatch = tf.tidy(() => {
            const sel = tf.tensor1d(rows.subarray(0, count), "int32");
            return {
              x: tf.gather(batch.x, sel) as tf.Tensor2D,
              y: tf.gather(batch.y, sel),
              n: count,
            };
          });
          try {
            r = await ms[j].step(sub, info);
          } finally {
            sub.x.dispose();
            sub.y.dispose();
          }
        }
        losses.push(r.loss);
        if (r.errors !== undefined) errs.push(r.errors);
      }
      // Means over the members that had rows in this batch of their per-example values,
      // summed where the members' scalars are (no read).
      const out: StepResult = { loss: meanScalar(losses) };
      if (errs.length) out.errors = meanScalar(errs);
      return out;
    },
    predict(x: tf.Tensor2D, popts: PredictOptions = {}): Prediction {
      const ms = need();
      const want = popts.samples ?? ms.length;
      if (!Number.isInteger(want) || want < 1) {
        throw new RangeError(`samples must be a positive integer, found ${want}`);
      }
      const L = spec.hidden.length + 1;
      const noiseAt = hasGlobalNoise(spec) ? 2 * L : -1;
      const width = Math.max(...spec.hidden, spec.outputDim, 1);
      // One sample per member: as many members per forward pass as the engine's memory budget
      // allows (their weights stacked into [count, …] tensors); one at a time on the CPU.
      return predictBatched(
        spec,
        x,
        Math.min(want, ms.length),
        { chunk: popts.chunk, width, weightsPerSample: layerSize },
        (first, count): SampleChunk => {
          const group = ms.slice(first, first + count).map((m) => m.parameters());
          const stacked = count === 1
            ? undefined
            : tf.tidy(() =>
              Array.from({ length: noiseAt < 0 ? 2 * L : 2 * L + 1 }, (_, i) =>
                tf.stack(group.map((ws) => ws[i])))
            );
          const ws = stacked ?? group[0];
          return {
            forward: (xc) => {
              const out = forwardLayers(ws.slice(0, 2 * L), xc);
              const raw = count === 1 ? out.expandDims(0) : out;
              return noiseAt < 0 ? raw : appendLogNoise(raw, ws[noiseAt]);
            },
            dispose: () => {
              if (stacked) tf.dispose(stacked);
            },
          };
        },
      );
    },
    async getState(): Promise<MethodState> {
      const ms = need();
      const tensors: Record<string, HostTensor> = {};
      const memberExtra: Record<string, unknown> = {};
      const states = await Promise.all(ms.map((m) => m.getState()));
      states.forEach((st, j) => {
        for (const [k, v] of Object.entries(st.tensors)) tensors[`m${ids[j]}/${k}`] = v;
        memberExtra[String(ids[j])] = st.extra;
      });
      return {
        tensors,
        extra: {
          seed,
          datasetSize: n ?? null,
          nNets: s.nNets,
          subsample: s.subsample,
          members: memberExtra,
        },
      };
    },
    async setState(state: MethodState): Promise<void> {
      const ex = state.extra;
      if (ex.nNets !== undefined && ex.nNets !== s.nNets) {
        throw new RangeError(
          `state is of an ensemble of ${ex.nNets} nets, this one has ${s.nNets}`,
        );
      }
      if (ex.subsample !== undefined && ex.subsample !== s.subsample) {
        throw new RangeError(
          `state was trained with subsample ${ex.subsample}, this ensemble uses ${s.subsample}`,
        );
      }
      const stateSeed = typeof ex.seed === "number" ? ex.seed : seed;
      if (!members || stateSeed !== seed) this.init(stateSeed);
      const memberExtra = (ex.members ?? {}) as Record<string, Record<string, unknown>>;
      for (let j = 0; j < ids.length; j++) {
        const prefix = `m${ids[j]}/`;
        const tensors: Record<string, HostTensor> = {};
        for (const [k, v] of Object.entries(state.tensors)) {
          if (k.startsWith(prefix)) tensors[k.slice(prefix.length)] = v;
        }
        if (Object.keys(tensors).length === 0) {
          throw new Error(`ensemble state has no tensors for member ${ids[j]} (keys "${prefix}…")`);
        }
        await members![j].setState({ tensors, extra: memberExtra[String(ids[j])] ?? {} });
      }
      const size = typeof ex.datasetSize === "number" ? ex.datasetSize : undefined;
      if (size !== undefined) drawSubsets(size);
      else {
        n = undefined;
        masks = undefined;
      }
    },
    dispose(): void {
      for (const m of members ?? []) m.dispose();
      members = undefined;
    },
    members(): PointNet[] {
      return [...need()];
    },
    membership(id: number): Uint8Array {
      const j = slot(id);
      if (!masks) {
        throw new Error("ensemble: subsamples are drawn at the first step (dataset size unknown)");
      }
      return masks[j];
    },
    datasetSize(): number | undefined {
      return n;
    },
    async sampleWeights(k: number): Promise<Record<string, Float32Array>[]> {
      const ms = need();
      if (!Number.isInteger(k) || k < 1) {
        throw new RangeError(`k must be a positive integer, found ${k}`);
      }
      const sets = await Promise.all(
        ms.slice(0, Math.min(k, ms.length)).map(async (m) => (await m.sampleWeights(1))[0]),
      );
      // Cycled sets are copies: a caller may modify one without changing another.
      return Array.from({ length: k }, (_, i) => {
        const set = sets[i % sets.length];
        if (i < sets.length) return set;
        return Object.fromEntries(Object.entries(set).map(([key, v]) => [key, v.slice()]));
      });
    },
    async pruningScores(): Promise<Record<string, Float32Array>> {
      const ms = need();
      const scores = await Promise.all(ms.map((m) => m.pruningScores()));
      const out: Record<string, Float32Array> = {};
      scores.forEach((sc, j) => {
        for (const [k, v] of Object.entries(sc)) out[`m${ids[j]}/${k}`] = v;
      });
      return out;
    },
    applyPruningMask(keep: Record<string, Uint8Array>): void {
      const ms = need();
      const per: Record<string, Uint8Array>[] = ms.map(() => ({}));
      for (const [key, mask] of Object.entries(keep)) {
        const m = key.match(/^m(\d+)\/(.+)$/);
        if (!m) {
          throw new RangeError(
            `ensemble pruning mask key "${key}" should be "m<member>/<weight>", as pruningScores() returns`,
          );
        }
        per[slot(Number(m[1]))][m[2]] = mask;
      }
      ms.forEach((member, j) => member.applyPruningMask(per[j]));
    },
  };
}
