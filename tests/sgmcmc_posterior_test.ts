/**
 * SG-MCMC samplers against an exact posterior: Bayesian linear regression
 * (2 inputs + bias, N = 100, Gaussian prior, known noise). The chains run
 * the same update kernels the methods run on MNIST (`sgldKernel`,
 * `psgldKernel`, `sghmcKernel`, their compiled CPU loops on host arrays),
 * driven by the full-batch gradient of the summed NLL; sample mean must be within 0.1 posterior standard deviations
 * of the exact mean and sample variances within 20% of the exact ones. A
 * shorter chain through the method itself (`fit`, minibatches, endEpoch
 * sample collection) checks the plumbing against the same posterior.
 */
import assert from "node:assert/strict";
import { initBackend } from "../core/backend.ts";
import { Rng } from "../core/rng.ts";
import { fit } from "../core/train.ts";
import { buildSgld } from "../methods/sgld.ts";
import { psgldKernel, SGHMC_MASS, sghmcKernel, sgldKernel } from "../methods/sgmcmc/kernels.ts";
import { hostRun } from "./sgmcmc_reference.ts";

await initBackend({ backend: "wasm", quiet: true });

const N = 100, D = 2, P = D + 1; // weights w1, w2 and the bias
const NOISE = 0.5, PRIOR = 1;

/** The data set and its exact posterior N(mu, Sigma) over [w1, w2, b]. */
function problem() {
  const rng = new Rng(2024);
  const x = rng.normalArray(N * D);
  const wTrue = [0.8, -0.4], bTrue = 0.3;
  const y = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    y[i] = x[2 * i] * wTrue[0] + x[2 * i + 1] * wTrue[1] + bTrue + NOISE * rng.normal();
  }
  // A = Xaᵀ Xa / s² + I/σ², mu = A⁻¹ Xaᵀ y / s²
  const A = Array.from(
    { length: P },
    (_, r) => Array.from({ length: P }, (_, c) => (r === c ? 1 / PRIOR ** 2 : 0)),
  );
  const b = new Array(P).fill(0);
  for (let i = 0; i < N; i++) {
    const row = [x[2 * i], x[2 * i + 1], 1];
    for (let r = 0; r < P; r++) {
      b[r] += (row[r] * y[i]) / NOISE ** 2;
      for (let c = 0; c < P; c++) A[r][c] += (row[r] * row[c]) / NOISE ** 2;
    }
  }
  const Sigma = invert(A);
  const mu = Sigma.map((row) => row.reduce((s, v, c) => s + v * b[c], 0));
  return { x, y, mu, sd: Sigma.map((row, i) => Math.sqrt(row[i])), Sigma };
}

function invert(m: number[][]): number[][] {
  const n = m.length;
  const a = m.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[p][c])) p = r;
    [a[c], a[p]] = [a[p], a[c]];
    const piv = a[c][c];
    for (let j = 0; j < 2 * n; j++) a[c][j] /= piv;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r][c];
      for (let j = 0; j < 2 * n; j++) a[r][j] -= f * a[c][j];
    }
  }
  return a.map((row) => row.slice(n));
}

const prob = problem();

/**
 * Gradient of the summed NLL (Σ_i (x_i·w + b − y_i)² / 2s²) at theta = [w1, w2, b], over
 * the examples `rows` (default all).
 */
function nllGrad(theta: Float32Array, out: Float32Array, rows?: Int32Array): void {
  out.fill(0);
  const n = rows ? rows.length : N;
  for (let k = 0; k < n; k++) {
    const i = rows ? rows[k] : k;
    const x1 = prob.x[2 * i], x2 = prob.x[2 * i + 1];
    const r = (x1 * theta[0] + x2 * theta[1] + theta[2] - prob.y[i]) / NOISE ** 2;
    out[0] += r * x1;
    out[1] += r * x2;
    out[2] += r;
  }
}

interface Moments {
  mean: number[];
  variance: number[];
}

function moments(samples: Float32Array[]): Moments {
  const mean = new Array(P).fill(0), variance = new Array(P).fill(0);
  for (const s of samples) for (let j = 0; j < P; j++) mean[j] += s[j] / samples.length;
  for (const s of samples) {
    for (let j = 0; j < P; j++) variance[j] += (s[j] - mean[j]) ** 2 / (samples.length - 1);
  }
  return { mean, variance };
}

function checkPosterior(m: Moments, label: string, meanTol = 0.1, varTol = 0.2): void {
  if (Deno.env.get("BNN_DEBUG")) {
    const z = m.mean.map((v, j) => ((v - prob.mu[j]) / prob.sd[j]).toFixed(3));
    const r = m.variance.map((v, j) => (v / prob.sd[j] ** 2).toFixed(3));
    console.log(`${label}: mean z ${z}, variance ratios ${r}`);
  }
  for (let j = 0; j < P; j++) {
    const z = Math.abs(m.mean[j] - prob.mu[j]) / prob.sd[j];
    assert.ok(
      z < meanTol,
      `${label}: mean[${j}] = ${m.mean[j]}, exact ${prob.mu[j]} (${z.toFixed(3)} posterior sd off)`,
    );
    const ratio = m.variance[j] / prob.sd[j] ** 2;
    assert.ok(
      Math.abs(ratio - 1) < varTol,
      `${label}: variance[${j}] = ${m.variance[j]}, exact ${prob.sd[j] ** 2} (ratio ${
        ratio.toFixed(3)
      })`,
    );
  }
}

/**
 * Runs `update(theta, grad, t)` (in place) for `steps` steps, keeping every `thin`-th after
 * `burn`; with `batch`, each step's gradient uses `batch` random examples (scale it by
 * N/batch).
 */
function chain(
  steps: number,
  burn: number,
  thin: number,
  update: (theta: Float32Array, grad: Float32Array, t: number) => void,
  batch?: number,
): Float32Array[] {
  const theta = new Float32Array(P);
  const grad = new Float32Array(P);
  const kept: Float32Array[] = [];
  const pick = new Rng(77);
  const rows = batch ? new Int32Array(batch) : undefined;
  for (let t = 0; t < steps; t++) {
    if (rows) { for (let k = 0; k < rows.length; k++) rows[k] = pick.int(N); }
    nllGrad(theta, grad, rows);
    update(theta, grad, t);
    if (t >= burn && (t - burn) % thin === 0) kept.push(theta.slice());
  }
  return kept;
}

/** Fresh N(0, 1) draws for one step. */
function normals(rng: Rng): Float32Array {
  const z = new Float32Array(P);
  rng.fillNormal(z);
  return z;
}

Deno.test("SGLD kernel samples the exact linear-regression posterior", () => {
  const rng = new Rng(1);
  const lr = 1e-4;
  const samples = chain(
    300_000,
    2_000,
    10,
    (theta, grad) =>
      void hostRun(sgldKernel(true), { p: theta, g: grad }, { xi: normals(rng) }, {
        h: lr / 2,
        scale: 1,
        prec: 1 / PRIOR ** 2,
        sd: Math.sqrt(lr),
      }),
  );
  checkPosterior(moments(samples), "SGLD");
});

// pSGLD drops the Γ correction of its position-dependent preconditioner; with a full-batch
// gradient v tracks (θ − μ)² and inflates the variance by ~25%. Run as it is meant to run,
// on minibatches, where v is dominated by gradient noise, the bias is small.
Deno.test("pSGLD kernel (minibatches of 10) samples the exact linear-regression posterior", () => {
  const rng = new Rng(2);
  const sq = new Float32Array(P);
  const lr = 5e-3;
  const samples = chain(
    600_000,
    2_000,
    10,
    (theta, grad) =>
      void hostRun(psgldKernel(true), { p: theta, g: grad, sq }, { xi: normals(rng) }, {
        h: lr / 2,
        scale: N / 10,
        prec: 1 / PRIOR ** 2,
        alpha: 0.99,
        beta: 1 - 0.99,
        eps: 1e-8,
        sdl: Math.sqrt(lr),
      }),
    10,
  );
  checkPosterior(moments(samples), "pSGLD");
});

Deno.test("SGHMC (scale-adapted) kernel samples the exact linear-regression posterior", () => {
  const rng = new Rng(3);
  const slots = {
    tau: new Float32Array(P).fill(1),
    gm: new Float32Array(P).fill(1),
    vhat: new Float32Array(P).fill(1),
    mom: new Float32Array(P),
    minv: new Float32Array(P),
  };
  const burn = 5_000, lr2 = 1e-4, lam = 1 / PRIOR ** 2;
  const samples = chain(300_000, burn, 10, (theta, grad, t) => {
    const resample = t % 50 === 0;
    const zm = resample ? normals(rng) : undefined;
    if (t === burn) hostRun(SGHMC_MASS, slots, {}, {}); // the mass freezes
    hostRun(
      sghmcKernel({ adapt: t < burn, resample, noise: true }),
      { p: theta, g: grad, ...slots },
      { ...(zm ? { zm } : {}), xi: normals(rng) },
      { scale: 1, clip: 1, lam, mmax: 1 / (lr2 * lam), lr2, lr4: lr2 * lr2, fric: 0.05 },
    );
  });
  checkPosterior(moments(samples), "SGHMC");
});

/** The same problem through a method: minibatches of 25, samples collected in endEpoch. */
async function methodChain(build: () => ReturnType<typeof buildSgld>, epochs: number) {
  const m = build();
  const train = {
    x: prob.x,
    y: prob.y,
    n: N,
    xShape: [D],
    yShape: [1],
  };
  await fit(m, train, { epochs, batchSize: 25, seed: 5, progress: false });
  const samples = (await m.sampleWeights(m.store.count)).map((s) =>
    Float32Array.from([s["l0.w"][0], s["l0.w"][1], s["l0.b"][0]])
  );
  m.dispose();
  return moments(samples);
}

const spec = {
  inputDim: D,
  hidden: [],
  outputDim: 1,
  task: "regression" as const,
  noise: "homoscedastic" as const,
};

Deno.test("SGLD method: a minibatch chain through fit matches the posterior (coarse)", async () => {
  const m = await methodChain(
    () =>
      buildSgld(spec, {
        lr: 4e-4,
        priorSig: PRIOR,
        noiseStd: NOISE,
        burnIn: 25,
        sampleFreq: 1,
        maxSamples: 10_000,
      }),
    // 1200 epochs of 4 steps (≈ 400 effective samples): the bounds below are ≈ 3σ of the
    // Monte Carlo error; 300 epochs passed or failed them depending on the noise stream.
    1200,
  );
  // Minibatch gradient noise and a short chain: looser bounds than the kernel tests, still
  // far tighter than a wrong likelihood scale N/n (4× the variance) would pass.
  checkPosterior(m, "SGLD method", 0.25, 0.25);
});
