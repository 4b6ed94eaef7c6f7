/**
 * Kronecker-factored Laplace approximation (Ritter, Botev & Barber 2018): a
 * MAP network (weight decay as the Gaussian prior) is trained as usual, one
 * pass over the training data accumulates per layer the two Kronecker
 * factors of the block-diagonal Gauss–Newton curvature (`methods/kfac/
 * curvature.ts`), and predictions average over matrix-normal weight samples
 * (`methods/kfac/sampler.ts`) or use the linearised (GLM) predictive
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
 * Where the work runs: the curvature pass, weight sampling and the GLM
 * projections are tfjs ops on the backend's device (the training data
 * uploaded once); the factors (at most `1201²`) are read back once,
 * asynchronously, and decomposed on the host (LAPACK: Cholesky for sampling,
 * eigendecompositions for the evidence and the GLM); the square roots go
 * back to the device once per prior setting. Nothing is read synchronously.
 *
 * Inside `fit` the method records the rows of the last epoch's minibatches
 * and runs the curvature pass in `finalize` over them, in that order
 * (`autoCurvature`; the truncation groups are the base method's: consecutive
 * minibatches joined up to `curvatureBatchSize`), so any training loop
 * yields the full posterior; `fitCurvature` runs it on a given data set.
 * Around a MAP network trained elsewhere (`buildMap`, or loaded), one call
 * does it all: {@linkcode laplaceFromMap}.
 * Until the factors exist, `predict` returns the MAP network's single sample.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ArrayDataset } from "../core/data.ts";
import { getEngine } from "../core/engine/current.ts";
import { getLinalg } from "../core/linalg.ts";
import { appendLogNoise, disposePrediction, predictBatched } from "../core/likelihood.ts";
import type {
  FinalizeOptions,
  Method,
  MethodState,
  NetSpec,
  Prediction,
  PredictOptions,
  StepInfo,
  StepResult,
  TensorBatch,
} from "../core/method.ts";
import { forwardLayers, hasGlobalNoise, layerShapes, mlpForward } from "../core/mlp.ts";
import type { LrScheduleName, OptimizerName } from "../core/optim.ts";
import { buildPointNet, type PointNet } from "../core/point_net.ts";
import { Progress } from "../core/progress.ts";
import type { HostTensor } from "../core/safetensors.ts";
import { type KronFactors, kronFactors } from "./kfac/curvature.ts";
import {
  choleskyBatched,
  type DeviceEigen,
  deviceEigen,
  disposeEigen,
  disposeProjection,
  gaussianOutputSamples,
  glmCovariance,
  glmProject,
  glmVariances,
  probitLogits,
} from "./kfac/glm.ts";
import {
  checkPrior,
  type EvidenceTerms,
  laplaceEvidence,
  type LayerEigen,
  layerEigen,
  marginalVariances,
  maximiseEvidence,
  type PriorSettings,
  type SamplingFactors,
  samplingFactors,
} from "./kfac/posterior.ts";
import {
  type DeviceLayerPosterior,
  devicePosterior,
  disposePosterior,
  drawLayer,
} from "./kfac/sampler.ts";
import { coversOnce, rebatchRows } from "./kfac/rows.ts";
import { logLikSum } from "./kfac/scoring.ts";

export type { GgnStats, KronFactors, KronLayerFactors } from "./kfac/curvature.ts";
export type { PriorSettings } from "./kfac/posterior.ts";
export { laplaceFromMap, type LaplaceFromMapOptions } from "./laplace.ts";
import { stripUndefined } from "../core/settings.ts";

/** The shared types this module's API refers to. */
export type * from "../core/public_types.ts";

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
  /** MAP learning-rate schedule over the run (default `constant`, the reference's; or `cosine`). */
  lrSchedule?: LrScheduleName;
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
  /** Examples per truncation group of the curvature pass (default 256). */
  curvatureBatchSize?: number;
  /** Gauss–Newton mass share dropped per group (default 1e-3; 0 = exact), see `kfac/curvature.ts`. */
  ggnTol?: number;
  /** Run the curvature pass when `fit` finishes, over the last epoch's rows (default true). */
  autoCurvature?: boolean;
  /** After an automatic curvature pass, choose `τ` by the marginal likelihood (`marglik`). */
  tune?: "none" | "marglik";
}

/**
 * Default settings.
 *
 * @example
 * ```ts
 * import { KFAC_LAPLACE_DEFAULTS } from "@bayes/nn/methods/kfac_laplace";
 * KFAC_LAPLACE_DEFAULTS.ggnTol; // 1e-3
 * ```
 */
export const KFAC_LAPLACE_DEFAULTS: Required<KfacLaplaceSettings> = {
  lr: 1e-3,
  weightDecay: 0.01,
  optimizer: "momentum",
  momentum: 0.5,
  lrSchedule: "constant",
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

/** Summary of the curvature pass (saved with the state, except `seconds`). */
export interface KfacCurvatureSummary {
  /** Examples averaged over. */
  n: number;
  /** Summed training NLL at the MAP. */
  trainNll: number;
  /** Seconds of the pass (0 after loading a state). */
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
  /** How many curvature passes this instance has run (for tests and logs; not saved). */
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
  /** Chooses `τ` (and `N`) and sets them (async: `val` reads its scores back). */
  tune(opts: KfacTuneOptions): Promise<KfacTuneResult>;
  /** Matrix-normal weight samples (drawn on the device, read asynchronously). */
  sampleWeights(k: number, seed?: number): Promise<Record<string, Float32Array>[]>;
  /** `|w_MAP| / σ` per weight. */
  pruningScores(): Promise<Record<string, Float32Array>>;
  /** Zeroes weights (mean and samples). */
  applyPruningMask(keep: Record<string, Uint8Array>): Promise<void>;
  /** Runs the automatic curvature pass (called by `fit` after the last epoch). */
  finalize(train: ArrayDataset, opts: FinalizeOptions): Promise<void>;
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

/**
 * Default `τ` grid of the validation tuner: decades 1e-2 … 1e6.
 *
 * @example
 * ```ts
 * import { KFAC_TAU_GRID } from "@bayes/nn/methods/kfac_laplace";
 * KFAC_TAU_GRID.length; // 9
 * ```
 */
export const KFAC_TAU_GRID: readonly number[] = Array.from(
  { length: 9 },
  (_, i) => 10 ** (i - 2),
);

/** Noise stream purposes (weight draws: one stream per layer from `SAMPLE_NOISE`). */
const SAMPLE_NOISE = 0x4b460000;
const GLM_NOISE = 0x4b470000;

/** Values of a tensor that fit one GLM chunk: `2^24` (64 MiB of floats). */
const GLM_CHUNK_VALUES = 2 ** 24;

/** The device posterior and the host square roots it came from, for one prior setting. */
interface Sampling {
  key: string;
  host: (SamplingFactors | null)[];
  dev: (DeviceLayerPosterior | null)[];
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
 * // await m.tune({ method: "marglik" });
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
    lrSchedule: s.lrSchedule,
    dropout: 0,
    mcPredict: false,
  });
  const shapes = layerShapes(spec).filter((p) => p.name.endsWith(".w"));
  const nLayers = shapes.length;
  const k = shapes[nLayers - 1].shape[1];
  const width = Math.max(...spec.hidden, 1);

  let factors: KronFactors | null = null;
  /** `‖θ_MAP‖²` over the Laplace layers (the evidence's prior term). */
  let thetaSq = 0;
  let masks: Record<string, Uint8Array> | null = null;
  let priorPrecision = s.priorPrecision;
  let dataScale: number | null = s.dataScale;
  let sampling: Sampling | null = null;
  let eigHost: (LayerEigen | null)[] | null = null;
  let eigDev: (DeviceEigen | null)[] | null = null;
  let passes = 0;
  /** Rows of the last epoch's minibatches, in order (`complete`: every batch had its rows). */
  let record: { rows: Int32Array[]; complete: boolean } | null = null;

  /** The MAP's learnt global log σ (homoscedastic regression; its last parameter), a view. */
  const logNoise = (): tf.Tensor | undefined => {
    if (!hasGlobalNoise(spec)) return undefined;
    const ps = inner.parameters();
    return ps[ps.length - 1];
  };

  const currentPrior = (): PriorSettings => ({
    priorPrecision,
    dataScale: dataScale ?? factors?.n ?? 1,
  });

  const dropSampling = () => {
    if (sampling) { for (const p of sampling.dev) if (p) disposePosterior(p); }
    sampling = null;
  };

  const dropCurvature = () => {
    factors = null;
    thetaSq = 0;
    dropSampling();
    if (eigDev) { for (const e of eigDev) if (e) disposeEigen(e); }
    eigDev = null;
    eigHost = null;
  };

  const needFactors = (what: string): KronFactors => {
    if (!factors) {
      throw new Error(
        `kfac_laplace: ${what} needs the curvature (train with fit or call fitCurvature)`,
      );
    }
    return factors;
  };

  /** Host square roots and device posteriors at the current prior (cached per prior). */
  const getSampling = (): Sampling => {
    const f = needFactors("sampling");
    const p = currentPrior();
    const key = `${p.priorPrecision}|${p.dataScale}`;
    if (sampling?.key === key) return sampling;
    dropSampling();
    const la = getLinalg();
    const host: (SamplingFactors | null)[] = Array(nLayers).fill(null);
    const dev: (DeviceLayerPosterior | null)[] = Array(nLayers).fill(null);
    try {
      for (const lf of f.layers) {
        const sf = samplingFactors(lf, p, la);
        host[lf.layer] = sf;
        dev[lf.layer] = devicePosterior(lf.layer, sf, masks?.[`l${lf.layer}.w`]);
      }
    } catch (e) {
      for (const d of dev) if (d) disposePosterior(d);
      throw e;
    }
    return (sampling = { key, host, dev });
  };

  const getEigHost = (): (LayerEigen | null)[] => {
    if (eigHost) return eigHost;
    const f = needFactors("the eigendecomposition");
    const la = getLinalg();
    const e: (LayerEigen | null)[] = Array(nLayers).fill(null);
    for (const lf of f.layers) e[lf.layer] = layerEigen(lf, la);
    return (eigHost = e);
  };

  const getEigDev = (): (DeviceEigen | null)[] =>
    eigDev ??= getEigHost().map((e) => (e ? deviceEigen(e) : null));

  /**
   * `‖θ‖²` of the Laplace layers' current (masked) weights and biases: per-row sums of squares
   * on the device, read asynchronously and added in double precision.
   */
  const readThetaSq = async (f: KronFactors): Promise<number> => {
    const net = inner.layers();
    const t = tf.tidy(() =>
      tf.concat(
        f.layers.flatMap((lf) => [
          tf.sum(tf.square(net.w[lf.layer]), 1),
          tf.square(net.b[lf.layer]),
        ]),
      )
    );
    const rows = await getEngine().read(t);
    t.dispose();
    let sum = 0;
    for (const v of rows) sum += v;
    return sum;
  };

  const runCurvature = async (
    data: ArrayDataset,
    groups: Int32Array[] | undefined,
    progress?: boolean,
  ): Promise<KfacCurvatureSummary> => {
    const f = await kronFactors(spec, inner.layers(), data, {
      batchSize: s.curvatureBatchSize,
      ggnTol: s.ggnTol,
      lastLayer: s.lastLayer,
      progress,
      logNoise: logNoise(),
      groups,
    });
    dropCurvature();
    factors = f;
    thetaSq = await readThetaSq(f);
    passes++;
    if (s.tune === "marglik") await method.tune({ method: "marglik" });
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

  const evidenceTerms = (): EvidenceTerms => ({ trainNll: factors!.trainNll, thetaSq });

  /** Per row chunk (the same tensors for every sample chunk), a value computed once. */
  const perRows = <T extends tf.Tensor | tf.Tensor[]>() => {
    const cache = new Map<tf.Tensor, T>();
    return {
      get(xc: tf.Tensor, make: () => T): T {
        let v = cache.get(xc);
        if (!v) {
          v = make();
          for (const t of ([] as tf.Tensor[]).concat(v)) tf.keep(t);
          cache.set(xc, v);
        }
        return v;
      },
      dispose() {
        for (const v of cache.values()) tf.dispose(v);
        cache.clear();
      },
    };
  };

  /**
   * Predictions from matrix-normal weight samples (MAP weights for fixed layers): each chunk of
   * samples draws its weights once (`[count, in, out]`) and runs them on every row chunk.
   */
  const predictSampled = (x: tf.Tensor2D, samples: number, opts: PredictOptions): Prediction => {
    const post = getSampling().dev;
    const engine = getEngine();
    const net = inner.layers();
    const ln = logNoise();
    const seed = opts.seed ?? 0;
    const first = post.findIndex((p) => p !== null);
    const streams = post.map((_, l) => engine.noise(seed, SAMPLE_NOISE + l));
    const feats = perRows<tf.Tensor>();
    const weightsPerSample = post.reduce((a, p) => a + (p ? (p.inDim + 1) * p.outDim : 0), 0);
    try {
      return predictBatched(
        spec,
        x,
        samples,
        { chunk: opts.chunk, width, weightsPerSample },
        (_start, count) => {
          const ws: tf.Tensor[] = [];
          for (let l = first; l < nLayers; l++) {
            const { w, b } = drawLayer(post[l]!, net.w[l], net.b[l], streams[l], count);
            ws.push(w, b);
          }
          return {
            forward: (xc) => {
              // Fixed layers (last-layer mode): their features once per row chunk.
              const h = first > 0
                ? feats.get(
                  xc,
                  () =>
                    tf.relu(mlpForward({ w: net.w.slice(0, first), b: net.b.slice(0, first) }, xc)),
                )
                : xc;
              const out = forwardLayers(ws, h);
              return ln ? appendLogNoise(out, ln) : out;
            },
            dispose: () => tf.dispose(ws),
          };
        },
      );
    } finally {
      feats.dispose();
    }
  };

  /**
   * The linearised predictive (probit: one deterministic sample; else Monte Carlo): the
   * projection of each row chunk is computed once, the draws per chunk of samples.
   */
  const predictGlm = (x: tf.Tensor2D, samples: number, opts: PredictOptions): Prediction => {
    const eigs = getEigDev();
    const prior = currentPrior();
    const engine = getEngine();
    const net = inner.layers();
    const ln = logNoise();
    const probit = spec.task === "classification" && s.link === "probit";
    const noise = engine.noise(opts.seed ?? 0, GLM_NOISE);
    const rows = opts.chunk ??
      Math.max(1, Math.min(x.shape[0], Math.floor(GLM_CHUNK_VALUES / (k * width))));
    const cached = perRows<tf.Tensor[]>();
    const project = (xc: tf.Tensor2D) =>
      cached.get(xc, () => {
        const proj = glmProject(net, eigs, xc);
        try {
          return probit
            ? [probitLogits(proj.out, glmVariances(proj, eigs, prior))]
            : [tf.clone(proj.out), choleskyBatched(glmCovariance(proj, eigs, prior))];
        } finally {
          disposeProjection(proj);
        }
      });
    try {
      return predictBatched(
        spec,
        x,
        probit ? 1 : samples,
        { chunk: rows, width },
        (_start, count) => ({
          forward: (xc) => {
            const c = project(xc);
            if (probit) return c[0].expandDims(0);
            const draws = gaussianOutputSamples(
              c[0] as tf.Tensor2D,
              c[1] as tf.Tensor3D,
              noise,
              count,
            );
            return ln ? appendLogNoise(draws, ln) : draws;
          },
        }),
      );
    } finally {
      cached.dispose();
    }
  };

  const predictWith = (x: tf.Tensor2D, opts: PredictOptions): Prediction => {
    const samples = opts.samples ?? method.defaultSamples;
    return s.predictive === "glm" ? predictGlm(x, samples, opts) : predictSampled(x, samples, opts);
  };

  /** Summed validation log-likelihood of each candidate under the GLM predictive (device scalars). */
  const glmScores = (
    valid: ArrayDataset,
    cands: PriorSettings[],
    samples: number,
    seed: number,
    onChunk: () => void,
  ): tf.Tensor => {
    const eigs = getEigDev();
    const engine = getEngine();
    const net = inner.layers();
    const ln = logNoise();
    const d = spec.inputDim;
    const chunk = 500;
    const probit = spec.task === "classification" && s.link === "probit";
    let totals = tf.zeros([cands.length]);
    for (let start = 0, c = 0; start < valid.n; start += chunk, c++) {
      const size = Math.min(chunk, valid.n - start);
      const next = tf.tidy(() => {
        const xc = tf.tensor2d(valid.x.subarray(start * d, (start + size) * d), [size, d]);
        const yv = valid.y.subarray(start, start + size);
        const yc = yv instanceof Int32Array ? tf.tensor1d(yv, "int32") : tf.tensor1d(yv);
        const proj = glmProject(net, eigs, xc);
        const scores = cands.map((prior) => {
          let pred: Prediction;
          if (probit) {
            const z = probitLogits(proj.out, glmVariances(proj, eigs, prior));
            pred = {
              task: "classification",
              logProbs: tf.logSoftmax(z).expandDims(0) as tf.Tensor3D,
            };
          } else {
            // The same draws for every candidate: a fresh stream per chunk.
            const chol = choleskyBatched(glmCovariance(proj, eigs, prior));
            const raw = gaussianOutputSamples(
              proj.out,
              chol,
              engine.noise(seed, GLM_NOISE + 1 + c),
              samples,
            );
            pred = rawPrediction(ln ? appendLogNoise(raw, ln) : raw);
          }
          return logLikSum(pred, yc);
        });
        return tf.add(totals, tf.stack(scores));
      });
      totals.dispose();
      totals = next;
      onChunk();
    }
    return totals;
  };

  /** Raw outputs `[S, n, out]` (log σ column appended) as a prediction. */
  const rawPrediction = (raw: tf.Tensor): Prediction => {
    if (spec.task === "classification") {
      return { task: "classification", logProbs: tf.logSoftmax(raw) as tf.Tensor3D };
    }
    const [S, n] = raw.shape;
    return {
      task: "regression",
      mean: tf.slice(raw, [0, 0, 0], [S, n, 1]) as tf.Tensor3D,
      logSigma: tf.slice(raw, [0, 0, 1], [S, n, 1]) as tf.Tensor3D,
    };
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
      record = null;
      priorPrecision = s.priorPrecision;
      dataScale = s.dataScale;
    },
    step(batch: TensorBatch, info: StepInfo): StepResult | Promise<StepResult> {
      if (factors) dropCurvature(); // the weights move: the factors no longer apply
      if (s.autoCurvature && info.epoch === info.epochs - 1) {
        if (info.step === 0 || !record) record = { rows: [], complete: true };
        if (batch.indices) record.rows.push(batch.indices.slice());
        else record.complete = false;
      }
      return inner.step(batch, info);
    },
    async finalize(train: ArrayDataset, opts: FinalizeOptions) {
      if (!s.autoCurvature) return;
      const rec = record;
      record = null;
      // As the base method: a pass only when this run trained the last epoch (a run resumed
      // after it has its factors from the checkpoint), or over the whole set when training
      // ended elsewhere (early stopping, a restored best state).
      if (!rec && !opts.fullPass) return;
      const groups = !opts.fullPass && rec && rec.complete && coversOnce(rec.rows, train.n)
        ? rebatchRows(rec.rows, s.curvatureBatchSize)
        : undefined;
      await runCurvature(train, groups, opts.progress);
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
          kfac: factors && {
            n: factors.n,
            trainNll: factors.trainNll,
            ggn: factors.ggn,
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
      record = null;
      if (typeof extra.priorPrecision === "number") priorPrecision = extra.priorPrecision;
      dataScale = typeof extra.dataScale === "number" ? extra.dataScale : s.dataScale;
      const saved = extra.kfac as
        | { n: number; trainNll: number; ggn: KronFactors["ggn"]; layers: number[] }
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
        const f: KronFactors = {
          layers,
          n: saved.n,
          trainNll: saved.trainNll,
          ggn: saved.ggn,
          seconds: 0,
        };
        factors = f;
        thetaSq = await readThetaSq(f);
      }
    },
    dispose() {
      inner.dispose();
      dropCurvature();
      record = null;
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
    fitCurvature(data: ArrayDataset, opts: { progress?: boolean } = {}) {
      return runCurvature(data, undefined, opts.progress);
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
      needFactors("logEvidence");
      return laplaceEvidence(getEigHost().filter((e) => e) as LayerEigen[], {
        ...currentPrior(),
        ...stripUndefined(p),
      }, evidenceTerms());
    },
    async tune(opts: KfacTuneOptions): Promise<KfacTuneResult> {
      if (!factors) {
        throw new Error("kfac_laplace: tune needs the curvature (run fitCurvature first)");
      }
      const t0 = performance.now();
      const N = currentPrior().dataScale;
      if (opts.method === "marglik") {
        const e = getEigHost().filter((v) => v) as LayerEigen[];
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
      const chunks = Math.ceil(valid.n / 500);
      const rounds = opts.priorPrecisions ? 1 : 2;
      const progress = new Progress({
        label: "tune",
        total: s.predictive === "glm"
          ? rounds * chunks
          : taus.length * scales.length + (rounds - 1) * 2,
        enabled: opts.progress,
      });
      let done = 0;
      const scoreAll = async (cands: PriorSettings[]) => {
        for (const c of cands) checkPrior(c);
        let sums: tf.Tensor;
        if (s.predictive === "glm") {
          sums = glmScores(valid, cands, samples, seed, () => progress.update(++done));
        } else {
          const x = tf.tensor2d(valid.x, [valid.n, spec.inputDim]);
          const y = valid.y instanceof Int32Array
            ? tf.tensor1d(valid.y, "int32")
            : tf.tensor1d(valid.y);
          const parts: tf.Tensor[] = [];
          try {
            for (const c of cands) {
              priorPrecision = c.priorPrecision;
              dataScale = c.dataScale;
              const pred = predictWith(x, { samples, seed });
              parts.push(logLikSum(pred, y));
              disposePrediction(pred);
              progress.update(++done);
            }
            sums = tf.stack(parts);
          } finally {
            tf.dispose([x, y, ...parts]);
          }
        }
        const values = await getEngine().read(sums);
        sums.dispose();
        cands.forEach((c, i) => table.push({ ...c, score: values[i] / valid.n }));
      };
      try {
        await scoreAll(
          scales.flatMap((n) => taus.map((t) => ({ priorPrecision: t, dataScale: n }))),
        );
        if (!opts.priorPrecisions) {
          const best = table.reduce((a, b) => (b.score > a.score ? b : a));
          await scoreAll(
            [best.priorPrecision / Math.sqrt(10), best.priorPrecision * Math.sqrt(10)].map((t) => ({
              priorPrecision: t,
              dataScale: best.dataScale,
            })),
          );
        }
      } finally {
        progress.done();
        priorPrecision = saved.priorPrecision;
        dataScale = saved.dataScale;
      }
      const finite = table.filter((r) => Number.isFinite(r.score));
      if (!finite.length) throw new Error("tune val: every candidate gave a non-finite score");
      const best = finite.reduce((a, b) => (b.score > a.score ? b : a));
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
    async sampleWeights(count: number, seed = 0): Promise<Record<string, Float32Array>[]> {
      if (!factors) return inner.sampleWeights(count, seed);
      const post = getSampling().dev;
      const engine = getEngine();
      const net = inner.layers();
      const out: Record<string, Float32Array>[] = Array.from({ length: count }, () => ({}));
      // Fixed layers (last-layer mode): the MAP weights in every set.
      for (let l = 0; l < nLayers; l++) {
        if (post[l]) continue;
        const [w, b] = await Promise.all([engine.read(net.w[l]), engine.read(net.b[l])]);
        for (const set of out) {
          set[`l${l}.w`] = w.slice();
          set[`l${l}.b`] = b.slice();
        }
      }
      const biggest = Math.max(...post.map((p) => (p ? (p.inDim + 1) * p.outDim : 0)));
      const group = engine.samplesPerPass(count, biggest);
      for (let l = 0; l < nLayers; l++) {
        const p = post[l];
        if (!p) continue;
        const noise = engine.noise(seed, SAMPLE_NOISE + l);
        const size = p.inDim * p.outDim;
        for (let start = 0; start < count; start += group) {
          const c = Math.min(group, count - start);
          const draws = drawLayer(p, net.w[l], net.b[l], noise, c);
          const [w, b] = await Promise.all([engine.read(draws.w), engine.read(draws.b)]);
          tf.dispose([draws.w, draws.b]);
          for (let i = 0; i < c; i++) {
            out[start + i][`l${l}.w`] = w.slice(i * size, (i + 1) * size);
            out[start + i][`l${l}.b`] = b.slice(i * p.outDim, (i + 1) * p.outDim);
          }
        }
      }
      return out;
    },
    async pruningScores(): Promise<Record<string, Float32Array>> {
      if (!factors) return inner.pruningScores();
      const f = getSampling().host;
      const net = inner.layers();
      const engine = getEngine();
      const out: Record<string, Float32Array> = {};
      for (let l = 0; l < nLayers; l++) {
        const w = await engine.read(net.w[l]);
        const score = new Float32Array(w.length);
        if (f[l]) {
          const v = marginalVariances(f[l]!);
          for (let i = 0; i < w.length; i++) score[i] = Math.abs(w[i]) / Math.sqrt(v[i]);
        } else {
          // Fixed layer (last-layer mode): magnitude in prior standard deviations.
          const sc = Math.sqrt(priorPrecision);
          for (let i = 0; i < w.length; i++) score[i] = Math.abs(w[i]) * sc;
        }
        out[`l${l}.w`] = score;
      }
      return out;
    },
    async applyPruningMask(keep: Record<string, Uint8Array>): Promise<void> {
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
        const prev = masks[name];
        masks[name] = prev ? m.map((v, i) => (v && prev[i] ? 1 : 0)) : Uint8Array.from(m);
      }
      dropSampling(); // the means and masks changed
      if (factors) thetaSq = await readThetaSq(factors);
    },
  };

  return method;
}
