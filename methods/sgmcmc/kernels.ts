/**
 * The SG-MCMC update rules as plain loops over `Float32Array`s: one fused
 * pass per parameter tensor (prior gradient, data gradient, preconditioner,
 * injected noise), with the noise drawn from the library's seeded
 * {@linkcode Rng}. The methods run these on views of the tensors' own
 * memory (the wasm heap), so no tfjs element-wise ops are needed.
 *
 * Conventions (all three samplers): the potential is
 * U(θ) = (N/n)·Σ_batch NLL + ‖θ‖²/(2σ²), so its minibatch gradient is
 * d = gradScale·g + priorPrecision·θ with `g` the gradient of the summed
 * minibatch NLL, `gradScale` = N/n and `priorPrecision` = 1/σ².
 *
 * @module
 */
import type { Rng } from "../../core/rng.ts";

/** N(0, 1) draws for a step: into `out` (or a scratch array when `out` is `theta`). */
function drawNormals(out: Float32Array, theta: Float32Array, rng: Rng): Float32Array {
  const noise = out === theta ? new Float32Array(theta.length) : out;
  rng.fillNormal(noise, 0, 1);
  return noise;
}

/** Settings of one SGLD step (see {@linkcode sgldUpdate}). */
export interface SgldStepSettings {
  /** Step size ε (the `lr` flag). */
  lr: number;
  /** N/n: scales the summed minibatch NLL gradient to the full data set. */
  gradScale: number;
  /** 1/σ² of the Gaussian prior (0 = flat). */
  priorPrecision: number;
  /** Inject the Langevin noise (false = plain gradient descent on U with step ε/2). */
  noise: boolean;
}

/**
 * One SGLD step (Welling & Teh 2011) on one tensor:
 * θ' = θ − (ε/2)·d + √ε·ξ, ξ ~ N(0, I), d = gradScale·g + priorPrecision·θ —
 * exactly the reference's `θ ← θ − lr·(d/2 + ξ/√lr)`. `out` may be `theta`. ξ is
 * `xi` when given (pre-drawn standard normals), else drawn from `rng`.
 *
 * @example
 * ```ts
 * import { Rng } from "@bayes/nn";
 * import { sgldUpdate } from "@bayes/nn/methods/sgld";
 * const theta = new Float32Array([1, 2]);
 * sgldUpdate(theta, theta, new Float32Array([0.5, -1]), {
 *   lr: 1e-3, gradScale: 100, priorPrecision: 1, noise: true,
 * }, new Rng(0));
 * ```
 */
export function sgldUpdate(
  out: Float32Array,
  theta: Float32Array,
  grad: Float32Array,
  s: SgldStepSettings,
  rng: Rng,
  xi?: Float32Array,
): void {
  const n = theta.length;
  const h = s.lr / 2, scale = s.gradScale, prec = s.priorPrecision;
  if (s.noise) {
    const noise = xi ?? drawNormals(out, theta, rng);
    const sd = Math.sqrt(s.lr);
    for (let i = 0; i < n; i++) {
      const th = theta[i];
      out[i] = th - h * (scale * grad[i] + prec * th) + sd * noise[i];
    }
  } else {
    for (let i = 0; i < n; i++) {
      const th = theta[i];
      out[i] = th - h * (scale * grad[i] + prec * th);
    }
  }
}

/** Settings of one pSGLD step (see {@linkcode psgldUpdate}). */
export interface PsgldStepSettings extends SgldStepSettings {
  /** RMSprop decay α of the squared-gradient average (0.99). */
  alpha: number;
  /** RMSprop ε added to √v (1e-8). */
  eps: number;
}

/**
 * One pSGLD step (Li et al. 2016, RMSprop preconditioner, without the
 * Γ correction term, as the reference): v ← α·v + (1−α)·d²,
 * G = √v + eps, θ' = θ − (ε/2)·d/G + √(ε/G)·ξ. Updates `sqAvg` (v) in place.
 *
 * @example
 * ```ts
 * import { Rng } from "@bayes/nn";
 * import { psgldUpdate } from "@bayes/nn/methods/sgld";
 * const theta = new Float32Array([1, 2]), v = new Float32Array(2);
 * psgldUpdate(theta, theta, new Float32Array([0.5, -1]), v, {
 *   lr: 1e-3, gradScale: 100, priorPrecision: 1, noise: true, alpha: 0.99, eps: 1e-8,
 * }, new Rng(0));
 * ```
 */
export function psgldUpdate(
  out: Float32Array,
  theta: Float32Array,
  grad: Float32Array,
  sqAvg: Float32Array,
  s: PsgldStepSettings,
  rng: Rng,
  xi?: Float32Array,
): void {
  const n = theta.length;
  const h = s.lr / 2, scale = s.gradScale, prec = s.priorPrecision;
  const a = s.alpha, b = 1 - s.alpha, eps = s.eps, sqrtLr = Math.sqrt(s.lr);
  const noise = s.noise ? xi ?? drawNormals(out, theta, rng) : undefined;
  for (let i = 0; i < n; i++) {
    const th = theta[i];
    const d = scale * grad[i] + prec * th;
    const v = a * sqAvg[i] + b * d * d;
    sqAvg[i] = v;
    const inv = 1 / (Math.sqrt(v) + eps); // 1/G
    let next = th - h * d * inv;
    if (noise) next += sqrtLr * Math.sqrt(inv) * noise[i];
    out[i] = next;
  }
}

/** Per-tensor state of the scale-adapted SGHMC sampler. */
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
  /**
   * Per-weight m = V̂^−½ and noise std for a step size, valid while V̂ is not
   * adapted (after burn-in); rebuilt on demand, never saved.
   */
  cache?: { lr: number; friction: number; lam: number; m: Float64Array; sd: Float64Array };
}

/** Settings of one SGHMC step (see {@linkcode sghmcUpdate}). */
export interface SghmcStepSettings {
  /** Step size ε (the `lr` flag, 1e-2 in the reference). */
  lr: number;
  /** N/n (times the gradient-clipping factor). */
  gradScale: number;
  /** Friction C (`mdecay`, the reference's `base_C` = 0.05). */
  friction: number;
  /** Adapt τ, ĝ, V̂ (burn-in). */
  adapt: boolean;
  /** Redraw the momentum v ~ N(0, ε²·V̂^−½) before the step. */
  resampleMomentum: boolean;
  /** Inject noise (false = deterministic dynamics). */
  noise: boolean;
}

/** Creates the initial SGHMC state of a tensor of `n` entries. */
export function sghmcInitState(n: number, priorPrecision: number): SghmcTensorState {
  return {
    tau: new Float32Array(n).fill(1),
    g: new Float32Array(n).fill(1),
    vHat: new Float32Array(n).fill(1),
    momentum: new Float32Array(n),
    priorPrecision,
  };
}

const SGHMC_EPS = 1e-6;

/**
 * One step of SGHMC with scale adaptation (Springenberg et al. 2016, the
 * reference's `H_SA_SGHMC`), on one tensor. With d = gradScale·g + λθ:
 * during burn-in τ ← τ − τ·ĝ²/(V̂+1e-6) + 1, ĝ ← ĝ + (d − ĝ)/τ,
 * V̂ ← V̂ + (d² − V̂)/τ; then with m = min(1/(√V̂ + 1e-6), 1/(ε²λ)):
 * v ← v − ε²·m·d − C·v + N(0, max(2ε²·m·C − ε⁴, 1e-16)), θ ← θ + v.
 *
 * The cap on m is ours, not the reference's: for a weight the data leave
 * unconstrained (a dead ReLU unit's weights have zero likelihood gradient)
 * d = λθ, so V̂ tracks (λθ)² during burn-in, and a V̂ frozen while θ happened
 * to be near 0 gives a huge m. The update is then a harmonic oscillator with
 * ε²·m·λ per step, which the integrator only keeps bounded below ≈ 4: past
 * that such weights grow geometrically within a few steps after burn-in and
 * the loss becomes infinite (seen on MNIST). Any fixed positive mass keeps the
 * sampler valid; the cap keeps ε²·m·λ ≤ 1.
 *
 * @example
 * ```ts
 * import { Rng } from "@bayes/nn";
 * import { sghmcInitState, sghmcUpdate } from "@bayes/nn/methods/sghmc";
 * const theta = new Float32Array([1, 2]);
 * const st = sghmcInitState(2, 100);
 * sghmcUpdate(theta, theta, new Float32Array([0.5, -1]), st, {
 *   lr: 1e-2, gradScale: 100, friction: 0.05, adapt: true, resampleMomentum: true, noise: true,
 * }, new Rng(0));
 * ```
 */
export function sghmcUpdate(
  out: Float32Array,
  theta: Float32Array,
  grad: Float32Array,
  st: SghmcTensorState,
  s: SghmcStepSettings,
  rng: Rng,
  xi?: Float32Array,
): void {
  const n = theta.length;
  const { tau, g, vHat, momentum } = st;
  const scale = s.gradScale, lam = st.priorPrecision, C = s.friction;
  const lr2 = s.lr * s.lr, lr4 = lr2 * lr2;
  const mMax = lam > 0 ? 1 / (lr2 * lam) : Infinity; // stability cap (see above)
  if (s.resampleMomentum) rng.fillNormal(momentum, 0, 1);
  const noise = s.noise ? xi ?? drawNormals(out, theta, rng) : undefined;
  const adapt = s.adapt, resample = s.resampleMomentum;
  if (!adapt) {
    // V̂ is frozen: per-weight constants come from a cache (same values as computed below).
    let c = st.cache;
    if (!c || c.lr !== s.lr || c.friction !== C || c.lam !== lam || c.m.length !== n) {
      const m = new Float64Array(n), sd = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        m[i] = Math.min(1 / (Math.sqrt(vHat[i]) + SGHMC_EPS), mMax);
        sd[i] = Math.sqrt(Math.max(2 * lr2 * m[i] * C - lr4, 1e-16));
      }
      c = st.cache = { lr: s.lr, friction: C, lam, m, sd };
    }
    const { m, sd } = c;
    for (let i = 0; i < n; i++) {
      const th = theta[i];
      const d = scale * grad[i] + lam * th;
      let v = resample ? Math.sqrt(lr2 * m[i]) * momentum[i] : momentum[i];
      v += -lr2 * m[i] * d - C * v;
      if (noise) v += sd[i] * noise[i];
      momentum[i] = v;
      out[i] = th + v;
    }
    return;
  }
  st.cache = undefined;
  for (let i = 0; i < n; i++) {
    const th = theta[i];
    const d = scale * grad[i] + lam * th;
    {
      const t0 = tau[i], g0 = g[i], v0 = vHat[i];
      const t1 = t0 - (t0 * g0 * g0) / (v0 + SGHMC_EPS) + 1;
      tau[i] = t1;
      const inv = 1 / (t1 + SGHMC_EPS);
      g[i] = g0 - inv * g0 + inv * d;
      vHat[i] = v0 - inv * v0 + inv * d * d;
    }
    const m = Math.min(1 / (Math.sqrt(vHat[i]) + SGHMC_EPS), mMax);
    let v = resample ? Math.sqrt(lr2 * m) * momentum[i] : momentum[i];
    v += -lr2 * m * d - C * v;
    if (noise) v += Math.sqrt(Math.max(2 * lr2 * m * C - lr4, 1e-16)) * noise[i];
    momentum[i] = v;
    out[i] = th + v;
  }
}

/**
 * A Gibbs draw of a Gaussian prior's precision under a Gamma(α₀, β₀)
 * hyperprior, given a tensor's values: λ ~ Gamma(α₀ + n/2, rate β₀ + Σθ²/2).
 *
 * @example
 * ```ts
 * import { Rng } from "@bayes/nn";
 * import { samplePriorPrecision } from "@bayes/nn/methods/sghmc";
 * samplePriorPrecision(new Float32Array(1000).fill(0.1), 10, 10, new Rng(0)); // ≈ 100
 * ```
 */
export function samplePriorPrecision(
  theta: Float32Array,
  alpha0: number,
  beta0: number,
  rng: Rng,
): number {
  let ss = 0;
  for (let i = 0; i < theta.length; i++) ss += theta[i] * theta[i];
  return rng.gamma(alpha0 + theta.length / 2, beta0 + ss / 2);
}
