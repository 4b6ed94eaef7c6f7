/**
 * Bayes by Backprop (Blundell et al. 2015): a fully factorised Gaussian
 * posterior q(w) = Π N(μᵢ, σᵢ²), σ = softplus(ρ) + 1e-6, over every weight
 * and bias, trained by minimising the negative ELBO
 * `Σ minibatch NLL + KL(q‖p) / number_of_batches` with reparametrised
 * Monte Carlo gradients. Three estimators of the NLL gradient:
 *
 * - `weight`: one weight sample shared by the minibatch (the reference);
 * - `local`: the local reparametrisation trick (pre-activations sampled from
 *   their closed-form Gaussian; Kingma et al. 2015);
 * - `flipout`: one shared perturbation per sample decorrelated per example by
 *   random sign flips (Wen et al. 2018).
 *
 * Priors: Gaussian (KL in closed form), Laplace and a two-component scale
 * mixture (Monte Carlo KL, log q − log p at the sampled weights).
 *
 * All per-parameter work — noise, w = μ + σ·ε, gradient accumulation, the
 * KL, the update rule and σ = softplus(ρ) — runs in single JS loops over flat
 * `Float32Array`s and tensors on the wasm heap; only the matmuls go through
 * tfjs (BLAS).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkPredictInput, nllSum, stackPrediction } from "../core/likelihood.ts";
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
import { hasGlobalNoise, mlpForward, validateSpec } from "../core/mlp.ts";
import { Rng } from "../core/rng.ts";
import type { HostTensor } from "../core/safetensors.ts";
import { tensorFromFill } from "../core/tensor_io.ts";
import { flipoutForward, localForward } from "./bbb/forward.ts";
import { accumulateGradient, assembleGradient, writeWeightSample } from "./bbb/kernels.ts";
import { heapValues, type ParamSegment, paramSegments } from "./bbb/layout.ts";
import { AheadNormalStream, type NormalSource, NormalStream } from "./bbb/normal.ts";
import { HOST_OPTIMIZERS, HostOptimizer, type HostOptimizerName } from "./bbb/optimizer.ts";
import {
  BBB_PRIORS,
  type BbbPrior,
  type BbbPriorName,
  BbbSettingsError,
  makeBbbPrior,
} from "./bbb/priors.ts";
import { rhoForSigma, SIGMA_EPS, sigmaFromRho } from "./bbb/softplus.ts";

export * from "./bbb/forward.ts";
export * from "./bbb/kernels.ts";
export * from "./bbb/layout.ts";
export * from "./bbb/normal.ts";
export * from "./bbb/optimizer.ts";
export * from "./bbb/priors.ts";
export * from "./bbb/softplus.ts";

/** Gradient estimators. */
export type BbbEstimator = "weight" | "local" | "flipout";

/** The estimator names. */
export const BBB_ESTIMATORS: readonly BbbEstimator[] = ["weight", "local", "flipout"];

/** Settings of {@linkcode buildBbb} (all optional; see {@linkcode BBB_DEFAULTS}). */
export interface BbbSettings {
  /** Prior density (default `gaussian`). */
  prior?: BbbPriorName;
  /** Gaussian σ, Laplace scale b, or the mixture's σ₁ (default 0.1, as the reference). */
  priorSigma?: number;
  /** Mixture weight π of the wide component (default 0.75). */
  gmmPi?: number;
  /** Mixture's narrow σ₂ (default 0.0005). */
  gmmSigma2?: number;
  /** NLL gradient estimator (default `weight`). */
  estimator?: BbbEstimator;
  /**
   * KL estimate: `closed` form (Gaussian prior only), `mc` (log q − log p at
   * the sampled weights), or `auto` (closed for the Gaussian prior, else mc).
   */
  kl?: "auto" | "closed" | "mc";
  /** Monte Carlo samples per step, averaged (default 3). */
  nSamples?: number;
  /** Samples per step in the first epoch (default 10, as the reference). */
  firstEpochSamples?: number;
  /** Learning rate (default 1e-3; the loss is the summed minibatch NLL + KL/batches). */
  lr?: number;
  /** Update rule (default `sgd`, as the reference). */
  optimizer?: HostOptimizerName;
  /** Momentum coefficient for `optimizer: "momentum"` (default 0.9). */
  momentum?: number;
  /** μ initialised U(lo, hi) (default [−0.1, 0.1]). */
  muInit?: [number, number];
  /**
   * ρ initialised U(lo, hi) (default [−3, −2], σ ≈ 0.05–0.13). A small
   * initial σ, e.g. [−8, −7], reaches ~1% MNIST error at the price of
   * poor uncertainty.
   */
  rhoInit?: [number, number];
  /** Predict by sampling `weights` (default) or pre-`activations` (local reparametrisation). */
  predictBy?: "weights" | "activations";
  /** Posterior samples `predict` draws when not told (default 100). */
  predictSamples?: number;
  /** Homoscedastic regression: fix the noise σ (not learnt); default null (learnt). */
  fixedNoise?: number | null;
  /**
   * Weight estimator: draw the weight noise one sample ahead on a worker
   * thread (default false). Same draws, hence the same run; faster when a
   * core is free. Call `dispose()` to stop the worker.
   */
  noiseWorker?: boolean;
}

/** Default settings. */
export const BBB_DEFAULTS: Required<BbbSettings> = {
  prior: "gaussian",
  priorSigma: 0.1,
  gmmPi: 0.75,
  gmmSigma2: 0.0005,
  estimator: "weight",
  kl: "auto",
  nSamples: 3,
  firstEpochSamples: 10,
  lr: 1e-3,
  optimizer: "sgd",
  momentum: 0.9,
  muInit: [-0.1, 0.1],
  rhoInit: [-3, -2],
  predictBy: "weights",
  predictSamples: 100,
  fixedNoise: null,
  noiseWorker: false,
};

/** Gradients of the negative ELBO (flat, in segment order), without updating. */
export interface BbbGradient {
  /** Negative ELBO of the batch per example (as `StepResult.loss`). */
  loss: number;
  /** ∂/∂μ, flat. */
  mu: Float32Array;
  /** ∂/∂ρ, flat. */
  rho: Float32Array;
}

/** A Bayes-by-Backprop method, with access to its variational parameters. */
export type BbbMethod = Method & {
  /** Resolved settings. */
  readonly settings: Readonly<Required<BbbSettings>>;
  /** The flat layout of the parameters. */
  readonly segments: readonly ParamSegment[];
  /** Current μ and σ by segment name (copies). */
  posterior(): Record<string, { mu: Float32Array; sigma: Float32Array; shape: number[] }>;
  /** Sets μ and σ of named segments (σ > 1e-6); missing names keep their values. */
  setPosterior(values: Record<string, { mu?: ArrayLike<number>; sigma?: ArrayLike<number> }>): void;
  /** Gradient of the negative ELBO on a batch (no update; advances the noise stream). */
  gradient(batch: TensorBatch, info: StepInfo): BbbGradient;
  /** `k` weight sets drawn from q, keyed `l{i}.w`, `l{i}.b`. */
  sampleWeights(k: number, seed?: number): Record<string, Float32Array>[];
  /** Signal-to-noise |μ|/σ per weight (biases are not pruned). */
  pruningScores(): Record<string, Float32Array>;
  /** Sets μ and σ of weights where `keep` is 0 to exactly zero. */
  applyPruningMask(keep: Record<string, Uint8Array>): void;
};

/**
 * The registry name of a configuration: `bbb_<prior>` for the weight
 * estimator, `bbb_local` / `bbb_flipout` with the Gaussian prior, and
 * `bbb_local_<prior>` / `bbb_flipout_<prior>` otherwise.
 *
 * @example
 * ```ts
 * import { bbbName } from "@bayes/nn/methods/bbb";
 * bbbName({ prior: "laplace" }); // "bbb_laplace"
 * bbbName({ estimator: "local" }); // "bbb_local"
 * ```
 */
export function bbbName(settings: BbbSettings = {}): string {
  const prior = settings.prior ?? BBB_DEFAULTS.prior;
  const est = settings.estimator ?? BBB_DEFAULTS.estimator;
  if (est === "weight") return `bbb_${prior}`;
  return prior === "gaussian" ? `bbb_${est}` : `bbb_${est}_${prior}`;
}

function checkRange(name: string, r: unknown): void {
  if (
    !Array.isArray(r) || r.length !== 2 || !r.every((v) => typeof v === "number" && isFinite(v)) ||
    r[0] > r[1]
  ) {
    throw new BbbSettingsError(
      `${name} must be a range [lo, hi] of finite numbers with lo ≤ hi, found ${JSON.stringify(r)}`,
    );
  }
}

function posInt(name: string, v: unknown): void {
  if (!(Number.isInteger(v) && (v as number) >= 1)) {
    throw new BbbSettingsError(`${name} must be an integer ≥ 1, found ${v}`);
  }
}

/**
 * Applies defaults and validates settings, throwing a
 * {@linkcode BbbSettingsError} that names the bad one.
 *
 * @example
 * ```ts
 * import { resolveBbbSettings } from "@bayes/nn/methods/bbb";
 * resolveBbbSettings({ prior: "gmm" }).gmmPi; // 0.75
 * ```
 */
export function resolveBbbSettings(settings: BbbSettings = {}): Required<BbbSettings> {
  const defined = Object.fromEntries(
    Object.entries(settings).filter(([, v]) => v !== undefined),
  ) as BbbSettings;
  const s: Required<BbbSettings> = { ...BBB_DEFAULTS, ...defined };
  if (!BBB_PRIORS.includes(s.prior)) {
    throw new BbbSettingsError(
      `prior must be one of ${BBB_PRIORS.join(", ")}, found "${s.prior}"`,
    );
  }
  makeBbbPrior(s); // validates priorSigma, gmmPi, gmmSigma2
  if (!BBB_ESTIMATORS.includes(s.estimator)) {
    throw new BbbSettingsError(
      `estimator must be one of ${BBB_ESTIMATORS.join(", ")}, found "${s.estimator}"`,
    );
  }
  if (!["auto", "closed", "mc"].includes(s.kl)) {
    throw new BbbSettingsError(`kl must be one of auto, closed, mc, found "${s.kl}"`);
  }
  if (s.noiseWorker && s.estimator !== "weight") {
    throw new BbbSettingsError(
      `noiseWorker (noise_worker) draws weight samples, so it needs estimator "weight", found "${s.estimator}"`,
    );
  }
  if (s.kl === "closed" && s.prior !== "gaussian") {
    throw new BbbSettingsError(
      `kl "closed" needs the Gaussian prior (found prior "${s.prior}"); use kl "mc" or "auto"`,
    );
  }
  posInt("nSamples (n_samples)", s.nSamples);
  posInt("firstEpochSamples", s.firstEpochSamples);
  posInt("predictSamples", s.predictSamples);
  if (!(typeof s.lr === "number" && s.lr > 0 && isFinite(s.lr))) {
    throw new BbbSettingsError(`lr must be a finite number > 0, found ${s.lr}`);
  }
  if (!HOST_OPTIMIZERS.includes(s.optimizer)) {
    throw new BbbSettingsError(
      `optimizer must be one of ${HOST_OPTIMIZERS.join(", ")}, found "${s.optimizer}"`,
    );
  }
  if (!(typeof s.momentum === "number" && s.momentum >= 0 && s.momentum < 1)) {
    throw new BbbSettingsError(`momentum must be in [0, 1), found ${s.momentum}`);
  }
  checkRange("muInit", s.muInit);
  checkRange("rhoInit", s.rhoInit);
  if (s.predictBy !== "weights" && s.predictBy !== "activations") {
    throw new BbbSettingsError(
      `predictBy must be "weights" or "activations", found "${s.predictBy}"`,
    );
  }
  if (s.fixedNoise !== null && !(typeof s.fixedNoise === "number" && s.fixedNoise > 0)) {
    throw new BbbSettingsError(`fixedNoise must be null or a number > 0, found ${s.fixedNoise}`);
  }
  return s;
}

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/**
 * Builds a Bayes-by-Backprop method. Its `name` follows {@linkcode bbbName}
 * (`bbb_gaussian`, `bbb_laplace`, `bbb_gmm`, `bbb_local`, `bbb_flipout`…).
 *
 * @example
 * ```ts
 * import { buildBbb } from "@bayes/nn/methods/bbb";
 * const m = buildBbb({ inputDim: 784, hidden: [1200, 1200], outputDim: 10, task: "classification" },
 *   { prior: "laplace", nSamples: 3 });
 * m.init(0);
 * ```
 */
export function buildBbb(spec: NetSpec, settings: BbbSettings = {}): BbbMethod {
  validateSpec(spec);
  const s = resolveBbbSettings(settings);
  const name = bbbName(s);
  const globalNoise = hasGlobalNoise(spec);
  if (s.fixedNoise !== null && !globalNoise) {
    throw new BbbSettingsError(
      `fixedNoise applies to homoscedastic regression only (this network: task ${spec.task}, ` +
        `noise ${spec.noise ?? "heteroscedastic"})`,
    );
  }
  const learnNoise = globalNoise && s.fixedNoise === null;
  const prior: BbbPrior = makeBbbPrior(s);
  const closedKl = s.kl === "closed" || (s.kl === "auto" && s.prior === "gaussian");
  const priorVar = s.priorSigma * s.priorSigma;
  const { segments, total: P } = paramSegments(spec);
  const wSeg = segments.filter((g) => g.kind === "w");
  const bSeg = segments.filter((g) => g.kind === "b");

  // Flat state (allocated by init).
  let mu = new Float32Array(0), rho = new Float32Array(0);
  let sigma = new Float32Array(0), dsig = new Float32Array(0);
  let gMu = new Float32Array(0), gSig = new Float32Array(0), eps = new Float32Array(0);
  let scratch = new Float32Array(0);
  const logNoise = new Float32Array(1);
  const gNoise = new Float32Array(1);
  let keep: Uint8Array | undefined;
  let kept = P;
  let sumLogSigma = 0;
  let opt: HostOptimizer | undefined;
  let rng = new NormalStream(new Rng(0));
  // Weight estimator with `noiseWorker`: the same stream as `rng`, drawn ahead
  // on a worker (started at the first step, restarted from `rng` after setState).
  let ahead: AheadNormalStream | undefined;
  const stopAhead = () => {
    ahead?.dispose();
    ahead = undefined;
  };
  const trainNoise = (): NormalSource => {
    if (!s.noiseWorker) return rng; // validated: only with the weight estimator
    ahead ??= new AheadNormalStream(P, rng.getState());
    return ahead;
  };
  let ready = false;

  const need = () => {
    if (!ready) throw new Error(`${name}: call init(seed) before step/predict`);
  };

  const refreshSigma = () => {
    sumLogSigma = sigmaFromRho(rho, sigma, dsig, 0, P, keep);
  };

  const allocate = () => {
    mu = new Float32Array(P);
    rho = new Float32Array(P);
    sigma = new Float32Array(P);
    dsig = new Float32Array(P);
    gMu = new Float32Array(P);
    gSig = new Float32Array(P);
    eps = new Float32Array(P);
    // Sampled weights for the Monte Carlo KL when the NLL pass does not provide them.
    const maxSeg = Math.max(...segments.map((g) => g.size));
    scratch = new Float32Array(closedKl || s.estimator === "weight" ? 0 : maxSeg);
    opt = new HostOptimizer(s, { mu: P, rho: P, ...(learnNoise ? { noise: 1 } : {}) });
  };

  /**
   * Draws ε into `eps[seg]` and writes μ + σ·ε (or σ·ε with `deltaOnly`) into
   * `out`, in cache-sized pieces; returns Σ ε².
   */
  const sampleSegment = (
    r: NormalSource,
    seg: ParamSegment,
    out: Float32Array,
    deltaOnly = false,
  ): number => {
    const o = seg.off;
    let sq = 0;
    for (let c = 0; c < seg.size; c += 2048) {
      const ce = Math.min(seg.size, c + 2048);
      r.fill(eps, o + c, o + ce);
      sq += writeWeightSample(out, mu, sigma, eps, o, c, ce, deltaOnly);
    }
    return sq;
  };

  const copySegment = (src: Float32Array, seg: ParamSegment, squared = false) =>
    tensorFromFill(seg.shape, (v) => {
      const o = seg.off;
      if (squared) { for (let j = 0; j < seg.size; j++) v[j] = src[o + j] * src[o + j]; }
      else v.set(src.subarray(o, o + seg.size));
    });

  const noiseTensor = (r: NormalStream) => (shape: number[]) =>
    tensorFromFill(shape, (v) => r.fill(v));

  const logNoiseTensor = () =>
    globalNoise
      ? tf.scalar(s.fixedNoise !== null ? Math.log(s.fixedNoise) : logNoise[0])
      : undefined;

  /** `acc[seg] (+)= g`, and `accSig[seg] (+)= g·ε` when `withEps`. */
  const accumulate = (seg: ParamSegment, g: Float32Array, first: boolean, factor = 1) =>
    accumulateGradient(gMu, gSig, eps, g, seg.off, seg.size, first, factor);

  interface Pass {
    nll: number;
    errors?: number;
    /** Σ over samples of Σ log p(w) (MC KL). */
    logPrior: number;
    /** Σ over samples of Σ ε² (MC KL). */
    sumEps2: number;
  }

  const errorsOf = (out: tf.Tensor2D, y: tf.Tensor): tf.Tensor =>
    tf.keep(tf.sum(tf.notEqual(tf.argMax(out, 1), y.reshape([-1]))));

  const nllOf = (out: tf.Tensor2D, y: tf.Tensor, ln?: tf.Tensor): tf.Scalar =>
    nllSum(spec, out, y, ln);

  /** Weight estimator: n passes, each with its own weight sample. */
  // Monte Carlo KL term of one parameter segment at sampled values `w` (adds its gradients).
  const mcPrior = (w: Float32Array, seg: { off: number; size: number }, klScale: number) =>
    prior.accumulate(w, eps, gMu, gSig, seg.off, seg.off + seg.size, klScale);

  const passWeight = (batch: TensorBatch, n: number, klScale: number): Pass => {
    const res: Pass = { nll: 0, logPrior: 0, sumEps2: 0 };
    let errT: tf.Tensor | undefined;
    const r = trainNoise(); // P draws per sample: whole blocks for AheadNormalStream
    for (let smp = 0; smp < n; smp++) {
      const ws = segments.map((seg) =>
        tensorFromFill(seg.shape, (v) => {
          res.sumEps2 += sampleSegment(r, seg, v);
        })
      );
      const ln = logNoiseTensor();
      const args = learnNoise ? [...ws, ln!] : ws;
      const last = smp === n - 1;
      const f = (...a: tf.Tensor[]) => {
        const out = mlpForward(
          {
            w: wSeg.map((g) => a[segments.indexOf(g)] as tf.Tensor2D),
            b: bSeg.map((g) => a[segments.indexOf(g)] as tf.Tensor1D),
          },
          batch.x,
        );
        if (last && spec.task === "classification") errT = errorsOf(out, batch.y);
        return nllOf(out, batch.y, learnNoise ? a[a.length - 1] : ln);
      };
      const { value, grads } = tf.valueAndGrads(f)(args);
      res.nll += value.dataSync()[0];
      segments.forEach((seg, k) => accumulate(seg, heapValues(grads[k]), smp === 0));
      if (learnNoise) gNoise[0] += heapValues(grads[grads.length - 1])[0];
      if (!closedKl) {
        segments.forEach((seg, k) => res.logPrior += mcPrior(heapValues(ws[k]), seg, klScale));
      }
      tf.dispose([value, ...grads, ...ws]);
      ln?.dispose();
    }
    if (errT) {
      res.errors = errT.dataSync()[0];
      errT.dispose();
    }
    return res;
  };

  /** MC KL for estimators whose NLL pass does not sample weights: n fresh weight samples. */
  const mcKlOnly = (n: number, klScale: number, res: Pass) => {
    for (let smp = 0; smp < n; smp++) {
      for (const seg of segments) {
        const w = scratch.subarray(0, seg.size);
        res.sumEps2 += sampleSegment(rng, seg, w);
        res.logPrior += mcPrior(w, seg, klScale);
      }
    }
  };

  /** Local reparametrisation: all n samples in one batched pass. */
  const passLocal = (batch: TensorBatch, n: number, klScale: number): Pass => {
    const res: Pass = { nll: 0, logPrior: 0, sumEps2: 0 };
    const muT = segments.map((seg) => copySegment(mu, seg));
    const varT = segments.map((seg) => copySegment(sigma, seg, true));
    const ln = logNoiseTensor();
    const args = learnNoise ? [...muT, ...varT, ln!] : [...muT, ...varT];
    const yRep = n > 1 ? tf.tile(batch.y, n > 1 && batch.y.rank === 2 ? [n, 1] : [n]) : batch.y;
    let errT: tf.Tensor | undefined;
    const noise = noiseTensor(rng);
    const f = (...a: tf.Tensor[]) => {
      const m = a.slice(0, segments.length), v = a.slice(segments.length, 2 * segments.length);
      const pick = (arr: tf.Tensor[], list: ParamSegment[]) =>
        list.map((g) => arr[segments.indexOf(g)]);
      const out = localForward(
        batch.x,
        pick(m, wSeg) as tf.Tensor2D[],
        pick(v, wSeg) as tf.Tensor2D[],
        pick(m, bSeg) as tf.Tensor1D[],
        pick(v, bSeg) as tf.Tensor1D[],
        noise,
        n,
      );
      if (spec.task === "classification") {
        errT = errorsOf(tf.slice(out, [(n - 1) * batch.n, 0], [batch.n, -1]), batch.y);
      }
      return tf.div(nllOf(out, yRep, learnNoise ? a[a.length - 1] : ln), n) as tf.Scalar;
    };
    const { value, grads } = tf.valueAndGrads(f)(args);
    res.nll = value.dataSync()[0] * n;
    // Gradients are of the sample mean; the accumulators hold sums over samples.
    segments.forEach((seg, k) => {
      const gm = heapValues(grads[k]);
      const o = seg.off;
      for (let j = 0; j < seg.size; j++) gMu[o + j] = n * gm[j];
      const gv = heapValues(grads[segments.length + k]);
      for (let j = 0; j < seg.size; j++) gSig[o + j] = n * gv[j] * 2 * sigma[o + j];
    });
    if (learnNoise) gNoise[0] += n * heapValues(grads[grads.length - 1])[0];
    tf.dispose([value, ...grads, ...muT, ...varT]);
    if (yRep !== batch.y) yRep.dispose();
    ln?.dispose();
    if (errT) {
      res.errors = errT.dataSync()[0];
      errT.dispose();
    }
    if (!closedKl) mcKlOnly(n, klScale, res);
    return res;
  };

  /** Flipout: n passes, each with one shared perturbation and per-example signs. */
  const passFlipout = (batch: TensorBatch, n: number, klScale: number): Pass => {
    const res: Pass = { nll: 0, logPrior: 0, sumEps2: 0 };
    const muW = wSeg.map((seg) => copySegment(mu, seg));
    const dims = [spec.inputDim, ...wSeg.map((g) => g.shape[1])];
    let errT: tf.Tensor | undefined;
    for (let smp = 0; smp < n; smp++) {
      const dW = wSeg.map((seg) =>
        tensorFromFill(seg.shape, (v) => {
          res.sumEps2 += sampleSegment(rng, seg, v, true);
        })
      );
      const bs = bSeg.map((seg) =>
        tensorFromFill(seg.shape, (v) => {
          res.sumEps2 += sampleSegment(rng, seg, v);
        })
      );
      const sIn = wSeg.map((_, l) => tensorFromFill([batch.n, dims[l]], (v) => rng.fillSigns(v)));
      const sOut = wSeg.map((_, l) =>
        tensorFromFill([batch.n, dims[l + 1]], (v) => rng.fillSigns(v))
      );
      const ln = logNoiseTensor();
      const L = wSeg.length;
      const args = [...muW, ...dW, ...bs, ...(learnNoise ? [ln!] : [])];
      const last = smp === n - 1;
      const f = (...a: tf.Tensor[]) => {
        const out = flipoutForward(
          batch.x,
          a.slice(0, L) as tf.Tensor2D[],
          a.slice(L, 2 * L) as tf.Tensor2D[],
          a.slice(2 * L, 3 * L) as tf.Tensor1D[],
          sIn,
          sOut,
        );
        if (last && spec.task === "classification") errT = errorsOf(out, batch.y);
        return nllOf(out, batch.y, learnNoise ? a[a.length - 1] : ln);
      };
      const { value, grads } = tf.valueAndGrads(f)(args);
      res.nll += value.dataSync()[0];
      const first = smp === 0;
      wSeg.forEach((seg, l) => {
        // μ path: plain gradient; perturbation path: g_ΔW·ε into the σ accumulator.
        const gm = heapValues(grads[l]);
        const gd = heapValues(grads[L + l]);
        const o = seg.off;
        if (first) {
          for (let j = 0; j < seg.size; j++) {
            gMu[o + j] = gm[j];
            gSig[o + j] = gd[j] * eps[o + j];
          }
        } else {
          for (let j = 0; j < seg.size; j++) {
            gMu[o + j] += gm[j];
            gSig[o + j] += gd[j] * eps[o + j];
          }
        }
      });
      bSeg.forEach((seg, l) => accumulate(seg, heapValues(grads[2 * L + l]), first));
      if (learnNoise) gNoise[0] += heapValues(grads[grads.length - 1])[0];
      if (!closedKl) {
        wSeg.forEach((seg, l) => {
          const d = heapValues(dW[l]);
          const w = scratch.subarray(0, seg.size);
          for (let j = 0; j < seg.size; j++) w[j] = mu[seg.off + j] + d[j];
          res.logPrior += mcPrior(w, seg, klScale);
        });
        bSeg.forEach((seg, l) => res.logPrior += mcPrior(heapValues(bs[l]), seg, klScale));
      }
      tf.dispose([value, ...grads, ...dW, ...bs, ...sIn, ...sOut]);
      ln?.dispose();
    }
    tf.dispose(muW);
    if (errT) {
      res.errors = errT.dataSync()[0];
      errT.dispose();
    }
    return res;
  };

  /**
   * Turns the accumulators in `[start, end)` into the gradient of the negative
   * ELBO (gMu ← ∂/∂μ, gSig ← ∂/∂ρ): average over the `1/inv` samples, add the
   * KL terms, chain σ → ρ. Adds Σμ², Σσ², Σσ (before any update) to `sums`.
   */
  const assemble = (start: number, end: number, inv: number, klScale: number, sums: number[]) =>
    assembleGradient(
      mu,
      sigma,
      dsig,
      gMu,
      gSig,
      start,
      end,
      inv,
      klScale,
      closedKl ? priorVar : 0,
      sums,
    );

  /** Rows of the flat arrays processed together (fits in L2 across the ~8 arrays touched). */
  const CHUNK = 4096;

  /**
   * Runs the estimator, assembles the gradient and, with `update`, applies the
   * update rule and recomputes σ — chunk by chunk, so each parameter's data is
   * loaded from memory once. Returns the step's scalars (at the parameters
   * before the update).
   */
  const computeGradient = (batch: TensorBatch, info: StepInfo, update: boolean): StepResult => {
    need();
    if (batch.x.shape[1] !== spec.inputDim) {
      throw new RangeError(
        `${name}: batch has ${batch.x.shape[1]} features, the network expects ${spec.inputDim}`,
      );
    }
    const n = info.epoch === 0 ? s.firstEpochSamples : s.nSamples;
    const nb = Math.max(1, info.batchesPerEpoch);
    const klScale = 1 / nb;
    gNoise[0] = 0;
    const pass = s.estimator === "weight"
      ? passWeight(batch, n, klScale)
      : s.estimator === "local"
      ? passLocal(batch, n, klScale)
      : passFlipout(batch, n, klScale);
    const inv = 1 / n;
    const sums = [0, 0, 0];
    let newSumLog = 0;
    if (update) opt!.tick();
    if (update && !keep) {
      for (let c = 0; c < P; c += CHUNK) {
        const e = Math.min(P, c + CHUNK);
        assemble(c, e, inv, klScale, sums);
        opt!.update("mu", mu, gMu, c, e);
        opt!.update("rho", rho, gSig, c, e);
        newSumLog += sigmaFromRho(rho, sigma, dsig, c, e);
      }
    } else {
      assemble(0, P, inv, klScale, sums);
      if (keep) {
        for (let i = 0; i < P; i++) {
          if (keep[i] === 0) {
            gMu[i] = 0;
            gSig[i] = 0;
          }
        }
      }
      if (update) {
        opt!.update("mu", mu, gMu, 0, P, keep);
        opt!.update("rho", rho, gSig, 0, P, keep);
        newSumLog = sigmaFromRho(rho, sigma, dsig, 0, P, keep);
      }
    }
    gNoise[0] *= inv;
    if (update && learnNoise) opt!.update("noise", logNoise, gNoise);
    // KL value at the parameters of this step's forward passes.
    const [sumMu2, sumSig2, sumSig] = sums;
    let kl: number;
    if (closedKl) {
      kl = kept * (Math.log(s.priorSigma) - 0.5) - sumLogSigma +
        (sumSig2 + sumMu2) / (2 * priorVar);
    } else {
      kl = -sumLogSigma - kept * HALF_LOG_2PI - pass.sumEps2 * inv / 2 - pass.logPrior * inv;
    }
    if (update) sumLogSigma = newSumLog;
    const nll = pass.nll * inv;
    const r: StepResult = {
      loss: (nll + kl * klScale) / batch.n,
      nll: nll / batch.n,
      kl: (kl * klScale) / batch.n,
      sigmaMean: sumSig / kept,
    };
    if (pass.errors !== undefined) r.errors = pass.errors / batch.n;
    return r;
  };

  /** Forward with one weight sample for predictions (row chunks). */
  const predictWeights = (x: tf.Tensor2D, samples: number, chunk: number, r: NormalStream) => {
    const outs: tf.Tensor2D[] = [];
    for (let smp = 0; smp < samples; smp++) {
      const ws = segments.map((seg) => tensorFromFill(seg.shape, (v) => sampleSegment(r, seg, v)));
      const layers = {
        w: wSeg.map((g) => ws[segments.indexOf(g)] as tf.Tensor2D),
        b: bSeg.map((g) => ws[segments.indexOf(g)] as tf.Tensor1D),
      };
      outs.push(forChunks(x, chunk, (xc) => mlpForward(layers, xc)));
      tf.dispose(ws);
    }
    return outs;
  };

  const predictActivations = (
    x: tf.Tensor2D,
    samples: number,
    chunk: number,
    r: NormalStream,
  ) => {
    const muT = segments.map((seg) => copySegment(mu, seg));
    const varT = segments.map((seg) => copySegment(sigma, seg, true));
    const pick = (arr: tf.Tensor[], list: ParamSegment[]) =>
      list.map((g) => arr[segments.indexOf(g)]);
    const noise = noiseTensor(r);
    const outs: tf.Tensor2D[] = [];
    for (let smp = 0; smp < samples; smp++) {
      outs.push(
        forChunks(x, chunk, (xc) =>
          localForward(
            xc,
            pick(muT, wSeg) as tf.Tensor2D[],
            pick(varT, wSeg) as tf.Tensor2D[],
            pick(muT, bSeg) as tf.Tensor1D[],
            pick(varT, bSeg) as tf.Tensor1D[],
            noise,
            1,
          )),
      );
    }
    tf.dispose([...muT, ...varT]);
    return outs;
  };

  const hostSegments = (src: Float32Array, list: ParamSegment[] = segments) => {
    const out: Record<string, Float32Array> = {};
    for (const seg of list) out[seg.name] = src.slice(seg.off, seg.off + seg.size);
    return out;
  };

  const method: BbbMethod = {
    name,
    spec,
    settings: s,
    segments,
    defaultSamples: s.predictSamples,
    init(seed: number) {
      allocate();
      const base = new Rng(seed);
      base.fork(1).fillUniform(mu, s.muInit[0], s.muInit[1]);
      base.fork(2).fillUniform(rho, s.rhoInit[0], s.rhoInit[1]);
      rng = new NormalStream(base.fork(3));
      stopAhead();
      logNoise[0] = s.fixedNoise !== null ? Math.log(s.fixedNoise) : Math.log(0.5);
      keep = undefined;
      kept = P;
      refreshSigma();
      ready = true;
    },
    step(batch: TensorBatch, info: StepInfo): StepResult {
      return computeGradient(batch, info, true);
    },
    gradient(batch: TensorBatch, info: StepInfo): BbbGradient {
      const r = computeGradient(batch, info, false);
      return { loss: r.loss, mu: gMu.slice(), rho: gSig.slice() };
    },
    predict(x: tf.Tensor2D, opts: PredictOptions = {}): Prediction {
      need();
      const samples = opts.samples ?? s.predictSamples;
      checkPredictInput(spec, x, samples);
      const chunk = opts.chunk ?? 2000;
      const r = new NormalStream(new Rng(opts.seed ?? 0).fork(7));
      const outs = s.predictBy === "weights"
        ? predictWeights(x, samples, chunk, r)
        : predictActivations(x, samples, chunk, r);
      const ln = logNoiseTensor();
      try {
        return stackPrediction(spec, outs, ln);
      } finally {
        ln?.dispose();
      }
    },
    getState(): Promise<MethodState> {
      need();
      const tensors: Record<string, HostTensor> = {};
      for (const seg of segments) {
        tensors[`mu/${seg.name}`] = {
          data: mu.slice(seg.off, seg.off + seg.size),
          shape: seg.shape,
        };
        tensors[`rho/${seg.name}`] = {
          data: rho.slice(seg.off, seg.off + seg.size),
          shape: seg.shape,
        };
        if (keep) {
          tensors[`mask/${seg.name}`] = {
            data: Float32Array.from(keep.subarray(seg.off, seg.off + seg.size)),
            shape: seg.shape,
          };
        }
      }
      if (learnNoise) tensors.log_noise = { data: logNoise.slice(), shape: [] };
      Object.assign(tensors, opt!.toHost());
      return Promise.resolve({
        tensors,
        extra: { rng: (ahead ?? rng).getState(), optStep: opt!.t },
      });
    },
    setState(state: MethodState): Promise<void> {
      if (!ready) this.init(0);
      const src = `${name} state`;
      const t = state.tensors;
      let mask: Uint8Array | undefined;
      for (const seg of segments) {
        for (const [kind, arr] of [["mu", mu], ["rho", rho]] as const) {
          const h = t[`${kind}/${seg.name}`];
          if (!h) throw new Error(`${src}: missing tensor "${kind}/${seg.name}"`);
          if (h.data.length !== seg.size) {
            throw new Error(
              `${src}: tensor "${kind}/${seg.name}" has shape [${h.shape}], expected [${seg.shape}]`,
            );
          }
          arr.set(h.data, seg.off);
        }
        const m = t[`mask/${seg.name}`];
        if (m) {
          mask ??= new Uint8Array(P).fill(1);
          for (let j = 0; j < seg.size; j++) mask[seg.off + j] = m.data[j] ? 1 : 0;
        }
      }
      keep = mask;
      kept = mask ? mask.reduce((a, b) => a + b, 0) : P;
      if (learnNoise) {
        if (!t.log_noise) throw new Error(`${src}: missing tensor "log_noise"`);
        logNoise[0] = t.log_noise.data[0];
      }
      opt!.fromHost(t, src);
      opt!.t = Number(state.extra.optStep ?? 0);
      if (Array.isArray(state.extra.rng)) rng.setState(state.extra.rng as number[]);
      stopAhead();
      refreshSigma();
      return Promise.resolve();
    },
    dispose() {
      ready = false;
      stopAhead();
      mu =
        rho =
        sigma =
        dsig =
        gMu =
        gSig =
        eps =
        scratch =
          new Float32Array(0);
      opt = undefined;
    },
    posterior() {
      need();
      const out: Record<string, { mu: Float32Array; sigma: Float32Array; shape: number[] }> = {};
      for (const seg of segments) {
        out[seg.name] = {
          mu: mu.slice(seg.off, seg.off + seg.size),
          sigma: sigma.slice(seg.off, seg.off + seg.size),
          shape: seg.shape,
        };
      }
      return out;
    },
    setPosterior(values) {
      need();
      for (const [key, v] of Object.entries(values)) {
        const seg = segments.find((g) => g.name === key);
        if (!seg) {
          throw new RangeError(
            `setPosterior: no segment "${key}" (have ${segments.map((g) => g.name).join(", ")})`,
          );
        }
        for (const [field, arr] of [["mu", v.mu], ["sigma", v.sigma]] as const) {
          if (arr && arr.length !== seg.size) {
            throw new RangeError(
              `setPosterior: ${key}.${field} has ${arr.length} values, expected ${seg.size}`,
            );
          }
        }
        if (v.mu) mu.set(Float32Array.from(v.mu), seg.off);
        if (v.sigma) {
          for (let j = 0; j < seg.size; j++) {
            const sg = v.sigma[j];
            if (!(sg > SIGMA_EPS)) {
              throw new RangeError(`setPosterior: ${key}.sigma[${j}] = ${sg} must be > 1e-6`);
            }
            rho[seg.off + j] = rhoForSigma(sg);
          }
        }
      }
      refreshSigma();
    },
    sampleWeights(k: number, seed = 0): Record<string, Float32Array>[] {
      need();
      const r = new NormalStream(new Rng(seed).fork(11));
      const out: Record<string, Float32Array>[] = [];
      for (let i = 0; i < k; i++) {
        const set: Record<string, Float32Array> = {};
        for (const seg of segments) {
          const w = new Float32Array(seg.size);
          sampleSegment(r, seg, w);
          set[seg.name] = w;
        }
        out.push(set);
      }
      return out;
    },
    pruningScores(): Record<string, Float32Array> {
      need();
      const out = hostSegments(mu, wSeg);
      for (const seg of wSeg) {
        const a = out[seg.name];
        for (let j = 0; j < seg.size; j++) {
          const sg = sigma[seg.off + j];
          a[j] = sg > 0 ? Math.abs(a[j]) / sg : 0;
        }
      }
      return out;
    },
    applyPruningMask(keepMask: Record<string, Uint8Array>): void {
      need();
      const mask = keep ?? new Uint8Array(P).fill(1);
      for (const [key, m] of Object.entries(keepMask)) {
        const seg = wSeg.find((g) => g.name === key);
        if (!seg) {
          throw new RangeError(
            `pruning mask for unknown weight "${key}" (have ${wSeg.map((g) => g.name).join(", ")})`,
          );
        }
        if (m.length !== seg.size) {
          throw new RangeError(
            `pruning mask for ${key} has ${m.length} entries, expected ${seg.size}`,
          );
        }
        for (let j = 0; j < seg.size; j++) {
          if (!m[j]) {
            mask[seg.off + j] = 0;
            mu[seg.off + j] = 0;
          }
        }
      }
      keep = mask;
      kept = mask.reduce((a, b) => a + b, 0);
      refreshSigma();
    },
  };
  return method;
}

/** Runs `f` on row chunks of `x` and concatenates the outputs. */
function forChunks(
  x: tf.Tensor2D,
  chunk: number,
  f: (xc: tf.Tensor2D) => tf.Tensor2D,
): tf.Tensor2D {
  const n = x.shape[0];
  if (n <= chunk) return tf.tidy(() => f(x));
  const parts: tf.Tensor2D[] = [];
  for (let start = 0; start < n; start += chunk) {
    const size = Math.min(chunk, n - start);
    parts.push(tf.tidy(() => f(tf.slice(x, [start, 0], [size, -1]) as tf.Tensor2D)));
  }
  const out = tf.concat(parts, 0) as tf.Tensor2D;
  tf.dispose(parts);
  return out;
}
