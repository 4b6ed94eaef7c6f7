/**
 * Bayes by Backprop (Blundell et al. 2015).
 *
 * Posterior: a fully factorised Gaussian q(w) = Π N(μᵢ, σᵢ²) over every weight
 * and bias, σ = softplus(ρ) + 1e-6. Objective per minibatch (the negative
 * ELBO, as the reference): with S Monte Carlo samples and κ = 1 / (batches
 * per epoch),
 *
 *     L(μ, ρ) = (1/S) Σ_s NLL(batch | w_s) + κ · KL(q ‖ p),   w_s = μ + σ ∘ ε_s.
 *
 * Its gradient, by reparametrisation (g_s = ∂NLL/∂w at w_s):
 *
 *     ∂L/∂μ = (1/S) Σ_s g_s + κ · ∂KL/∂μ
 *     ∂L/∂σ = (1/S) Σ_s g_s ∘ ε_s + κ · ∂KL/∂σ,   ∂L/∂ρ = ∂L/∂σ ∘ sigmoid(ρ).
 *
 * KL: in closed form for the Gaussian prior N(0, σₚ²)
 * (Σ log σₚ − log σ + (σ² + μ²)/(2σₚ²) − ½; gradients μ/σₚ² and σ/σₚ² − 1/σ),
 * else by Monte Carlo at the sampled weights, KL ≈ (1/S) Σ_s [log q(w_s) −
 * log p(w_s)], whose pathwise gradient adds −∂log p/∂w (× ε for σ) and −1/σ.
 *
 * Estimators of the NLL gradient:
 * - `weight`: one weight sample per Monte Carlo sample, shared by the minibatch (the reference);
 * - `local`: the local reparametrisation trick: pre-activations drawn from their Gaussian
 *   (mean h·μ + μ_b, variance h²·σ² + σ_b²; Kingma et al. 2015), so the gradient is taken
 *   with respect to μ and σ² directly;
 * - `flipout`: one perturbation ΔW = σ ∘ ε per sample, decorrelated per example by random
 *   sign flips (Wen et al. 2018); the mean path's gradient goes to μ, the perturbation's
 *   (× ε) to σ.
 *
 * State: μ and ρ (parameter vectors over the network's layout), the update rule's slots,
 * the noise stream, an optional pruning mask, and for homoscedastic regression a learnt
 * log σ of the noise (a point parameter).
 *
 * Each step is: draw the samples (one kernel), forward and backward through tfjs, then one
 * kernel that assembles the gradient above and applies the update rule to μ and ρ.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { getEngine } from "../core/engine/current.ts";
import {
  type Engine,
  Layout,
  type NoiseBlock,
  type NoiseStream,
  ParamVec,
} from "../core/engine/engine.ts";
import { softplusInverse } from "../core/engine/cpu_math.ts";
import { defineKernel, type Kernel } from "../core/engine/kernel.ts";
import { affineSum } from "../core/fused_kernels.ts";
import { appendLogNoise, errorRate, nllSum, predictBatched } from "../core/likelihood.ts";
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
import { forwardLayers, hasGlobalNoise, netLayout, validateSpec } from "../core/mlp.ts";
import { OptimizerState, updateRule } from "../core/optim.ts";
import type { HostTensor } from "../core/safetensors.ts";
import type { Tensor2D } from "../core/tf.ts";
import { hostToFlat, vecFromHost, vecToHost } from "../core/vectors.ts";
import { flipoutForward, localForward } from "./bbb/forward.ts";
import {
  BBB_PRIORS,
  type BbbPrior,
  type BbbPriorName,
  BbbSettingsError,
  makeBbbPrior,
} from "./bbb/priors.ts";

/** The shared types this module's API refers to. */
export type * from "../core/public_types.ts";

export { BBB_PRIORS, type BbbPriorName, BbbSettingsError } from "./bbb/priors.ts";

/** Gradient estimators. */
export type BbbEstimator = "weight" | "local" | "flipout";

/** The estimator names. */
export const BBB_ESTIMATORS: readonly BbbEstimator[] = ["weight", "local", "flipout"];

/** Update rules Bayes by Backprop supports. */
export type BbbOptimizer = "sgd" | "momentum" | "adam";

/** The update-rule names, for validation and help texts. */
export const BBB_OPTIMIZERS: readonly BbbOptimizer[] = ["sgd", "momentum", "adam"];

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
  /** Samples per step in the first epoch (default 10, as the reference's script). */
  firstEpochSamples?: number;
  /**
   * `[epochs, samples]`: after that many epochs, that many samples per step
   * instead of `nSamples` (default null: `nSamples` throughout). The
   * reference's GMM notebook goes from 3 to 5 after 60 epochs.
   */
  samplesAfter?: [number, number] | null;
  /** Learning rate (default 1e-3; the loss is the summed minibatch NLL + KL/batches). */
  lr?: number;
  /** Update rule (default `sgd`, as the reference). */
  optimizer?: BbbOptimizer;
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
  samplesAfter: null,
  lr: 1e-3,
  optimizer: "sgd",
  momentum: 0.9,
  muInit: [-0.1, 0.1],
  rhoInit: [-3, -2],
  predictBy: "weights",
  predictSamples: 100,
  fixedNoise: null,
};

/** Gradients of the negative ELBO (flat, in layout order), without updating. */
export interface BbbGradient {
  /** Negative ELBO of the batch per example (as `StepResult.loss`). */
  loss: number;
  /** ∂/∂μ, flat. */
  mu: Float32Array;
  /** ∂/∂ρ, flat. */
  rho: Float32Array;
}

/** μ and σ of one weight matrix or bias. */
export interface BbbPosteriorSegment {
  /** Means. */
  mu: Float32Array;
  /** Standard deviations (0 where pruned). */
  sigma: Float32Array;
  /** Tensor shape. */
  shape: number[];
}

/** A Bayes-by-Backprop method, with access to its variational parameters. */
export type BbbMethod = Method & {
  /** Resolved settings. */
  readonly settings: Readonly<Required<BbbSettings>>;
  /** The one network with every weight at its μ (one sample; see `Method.predictMean`). */
  predictMean(x: Tensor2D, opts?: Pick<PredictOptions, "chunk">): Prediction;
  /** Current μ and σ by segment name (copies). */
  posterior(): Promise<Record<string, BbbPosteriorSegment>>;
  /** Sets μ and σ of named segments (σ > 1e-6); missing names keep their values. */
  setPosterior(
    values: Record<string, { mu?: ArrayLike<number>; sigma?: ArrayLike<number> }>,
  ): Promise<void>;
  /** Gradient of the negative ELBO on a batch (no update; advances the noise stream). */
  gradient(batch: TensorBatch, info: StepInfo): Promise<BbbGradient>;
  /** `k` weight sets drawn from q, keyed `l{i}.w`, `l{i}.b`. */
  sampleWeights(k: number, seed?: number): Promise<Record<string, Float32Array>[]>;
  /** Signal-to-noise |μ|/σ per weight (biases are not pruned). */
  pruningScores(): Promise<Record<string, Float32Array>>;
  /** Sets μ and σ of weights where `keep` is 0 to exactly zero, for good. */
  applyPruningMask(keep: Record<string, Uint8Array>): Promise<void>;
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
  if (s.kl === "closed" && s.prior !== "gaussian") {
    throw new BbbSettingsError(
      `kl "closed" needs the Gaussian prior (found prior "${s.prior}"); use kl "mc" or "auto"`,
    );
  }
  posInt("nSamples (n_samples)", s.nSamples);
  posInt("firstEpochSamples", s.firstEpochSamples);
  if (s.samplesAfter !== null) {
    const a = s.samplesAfter;
    if (!(Array.isArray(a) && a.length === 2 && Number.isInteger(a[0]) && a[0] >= 1)) {
      throw new BbbSettingsError(
        `samplesAfter must be null or [epochs, samples] with whole epochs ≥ 1, found ${
          JSON.stringify(a)
        }`,
      );
    }
    posInt("samplesAfter's samples", a[1]);
  }
  posInt("predictSamples", s.predictSamples);
  if (!(typeof s.lr === "number" && s.lr > 0 && isFinite(s.lr))) {
    throw new BbbSettingsError(`lr must be a finite number > 0, found ${s.lr}`);
  }
  if (!BBB_OPTIMIZERS.includes(s.optimizer)) {
    throw new BbbSettingsError(
      `optimizer must be one of ${BBB_OPTIMIZERS.join(", ")}, found "${s.optimizer}"`,
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

// ---------------------------------------------------------------------------
// The math, as kernels of the parameter engine.
// ---------------------------------------------------------------------------

/** σ = softplus(ρ) + 1e-6, kept in the state as `sig` (updated with ρ, as is dσ/dρ, `dsig`). */
const SIGMA = "let sd = sig;";

/** The sums every update reports, at the parameters before the update. */
const KL_SUMS = ["slog", "smu2", "ssig2", "ssig"];
const KL_SUMS_BODY =
  "slog += keep * log(sd); smu2 += keep * mu * mu; ssig2 += keep * sd * sd; ssig += keep * sd;";

/** The kernels of one configuration (prior × KL form × estimator × update rule). */
interface BbbKernels {
  /** Weight samples w[s] = keep·(μ + σ·ε_s) (flipout: biases so, weights σ·ε_s). */
  sample: Kernel;
  /** σ² (local reparametrisation). */
  variance: Kernel;
  /** Monte Carlo KL only: its pathwise gradient terms and sums, from fresh samples. */
  mcKl: Kernel;
  /** Adds a chunk of samples' data gradients into accumulators (samples in several passes). */
  accumulate: Kernel;
  /** Assembles the gradient and applies the update rule to μ and ρ. */
  update: Kernel;
  /** Assembles the gradient into outputs, without updating. */
  gradient: Kernel;
}

function bbbKernels(
  s: Required<BbbSettings>,
  prior: BbbPrior,
  closed: boolean,
): BbbKernels {
  const pc = Object.keys(prior.constants);
  const est = s.estimator;
  const name = `bbb_${est}_${prior.name}_${closed ? "closed" : "mc"}`;
  // The prior's pathwise KL terms at w = μ + σε for one sample (MC KL only).
  const mcTerms = closed
    ? ""
    : `let wp = mu + sd * e; ${prior.kernel("wp", "p")} a += kl * gp_p; b += kl * gp_p * e; ` +
      "lp += keep * lp_p; se2 += keep * e * e;";
  // The Monte Carlo KL's sums (Σ log p(w), Σ ε²) come from the same prior evaluation.
  const mcSums = closed || est === "local" ? [] : ["lp", "se2"];
  // Σ over this pass's samples of the data gradient (a: for μ, b: for σ), plus the prior terms.
  const data = est === "weight"
    ? `for s in samples { let e = eps[s]; let gs = g[s]; a += gs; b += gs * e; ${mcTerms} }`
    : est === "flipout"
    ? `a += gm; for s in samples { let e = eps[s]; b += gd[s] * e; ${mcTerms} }`
    // local: gradients of the mean over S samples w.r.t. μ and σ²; made sums over samples.
    : "a += ns * gm; b += ns * 2 * sd * gv;";
  const dataInputs = est === "weight" ? ["g[]"] : est === "flipout" ? ["gm", "gd[]"] : ["gm", "gv"];
  const dataNormals = est === "local" ? [] : ["eps[]"];
  const klScalars = closed ? ["kl", "pprec2"] : ["kl", ...pc];
  const head = `${SIGMA} var a = pam; var b = pas; ${data}`;
  // The gradient of the negative ELBO, with the KL's own terms.
  const grads = closed
    ? "let gmu = keep * (a * inv + kl * mu * pprec2); " +
      "let gsig = b * inv + kl * (sd * pprec2 - 1 / sd);"
    : "let gmu = keep * (a * inv); let gsig = b * inv - kl / sd;";
  const gradBody = `${head} ${grads} let grho = keep * gsig * dsig;`;
  const ruleMu = updateRule(s.optimizer, "mu", "gmu");
  const ruleRho = updateRule(s.optimizer, "rho", "grho");
  const optScalars = [...new Set([...ruleMu.scalars, ...ruleRho.scalars])];
  const common = {
    inputs: [...dataInputs, "pam?0", "pas?0", "keep?"],
    normals: dataNormals,
    scalars: [...klScalars, "inv", ...(est === "local" ? ["ns"] : [])],
  };
  const sample = defineKernel({
    name: `${name}_sample`,
    inputs: ["mu", "sig", "keep?"],
    outputs: ["wt[]"],
    normals: ["eps[]"],
    scalars: est === "flipout" ? ["isb"] : [],
    body: `${SIGMA} for s in samples { let e = eps[s]; ` +
      (est === "flipout"
        ? "wt[s] = select(0, isb * mu + sd * e, keep > 0.5); }"
        : "wt[s] = select(0, mu + sd * e, keep > 0.5); }"),
  });
  return {
    sample,
    variance: defineKernel({
      name: `${name}_variance`,
      inputs: ["sig", "keep?"],
      outputs: ["v"],
      body: `${SIGMA} v = keep * sd * sd;`,
    }),
    mcKl: defineKernel({
      name: `${name}_mckl`,
      inputs: ["mu", "sig", "keep?"],
      outputs: ["am", "as"],
      normals: ["eps[]"],
      scalars: ["kl", ...pc],
      sums: ["lp", "se2"],
      body: `${SIGMA} var a = 0; var b = 0; ` +
        `for s in samples { let e = eps[s]; let wp = mu + sd * e; ${prior.kernel("wp", "p")} ` +
        "a += kl * gp_p; b += kl * gp_p * e; lp += keep * lp_p; se2 += keep * e * e; } " +
        "am = a; as = b;",
    }),
    accumulate: defineKernel({
      name: `${name}_accumulate`,
      inputs: ["mu", "sig", ...dataInputs, "pam?0", "pas?0", "keep?"],
      outputs: ["am", "as"],
      normals: dataNormals,
      sums: mcSums,
      scalars: [...(closed ? [] : ["kl", ...pc]), ...(est === "local" ? ["ns"] : [])],
      body: `${head} am = a; as = b;`,
    }),
    update: defineKernel({
      name: `${name}_update_${s.optimizer}`,
      ...common,
      inouts: ["mu", "rho", "sig", "dsig", ...ruleMu.slots, ...ruleRho.slots],
      scalars: [...common.scalars, ...optScalars],
      sums: [...KL_SUMS, ...mcSums],
      body: `${gradBody} ${KL_SUMS_BODY} let mu0 = mu; let rho0 = rho; ` +
        `${ruleMu.body} ${ruleRho.body} ` +
        "mu = select(mu0, mu, keep > 0.5); rho = select(rho0, rho, keep > 0.5); " +
        "sig = softplus(f32(rho)) + 1e-6; dsig = sigmoid(f32(rho));",
    }),
    gradient: defineKernel({
      name: `${name}_gradient`,
      ...common,
      inputs: ["mu", "rho", "sig", "dsig", ...common.inputs],
      outputs: ["dmu", "drho"],
      sums: [...KL_SUMS, ...mcSums],
      body: `${gradBody} ${KL_SUMS_BODY} dmu = gmu; drho = grho;`,
    }),
  };
}

/** Initial values U(lo, hi). */
const UNIFORM_INIT = defineKernel({
  name: "uniform_init",
  outputs: ["o"],
  uniforms: ["u"],
  scalars: ["lo", "hi"],
  body: "o = lo + (hi - lo) * u;",
});

/** σ = softplus(ρ) + 1e-6 (the cached state vector `sig`). */
const SIGMA_OF_RHO = defineKernel({
  name: "bbb_sigma",
  inputs: ["rho"],
  outputs: ["sig", "dsig"],
  body: "sig = softplus(rho) + 1e-6; dsig = sigmoid(rho);",
});

/** Pruning: masked μ set to 0 (σ is masked where it is used). */
const APPLY_MASK = defineKernel({
  name: "bbb_mask",
  inputs: ["keep"],
  inouts: ["mu"],
  body: "mu = keep * mu;",
});

/** Noise stream purposes. */
const TRAIN_NOISE = 1, PREDICT_NOISE = 7, SAMPLE_NOISE = 11, INIT_NOISE = 3;

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
  const prior = makeBbbPrior(s);
  const closed = s.kl === "closed" || (s.kl === "auto" && s.prior === "gaussian");
  const K = bbbKernels(s, prior, closed);
  const layout = netLayout(spec, false);
  const P = layout.total;
  const nLayers = spec.hidden.length + 1;
  const isBias = layout.segments.map((g) => (g.name.endsWith(".b") ? 1 : 0));
  const noiseLayout = new Layout([{ name: "log_noise", shape: [] }]);
  const noiseUpdate = defineKernel({
    name: `bbb_noise_${s.optimizer}`,
    inputs: ["g"],
    inouts: ["ln", ...updateRule(s.optimizer, "ln", "g * inv").slots],
    scalars: ["inv", ...updateRule(s.optimizer, "ln", "g").scalars],
    body: updateRule(s.optimizer, "ln", "g * inv").body,
  });

  interface State {
    engine: Engine;
    mu: ParamVec;
    rho: ParamVec;
    /** σ = softplus(ρ) + 1e-6, kept in step with ρ. */
    sig: ParamVec;
    /** dσ/dρ = sigmoid(ρ), kept in step with ρ. */
    dsig: ParamVec;
    opt: OptimizerState;
    noise: NoiseStream;
    logNoise?: ParamVec;
    mask?: ParamVec;
    kept: number;
  }
  let st: State | undefined;
  const need = (): State => {
    if (!st) throw new Error(`${name}: call init(seed) before step/predict`);
    return st;
  };
  const release = () => {
    if (!st) return;
    st.mu.dispose();
    st.rho.dispose();
    st.sig.dispose();
    st.dsig.dispose();
    st.opt.dispose();
    st.logNoise?.dispose();
    st.mask?.dispose();
    st = undefined;
  };
  /** σ and dσ/dρ of ρ. */
  const sigmaOf = (engine: Engine, rho: ParamVec): { sig: ParamVec; dsig: ParamVec } => {
    const o = engine.run(SIGMA_OF_RHO, layout, { arrays: { rho } }).outputs;
    const vec = (ts: tf.Tensor[]) => new ParamVec(engine, layout, ts.map((t) => tf.keep(t)));
    return { sig: vec(o.sig), dsig: vec(o.dsig) };
  };
  const make = (engine: Engine, mu: ParamVec, rho: ParamVec, seed: number): State => ({
    engine,
    mu,
    rho,
    ...sigmaOf(engine, rho),
    opt: new OptimizerState(
      s,
      engine,
      layout,
      ["mu", "rho"],
      learnNoise ? { ln: noiseLayout } : {},
    ),
    noise: engine.noise(seed, TRAIN_NOISE),
    logNoise: learnNoise ? engine.vector(noiseLayout, Math.log(0.5)) : undefined,
    kept: P,
  });
  const logNoiseValue = (x: State) =>
    globalNoise
      ? (learnNoise ? x.logNoise!.tensors[0] : tf.scalar(Math.log(s.fixedNoise!)))
      : undefined;
  const masks = (x: State) => (x.mask ? { keep: x.mask } : {});
  /** `out` with the homoscedastic noise's log σ appended (regression with a global noise). */
  const withLogNoise = (x: State, out: tf.Tensor): tf.Tensor => {
    if (!globalNoise) return out;
    const ln = logNoiseValue(x)!;
    const o = appendLogNoise(out, ln);
    if (!learnNoise) ln.dispose();
    return o;
  };

  /**
   * The KL of a step (per the forms above) as an affine function of the
   * kernels' sums: a constant, coefficients of the update's sums (slog,
   * smu2, ssig2, ssig, and lp, se2 when it draws the last samples) and of the
   * earlier passes' (lp, se2), for `n` samples.
   */
  const klForm = (x: State, n: number, updCols: number) => {
    if (closed) {
      const h = 1 / (2 * s.priorSigma * s.priorSigma);
      return { c: x.kept * (Math.log(s.priorSigma) - 0.5), upd: [-1, h, h, 0], mc: [] };
    }
    const mc = [-1 / n, -1 / (2 * n)]; // Σ log p(w), Σ ε² over the samples
    return {
      c: -x.kept * HALF_LOG_2PI,
      upd: [-1, 0, 0, 0, ...(updCols > KL_SUMS.length ? mc : [])],
      mc,
    };
  };

  /**
   * One step's forward/backward passes and gradient assembly; with `apply`
   * the update, else the gradient as outputs. Returns the step's scalars and
   * (without `apply`) the gradient vectors.
   */
  /** Weight samples per step in `epoch` (0-based). */
  const samplesAt = (epoch: number): number =>
    epoch === 0
      ? s.firstEpochSamples
      : s.samplesAfter && epoch >= s.samplesAfter[0]
      ? s.samplesAfter[1]
      : s.nSamples;
  const run = (
    batch: TensorBatch,
    info: StepInfo,
    apply: boolean,
  ): { result: StepResult; grad?: { mu: tf.Tensor[]; rho: tf.Tensor[] } } => {
    const x = need();
    const e = x.engine;
    if (batch.x.shape[1] !== spec.inputDim) {
      throw new RangeError(
        `${name}: batch has ${batch.x.shape[1]} features, the network expects ${spec.inputDim}`,
      );
    }
    const n = samplesAt(info.epoch);
    const kl = 1 / Math.max(1, info.batchesPerEpoch);
    const klScalars: Record<string, number> = closed
      ? { kl, pprec2: 1 / (s.priorSigma * s.priorSigma) }
      : { kl, ...prior.constants };
    const ln = logNoiseValue(x);
    /** The data NLL summed over the samples: Σ weight · value. */
    const nllParts: { t: tf.Tensor; w: number }[] = [];
    let errors: tf.Scalar | undefined;
    const mcSums: tf.Tensor2D[] = [];
    let gLn: tf.Tensor | undefined;
    /** Adds `w · v` to the NLL total (taking `v` over). */
    const addNll = (v: tf.Scalar, w = 1) => void nllParts.push({ t: v, w });
    /** Adds `g` to the log-noise gradient total (taking it over). */
    const addLn = (g: tf.Tensor) => {
      if (!gLn) {
        gLn = g;
        return;
      }
      const t = tf.add(gLn, g);
      tf.dispose([gLn, g]);
      gLn = t;
    };
    const trackErrors = (out: tf.Tensor) => {
      if (spec.task !== "classification") return;
      errors?.dispose();
      errors = tf.keep(errorRate(out, batch.y));
    };
    let finalArgs: {
      arrays: Record<string, ParamVec | readonly tf.Tensor[] | undefined>;
      normals: Record<string, NoiseBlock>;
      samples: number;
      scalars: Record<string, number>;
    };
    const toRelease: { release(): void }[] = [];
    const toDispose: tf.Tensor[] = [];
    if (s.estimator === "local") {
      const { v } = e.run(K.variance, layout, { arrays: { sig: x.sig, ...masks(x) } }).outputs;
      toDispose.push(...v);
      const mu = x.mu.tensors;
      const pick = (list: readonly tf.Tensor[], kind: number) =>
        list.filter((_, i) => isBias[i] === kind);
      const args = [...mu, ...v, ...(learnNoise ? [ln!] : [])];
      const L = 2 * nLayers;
      const yRep = n > 1 ? tf.tile(batch.y, batch.y.rank === 2 ? [n, 1] : [n]) : batch.y;
      const f = (...a: tf.Tensor[]) => {
        const m = a.slice(0, L), vv = a.slice(L, 2 * L);
        const out = localForward(
          batch.x,
          pick(m, 0) as tf.Tensor2D[],
          pick(vv, 0) as tf.Tensor2D[],
          pick(m, 1) as tf.Tensor1D[],
          pick(vv, 1) as tf.Tensor1D[],
          (shape) => x.noise.normalTensor(shape),
          n,
        );
        trackErrors(tf.slice(out, [(n - 1) * batch.n, 0], [batch.n, -1]));
        return tf.div(nllSum(spec, out, yRep, learnNoise ? a[a.length - 1] : ln), n) as tf.Scalar;
      };
      const { value, grads } = tf.valueAndGrads(f)(args);
      if (yRep !== batch.y) yRep.dispose();
      addNll(value, n);
      if (learnNoise) addLn(tf.mul(grads[grads.length - 1], n));
      toDispose.push(...grads);
      const arrays: Record<string, ParamVec | readonly tf.Tensor[] | undefined> = {
        gm: grads.slice(0, L),
        gv: grads.slice(L, 2 * L),
        ...masks(x),
      };
      if (!closed) {
        const blk = x.noise.take(layout, n);
        toRelease.push(blk);
        const r = e.run(K.mcKl, layout, {
          arrays: { mu: x.mu, sig: x.sig, ...masks(x) },
          normals: { eps: blk },
          samples: n,
          scalars: klScalars,
        });
        mcSums.push(r.sums!);
        toDispose.push(...r.outputs.am, ...r.outputs.as);
        arrays.pam = r.outputs.am;
        arrays.pas = r.outputs.as;
      }
      finalArgs = { arrays, normals: {}, samples: 1, scalars: { ...klScalars, inv: 1 / n, ns: n } };
    } else {
      // Weight sampling and Flipout: the samples in passes of k (all at once on a GPU).
      const perSample = P + batch.n * Math.max(...spec.hidden, spec.inputDim, 1);
      const k = e.samplesPerPass(n, perSample);
      let pam: tf.Tensor[] | undefined, pas: tf.Tensor[] | undefined;
      for (let first = 0; first < n; first += k) {
        const count = Math.min(k, n - first);
        const blk = x.noise.take(layout, count);
        toRelease.push(blk);
        const sr = e.run(K.sample, layout, {
          arrays: { mu: x.mu, sig: x.sig, ...masks(x) },
          normals: { eps: blk },
          samples: count,
          scalars: { isb: isBias },
        });
        // One sample per pass: plain weight tensors (the CPU engine's BLAS path).
        const wt = sr.outputs.wt.map((t) => count === 1 ? t.reshape(t.shape.slice(1)) : t);
        const chunkArrays: Record<string, readonly tf.Tensor[]> = {};
        if (s.estimator === "weight") {
          const args = learnNoise ? [...wt, ln!] : wt;
          const f = (...a: tf.Tensor[]) => {
            const out = forwardLayers(a.slice(0, 2 * nLayers), batch.x);
            trackErrors(out);
            return nllSum(spec, out, batch.y, learnNoise ? a[a.length - 1] : ln);
          };
          const { value, grads } = tf.valueAndGrads(f)(args);
          addNll(value);
          if (learnNoise) addLn(grads[grads.length - 1]);
          chunkArrays.g = grads.slice(0, 2 * nLayers).map((g, i) =>
            g.reshape(sr.outputs.wt[i].shape)
          );
          toDispose.push(...grads, ...chunkArrays.g);
        } else {
          // Flipout: μ_W shared, ΔW = σ∘ε per sample, biases sampled.
          const muW = x.mu.tensors.filter((_, i) => !isBias[i]) as tf.Tensor2D[];
          const batched = count > 1;
          const dims = [spec.inputDim, ...spec.hidden];
          const outs = [...spec.hidden, layout.segments[layout.segments.length - 1].shape[0]];
          const lead = batched ? [count] : [];
          const sIn = dims.map((d) => x.noise.signTensor([...lead, batch.n, d]));
          const sOut = outs.map((d) => x.noise.signTensor([...lead, batch.n, d]));
          const dW = wt.filter((_, i) => !isBias[i]);
          const bs = wt.filter((_, i) => isBias[i]);
          const args = [...muW, ...dW, ...bs, ...(learnNoise ? [ln!] : [])];
          const L = nLayers;
          const f = (...a: tf.Tensor[]) => {
            const out = flipoutForward(
              batch.x,
              a.slice(0, L) as tf.Tensor2D[],
              a.slice(L, 2 * L),
              a.slice(2 * L, 3 * L),
              sIn,
              sOut,
            );
            trackErrors(out);
            return nllSum(spec, out, batch.y, learnNoise ? a[a.length - 1] : ln);
          };
          const { value, grads } = tf.valueAndGrads(f)(args);
          addNll(value);
          if (learnNoise) addLn(grads[grads.length - 1]);
          // Per segment: the mean path's gradient (biases: Σ over samples) and the perturbation's.
          const gm: tf.Tensor[] = [], gd: tf.Tensor[] = [];
          let wi = 0, bi = 0;
          layout.segments.forEach((seg, i) => {
            if (isBias[i]) {
              const gb = grads[2 * L + bi++].reshape([count, ...seg.shape]);
              gd.push(gb);
              gm.push(tf.sum(gb, 0));
            } else {
              gm.push(grads[wi]);
              gd.push(grads[L + wi].reshape([count, ...seg.shape]));
              wi++;
            }
          });
          chunkArrays.gm = gm;
          chunkArrays.gd = gd;
          toDispose.push(...grads, ...gm, ...gd, ...sIn, ...sOut);
        }
        toDispose.push(...sr.outputs.wt, ...wt);
        const arrays = { ...chunkArrays, pam, pas, ...masks(x) };
        if (first + count < n) {
          const ar = e.run(K.accumulate, layout, {
            arrays: { mu: x.mu, sig: x.sig, ...arrays },
            normals: { eps: blk },
            samples: count,
            scalars: closed ? {} : klScalars,
          });
          if (ar.sums) mcSums.push(ar.sums);
          if (pam) toDispose.push(...pam, ...pas!);
          pam = ar.outputs.am;
          pas = ar.outputs.as;
        } else {
          finalArgs = {
            arrays,
            normals: { eps: blk },
            samples: count,
            scalars: { ...klScalars, inv: 1 / n },
          };
        }
      }
      if (pam) toDispose.push(...pam, ...pas!);
    }
    let grad: { mu: tf.Tensor[]; rho: tf.Tensor[] } | undefined;
    let updSums: tf.Tensor2D;
    const fa = finalArgs!;
    if (apply) {
      const opt = x.opt.scalars();
      updSums = e.run(K.update, layout, {
        arrays: {
          ...fa.arrays,
          mu: x.mu,
          rho: x.rho,
          sig: x.sig,
          dsig: x.dsig,
          ...x.opt.slotsOf("mu"),
          ...x.opt.slotsOf("rho"),
        },
        normals: fa.normals,
        samples: fa.samples,
        scalars: { ...fa.scalars, ...opt },
      }).sums!;
      if (learnNoise && gLn) {
        e.run(noiseUpdate, noiseLayout, {
          arrays: { g: [gLn], ln: x.logNoise!, ...x.opt.slotsOf("ln") },
          scalars: { inv: 1 / n, ...opt },
        });
      }
    } else {
      const r = e.run(K.gradient, layout, {
        arrays: { ...fa.arrays, mu: x.mu, rho: x.rho, sig: x.sig, dsig: x.dsig },
        normals: fa.normals,
        samples: fa.samples,
        scalars: fa.scalars,
      });
      updSums = r.sums!;
      grad = { mu: r.outputs.dmu, rho: r.outputs.drho };
    }
    // The step's figures are affine in the NLL parts and the kernels' sums: one fused
    // program each on a GPU (composed from tfjs ops, they cost about twenty dispatches).
    const f = klForm(x, n, updSums.shape[1]);
    const klw = kl / batch.n;
    const klTerms = [
      { t: updSums, coefs: f.upd.map((c) => klw * c) },
      ...mcSums.map((t) => ({ t, coefs: f.mc.map((c) => klw * c) })),
    ];
    const nllTerms = nllParts.map(({ t, w }) => ({ t, coefs: [w / (n * batch.n)] }));
    const result: StepResult = {
      loss: affineSum([...nllTerms, ...klTerms], klw * f.c),
      nll: affineSum(nllTerms),
      kl: affineSum(klTerms, klw * f.c),
      sigmaMean: affineSum([{
        t: updSums,
        coefs: updSums.shape[1] > KL_SUMS.length
          ? [0, 0, 0, 1 / x.kept, 0, 0]
          : [0, 0, 0, 1 / x.kept],
      }]),
    };
    if (errors) result.errors = errors;
    tf.dispose([
      ...nllParts.map(({ t }) => t),
      updSums,
      ...mcSums,
      ...toDispose,
      ...(gLn ? [gLn] : []),
    ]);
    if (globalNoise && !learnNoise) ln!.dispose();
    for (const b of toRelease) b.release();
    return { result, grad };
  };

  /** `count` weight samples `[count, …]` per segment from stream `r`. */
  const drawWeights = (x: State, r: NoiseStream, count: number): tf.Tensor[] => {
    const blk = r.take(layout, count);
    try {
      return x.engine.run(K.sample, layout, {
        arrays: { mu: x.mu, sig: x.sig, ...masks(x) },
        normals: { eps: blk },
        samples: count,
        scalars: s.estimator === "flipout" ? { isb: layout.segments.map(() => 1) } : {},
      }).outputs.wt;
    } finally {
      blk.release();
    }
  };

  const method: BbbMethod = {
    name,
    spec,
    settings: s,
    defaultSamples: s.predictSamples,
    stepWork: samplesAt,
    init(seed: number) {
      release();
      const engine = getEngine();
      const r = engine.noise(seed, INIT_NOISE);
      const init = (lo: number, hi: number): ParamVec => {
        const blk = r.take(layout, 1, "uniform");
        const o = engine.run(UNIFORM_INIT, layout, {
          normals: { u: blk },
          scalars: { lo, hi },
        }).outputs.o;
        blk.release();
        return new ParamVec(engine, layout, o.map((t) => tf.keep(t)));
      };
      st = make(engine, init(s.muInit[0], s.muInit[1]), init(s.rhoInit[0], s.rhoInit[1]), seed);
    },
    step(batch: TensorBatch, info: StepInfo): StepResult {
      return run(batch, info, true).result;
    },
    async gradient(batch: TensorBatch, info: StepInfo): Promise<BbbGradient> {
      const x = need();
      const { result, grad } = run(batch, info, false);
      const loss = (await x.engine.read(result.loss as tf.Tensor))[0];
      tf.dispose(Object.values(result).filter((v) => typeof v !== "number") as tf.Tensor[]);
      const flat = async (ts: tf.Tensor[]) => {
        const out = new Float32Array(P);
        const parts = await Promise.all(ts.map((t) => x.engine.read(t)));
        layout.segments.forEach((seg, i) => out.set(parts[i], seg.off));
        tf.dispose(ts);
        return out;
      };
      return { loss, mu: await flat(grad!.mu), rho: await flat(grad!.rho) };
    },
    predict(xIn: tf.Tensor2D, opts: PredictOptions = {}): Prediction {
      const x = need();
      const samples = opts.samples ?? s.predictSamples;
      const r = x.engine.noise(opts.seed ?? 0, PREDICT_NOISE);
      const width = Math.max(...spec.hidden, 1);
      if (s.predictBy === "weights") {
        return predictBatched(
          spec,
          xIn,
          samples,
          { chunk: opts.chunk, width, weightsPerSample: P },
          (_first, count) => {
            const ws = drawWeights(x, r, count);
            return {
              forward: (xc) => withLogNoise(x, forwardLayers(ws, xc)),
              dispose: () => tf.dispose(ws),
            };
          },
        );
      }
      const { v } =
        x.engine.run(K.variance, layout, { arrays: { sig: x.sig, ...masks(x) } }).outputs;
      const mu = x.mu.tensors;
      const pick = (list: readonly tf.Tensor[], kind: number) =>
        list.filter((_, i) => isBias[i] === kind);
      try {
        return predictBatched(
          spec,
          xIn,
          samples,
          { chunk: opts.chunk, width },
          (_first, count) => ({
            forward: (xc) =>
              withLogNoise(
                x,
                localForward(
                  xc,
                  pick(mu, 0) as tf.Tensor2D[],
                  pick(v, 0) as tf.Tensor2D[],
                  pick(mu, 1) as tf.Tensor1D[],
                  pick(v, 1) as tf.Tensor1D[],
                  (shape) => r.normalTensor(shape),
                  count,
                ).reshape([count, xc.shape[0], -1]),
              ),
          }),
        );
      } finally {
        tf.dispose(v);
      }
    },
    predictMean(xIn: tf.Tensor2D, opts: Pick<PredictOptions, "chunk"> = {}): Prediction {
      const x = need();
      // μ holds exact zeros where pruned (APPLY_MASK), so it is the mean network as it stands.
      const mu = x.mu.tensors.map((t) => t.expandDims(0));
      try {
        return predictBatched(
          spec,
          xIn,
          1,
          { chunk: opts.chunk, width: Math.max(...spec.hidden, 1) },
          () => ({ forward: (xc) => withLogNoise(x, forwardLayers(mu, xc)) }),
        );
      } finally {
        tf.dispose(mu);
      }
    },
    async getState(): Promise<MethodState> {
      const x = need();
      const tensors: Record<string, HostTensor> = {
        ...(await vecToHost(x.mu, "mu/")),
        ...(await vecToHost(x.rho, "rho/")),
        ...(await x.opt.toHost()),
      };
      if (x.mask) Object.assign(tensors, await vecToHost(x.mask, "mask/"));
      if (learnNoise) tensors.log_noise = { data: await x.logNoise!.toHost(), shape: [] };
      return { tensors, extra: { noise: x.noise.getState(), engine: x.engine.kind } };
    },
    setState(state: MethodState): Promise<void> {
      const src = `${name} state`;
      const t = state.tensors;
      const engine = getEngine();
      const mu = engine.vector(layout, hostToFlat(layout, t, "mu/", src));
      const rho = engine.vector(layout, hostToFlat(layout, t, "rho/", src));
      release();
      const x = make(engine, mu, rho, 0);
      if (t[`mask/${layout.segments[0].name}`]) {
        x.mask = vecFromHost(engine, layout, t, "mask/", src);
        x.kept = hostToFlat(layout, t, "mask/", src).reduce((a, b) => a + (b ? 1 : 0), 0);
      }
      if (learnNoise) {
        if (!t.log_noise) throw new Error(`${src}: missing tensor "log_noise"`);
        x.logNoise!.dispose();
        x.logNoise = engine.vector(noiseLayout, t.log_noise.data);
      }
      x.opt.fromHost(t, engine, src);
      const noise = (state.extra.noise ?? state.extra.rng) as number[] | undefined;
      if (Array.isArray(noise) && (state.extra.engine ?? "cpu") === engine.kind) {
        x.noise.setState(noise);
      }
      st = x;
      return Promise.resolve();
    },
    dispose() {
      release();
    },
    async posterior() {
      const x = need();
      const [mu, rho] = await Promise.all([x.mu.toSegments(), x.rho.toSegments()]);
      const keep = x.mask ? await x.mask.toSegments() : undefined;
      const out: Record<string, BbbPosteriorSegment> = {};
      for (const seg of layout.segments) {
        const sigma = rho[seg.name].map((r, j) =>
          keep && !keep[seg.name][j] ? 0 : Math.fround(softplusHost(r) + 1e-6)
        );
        out[seg.name] = { mu: mu[seg.name], sigma, shape: [...seg.shape] };
      }
      return out;
    },
    async setPosterior(values) {
      const x = need();
      const mu = await x.mu.toHost(), rho = await x.rho.toHost();
      for (const [key, v] of Object.entries(values)) {
        const seg = layout.segments.find((g) => g.name === key);
        if (!seg) {
          throw new RangeError(
            `setPosterior: no segment "${key}" (have ${
              layout.segments.map((g) => g.name).join(", ")
            })`,
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
            if (!(sg > 1e-6)) {
              throw new RangeError(`setPosterior: ${key}.sigma[${j}] = ${sg} must be > 1e-6`);
            }
            rho[seg.off + j] = softplusInverse(sg - 1e-6);
          }
        }
      }
      x.mu.dispose();
      x.rho.dispose();
      x.sig.dispose();
      x.dsig.dispose();
      x.mu = x.engine.vector(layout, mu);
      x.rho = x.engine.vector(layout, rho);
      Object.assign(x, sigmaOf(x.engine, x.rho));
    },
    async sampleWeights(k: number, seed = 0): Promise<Record<string, Float32Array>[]> {
      const x = need();
      if (!Number.isInteger(k) || k < 1) {
        throw new RangeError(`sampleWeights: k must be a positive integer, found ${k}`);
      }
      const r = x.engine.noise(seed, SAMPLE_NOISE);
      const out: Record<string, Float32Array>[] = [];
      const pass = x.engine.samplesPerPass(k, P);
      for (let first = 0; first < k; first += pass) {
        const count = Math.min(pass, k - first);
        const ws = drawWeights(x, r, count);
        const host = await Promise.all(ws.map((t) => x.engine.read(t)));
        tf.dispose(ws);
        for (let j = 0; j < count; j++) {
          const set: Record<string, Float32Array> = {};
          layout.segments.forEach((seg, i) => {
            set[seg.name] = host[i].slice(j * seg.size, (j + 1) * seg.size);
          });
          out.push(set);
        }
      }
      return out;
    },
    async pruningScores(): Promise<Record<string, Float32Array>> {
      const post = await method.posterior();
      const out: Record<string, Float32Array> = {};
      for (const seg of layout.segments) {
        if (seg.name.endsWith(".b")) continue;
        const { mu, sigma } = post[seg.name];
        out[seg.name] = mu.map((m, j) => (sigma[j] > 0 ? Math.abs(m) / sigma[j] : 0));
      }
      return out;
    },
    async applyPruningMask(keepMask: Record<string, Uint8Array>): Promise<void> {
      const x = need();
      const flat = x.mask ? await x.mask.toHost() : new Float32Array(P).fill(1);
      for (const [key, m] of Object.entries(keepMask)) {
        const seg = layout.segments.find((g) => g.name === key && g.name.endsWith(".w"));
        if (!seg) {
          throw new RangeError(
            `pruning mask for unknown weight "${key}" (have ${
              layout.segments.filter((g) => g.name.endsWith(".w")).map((g) => g.name).join(", ")
            })`,
          );
        }
        if (m.length !== seg.size) {
          throw new RangeError(
            `pruning mask for ${key} has ${m.length} entries, expected ${seg.size}`,
          );
        }
        for (let j = 0; j < seg.size; j++) if (!m[j]) flat[seg.off + j] = 0;
      }
      x.mask?.dispose();
      x.mask = x.engine.vector(layout, flat);
      x.kept = flat.reduce((a, b) => a + b, 0);
      x.engine.run(APPLY_MASK, layout, { arrays: { keep: x.mask, mu: x.mu } });
    },
  };
  return method;
}

function softplusHost(r: number): number {
  return r > 0 ? r + Math.log1p(Math.exp(-r)) : Math.log1p(Math.exp(r));
}
