/**
 * The SG-MCMC update rules as kernels of the engine's kernel language
 * (`core/engine/kernel.ts`): one fused pass over the parameters per step
 * (prior gradient, data gradient, preconditioner, injected noise, pruning
 * mask), compiled to a JavaScript loop on the CPU engine and to WGSL on the
 * WebGPU engine. A step with noise takes its N(0, 1) draws from an engine
 * noise stream (`normals`); one without noise runs a variant that draws none.
 *
 * Conventions (all three samplers): the potential is
 * U(θ) = (N/n)·Σ_batch NLL + Σ_k λ_k‖θ_k‖²/2 (λ_k the prior precision of
 * segment k, 0 for the flat-prior `log_noise`), so its minibatch gradient is
 * d = scale·g + prec·θ with `g` the gradient of the summed minibatch NLL and
 * `scale` = N/n. Every kernel sets the entries where the optional `keep`
 * mask (1 when absent) is 0 to exactly +0, so pruned weights stay 0.
 *
 * @module
 */
import { defineKernel, type Kernel } from "../../core/engine/kernel.ts";

/**
 * One SGLD step (Welling & Teh 2011): θ' = θ − h·d + sd·ξ with h = ε/2,
 * sd = √ε, ξ ~ N(0, I) — the reference's `θ ← θ − lr·(d/2 + ξ/√lr)`.
 * Without noise it is gradient descent on U with step ε/2.
 */
const SGLD_BODY = (noise: boolean) =>
  `let th = p;
   p = select(0, th - h * (scale * g + prec * th)${noise ? " + sd * xi" : ""}, keep > 0);`;

/**
 * One pSGLD step (Li et al. 2016, RMSprop preconditioner, without the Γ
 * correction term, as the reference): v ← α·v + (1−α)·d², G = √v + eps,
 * θ' = θ − (ε/2)·d/G + √(ε/G)·ξ (`beta` = 1 − α, `sdl` = √ε).
 */
const PSGLD_BODY = (noise: boolean) =>
  `let th = p;
   let d = scale * g + prec * th;
   let v = alpha * sq + beta * d * d;
   sq = v;
   let inv = 1 / (sqrt(v) + eps);
   p = select(0, th - h * d * inv${noise ? " + sdl * sqrt(inv) * xi" : ""}, keep > 0);`;

/**
 * One step of SGHMC with scale adaptation (Springenberg et al. 2016, the
 * reference's `H_SA_SGHMC`). With d = scale·clip·g + λθ:
 * during burn-in (`adapt`) τ ← τ − τ·ĝ²/(V̂+1e-6) + 1, ĝ ← ĝ + (d − ĝ)/τ,
 * V̂ ← V̂ + (d² − V̂)/τ (with 1/(τ + 1e-6) for 1/τ); then with
 * m = min(1/(√V̂ + 1e-6), mMax), the momentum (redrawn as
 * v ~ N(0, ε²·m) when `resample`) is updated as
 * v ← v − ε²·m·d − C·v + N(0, max(2ε²·m·C − ε⁴, 1e-16)), and θ ← θ + v.
 *
 * The cap mMax = 1/(ε²λ) is ours, not the reference's: for a weight the data
 * leave unconstrained (a dead ReLU unit's weights have zero likelihood
 * gradient) d = λθ, so V̂ tracks (λθ)² during burn-in, and a V̂ frozen while θ
 * happened to be near 0 gives a huge m. The update is then a harmonic
 * oscillator with ε²·m·λ per step, which the integrator only keeps bounded
 * below ≈ 4: past that such weights grow geometrically within a few steps
 * after burn-in and the loss becomes infinite (seen on MNIST). Any fixed
 * positive mass keeps the sampler valid; the cap keeps ε²·m·λ ≤ 1. (For the
 * flat-prior `log_noise`, λ = 0 and the cap is 1e30: none.)
 *
 * `clip` is the gradient-clipping coefficient (1, or a one-element device
 * tensor; see `clip.ts`); `fric` the friction C; `lr2`, `lr4` are ε², ε⁴.
 * With the mass frozen, 1/(√V̂ + 1e-6) is read from `minv` (computed once
 * by {@linkcode SGHMC_MASS} when the adaptation stops: a square root and a
 * division per weight and step fewer — the old implementation's cache).
 */
const SGHMC_BODY = (f: SghmcVariant) =>
  `let th = p;
   let d = scale * clip * g + lam * th;
   ${
    f.adapt
      ? `let t0 = tau;
   let g0 = gm;
   let v0 = vhat;
   let t1 = t0 - (t0 * g0 * g0) / (v0 + 1e-6) + 1;
   tau = t1;
   let inv = 1 / (t1 + 1e-6);
   gm = g0 - inv * g0 + inv * d;
   vhat = v0 - inv * v0 + inv * d * d;
   let m = min(1 / (sqrt(vhat) + 1e-6), mmax);`
      : `let m = min(minv, mmax);`
  }
   var v = ${f.resample ? "sqrt(lr2 * m) * zm" : "mom"};
   v += -lr2 * m * d - fric * v;
   ${f.noise ? "v += sqrt(max(2 * lr2 * m * fric - lr4, 1e-16)) * xi;" : ""}
   mom = select(0, v, keep > 0);
   p = select(0, th + v, keep > 0);`;

const cache = new Map<string, Kernel>();

function cached(key: string, make: () => Kernel): Kernel {
  let k = cache.get(key);
  if (!k) cache.set(key, k = make());
  return k;
}

/**
 * The SGLD kernel, with or without injected noise. Arrays: `p` (θ, in
 * place), `g` (summed minibatch NLL gradient), `keep?` (pruning mask);
 * normals `xi` (with noise); scalars `h` = ε/2, `scale` = N/n, `prec`
 * (per segment), `sd` = √ε (with noise).
 *
 * @example
 * ```ts
 * import { getEngine } from "../../core/engine/current.ts";
 * import { initBackend } from "@bayes/nn";
 * import { Layout } from "../../core/engine/engine.ts";
 * import { sgldKernel } from "./kernels.ts";
 * await initBackend({ backend: "wasm", quiet: true });
 * const e = getEngine(), layout = new Layout([{ name: "w", shape: [2] }]);
 * const p = e.vector(layout, 1), g = e.vector(layout, 0.5);
 * e.run(sgldKernel(false), layout, {
 *   arrays: { p, g }, scalars: { h: 0.05, scale: 10, prec: [1] },
 * }); // p = 1 − 0.05·(10·0.5 + 1) = 0.7
 * ```
 */
export function sgldKernel(noise: boolean): Kernel {
  return cached(`sgld${+noise}`, () =>
    defineKernel({
      name: noise ? "sgld" : "sgld_nonoise",
      inputs: ["g", "keep?"],
      inouts: ["p"],
      normals: noise ? ["xi"] : [],
      scalars: noise ? ["h", "scale", "prec", "sd"] : ["h", "scale", "prec"],
      body: SGLD_BODY(noise),
    }));
}

/**
 * The pSGLD kernel, with or without injected noise. Arrays: `p`, `g`,
 * `keep?`, `sq` (the RMSprop average v, in place); normals `xi`; scalars
 * `h` = ε/2, `scale`, `prec` (per segment), `alpha`, `beta` = 1 − α, `eps`,
 * `sdl` = √ε (with noise).
 *
 * @example
 * ```ts
 * import { psgldKernel } from "./kernels.ts";
 * psgldKernel(true).spec.scalars; // ["h", "scale", "prec", "alpha", "beta", "eps", "sdl"]
 * ```
 */
export function psgldKernel(noise: boolean): Kernel {
  const scalars = ["h", "scale", "prec", "alpha", "beta", "eps"];
  return cached(`psgld${+noise}`, () =>
    defineKernel({
      name: noise ? "psgld" : "psgld_nonoise",
      inputs: ["g", "keep?"],
      inouts: ["p", "sq"],
      normals: noise ? ["xi"] : [],
      scalars: noise ? [...scalars, "sdl"] : scalars,
      body: PSGLD_BODY(noise),
    }));
}

/** Which SGHMC step: adapting the mass, redrawing the momentum, injecting noise. */
export interface SghmcVariant {
  /** Adapt τ, ĝ, V̂ (burn-in, and exploration stages of a cyclical schedule). */
  adapt: boolean;
  /** Redraw the momentum v ~ N(0, ε²·m) before the step (normals `zm`). */
  resample: boolean;
  /** Inject the noise N(0, 2ε²mC − ε⁴) (normals `xi`). */
  noise: boolean;
}

/**
 * The SGHMC kernel of one variant. Arrays: `p`, `g`, `keep?`, in place
 * `tau`, `gm` (ĝ), `vhat` (V̂), `mom` (v); normals `zm` (resample) and `xi`
 * (noise); scalars `scale`, `clip`, `lam` and `mmax` (per segment), `lr2`,
 * `lr4`, `fric`. The frozen-mass variant (`adapt: false`) leaves τ, ĝ, V̂
 * alone and reads `minv` = 1/(√V̂ + 1e-6) ({@linkcode SGHMC_MASS}) instead.
 *
 * @example
 * ```ts
 * import { sghmcKernel } from "./kernels.ts";
 * const k = sghmcKernel({ adapt: true, resample: true, noise: true });
 * k.spec.normals; // ["zm", "xi"]
 * ```
 */
export function sghmcKernel(f: SghmcVariant): Kernel {
  const key = `sghmc${+f.adapt}${+f.resample}${+f.noise}`;
  return cached(key, () =>
    defineKernel({
      name: `sghmc_${f.adapt ? "adapt" : "frozen"}${f.resample ? "_resample" : ""}${
        f.noise ? "" : "_nonoise"
      }`,
      inputs: f.adapt ? ["g", "keep?"] : ["g", "keep?", "minv"],
      inouts: f.adapt ? ["p", "tau", "gm", "vhat", "mom"] : ["p", "mom"],
      normals: [...(f.resample ? ["zm"] : []), ...(f.noise ? ["xi"] : [])],
      scalars: ["scale", "clip", "lam", "mmax", "lr2", "lr4", "fric"],
      body: SGHMC_BODY(f),
    }));
}

/**
 * The inverse mass of SGHMC before its cap, `minv` = 1/(√V̂ + 1e-6), for the
 * frozen-mass kernel (V̂ does not change while the mass is frozen).
 *
 * @example
 * ```ts
 * import { SGHMC_MASS } from "./kernels.ts";
 * SGHMC_MASS.spec.body; // "minv = 1 / (sqrt(vhat) + 1e-6);"
 * ```
 */
export const SGHMC_MASS: Kernel = defineKernel({
  name: "sghmc_mass",
  inputs: ["vhat"],
  inouts: ["minv"],
  body: "minv = 1 / (sqrt(vhat) + 1e-6);",
});

/**
 * Σx² per segment (`sums: ss`): the Gibbs update of the prior precision
 * (on θ) and the gradient norm for clipping (on the gradient).
 *
 * @example
 * ```ts
 * import { getEngine } from "../../core/engine/current.ts";
 * import { initBackend } from "@bayes/nn";
 * import { Layout } from "../../core/engine/engine.ts";
 * import { SUM_SQUARES } from "./kernels.ts";
 * await initBackend({ backend: "wasm", quiet: true });
 * const e = getEngine(), layout = new Layout([{ name: "w", shape: [3] }]);
 * const { sums } = e.run(SUM_SQUARES, layout, { arrays: { x: e.vector(layout, 2) } });
 * await e.read(sums!); // [12]
 * ```
 */
export const SUM_SQUARES: Kernel = defineKernel({
  name: "sum_squares",
  inputs: ["x"],
  sums: ["ss"],
  body: "ss += x * x;",
});

/**
 * `p ← 0` where `keep` is 0 (applying a pruning mask to the chain and its momentum).
 *
 * @example
 * ```ts
 * import { APPLY_MASK } from "./kernels.ts";
 * APPLY_MASK.spec.body; // "p = select(0, p, keep > 0);"
 * ```
 */
export const APPLY_MASK: Kernel = defineKernel({
  name: "sgmcmc_apply_mask",
  inputs: ["keep"],
  inouts: ["p"],
  body: "p = select(0, p, keep > 0);",
});
