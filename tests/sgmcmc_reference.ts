/**
 * Test helpers: the SG-MCMC update rules written out as plain loops (the
 * pre-engine implementation, with the noise passed in), to check the
 * kernels against, and a way to run a kernel's compiled CPU loop directly on
 * host arrays (long chains on tiny problems without tensor overhead).
 *
 * @module
 */
import { compileJs, type JsKernel, type Kernel } from "../core/engine/mod.ts";

const compiled = new WeakMap<Kernel, Map<string, JsKernel>>();

/** Settings of one SGLD step. */
export interface SgldRef {
  /** Step size ε. */
  lr: number;
  /** N/n. */
  gradScale: number;
  /** 1/σ². */
  priorPrecision: number;
}

/** θ' = θ − (ε/2)·d + √ε·ξ (no noise when `xi` is absent), d = scale·g + prec·θ. */
export function sgldRef(theta: Float32Array, grad: Float32Array, s: SgldRef, xi?: Float32Array) {
  const out = new Float32Array(theta.length);
  const h = s.lr / 2, sd = Math.sqrt(s.lr);
  for (let i = 0; i < theta.length; i++) {
    const th = theta[i];
    out[i] = th - h * (s.gradScale * grad[i] + s.priorPrecision * th) + (xi ? sd * xi[i] : 0);
  }
  return out;
}

/** pSGLD: v ← αv + (1−α)d², G = √v + eps, θ' = θ − (ε/2)d/G + √(ε/G)ξ; updates `v`. */
export function psgldRef(
  theta: Float32Array,
  grad: Float32Array,
  v: Float32Array,
  s: SgldRef & { alpha: number; eps: number },
  xi?: Float32Array,
) {
  const out = new Float32Array(theta.length);
  for (let i = 0; i < theta.length; i++) {
    const th = theta[i];
    const d = s.gradScale * grad[i] + s.priorPrecision * th;
    v[i] = s.alpha * v[i] + (1 - s.alpha) * d * d;
    const inv = 1 / (Math.sqrt(v[i]) + s.eps);
    out[i] = th - (s.lr / 2) * d * inv + (xi ? Math.sqrt(s.lr) * Math.sqrt(inv) * xi[i] : 0);
  }
  return out;
}

/** Per-tensor SGHMC state. */
export interface SghmcRefState {
  /** τ. */
  tau: Float32Array;
  /** ĝ. */
  g: Float32Array;
  /** V̂. */
  vHat: Float32Array;
  /** v. */
  momentum: Float32Array;
}

/** The initial SGHMC state (τ = ĝ = V̂ = 1, v = 0). */
export function sghmcRefInit(n: number): SghmcRefState {
  return {
    tau: new Float32Array(n).fill(1),
    g: new Float32Array(n).fill(1),
    vHat: new Float32Array(n).fill(1),
    momentum: new Float32Array(n),
  };
}

/**
 * One scale-adapted SGHMC step (the long comment on `sghmcKernel`), updating
 * `st` in place: `zm` are the momentum redraw normals, `xi` the noise.
 */
export function sghmcRef(
  theta: Float32Array,
  grad: Float32Array,
  st: SghmcRefState,
  s: { lr: number; gradScale: number; lam: number; friction: number; adapt: boolean },
  zm?: Float32Array,
  xi?: Float32Array,
): Float32Array {
  const out = new Float32Array(theta.length);
  const lr2 = s.lr * s.lr, lr4 = lr2 * lr2, C = s.friction;
  const mMax = s.lam > 0 ? 1 / (lr2 * s.lam) : Infinity;
  for (let i = 0; i < theta.length; i++) {
    const th = theta[i];
    const d = s.gradScale * grad[i] + s.lam * th;
    if (s.adapt) {
      const t0 = st.tau[i], g0 = st.g[i], v0 = st.vHat[i];
      const t1 = t0 - (t0 * g0 * g0) / (v0 + 1e-6) + 1;
      st.tau[i] = t1;
      const inv = 1 / (t1 + 1e-6);
      st.g[i] = g0 - inv * g0 + inv * d;
      st.vHat[i] = v0 - inv * v0 + inv * d * d;
    }
    const m = Math.min(1 / (Math.sqrt(st.vHat[i]) + 1e-6), mMax);
    let v = zm ? Math.sqrt(lr2 * m) * zm[i] : st.momentum[i];
    v += -lr2 * m * d - C * v;
    if (xi) v += Math.sqrt(Math.max(2 * lr2 * m * C - lr4, 1e-16)) * xi[i];
    st.momentum[i] = v;
    out[i] = th + v;
  }
  return out;
}

/**
 * Runs a kernel's compiled CPU loop on host arrays of equal length (one
 * segment): `arrays` by kernel name (updated in place for inouts), `normals`
 * as arrays of draws, `scalars` as numbers. Returns the sums.
 *
 * @example
 * ```ts
 * import { sgldKernel } from "../methods/sgmcmc/kernels.ts";
 * const p = new Float32Array([1]);
 * hostRun(sgldKernel(false), { p, g: new Float32Array([1]) }, {}, { h: 0.1, scale: 1, prec: 0 });
 * ```
 */
export function hostRun(
  k: Kernel,
  arrays: Record<string, Float32Array>,
  normals: Record<string, Float32Array>,
  scalars: Record<string, number>,
): number[] {
  const present = new Set(k.args.filter((a) => a.optional && arrays[a.name]).map((a) => a.name));
  let byKey = compiled.get(k);
  if (!byKey) compiled.set(k, byKey = new Map());
  const key = [...present].sort().join(",");
  let c = byKey.get(key);
  if (!c) byKey.set(key, c = compileJs(k, present));
  const n = arrays[c.arrays[0]].length;
  const args: unknown[] = [n, 0, n, 1];
  for (const a of c.arrays) {
    if (!arrays[a]) throw new Error(`hostRun ${k.spec.name}: missing array ${a}`);
    args.push(arrays[a]);
  }
  for (const z of c.normals) {
    if (!normals[z]) throw new Error(`hostRun ${k.spec.name}: missing normals ${z}`);
    args.push(normals[z], 0, n);
  }
  for (const s of c.scalars) {
    if (scalars[s] === undefined) throw new Error(`hostRun ${k.spec.name}: missing scalar ${s}`);
    args.push(scalars[s]);
  }
  return c.fn(...args);
}
