/**
 * Stochastic Gradient Langevin Dynamics (Welling & Teh 2011) and its
 * RMSprop-preconditioned variant pSGLD (Li et al. 2016).
 *
 * Convention (the reference's): with the minibatch estimate of the full-data
 * potential U(θ) = (N/n)·Σ_batch NLL + ‖θ‖²/(2σ²), one step is
 * θ ← θ − (ε/2)·∇U + N(0, ε·I), ε = `lr` (scheduled); pSGLD divides the drift
 * by G = √v + 1e-8 (v the RMSprop average of ∇U², α = 0.99) and the noise
 * variance too: N(0, ε/G). So `lr` means what it means in the reference's
 * `SGLD`/`pSGLD` optimizers (loss = mean cross-entropy × N), and pSGLD needs
 * a larger `lr` than SGLD.
 *
 * Each step is one engine kernel run (`sgmcmc/kernels.ts`) fused with its
 * noise, after the forward and backward pass. Samples are collected after
 * `burnIn` epochs every `sampleFreq` epochs, streamed to `sampleDir` when
 * given; `predict` averages over them.
 *
 * @module
 */
import type { Layout } from "../core/engine/engine.ts";
import type { NetSpec } from "../core/method.ts";
import { stripUndefined } from "../core/settings.ts";
import {
  buildChain,
  type ChainSettings,
  type SamplerCore,
  type SgmcmcMethod,
} from "./sgmcmc/chain.ts";
import { psgldKernel, sgldKernel } from "./sgmcmc/kernels.ts";

/** The shared types this module's API refers to. */
export type * from "../core/public_types.ts";

export type { ScheduleName, ScheduleSettings } from "./sgmcmc/schedule.ts";
export {
  type SampleEntry,
  SampleFileError,
  type SampleLayout,
  SampleStore,
  type SampleStoreOptions,
  type WeightSample,
} from "./sgmcmc/sample_store.ts";
export type { ChainSettings, SgmcmcMethod } from "./sgmcmc/chain.ts";

/**
 * Settings of {@linkcode buildSgld} and {@linkcode buildPsgld} (all optional;
 * defaults in {@linkcode SGLD_DEFAULTS}, pSGLD's step size
 * {@linkcode PSGLD_DEFAULT_LR}). The shared SG-MCMC fields are documented on
 * {@linkcode ChainSettings}.
 */
export interface SgldSettings extends Partial<ChainSettings> {
  /**
   * Step size ε (> 0; default 1e-5 for SGLD, 1e-3 for pSGLD). The reference recommends 1e-4
   * for SGLD, which diverges on MNIST at batch 128 (the drift is (ε/2)·N·∇mean-NLL).
   */
  lr?: number;
  /** pSGLD: RMSprop decay α (default 0.99). */
  alpha?: number;
  /** pSGLD: RMSprop ε (default 1e-8). */
  eps?: number;
}

/** Defaults shared by SGLD and pSGLD (pSGLD overrides `lr`). */
export const SGLD_DEFAULTS: Required<Omit<SgldSettings, "sampleDir" | "noiseStd">> = {
  lr: 1e-5,
  priorSig: 0.1,
  burnIn: 2,
  sampleFreq: 1,
  maxSamples: 100,
  memorySamples: 10,
  noise: true,
  schedule: "fixed",
  decayB: 1000,
  decayGamma: 0.55,
  cycles: 4,
  cycleExplore: 0.8,
  alpha: 0.99,
  eps: 1e-8,
};

/** pSGLD's default step size (the reference's `--lr` default with preconditioning). */
export const PSGLD_DEFAULT_LR = 1e-3;

type Full = ChainSettings & { alpha: number; eps: number };

function resolveSettings(settings: SgldSettings, lr: number): Full {
  const s = { ...SGLD_DEFAULTS, lr, ...stripUndefined(settings) } as Full;
  if (!(s.alpha > 0 && s.alpha < 1)) {
    throw new RangeError(`alpha (RMSprop decay) must be in (0, 1), found ${s.alpha}`);
  }
  if (!(s.eps > 0)) throw new RangeError(`eps must be > 0, found ${s.eps}`);
  return s;
}

/** Prior precision per segment: 1/σ², 0 for the flat-prior `log_noise`. */
function priorPrecisions(layout: Layout, priorSig: number): number[] {
  const prec = 1 / (priorSig * priorSig);
  return layout.segments.map((g) => (g.name === "log_noise" ? 0 : prec));
}

function sgldCore(s: Full): SamplerCore {
  let prec: number[] = [];
  return {
    slots: [],
    reset(layout) {
      prec = priorPrecisions(layout, s.priorSig);
    },
    update(ctx) {
      ctx.engine.run(sgldKernel(Boolean(ctx.xi)), ctx.layout, {
        arrays: { p: ctx.theta, g: ctx.grads, keep: ctx.keep },
        normals: ctx.xi ? { xi: ctx.xi } : {},
        scalars: { h: ctx.lr / 2, scale: ctx.gradScale, prec, sd: Math.sqrt(ctx.lr) },
      });
    },
    stateExtra: () => ({}),
    setState() {},
  };
}

function psgldCore(s: Full): SamplerCore {
  let prec: number[] = [];
  return {
    slots: [{ name: "sq", key: "square_avg", init: 0 }],
    reset(layout) {
      prec = priorPrecisions(layout, s.priorSig);
    },
    update(ctx) {
      ctx.engine.run(psgldKernel(Boolean(ctx.xi)), ctx.layout, {
        arrays: { p: ctx.theta, g: ctx.grads, keep: ctx.keep, sq: ctx.slots.sq },
        normals: ctx.xi ? { xi: ctx.xi } : {},
        scalars: {
          h: ctx.lr / 2,
          scale: ctx.gradScale,
          prec,
          alpha: s.alpha,
          beta: 1 - s.alpha,
          eps: s.eps,
          sdl: Math.sqrt(ctx.lr),
        },
      });
    },
    stateExtra: () => ({}),
    setState() {},
  };
}

/**
 * Builds an SGLD method (registry key `sgld`).
 *
 * @example
 * ```ts
 * import { buildSgld } from "@bayes/nn/methods/sgld";
 * const m = buildSgld({ inputDim: 784, hidden: [1200, 1200], outputDim: 10, task: "classification" }, {
 *   lr: 1e-5, priorSig: 0.1, burnIn: 2, sampleFreq: 1, sampleDir: "models/sgld/samples",
 * });
 * m.init(0);
 * ```
 */
export function buildSgld(spec: NetSpec, settings: SgldSettings = {}): SgmcmcMethod {
  const s = resolveSettings(settings, SGLD_DEFAULTS.lr);
  return buildChain("sgld", spec, s, sgldCore(s));
}

/** A pSGLD method, with its preconditioner state exposed for inspection. */
export type PsgldMethod = SgmcmcMethod & {
  /** The RMSprop running averages v of ∇U², one host array per parameter tensor. */
  squareAvg(): Promise<Float32Array[]>;
};

/**
 * Builds a pSGLD method (registry key `psgld`): SGLD preconditioned by
 * RMSprop (α = 0.99, ε = 1e-8).
 *
 * @example
 * ```ts
 * import { buildPsgld } from "@bayes/nn/methods/sgld";
 * const m = buildPsgld({ inputDim: 784, hidden: [1200, 1200], outputDim: 10, task: "classification" });
 * m.init(0);
 * ```
 */
export function buildPsgld(spec: NetSpec, settings: SgldSettings = {}): PsgldMethod {
  const s = resolveSettings(settings, PSGLD_DEFAULT_LR);
  const chain = buildChain("psgld", spec, s, psgldCore(s));
  return Object.assign(chain, {
    squareAvg: async () => Object.values(await chain.slot("sq").toSegments()),
  });
}
