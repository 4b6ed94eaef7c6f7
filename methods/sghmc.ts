/**
 * Stochastic Gradient Hamiltonian Monte Carlo with scale adaptation
 * (Springenberg et al. 2016, "Bayesian optimization with robust Bayesian
 * neural networks"; the sampler of RoBO/pysgmcmc and of the reference's
 * `H_SA_SGHMC`).
 *
 * - Potential U(θ) = (N/n)·Σ_batch NLL + Σ_tensors λ_k‖θ_k‖²/2: a Gaussian
 *   prior per parameter tensor whose precision λ_k has a Gamma(α₀, β₀)
 *   hyperprior and is Gibbs-resampled every `resamplePriorEvery` steps.
 * - During burn-in the per-weight mass (preconditioner) m = V̂^−½ is adapted
 *   from running gradient moments with an adaptive window τ.
 * - Friction C (`mdecay`), momentum resampled every `resampleMomentumEvery`
 *   steps, injected noise N(0, 2ε²mC − ε⁴).
 * - As the reference's MNIST script, gradients are clipped to
 *   mean + `clipStdMul`·std of the last 1000 gradient norms (read back
 *   asynchronously with a fixed lag of 17–32 steps: `sgmcmc/clip.ts`).
 *
 * On the engine a step is one kernel run (`sghmcKernel`: adaptation or
 * frozen mass, momentum redraw and noise fused), plus a Σg² kernel for the
 * clipping norm; the Gibbs step reads Σθ² per tensor from the device every
 * `resamplePriorEvery` steps and draws the Gamma variates on the host.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Engine, Layout } from "../core/engine/engine.ts";
import type { NetSpec } from "../core/method.ts";
import { stripUndefined } from "../core/settings.ts";
import {
  buildChain,
  type ChainSettings,
  type SamplerCore,
  type SgmcmcMethod,
  type StepContext,
} from "./sgmcmc/chain.ts";
import { type ClipState, ClipWindow } from "./sgmcmc/clip.ts";
import { SGHMC_MASS, sghmcKernel, SUM_SQUARES } from "./sgmcmc/kernels.ts";

/** The shared types this module's API refers to. */
export type * from "../core/public_types.ts";

export type { ChainSettings, SgmcmcMethod } from "./sgmcmc/chain.ts";
export type { ScheduleName, ScheduleSettings } from "./sgmcmc/schedule.ts";
export {
  type SampleEntry,
  SampleFileError,
  type SampleLayout,
  SampleStore,
  type SampleStoreOptions,
  type WeightSample,
} from "./sgmcmc/sample_store.ts";

/**
 * Settings of {@linkcode buildSghmc} (all optional; defaults in
 * {@linkcode SGHMC_DEFAULTS}). The shared SG-MCMC fields are documented on
 * {@linkcode ChainSettings}; during the `burnIn` epochs the scale adaptation is on
 * (with a cyclical schedule also in every exploration stage).
 */
export interface SghmcSettings extends Partial<ChainSettings> {
  /** Step size ε (default 1e-2, the reference's). */
  lr?: number;
  /** Friction C (default 0.05, the reference's `base_C`). */
  friction?: number;
  /** Initial prior σ (default 0.1); replaced by Gibbs draws when resampling. */
  priorSig?: number;
  /** Gamma hyperprior shape α₀ on the prior precision (default 10). */
  alpha0?: number;
  /** Gamma hyperprior rate β₀ (default 10). */
  beta0?: number;
  /** Resample the prior precisions every this many steps (default 15; 0 = keep 1/σ²). */
  resamplePriorEvery?: number;
  /** Resample the momentum every this many steps (default 50; 0 = never). */
  resampleMomentumEvery?: number;
  /** Gradient clipping at mean + k·std of recent norms (default 20; 0 = off). */
  clipStdMul?: number;
}

/** Default SGHMC settings (the reference's MNIST run). */
export const SGHMC_DEFAULTS: Required<Omit<SghmcSettings, "sampleDir" | "noiseStd">> = {
  lr: 1e-2,
  friction: 0.05,
  priorSig: 0.1,
  alpha0: 10,
  beta0: 10,
  resamplePriorEvery: 15,
  resampleMomentumEvery: 50,
  burnIn: 20,
  sampleFreq: 2,
  clipStdMul: 20,
  maxSamples: 100,
  memorySamples: 10,
  noise: true,
  schedule: "fixed",
  decayB: 1000,
  decayGamma: 0.55,
  cycles: 4,
  cycleExplore: 0.8,
};

type Full = ChainSettings & Required<Omit<SghmcSettings, "sampleDir" | "noiseStd">>;

function checkSghmc(s: Full): void {
  if (!(s.friction > 0 && s.friction <= 1)) {
    throw new RangeError(`friction (mdecay) must be in (0, 1], found ${s.friction}`);
  }
  if (!(s.alpha0 > 0) || !(s.beta0 > 0)) {
    throw new RangeError(`alpha0 and beta0 must be > 0, found ${s.alpha0}, ${s.beta0}`);
  }
  for (const k of ["resamplePriorEvery", "resampleMomentumEvery"] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 0) {
      throw new RangeError(`${k} must be a non-negative integer of steps, found ${s[k]}`);
    }
  }
  if (!(s.clipStdMul >= 0)) throw new RangeError(`clipStdMul must be ≥ 0, found ${s.clipStdMul}`);
}

/** SGHMC's per-tensor sampler state, as host arrays (for inspection and tests). */
export interface SghmcTensorState {
  /** Moving-average window τ (starts at 1). */
  tau: Float32Array;
  /** Running mean of the gradient ĝ (starts at 1). */
  g: Float32Array;
  /** Running mean of the squared gradient V̂ (starts at 1). */
  vHat: Float32Array;
  /** Momentum v (starts at 0). */
  momentum: Float32Array;
  /** Current prior precision λ of this tensor (Gibbs-resampled). */
  priorPrecision: number;
}

/** The slots of SGHMC: kernel names, checkpoint keys (the pre-engine ones), initial values. */
const SLOTS = [
  { name: "tau", key: "tau", init: 1 },
  { name: "gm", key: "g", init: 1 },
  { name: "vhat", key: "vHat", init: 1 },
  { name: "mom", key: "momentum", init: 0 },
  // 1/(√V̂ + 1e-6) while the mass is frozen (SGHMC_MASS): derived, recomputed, not saved.
  { name: "minv", key: "minv", init: 0, transient: true },
] as const;

/** The SGHMC core plus its prior precisions (for reports and inspection). */
interface SghmcCore extends SamplerCore {
  /** Prior precision λ per segment (0 for `log_noise`). */
  lam: number[];
}

function sghmcCore(s: Full): SghmcCore {
  const prec0 = 1 / (s.priorSig * s.priorSig);
  let layout: Layout | undefined;
  let clip: ClipWindow | undefined;
  /** Whether `minv` holds 1/(√V̂ + 1e-6) of the current V̂. */
  let massFresh = false;
  const core: SghmcCore = {
    slots: SLOTS,
    lam: [],
    reset(l: Layout, engine: Engine) {
      layout = l;
      massFresh = false;
      core.lam = l.segments.map((g) => (g.name === "log_noise" ? 0 : prec0));
      clip?.dispose();
      clip = s.clipStdMul > 0 ? new ClipWindow(engine, s.clipStdMul) : undefined;
    },
    async prepare(ctx: StepContext) {
      if (clip) await clip.begin(ctx.t);
      if (s.resamplePriorEvery > 0 && ctx.t % s.resamplePriorEvery === 0) {
        // Gibbs step for the prior precisions: Σθ² per segment on the device, one read
        // (every resamplePriorEvery steps), the Gamma draws on the host with the chain's RNG.
        const { sums } = ctx.engine.run(SUM_SQUARES, ctx.layout, { arrays: { x: ctx.theta } });
        const ss = await ctx.engine.read(sums!);
        sums!.dispose();
        ctx.layout.segments.forEach((g, i) => {
          // A non-finite Σθ² means the last update already overflowed the weights: the draw is
          // skipped and the training loop's loss check reports the divergence, which a caller
          // can restart from (a Gamma draw with a NaN rate would throw instead).
          if (g.name !== "log_noise" && Number.isFinite(ss[i])) {
            core.lam[i] = ctx.rng.gamma(s.alpha0 + g.size / 2, s.beta0 + ss[i] / 2);
          }
        });
      }
    },
    update(ctx: StepContext) {
      const { engine, layout } = ctx;
      let coef: tf.Tensor | number = 1;
      let norm: tf.Tensor | undefined;
      if (clip) {
        // ‖(N/n)·g‖ on the device; the coefficient enters the kernel as a device scalar.
        const { sums } = engine.run(SUM_SQUARES, layout, { arrays: { x: ctx.grads } });
        norm = tf.tidy(() => tf.mul(tf.sqrt(tf.sum(sums!)), ctx.gradScale));
        sums!.dispose();
        coef = clip.coefficient(norm);
      }
      const every = s.resampleMomentumEvery;
      const variant = {
        // Exploration stages of a cyclical schedule are optimisation, not sampling: the
        // mass keeps adapting there, so a cycle restarting at a large step size does not
        // use a V̂ frozen at the previous cycle's small one (that made the chain diverge
        // on MNIST). It is frozen in every sampling stage, where the sampler needs a
        // fixed mass.
        adapt: ctx.epoch < s.burnIn || !ctx.sampling,
        resample: every > 0 && ctx.t % every === 0,
        noise: Boolean(ctx.xi),
      };
      if (variant.adapt) massFresh = false;
      else if (!massFresh) {
        engine.run(SGHMC_MASS, layout, { arrays: { vhat: ctx.slots.vhat, minv: ctx.slots.minv } });
        massFresh = true;
      }
      const zm = variant.resample ? ctx.stream.take(layout) : undefined;
      const lr2 = ctx.lr * ctx.lr;
      try {
        engine.run(sghmcKernel(variant), layout, {
          arrays: { p: ctx.theta, g: ctx.grads, keep: ctx.keep, ...ctx.slots },
          normals: { ...(zm ? { zm } : {}), ...(ctx.xi ? { xi: ctx.xi } : {}) },
          scalars: {
            scale: ctx.gradScale,
            clip: coef,
            lam: core.lam,
            // The stability cap on the mass (see sghmcKernel); none for a flat prior.
            mmax: core.lam.map((l) => (l > 0 ? 1 / (lr2 * l) : 1e30)),
            lr2,
            lr4: lr2 * lr2,
            fric: s.friction,
          },
        });
      } finally {
        zm?.release();
        if (typeof coef !== "number") coef.dispose();
      }
      if (norm) clip!.record(ctx.t, norm);
    },
    report(): Record<string, number> {
      // Mean prior σ over the weight tensors: shows the Gibbs-sampled prior.
      let acc = 0, n = 0;
      layout?.segments.forEach((g, i) => {
        if (g.name.endsWith(".w")) {
          acc += 1 / Math.sqrt(core.lam[i]);
          n++;
        }
      });
      const r: Record<string, number> = {};
      if (n) r.priorSig = acc / n;
      return r;
    },
    async stateExtra() {
      const c = clip ? await clip.getState() : {};
      return { priorPrecision: [...core.lam], ...c };
    },
    setState(extra) {
      massFresh = false;
      const lams = (extra.priorPrecision ?? []) as number[];
      lams.forEach((l, i) => {
        if (i < core.lam.length) core.lam[i] = Number(l);
      });
      clip?.setState(extra as Partial<ClipState>);
    },
    dispose() {
      clip?.dispose();
    },
  };
  return core;
}

/** An SGHMC method, with its per-tensor sampler state exposed for inspection. */
export type SghmcMethod = SgmcmcMethod & {
  /** τ, ĝ, V̂, momentum and prior precision per parameter tensor (host copies). */
  samplerState(): Promise<SghmcTensorState[]>;
};

/**
 * Builds a scale-adapted SGHMC method (registry key `sghmc`).
 *
 * @example
 * ```ts
 * import { buildSghmc } from "@bayes/nn/methods/sghmc";
 * const m = buildSghmc({ inputDim: 784, hidden: [1200, 1200], outputDim: 10, task: "classification" }, {
 *   lr: 1e-2, burnIn: 20, sampleFreq: 2, sampleDir: "models/sghmc/samples",
 * });
 * m.init(0);
 * ```
 */
export function buildSghmc(spec: NetSpec, settings: SghmcSettings = {}): SghmcMethod {
  const s = { ...SGHMC_DEFAULTS, ...stripUndefined(settings) } as Full;
  checkSghmc(s);
  const core = sghmcCore(s);
  const m = buildChain("sghmc", spec, s, core);
  const samplerState = async (): Promise<SghmcTensorState[]> => {
    const [tau, g, vHat, momentum] = await Promise.all(
      ["tau", "gm", "vhat", "mom"].map((name) => m.slot(name).toSegments()),
    );
    return m.layout.segments.map((seg, i) => ({
      tau: tau[seg.name],
      g: g[seg.name],
      vHat: vHat[seg.name],
      momentum: momentum[seg.name],
      priorPrecision: core.lam[i],
    }));
  };
  return Object.assign(m, { samplerState });
}
