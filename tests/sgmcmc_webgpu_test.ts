// The SG-MCMC kernels on the WebGPU engine (Mesa's llvmpipe in CI): every variant matches
// the CPU engine drawing the same Philox noise, and SGLD on a Gaussian target reaches the
// right stationary mean and variance.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../core/backend.ts";
import {
  CpuEngine,
  type Engine,
  getEngine,
  type Kernel,
  Layout,
  type ScalarArg,
} from "../core/engine/mod.ts";
import { Rng } from "../core/rng.ts";
import { psgldKernel, SGHMC_MASS, sghmcKernel, sgldKernel } from "../methods/sgmcmc/kernels.ts";

const LAYOUT = new Layout([
  { name: "l0.w", shape: [37, 19] },
  { name: "l0.b", shape: [19] },
  { name: "log_noise", shape: [] },
]);

interface Case {
  name: string;
  kernel: Kernel;
  arrays: Record<string, (r: Rng) => Float32Array>;
  scalars: Record<string, ScalarArg | "device">;
  normals: string[];
}

const P = LAYOUT.total;
const normal = (sd: number) => (r: Rng) => r.normalArray(P, 0, sd);
const positive = (lo: number, hi: number) => (r: Rng) =>
  Float32Array.from(r.uniformArray(P, lo, hi));
const mask = () => Float32Array.from({ length: P }, (_, i) => (i % 7 === 3 ? 0 : 1));

function cases(): Case[] {
  const out: Case[] = [];
  const base = { p: normal(0.3), g: normal(2), keep: mask };
  for (const noise of [false, true]) {
    out.push({
      name: `sgld noise=${noise}`,
      kernel: sgldKernel(noise),
      arrays: base,
      scalars: { h: 5e-4, scale: 600, prec: [100, 100, 0], sd: Math.sqrt(1e-3) },
      normals: noise ? ["xi"] : [],
    });
    out.push({
      name: `psgld noise=${noise}`,
      kernel: psgldKernel(noise),
      arrays: { ...base, sq: positive(0, 4) },
      scalars: {
        h: 5e-4,
        scale: 600,
        prec: [100, 100, 0],
        alpha: 0.99,
        beta: 0.01,
        eps: 1e-8,
        sdl: Math.sqrt(1e-3),
      },
      normals: noise ? ["xi"] : [],
    });
    for (const adapt of [false, true]) {
      for (const resample of [false, true]) {
        const lam = [80, 40, 0], lr2 = 1e-4;
        out.push({
          name: `sghmc adapt=${adapt} resample=${resample} noise=${noise}`,
          kernel: sghmcKernel({ adapt, resample, noise }),
          arrays: {
            ...base,
            tau: positive(1, 30),
            gm: normal(1),
            vhat: positive(0.01, 100),
            mom: normal(0.01),
            minv: positive(0.1, 10),
          },
          scalars: {
            scale: 600,
            clip: "device",
            lam,
            mmax: lam.map((l) => (l > 0 ? 1 / (lr2 * l) : 1e30)),
            lr2,
            lr4: lr2 * lr2,
            fric: 0.05,
          },
          normals: [...(resample ? ["zm"] : []), ...(noise ? ["xi"] : [])],
        });
      }
    }
  }
  out.push({
    name: "sghmc mass",
    kernel: SGHMC_MASS,
    arrays: { vhat: positive(0.01, 100), minv: positive(0, 1) },
    scalars: {},
    normals: [],
  });
  return out;
}

/** Runs a case on `engine` (the active backend's tensors); returns every array after it. */
async function runCase(engine: Engine, c: Case): Promise<Record<string, Float32Array>> {
  const r = new Rng(21);
  const vecs = Object.fromEntries(
    Object.entries(c.arrays).map(([k, f]) => [k, engine.vector(LAYOUT, f(r))]),
  );
  const clip = tf.tensor1d([0.625]);
  const scalars = Object.fromEntries(
    Object.entries(c.scalars).map(([k, v]) => [k, v === "device" ? clip : v]),
  ) as Record<string, ScalarArg>;
  const stream = engine.noise(13, 2);
  const normals = Object.fromEntries(c.normals.map((n) => [n, stream.take(LAYOUT)]));
  engine.run(c.kernel, LAYOUT, { arrays: vecs, scalars, normals });
  const out: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(vecs)) {
    out[k] = await v.toHost();
    v.dispose();
  }
  clip.dispose();
  return out;
}

Deno.test("webgpu: every SG-MCMC kernel variant matches the CPU engine on the same Philox noise", async () => {
  await initBackend({ backend: "wasm", quiet: true });
  const cpu = new CpuEngine({ noise: "philox" });
  const want: Record<string, Record<string, Float32Array>> = {};
  for (const c of cases()) want[c.name] = await runCase(cpu, c);
  await initBackend({ backend: "webgpu", quiet: true });
  const gpu = getEngine();
  assert.equal(gpu.kind, "webgpu");
  for (const c of cases()) {
    const got = await runCase(gpu, c);
    for (const [k, w] of Object.entries(want[c.name])) {
      // Relative error, with a floor of 1e-2 (the arrays are O(0.1–10)): GPU and CPU Philox
      // normals agree to float32 rounding of their transcendental functions.
      let worst = 0;
      for (let i = 0; i < w.length; i++) {
        worst = Math.max(worst, Math.abs(got[k][i] - w[i]) / Math.max(1e-2, Math.abs(w[i])));
      }
      assert.ok(worst <= 1e-4, `${c.name}: ${k} differs by ${worst} (relative)`);
    }
    // The mask: pruned entries stay exactly +0.
    const p = got.p;
    for (let i = 3; p && i < P; i += 7) {
      assert.ok(Object.is(p[i], 0), `${c.name}: p[${i}] = ${p[i]}`);
    }
  }
});

Deno.test("webgpu: SGLD on a Gaussian target reaches the stationary mean and variance", async () => {
  await initBackend({ backend: "webgpu", quiet: true });
  const e = getEngine();
  assert.equal(e.kind, "webgpu");
  // Each entry is an independent chain. Segment k: U(θ) = a_k(θ − μ_k)²/2 + λ_k θ²/2, so the
  // target is N(a_k μ_k / P_k, 1/P_k), P_k = a_k + λ_k. The data gradient a_k(θ − μ_k) is
  // computed by tfjs on the device, the prior by the kernel's per-segment precision.
  const layout = new Layout([{ name: "a", shape: [64, 64] }, { name: "b", shape: [4096] }]);
  const a = [3, 0.5], mu = [2, -1], lam = [1, 0.5], lr = 0.02;
  const theta = e.vector(layout, 0);
  const noise = e.noise(3, 2);
  const steps = 800;
  for (let t = 0; t < steps; t++) {
    const grads = theta.tensors.map((x, k) => tf.tidy(() => tf.mul(tf.sub(x, mu[k]), a[k])));
    const xi = noise.take(layout);
    e.run(sgldKernel(true), layout, {
      arrays: { p: theta, g: grads },
      normals: { xi },
      scalars: { h: lr / 2, scale: 1, prec: lam, sd: Math.sqrt(lr) },
    });
    tf.dispose(grads);
  }
  const parts = await theta.toSegments();
  for (const [k, seg] of layout.segments.entries()) {
    const Pk = a[k] + lam[k];
    const mean = (a[k] * mu[k]) / Pk;
    // The Euler–Maruyama chain θ' = (1 − εP/2)θ + … + √ε ξ is stationary with variance
    // ε / (1 − (1 − εP/2)²), within 1% of 1/P here; its mean is exact.
    const rho = 1 - (lr * Pk) / 2;
    const variance = lr / (1 - rho * rho);
    const x = parts[seg.name];
    const m = x.reduce((s, v) => s + v, 0) / x.length;
    const v = x.reduce((s, y) => s + (y - m) ** 2, 0) / (x.length - 1);
    const se = Math.sqrt(variance / x.length);
    assert.ok(Math.abs(m - mean) < 4 * se, `${seg.name}: mean ${m}, target ${mean} (se ${se})`);
    const ratio = v / variance;
    // 4096 chains: the variance's relative standard error is √(2/4096) ≈ 2.2%.
    assert.ok(Math.abs(ratio - 1) < 0.09, `${seg.name}: variance ${v}, target ${variance}`);
  }
  theta.dispose();
});
