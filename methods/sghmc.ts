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
 *   mean + `clipStdMul`·std of the last 1000 gradient norms.
 *
 * @module
 */
import type { NetSpec } from "../core/method.ts";
import type { HostTensor } from "../core/safetensors.ts";
import { stripUndefined } from "./map.ts";
import {
  buildChain,
  type ChainSettings,
  type SamplerCore,
  type SgmcmcMethod,
} from "./sgmcmc/chain.ts";
import {
  samplePriorPrecision,
  sghmcInitState,
  type SghmcTensorState,
  sghmcUpdate,
} from "./sgmcmc/kernels.ts";
import type { SampleLayout } from "./sgmcmc/sample_store.ts";

export {
  samplePriorPrecision,
  sghmcInitState,
  type SghmcStepSettings,
  type SghmcTensorState,
  sghmcUpdate,
} from "./sgmcmc/kernels.ts";

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
  noiseWorker: false,
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

const CLIP_WINDOW = 1000;

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

/** The SGHMC core plus a window on its state (for tests and reports). */
interface SghmcCore extends SamplerCore {
  states: SghmcTensorState[];
}

function sghmcCore(s: Full): SghmcCore {
  const prec0 = 1 / (s.priorSig * s.priorSig);
  let layout: SampleLayout = [];
  let gradBuf: number[] = [];
  let maxGrad = 1e20;
  const core: SghmcCore = {
    states: [],
    reset(l: SampleLayout) {
      layout = l;
      core.states = l.map((p) =>
        sghmcInitState(p.shape.reduce((a, b) => a * b, 1), p.name === "log_noise" ? 0 : prec0)
      );
      gradBuf = [];
      maxGrad = 1e20;
    },
    prepare(ctx, views) {
      const resamplePrior = s.resamplePriorEvery > 0 && ctx.t % s.resamplePriorEvery === 0;
      if (!resamplePrior && s.clipStdMul === 0) return;
      const { theta, grads } = views();
      if (resamplePrior) {
        layout.forEach((p, i) => {
          if (p.name !== "log_noise") {
            core.states[i].priorPrecision = samplePriorPrecision(
              theta[i],
              s.alpha0,
              s.beta0,
              ctx.rng,
            );
          }
        });
      }
      if (s.clipStdMul > 0) {
        if (gradBuf.length > CLIP_WINDOW) {
          const mean = gradBuf.reduce((a, b) => a + b, 0) / gradBuf.length;
          const v = gradBuf.reduce((a, b) => a + (b - mean) ** 2, 0) / gradBuf.length;
          maxGrad = mean + s.clipStdMul * Math.sqrt(v);
          gradBuf.shift();
        }
        let ss = 0;
        for (const g of grads) for (let j = 0; j < g.length; j++) ss += g[j] * g[j];
        const norm = ctx.gradScale * Math.sqrt(ss);
        const coef = maxGrad / (norm + 1e-6);
        if (coef < 1) ctx.gradScale *= coef;
        if (norm < maxGrad) gradBuf.push(norm);
      }
    },
    update(_name, i, out, theta, grad, ctx) {
      const every = s.resampleMomentumEvery;
      sghmcUpdate(
        out,
        theta,
        grad,
        core.states[i],
        {
          lr: ctx.lr,
          gradScale: ctx.gradScale,
          friction: s.friction,
          // Exploration stages of a cyclical schedule are optimisation, not
          // sampling: the mass keeps adapting there, so a cycle restarting at a
          // large step size does not use a V̂ frozen at the previous cycle's
          // small one (that made the chain diverge on MNIST). It is frozen in
          // every sampling stage, where the sampler needs a fixed mass.
          adapt: ctx.epoch < s.burnIn || !ctx.sampling,
          resampleMomentum: every > 0 && ctx.t % every === 0,
          noise: ctx.noise,
        },
        ctx.rng,
        ctx.xi(i),
      );
    },
    report(): Record<string, number> {
      // Mean prior σ over the weight tensors: shows the Gibbs-sampled prior.
      let acc = 0, n = 0;
      layout.forEach((p, i) => {
        if (p.name.endsWith(".w")) {
          acc += 1 / Math.sqrt(core.states[i].priorPrecision);
          n++;
        }
      });
      const r: Record<string, number> = {};
      if (n) r.priorSig = acc / n;
      return r;
    },
    stateTensors() {
      const out: Record<string, HostTensor> = {};
      layout.forEach((p, i) => {
        const st = core.states[i];
        for (const k of ["tau", "g", "vHat", "momentum"] as const) {
          out[`opt/${p.name}/${k}`] = { data: st[k], shape: p.shape };
        }
      });
      return out;
    },
    stateExtra: () => ({
      priorPrecision: core.states.map((st) => st.priorPrecision),
      gradBuf: [...gradBuf],
      maxGrad,
    }),
    setState(tensors, extra) {
      const lams = (extra.priorPrecision ?? []) as number[];
      layout.forEach((p, i) => {
        const st = core.states[i];
        for (const k of ["tau", "g", "vHat", "momentum"] as const) {
          const t = tensors[`opt/${p.name}/${k}`];
          if (!t || t.data.length !== st[k].length) {
            throw new Error(
              `SGHMC state: tensor "opt/${p.name}/${k}" is missing or has the wrong size`,
            );
          }
          st[k] = t.data.slice();
        }
        if (lams[i] !== undefined) st.priorPrecision = Number(lams[i]);
        st.cache = undefined;
      });
      gradBuf = ((extra.gradBuf ?? []) as number[]).map(Number);
      maxGrad = Number(extra.maxGrad ?? 1e20);
    },
  };
  return core;
}

/** An SGHMC method, with its per-tensor sampler state exposed for inspection. */
export type SghmcMethod = SgmcmcMethod & {
  /** τ, ĝ, V̂, momentum and prior precision per parameter tensor. */
  samplerState(): SghmcTensorState[];
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
  const m = buildChain("sghmc", spec, s, core) as SghmcMethod;
  m.samplerState = () => core.states;
  return m;
}
