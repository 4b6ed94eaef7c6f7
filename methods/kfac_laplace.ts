/**
 * Kronecker-factored Laplace approximation (Ritter, Botev & Barber 2018): a
 * MAP network (weight decay as the Gaussian prior) is trained as usual, one
 * pass over the training data accumulates per layer the two Kronecker
 * factors of the block-diagonal Gauss–Newton curvature (`methods/kfac/
 * curvature.ts`), and predictions average over matrix-normal weight samples
 * (`methods/kfac/posterior.ts`) or use the linearised (GLM) predictive
 * (`methods/kfac/glm.ts`).
 *
 * Each layer's posterior is the matrix normal `MN(W̃_MAP, U, V)` over the
 * weights with the bias folded in as a last row, with the reference's damping
 * `U⁻¹ = √N·Q + √τ·I`, `V⁻¹ = √N·H + √τ·I` (`Q`: second moment of the
 * layer's augmented inputs, `H`: expected Gauss–Newton matrix of its
 * pre-activations; `τ = 1/hessian_diag_sig²`, `N` the training-set size).
 *
 * The factors are stored unscaled and uninverted (state tensors
 * `kfac.l{i}.q`, `kfac.l{i}.h`), so a new prior precision `τ` or data
 * multiplier `N` — by hand with `setPrior`, or chosen by `tune` (validation
 * log-likelihood, or the Laplace marginal likelihood) — costs no new pass.
 *
 * Inside `fit` the method records the minibatches of the last epoch and runs
 * the curvature pass at its end (`autoCurvature`), so any training loop
 * yields the full posterior; `fitCurvature` runs it on a given data set.
 * Until the factors exist, `predict` returns the MAP network's single sample.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { getLinalg } from "../core/linalg.ts";
import { checkPredictInput, stackPrediction } from "../core/likelihood.ts";
import type {
  Method,
  MethodState,
  NetSpec,
  Prediction,
  PredictOptions,
  StepInfo,
  StepResult,
  TensorBatch,
} from "../core/method.ts";
import { hasGlobalNoise, layerShapes, mlpForward } from "../core/mlp.ts";
import type { OptimizerName } from "../core/params.ts";
import { buildPointNet, type PointNet } from "../core/point_net.ts";
import { Progress } from "../core/progress.ts";
import { Rng } from "../core/rng.ts";
import type { HostTensor } from "../core/safetensors.ts";
import type { ArrayDataset } from "../datasets/types.ts";
import {
  type CurvatureOptions,
  type HostBatch,
  type KronFactors,
  kronFactors,
} from "./kfac/curvature.ts";
import {
  gaussianOutputSamples,
  glmCovariance,
  glmProject,
  type GlmProjection,
  probitLogProbs,
} from "./kfac/glm.ts";
import { type AugLayer, augment, splitAugmented } from "./kfac/host_net.ts";
import {
  checkPrior,
  type EvidenceTerms,
  laplaceEvidence,
  type LayerEigen,
  layerEigen,
  marginalVariances,
  maximiseEvidence,
  type PriorSettings,
  sampleMatrixNormal,
  type SamplingFactors,
  samplingFactors,
} from "./kfac/posterior.ts";
import { meanLogLik } from "./kfac/scoring.ts";
import { stripUndefined } from "./map.ts";

/** Settings of {@linkcode buildKfacLaplace}. */
export interface KfacLaplaceSettings {
  /** MAP learning rate (default 1e-3, summed minibatch NLL as the reference). */
  lr?: number;
  /** MAP weight decay (default 0.01, the reference's `--weight_decay`). */
  weightDecay?: number;
  /** MAP update rule (default `momentum`). */
  optimizer?: OptimizerName;
  /** MAP momentum (default 0.5). */
  momentum?: number;
  /**
   * Prior precision `τ` of the Laplace posterior (default `1/0.15²`, the
   * reference's `--hessian_diag_sig 0.15`).
   */
  priorPrecision?: number;
  /** Data multiplier `N` (default: the number of examples of the curvature pass). */
  dataScale?: number | null;
  /** `sample` (matrix-normal weight samples, the reference) or `glm` (linearised). */
  predictive?: "sample" | "glm";
  /** Classification link of the GLM predictive: `probit` (one deterministic sample) or `mc`. */
  link?: "probit" | "mc";
  /** Laplace on the last layer only (the features stay at the MAP). */
  lastLayer?: boolean;
  /** Posterior samples `predict` draws by default (default 100). */
  samples?: number;
  /** Examples per batch of the curvature pass (default 256). */
  curvatureBatchSize?: number;
  /** Gauss–Newton mass share dropped per batch (default 1e-3; 0 = exact), see `kfac/curvature.ts`. */
  ggnTol?: number;
  /** Run the curvature pass at the end of the last epoch of `fit` (default true). */
  autoCurvature?: boolean;
  /** After an automatic curvature pass, choose `τ` by the marginal likelihood (`marglik`). */
  tune?: "none" | "marglik";
}

/** Default settings. */
export const KFAC_LAPLACE_DEFAULTS: Required<KfacLaplaceSettings> = {
  lr: 1e-3,
  weightDecay: 0.01,
  optimizer: "momentum",
  momentum: 0.5,
  priorPrecision: 1 / 0.15 ** 2,
  dataScale: null,
  predictive: "sample",
  link: "probit",
  lastLayer: false,
  samples: 100,
  curvatureBatchSize: 256,
  ggnTol: 1e-3,
  autoCurvature: true,
  tune: "none",
};

/** Options of {@linkcode KfacLaplaceMethod.tune}. */
export interface KfacTuneOptions {
  /** `marglik`: Laplace evidence (no data needed); `val`: held-out log-likelihood. */
  method: "marglik" | "val";
  /** Held-out data (`val`). */
  valid?: ArrayDataset;
  /** Candidate `τ` (`val`; default decades 1e-2…1e6, then the best refined by ×/÷√10). */
  priorPrecisions?: number[];
  /** Candidate `N` (`val`; default: the current one). */
  dataScales?: number[];
  /** Samples per candidate (`val` with sampling or the MC link; default 10). */
  samples?: number;
  /** Seed of the samples (the same noise for every candidate). */
  seed?: number;
  /** Show a progress line. */
  progress?: boolean;
}

/** One scored candidate. */
export interface KfacTuneRow {
  /** `τ`. */
  priorPrecision: number;
  /** `N`. */
  dataScale: number;
  /** Mean held-out log-likelihood (`val`) or log evidence (`marglik`). */
  score: number;
}

/** What {@linkcode KfacLaplaceMethod.tune} chose. */
export interface KfacTuneResult {
  /** Criterion used. */
  method: "marglik" | "val";
  /** Chosen `τ` (now set). */
  priorPrecision: number;
  /** Chosen `N` (now set). */
  dataScale: number;
  /** Its score. */
  score: number;
  /** Every candidate evaluated. */
  table: KfacTuneRow[];
  /** Wall-clock seconds. */
  seconds: number;
}

/** Summary of the curvature pass (also in the saved state). */
export interface KfacCurvatureSummary {
  /** Examples averaged over. */
  n: number;
  /** Summed training NLL at the MAP. */
  trainNll: number;
  /** Seconds of the pass. */
  seconds: number;
  /** Gauss–Newton columns kept / total, and the dropped share of `tr Λ`. */
  rowsKept: number;
  /** Columns in total. */
  rowsTotal: number;
  /** Dropped share of the output-space Gauss–Newton mass. */
  droppedMassShare: number;
  /** Laplace layers (network indices). */
  layers: number[];
}

/** The KFAC Laplace method: a {@linkcode Method} plus the posterior controls. */
export type KfacLaplaceMethod = Method & {
  /** The MAP network that is trained (its predictions are the MAP's). */
  readonly map: PointNet;
  /** How many curvature passes this instance has run (for tests and logs). */
  readonly curvaturePasses: number;
  /** Whether the factors exist (else predictions are the MAP's). */
  hasCurvature(): boolean;
  /** The stored factors, or null. */
  factors(): KronFactors | null;
  /** Summary of the curvature pass, or null. */
  curvatureSummary(): KfacCurvatureSummary | null;
  /** Runs the curvature pass over `data` at the current weights. */
  fitCurvature(data: ArrayDataset, opts?: { progress?: boolean }): Promise<KfacCurvatureSummary>;
  /** Current `τ` and `N`. */
  prior(): PriorSettings;
  /** Changes `τ` and/or `N` (no new curvature pass). */
  setPrior(p: Partial<PriorSettings>): void;
  /** Laplace log marginal likelihood at the current (or given) prior. */
  logEvidence(p?: Partial<PriorSettings>): number;
  /** Chooses `τ` (and `N`) and sets them. */
  tune(opts: KfacTuneOptions): KfacTuneResult;
  /** Matrix-normal weight samples. */
  sampleWeights(k: number, seed?: number): Record<string, Float32Array>[];
  /** `|w_MAP| / σ` per weight. */
  pruningScores(): Record<string, Float32Array>;
  /** Zeroes weights (mean and samples). */
  applyPruningMask(keep: Record<string, Uint8Array>): void;
};

function checkSettings(s: Required<KfacLaplaceSettings>): void {
  checkPrior({ priorPrecision: s.priorPrecision, dataScale: s.dataScale ?? 1 });
  if (s.predictive !== "sample" && s.predictive !== "glm") {
    throw new RangeError(`predictive must be "sample" or "glm", found "${s.predictive}"`);
  }
  if (s.link !== "probit" && s.link !== "mc") {
    throw new RangeError(`link must be "probit" or "mc", found "${s.link}"`);
  }
  if (!Number.isInteger(s.samples) || s.samples < 1) {
    throw new RangeError(`samples must be a positive integer, found ${s.samples}`);
  }
  if (!Number.isInteger(s.curvatureBatchSize) || s.curvatureBatchSize < 1) {
    throw new RangeError(
      `curvatureBatchSize must be a positive integer, found ${s.curvatureBatchSize}`,
    );
  }
  if (!(s.ggnTol >= 0 && s.ggnTol < 1)) {
    throw new RangeError(`ggnTol must be in [0, 1), found ${s.ggnTol}`);
  }
  if (s.tune !== "none" && s.tune !== "marglik") {
    throw new RangeError(`tune must be "none" or "marglik", found "${s.tune}"`);
  }
}

/** Default `τ` grid of the validation tuner: decades 1e-2 … 1e6. */
export const KFAC_TAU_GRID: readonly number[] = Array.from(
  { length: 9 },
  (_, i) => 10 ** (i - 2),
);

/** Joins consecutive host batches into batches of about `size` examples. */
function rebatch(list: HostBatch[], size: number): HostBatch[] {
  const out: HostBatch[] = [];
  let group: HostBatch[] = [];
  let count = 0;
  const flush = () => {
    if (!group.length) return;
    const d = group[0].x.length / group[0].n;
    const x = new Float32Array(count * d);
    const y = group[0].y instanceof Int32Array ? new Int32Array(count) : new Float32Array(count);
    let o = 0;
    for (const b of group) {
      x.set(b.x, o * d);
      y.set(b.y as ArrayLike<number>, o);
      o += b.n;
    }
    out.push({ x, y, n: count });
    group = [];
    count = 0;
  };
  for (const b of list) {
    group.push(b);
    count += b.n;
    if (count >= size) flush();
  }
  flush();
  return out;
}

/**
 * Builds a KFAC Laplace method. Train it with `fit` (the curvature pass runs
 * after the last epoch), or call `fitCurvature` on a trained network.
 *
 * @example
 * ```ts
 * import { buildKfacLaplace } from "@bayes/nn/methods/kfac_laplace";
 * const m = buildKfacLaplace(
 *   { inputDim: 784, hidden: [1200, 1200], outputDim: 10, task: "classification" },
 *   { weightDecay: 0.01, predictive: "glm" },
 * );
 * m.init(0);
 * // await fit(m, train, { epochs: 10, batchSize: 128, seed: 0 });
 * // m.tune({ method: "marglik" });
 * ```
 */
export function buildKfacLaplace(
  spec: NetSpec,
  settings: KfacLaplaceSettings = {},
): KfacLaplaceMethod {
  const s: Required<KfacLaplaceSettings> = {
    ...KFAC_LAPLACE_DEFAULTS,
    ...stripUndefined(settings),
  };
  checkSettings(s);
  const inner = buildPointNet("kfac_laplace", spec, {
    lr: s.lr,
    weightDecay: s.weightDecay,
    optimizer: s.optimizer,
    momentum: s.momentum,
    dropout: 0,
    mcPredict: false,
  });
  const shapes = layerShapes(spec).filter((p) => p.name.endsWith(".w"));
  const nLayers = shapes.length;
  const k = shapes[nLayers - 1].shape[1];

  let factors: KronFactors | null = null;
  let host: { layers: AugLayer[]; logNoise?: number } | null = null;
  let masks: Record<string, Uint8Array> | null = null;
  let priorPrecision = s.priorPrecision;
  let dataScale: number | null = s.dataScale;
  let sampling: { key: string; f: (SamplingFactors | null)[] } | null = null;
  let eigs: (LayerEigen | null)[] | null = null;
  let passes = 0;
  let stash: HostBatch[] = [];

  const currentPrior = (): PriorSettings => ({
    priorPrecision,
    dataScale: dataScale ?? factors?.n ?? 1,
  });

  /** Host copy of the MAP weights (masked) and the global log σ. */
  const readHost = async () => {
    const st = await inner.getState();
    const layers = shapes.map((p, l) => {
      const [inDim, outDim] = p.shape;
      const w = st.tensors[`l${l}.w`].data, b = st.tensors[`l${l}.b`].data;
      return augment(w, b, inDim, outDim);
    });
    const ln = st.tensors.log_noise;
    host = { layers, logNoise: ln ? ln.data[0] : undefined };
  };

  const dropCurvature = () => {
    factors = null;
    sampling = null;
    eigs = null;
    host = null;
  };

  const getSampling = (): (SamplingFactors | null)[] => {
    const p = currentPrior();
    const key = `${p.priorPrecision}|${p.dataScale}`;
    if (sampling?.key === key) return sampling.f;
    const la = getLinalg();
    const f: (SamplingFactors | null)[] = Array(nLayers).fill(null);
    for (const lf of factors!.layers) f[lf.layer] = samplingFactors(lf, p, la);
    sampling = { key, f };
    return f;
  };

  const getEigs = (): (LayerEigen | null)[] => {
    if (eigs) return eigs;
    const la = getLinalg();
    const e: (LayerEigen | null)[] = Array(nLayers).fill(null);
    for (const lf of factors!.layers) e[lf.layer] = layerEigen(lf, la);
    return (eigs = e);
  };

  /** Augmented weight matrices of one posterior draw (MAP for fixed layers). */
  const drawLayers = (rng: Rng): Float32Array[] => {
    const f = getSampling();
    return host!.layers.map((layer, l) => {
      if (!f[l]) return layer.w;
      const w = sampleMatrixNormal(layer.w, f[l]!, rng);
      const m = masks?.[`l${l}.w`];
      if (m) { for (let i = 0; i < m.length; i++) if (!m[i]) w[i] = 0; }
      return w;
    });
  };

  const runCurvature = (data: ArrayDataset | HostBatch[], progress?: boolean) => {
    const opts: CurvatureOptions = {
      batchSize: s.curvatureBatchSize,
      ggnTol: s.ggnTol,
      lastLayer: s.lastLayer,
      progress,
      logNoise: host!.logNoise,
    };
    factors = kronFactors(spec, host!.layers, data, opts);
    sampling = null;
    eigs = null;
    passes++;
    if (s.tune === "marglik") method.tune({ method: "marglik" });
    return summary()!;
  };

  const summary = (): KfacCurvatureSummary | null =>
    factors && {
      n: factors.n,
      trainNll: factors.trainNll,
      seconds: factors.seconds,
      rowsKept: factors.ggn.rowsKept,
      rowsTotal: factors.ggn.rowsTotal,
      droppedMassShare: factors.ggn.massTotal > 0
        ? factors.ggn.massDropped / factors.ggn.massTotal
        : 0,
      layers: factors.layers.map((f) => f.layer),
    };

  const evidenceTerms = (): EvidenceTerms => {
    let thetaSq = 0;
    for (const lf of factors!.layers) {
      for (const v of host!.layers[lf.layer].w) thetaSq += v * v;
    }
    return { trainNll: factors!.trainNll, thetaSq };
  };

  const logNoiseTensor = () => hasGlobalNoise(spec) ? tf.scalar(host!.logNoise ?? 0) : undefined;

  /** Raw outputs `[N, k]` of each of `samples` weight draws. */
  const sampledOutputs = (x: tf.Tensor2D, samples: number, chunk: number, seed: number) => {
    const base = new Rng(seed);
    const n = x.shape[0];
    const chunks: tf.Tensor2D[] = [];
    for (let start = 0; start < n; start += chunk) {
      const size = Math.min(chunk, n - start);
      chunks.push(start === 0 && size === n ? x : tf.slice(x, [start, 0], [size, -1]));
    }
    // Last-layer mode: the MAP features once, then one matmul per draw.
    let feats: tf.Tensor2D[] | null = null;
    if (s.lastLayer && nLayers > 1) {
      const ws = host!.layers.slice(0, -1).map((layer) =>
        splitAugmented(layer.w, layer.inDim, layer.outDim)
      );
      feats = tf.tidy(() => {
        const p = {
          w: ws.map((w, l) => tf.tensor2d(w.w, shapes[l].shape as [number, number])),
          b: ws.map((w) => tf.tensor1d(w.b)),
        };
        return chunks.map((c) => tf.relu(mlpForward(p, c)) as tf.Tensor2D);
      });
    }
    const outs: tf.Tensor2D[] = [];
    try {
      for (let sIdx = 0; sIdx < samples; sIdx++) {
        const drawn = drawLayers(base.fork(sIdx));
        outs.push(tf.tidy(() => {
          const parts = host!.layers.map((layer, l) => {
            const { w, b } = splitAugmented(drawn[l], layer.inDim, layer.outDim);
            return { w: tf.tensor2d(w, [layer.inDim, layer.outDim]), b: tf.tensor1d(b) };
          });
          if (feats) {
            const last = parts[nLayers - 1];
            return tf.concat(
              feats.map((f) => tf.add(tf.matMul(f, last.w), last.b)),
              0,
            ) as tf.Tensor2D;
          }
          const p = { w: parts.map((q) => q.w), b: parts.map((q) => q.b) };
          return tf.concat(chunks.map((c) => mlpForward(p, c)), 0) as tf.Tensor2D;
        }));
      }
    } catch (e) {
      tf.dispose(outs);
      throw e;
    } finally {
      for (const c of chunks) if (c !== x) c.dispose();
      if (feats) tf.dispose(feats);
    }
    return outs;
  };

  /** Linearised predictive from host projections (one chunk at a time). */
  const glmOutputs = (
    xs: Float32Array,
    n: number,
    samples: number,
    chunk: number,
    seed: number,
  ): { logProbs?: Float32Array[]; raw?: Float32Array[] } => {
    const e = getEigs();
    const d = spec.inputDim;
    const probit = spec.task === "classification" && s.link === "probit";
    const S = probit ? 1 : samples;
    const res = Array.from({ length: S }, () => new Float32Array(n * k));
    const rng = new Rng(seed).fork(3);
    for (let start = 0; start < n; start += chunk) {
      const size = Math.min(chunk, n - start);
      const proj = glmProject(host!.layers, e, xs.subarray(start * d, (start + size) * d), size);
      const cov = glmCovariance(proj, e, currentPrior());
      if (probit) res[0].set(probitLogProbs(proj.out, cov, size, k), start * k);
      else {
        const draws = gaussianOutputSamples(proj.out, cov, size, k, S, rng);
        draws.forEach((o, i) => res[i].set(o, start * k));
      }
    }
    return probit ? { logProbs: res } : { raw: res };
  };

  const predictWith = (x: tf.Tensor2D, opts: PredictOptions): Prediction => {
    const samples = opts.samples ?? method.defaultSamples;
    checkPredictInput(spec, x, samples);
    const seed = opts.seed ?? 0;
    const chunk = opts.chunk ?? 2000;
    const n = x.shape[0];
    const ln = logNoiseTensor();
    try {
      if (s.predictive === "glm") {
        const r = glmOutputs(x.dataSync() as Float32Array, n, samples, Math.min(chunk, 1000), seed);
        if (r.logProbs) {
          return {
            task: "classification",
            logProbs: tf.tensor3d(r.logProbs[0], [1, n, k]),
          };
        }
        return stackPrediction(spec, r.raw!.map((o) => tf.tensor2d(o, [n, k])), ln);
      }
      return stackPrediction(spec, sampledOutputs(x, samples, chunk, seed), ln);
    } finally {
      ln?.dispose();
    }
  };

  const method: KfacLaplaceMethod = {
    name: "kfac_laplace",
    spec,
    get settings(): Readonly<Record<string, unknown>> {
      return { ...s, priorPrecision, dataScale };
    },
    defaultSamples: s.predictive === "glm" && s.link === "probit" && spec.task === "classification"
      ? 1
      : s.samples,
    get map(): PointNet {
      return inner;
    },
    get curvaturePasses(): number {
      return passes;
    },
    init(seed: number) {
      inner.init(seed);
      dropCurvature();
      masks = null;
      stash = [];
      priorPrecision = s.priorPrecision;
      dataScale = s.dataScale;
    },
    step(batch: TensorBatch, info: StepInfo): StepResult {
      if (factors) dropCurvature(); // the weights move: the factors no longer apply
      if (s.autoCurvature) {
        if (info.step === 0) stash = [];
        if (info.epoch === info.epochs - 1) {
          stash.push({
            x: batch.x.dataSync() as Float32Array,
            y: batch.y.dataSync() as Int32Array | Float32Array,
            n: batch.n,
          });
        }
      }
      return inner.step(batch, info);
    },
    async endEpoch(epoch: number, info: StepInfo) {
      if (!s.autoCurvature || epoch !== info.epochs - 1 || stash.length === 0) return;
      const data = rebatch(stash, s.curvatureBatchSize);
      stash = [];
      await readHost();
      runCurvature(data);
    },
    predict(x: tf.Tensor2D, opts: PredictOptions = {}): Prediction {
      if (!factors) return inner.predict(x, { ...opts, samples: 1 });
      return predictWith(x, opts);
    },
    async getState(): Promise<MethodState> {
      const st = await inner.getState();
      const tensors: Record<string, HostTensor> = { ...st.tensors };
      if (factors) {
        for (const f of factors.layers) {
          const r = f.inDim + 1;
          tensors[`kfac.l${f.layer}.q`] = { data: f.q, shape: [r, r] };
          tensors[`kfac.l${f.layer}.h`] = { data: f.h, shape: [f.outDim, f.outDim] };
        }
      }
      if (masks) {
        for (const [name, m] of Object.entries(masks)) {
          tensors[`mask.${name}`] = { data: Float32Array.from(m), shape: [m.length] };
        }
      }
      return {
        tensors,
        extra: {
          map: st.extra,
          priorPrecision,
          dataScale,
          curvaturePasses: passes,
          kfac: factors && {
            n: factors.n,
            trainNll: factors.trainNll,
            ggn: factors.ggn,
            seconds: factors.seconds,
            layers: factors.layers.map((f) => f.layer),
          },
        },
      };
    },
    async setState(state: MethodState) {
      const extra = state.extra ?? {};
      await inner.setState({
        tensors: state.tensors,
        extra: (extra.map as Record<string, unknown>) ?? {},
      });
      dropCurvature();
      masks = null;
      if (typeof extra.priorPrecision === "number") priorPrecision = extra.priorPrecision;
      dataScale = typeof extra.dataScale === "number" ? extra.dataScale : s.dataScale;
      const saved = extra.kfac as
        | {
          n: number;
          trainNll: number;
          ggn: KronFactors["ggn"];
          seconds: number;
          layers: number[];
        }
        | null
        | undefined;
      const maskNames = Object.keys(state.tensors).filter((n) => n.startsWith("mask."));
      if (maskNames.length) {
        masks = {};
        for (const name of maskNames) {
          masks[name.slice(5)] = Uint8Array.from(state.tensors[name].data, (v) => (v ? 1 : 0));
        }
      }
      if (saved) {
        const layers = saved.layers.map((l) => {
          const [inDim, outDim] = shapes[l].shape;
          const q = state.tensors[`kfac.l${l}.q`], h = state.tensors[`kfac.l${l}.h`];
          if (!q || !h) throw new Error(`kfac_laplace state: missing factor tensors of layer ${l}`);
          if (q.data.length !== (inDim + 1) ** 2 || h.data.length !== outDim ** 2) {
            throw new Error(
              `kfac_laplace state: factors of layer ${l} have shapes [${q.shape}] and ` +
                `[${h.shape}], expected [${inDim + 1},${inDim + 1}] and [${outDim},${outDim}]`,
            );
          }
          return { layer: l, inDim, outDim, q: q.data, h: h.data };
        });
        factors = {
          layers,
          n: saved.n,
          trainNll: saved.trainNll,
          ggn: saved.ggn,
          seconds: saved.seconds,
        };
        passes = typeof extra.curvaturePasses === "number" ? extra.curvaturePasses : 0;
        await readHost();
      }
    },
    dispose() {
      inner.dispose();
      dropCurvature();
      stash = [];
    },
    hasCurvature(): boolean {
      return factors !== null;
    },
    factors(): KronFactors | null {
      return factors;
    },
    curvatureSummary(): KfacCurvatureSummary | null {
      return summary();
    },
    async fitCurvature(data: ArrayDataset, opts: { progress?: boolean } = {}) {
      await readHost();
      return runCurvature(data, opts.progress);
    },
    prior(): PriorSettings {
      return currentPrior();
    },
    setPrior(p: Partial<PriorSettings>) {
      const next = { ...currentPrior(), ...stripUndefined(p) };
      checkPrior(next);
      priorPrecision = next.priorPrecision;
      if (p.dataScale !== undefined) dataScale = p.dataScale;
    },
    logEvidence(p: Partial<PriorSettings> = {}): number {
      if (!factors) {
        throw new Error("kfac_laplace: no curvature yet (train with fit or call fitCurvature)");
      }
      return laplaceEvidence(getEigs().filter((e) => e) as LayerEigen[], {
        ...currentPrior(),
        ...stripUndefined(p),
      }, evidenceTerms());
    },
    tune(opts: KfacTuneOptions): KfacTuneResult {
      if (!factors) {
        throw new Error("kfac_laplace: tune needs the curvature (run fitCurvature first)");
      }
      const t0 = performance.now();
      const N = currentPrior().dataScale;
      if (opts.method === "marglik") {
        const e = getEigs().filter((v) => v) as LayerEigen[];
        const r = maximiseEvidence(e, N, evidenceTerms());
        priorPrecision = r.priorPrecision;
        return {
          method: "marglik",
          priorPrecision,
          dataScale: N,
          score: r.evidence,
          table: [{ priorPrecision, dataScale: N, score: r.evidence }],
          seconds: (performance.now() - t0) / 1000,
        };
      }
      if (opts.method !== "val") {
        throw new RangeError(`tune method must be "marglik" or "val", found "${opts.method}"`);
      }
      const valid = opts.valid;
      if (!valid || valid.n < 1) throw new RangeError("tune val: needs a non-empty valid data set");
      const taus = opts.priorPrecisions ?? [...KFAC_TAU_GRID];
      const scales = opts.dataScales ?? [N];
      const samples = opts.samples ?? 10;
      const seed = opts.seed ?? 0;
      const table: KfacTuneRow[] = [];
      const saved = { priorPrecision, dataScale };
      const progress = new Progress({
        label: "tune",
        total: taus.length * scales.length + (opts.priorPrecisions ? 0 : 2 * scales.length),
        enabled: opts.progress,
      });
      let done = 0;
      const scoreAll = (cands: PriorSettings[]) => {
        for (const c of cands) checkPrior(c);
        let scores: number[];
        if (s.predictive === "glm") scores = glmScores(valid, cands, samples, seed);
        else {
          const x = tf.tensor2d(valid.x, [valid.n, spec.inputDim]);
          try {
            scores = cands.map((c) => {
              priorPrecision = c.priorPrecision;
              dataScale = c.dataScale;
              const pred = predictWith(x, { samples, seed });
              try {
                return meanLogLik(pred, valid.y);
              } finally {
                disposePred(pred);
                progress.update(++done);
              }
            });
          } finally {
            x.dispose();
          }
        }
        cands.forEach((c, i) => table.push({ ...c, score: scores[i] }));
        done = table.length;
        progress.update(done);
      };
      scoreAll(scales.flatMap((n) => taus.map((t) => ({ priorPrecision: t, dataScale: n }))));
      if (!opts.priorPrecisions) {
        const best = table.reduce((a, b) => (b.score > a.score ? b : a));
        scoreAll(
          [best.priorPrecision / Math.sqrt(10), best.priorPrecision * Math.sqrt(10)].map((t) => ({
            priorPrecision: t,
            dataScale: best.dataScale,
          })),
        );
      }
      progress.done();
      priorPrecision = saved.priorPrecision;
      dataScale = saved.dataScale;
      const valid_ = table.filter((r) => Number.isFinite(r.score));
      if (!valid_.length) throw new Error("tune val: every candidate gave a non-finite score");
      const best = valid_.reduce((a, b) => (b.score > a.score ? b : a));
      priorPrecision = best.priorPrecision;
      dataScale = best.dataScale;
      return {
        method: "val",
        priorPrecision,
        dataScale: best.dataScale,
        score: best.score,
        table,
        seconds: (performance.now() - t0) / 1000,
      };
    },
    sampleWeights(count: number, seed = 0): Record<string, Float32Array>[] {
      if (!factors) return inner.sampleWeights(count, seed);
      const base = new Rng(seed).fork(11);
      const out: Record<string, Float32Array>[] = [];
      for (let i = 0; i < count; i++) {
        const drawn = drawLayers(base.fork(i));
        const set: Record<string, Float32Array> = {};
        host!.layers.forEach((layer, l) => {
          const { w, b } = splitAugmented(drawn[l], layer.inDim, layer.outDim);
          set[`l${l}.w`] = w;
          set[`l${l}.b`] = b;
        });
        out.push(set);
      }
      return out;
    },
    pruningScores(): Record<string, Float32Array> {
      if (!factors) return inner.pruningScores();
      const f = getSampling();
      const out: Record<string, Float32Array> = {};
      host!.layers.forEach((layer, l) => {
        const size = layer.inDim * layer.outDim;
        const w = layer.w;
        const score = new Float32Array(size);
        if (f[l]) {
          const v = marginalVariances(f[l]!);
          for (let i = 0; i < size; i++) score[i] = Math.abs(w[i]) / Math.sqrt(v[i]);
        } else {
          // Fixed layer (last-layer mode): magnitude in prior standard deviations.
          const sc = Math.sqrt(priorPrecision);
          for (let i = 0; i < size; i++) score[i] = Math.abs(w[i]) * sc;
        }
        out[`l${l}.w`] = score;
      });
      return out;
    },
    applyPruningMask(keep: Record<string, Uint8Array>): void {
      for (const [name, m] of Object.entries(keep)) {
        const l = Number(name.match(/^l(\d+)\.w$/)?.[1] ?? NaN);
        if (!(l >= 0 && l < nLayers)) {
          throw new RangeError(
            `pruning mask: unknown weight "${name}" (expected l0.w … l${nLayers - 1}.w)`,
          );
        }
        const size = shapes[l].shape[0] * shapes[l].shape[1];
        if (m.length !== size) {
          throw new RangeError(
            `pruning mask for ${name} has ${m.length} entries, expected ${size}`,
          );
        }
      }
      inner.applyPruningMask(keep);
      masks = { ...(masks ?? {}) };
      for (const [name, m] of Object.entries(keep)) {
        const l = Number(name.slice(1, name.indexOf(".")));
        const prev = masks[name];
        masks[name] = prev ? m.map((v, i) => (v && prev[i] ? 1 : 0)) : Uint8Array.from(m);
        if (host) {
          const w = host.layers[l].w;
          for (let i = 0; i < m.length; i++) if (!m[i]) w[i] = 0;
        }
      }
    },
  };

  /** Validation log-likelihood of each candidate under the GLM predictive. */
  const glmScores = (
    valid: ArrayDataset,
    cands: PriorSettings[],
    samples: number,
    seed: number,
  ): number[] => {
    const e = getEigs();
    const d = spec.inputDim;
    const totals = new Float64Array(cands.length);
    const chunk = 500;
    const probit = spec.task === "classification" && s.link === "probit";
    const ln = logNoiseTensor();
    try {
      for (let start = 0; start < valid.n; start += chunk) {
        const size = Math.min(chunk, valid.n - start);
        const proj: GlmProjection = glmProject(
          host!.layers,
          e,
          valid.x.subarray(start * d, (start + size) * d),
          size,
        );
        const y = valid.y.subarray(start, start + size) as Int32Array | Float32Array;
        cands.forEach((c, i) => {
          const cov = glmCovariance(proj, e, c);
          let pred: Prediction;
          if (probit) {
            pred = {
              task: "classification",
              logProbs: tf.tensor3d(probitLogProbs(proj.out, cov, size, k), [1, size, k]),
            };
          } else {
            const draws = gaussianOutputSamples(
              proj.out,
              cov,
              size,
              k,
              samples,
              new Rng(seed).fork(start),
            );
            pred = stackPrediction(spec, draws.map((o) => tf.tensor2d(o, [size, k])), ln);
          }
          totals[i] += meanLogLik(pred, y) * size;
          disposePred(pred);
        });
      }
    } finally {
      ln?.dispose();
    }
    return Array.from(totals, (t) => t / valid.n);
  };

  return method;
}

function disposePred(p: Prediction): void {
  if (p.task === "classification") p.logProbs.dispose();
  else {
    p.mean.dispose();
    p.logSigma.dispose();
  }
}
