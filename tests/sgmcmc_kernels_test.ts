/**
 * SG-MCMC update rules and settings: SGLD without noise is exactly SGD on
 * the potential, every kernel variant matches its reference formula,
 * pSGLD's preconditioner is RMSprop's running average, the methods' steps
 * are the kernels applied to the tfjs gradient (N/n scaling, per-tensor
 * prior, Gibbs prior draws, gradient clipping), the clipping window is
 * harvested with a fixed lag and resumes exactly, schedules follow their
 * formulas, bad settings fail with clear errors, and steps do not leak
 * tensors.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../core/backend.ts";
import { getEngine, Layout } from "../core/engine/mod.ts";
import { nllSum } from "../core/likelihood.ts";
import type { NetSpec, StepInfo, TensorBatch } from "../core/method.ts";
import { Rng } from "../core/rng.ts";
import { buildPsgld, buildSgld, type SgmcmcMethod } from "../methods/sgld.ts";
import { buildSghmc } from "../methods/sghmc.ts";
import { type ChainSettings, checkCollects } from "../methods/sgmcmc/chain.ts";
import { CLIP_BLOCK, CLIP_WINDOW, ClipWindow, NO_CLIP } from "../methods/sgmcmc/clip.ts";
import { psgldKernel, SGHMC_MASS, sghmcKernel, sgldKernel } from "../methods/sgmcmc/kernels.ts";
import { pickSamples } from "../methods/sgmcmc/predict.ts";
import { collectsAt, samplesCollected, scheduleAt } from "../methods/sgmcmc/schedule.ts";
import { hostRun, psgldRef, sghmcRef, sghmcRefInit, sgldRef } from "./sgmcmc_reference.ts";

await initBackend({ backend: "wasm", quiet: true });

const linSpec: NetSpec = {
  inputDim: 2,
  hidden: [],
  outputDim: 1,
  task: "regression",
  noise: "homoscedastic",
};
const info = (epoch = 0, step = 0, n = 4): StepInfo => ({
  datasetSize: n,
  epoch,
  step,
  batchesPerEpoch: 2,
  epochs: 10,
});

/** Runs a step and frees the tensors it reports. */
async function step(
  m: SgmcmcMethod,
  batch: TensorBatch,
  i: StepInfo,
): Promise<Record<string, number>> {
  const r = await m.step(batch, i);
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(r)) {
    if (typeof v === "number") out[k] = v;
    else {
      out[k] = (await v.data())[0];
      v.dispose();
    }
  }
  return out;
}

/**
 * The next `n` N(0, 1) draws of a CPU-engine noise stream in state `state`
 * (one fill of `n` values, as a kernel's noise block of `n` draws), from a
 * fresh stream set to that state.
 */
function draws(state: number[], n: number): { z: Float32Array; state: number[] } {
  const s = getEngine().noise(0, 0);
  s.setState(state);
  const t = s.normalTensor([n]);
  const z = t.dataSync() as Float32Array;
  t.dispose();
  return { z, state: s.getState() };
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string) {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i]));
    assert.ok(err <= tol, `${what}[${i}]: ${got[i]} vs ${want[i]} (error ${err})`);
  }
}

Deno.test("SGLD with noise off is bitwise SGD on U = (N/n)·NLL + ‖θ‖²/2σ²", async () => {
  // Dyadic numbers: every intermediate is exact in float32, so any correct order of
  // operations gives the same bits.
  const m = buildSgld(linSpec, { lr: 2 ** -4, priorSig: 2, noise: false, noiseStd: 1 });
  m.init(0);
  const w = [0.5, -0.25], b = 0.125;
  const st = await m.getState();
  st.tensors["l0.w"] = { data: new Float32Array(w), shape: [2, 1] };
  st.tensors["l0.b"] = { data: new Float32Array([b]), shape: [1] };
  await m.setState(st);
  const xs = [[1, 2], [3, -1]], ys = [1, 0];
  const batch = { x: tf.tensor2d(xs), y: tf.tensor2d(ys, [2, 1]), n: 2 };
  await step(m, batch, info(0, 0, 4)); // N = 4, n = 2: likelihood scaled by 2
  // Hand-written SGD: θ ← θ − (lr/2)·(2·∇NLL + θ/σ²), ∇NLL of Σ (x·w + b − y)²/2.
  const gw = [0, 0];
  let gb = 0;
  xs.forEach((x, i) => {
    const r = x[0] * w[0] + x[1] * w[1] + b - ys[i];
    gw[0] += r * x[0];
    gw[1] += r * x[1];
    gb += r;
  });
  const lr = 2 ** -4, prec = 1 / 4;
  const expW = w.map((v, j) => v - (lr / 2) * (2 * gw[j] + prec * v));
  const expB = b - (lr / 2) * (2 * gb + prec * b);
  const cur = await m.current();
  assert.deepEqual([...cur["l0.w"]], expW);
  assert.deepEqual([...cur["l0.b"]], [expB]);
  tf.dispose([batch.x, batch.y]);
  m.dispose();
});

Deno.test("every SG-MCMC kernel variant on the engine is its reference formula", async () => {
  const e = getEngine();
  const layout = new Layout([{ name: "w", shape: [5, 3] }, { name: "b", shape: [3] }]);
  const P = layout.total;
  const rng = new Rng(4);
  const theta0 = rng.normalArray(P, 0, 0.3), grad = rng.normalArray(P, 0, 2);
  const sq0 = Float32Array.from(rng.normalArray(P), (v) => v * v);
  const seg = (a: Float32Array, i: number) =>
    a.subarray(layout.segments[i].off, layout.segments[i].off + layout.segments[i].size);
  const prec = [4, 0.5], lr = 3e-3, scale = 7;
  const g = e.vector(layout, grad);
  for (const noise of [false, true]) {
    // SGLD and pSGLD
    for (const kind of ["sgld", "psgld"] as const) {
      const p = e.vector(layout, theta0), sq = e.vector(layout, sq0);
      const stream = e.noise(9, 1);
      const z = noise ? draws(stream.getState(), P).z : undefined;
      const xi = noise ? stream.take(layout) : undefined;
      e.run(kind === "sgld" ? sgldKernel(noise) : psgldKernel(noise), layout, {
        arrays: { p, g, sq },
        normals: xi ? { xi } : {},
        scalars: {
          h: lr / 2,
          scale,
          prec,
          sd: Math.sqrt(lr),
          sdl: Math.sqrt(lr),
          alpha: 0.99,
          beta: 1 - 0.99,
          eps: 1e-8,
        },
      });
      xi?.release();
      const got = await p.toHost(), gotSq = await sq.toHost();
      layout.segments.forEach((_, i) => {
        const s = { lr, gradScale: scale, priorPrecision: prec[i], alpha: 0.99, eps: 1e-8 };
        const zi = z && seg(z, i);
        const v = seg(sq0, i).slice();
        const want = kind === "sgld"
          ? sgldRef(seg(theta0, i), seg(grad, i), s, zi)
          : psgldRef(seg(theta0, i), seg(grad, i), v, s, zi);
        assertClose(seg(got, i), want, 1e-6, `${kind} noise=${noise} seg ${i}`);
        if (kind === "psgld") assertClose(seg(gotSq, i), v, 1e-6, `psgld v seg ${i}`);
      });
      p.dispose();
      sq.dispose();
    }
    // SGHMC: adapting or frozen mass, with or without a momentum redraw
    for (const adapt of [false, true]) {
      for (const resample of [false, true]) {
        const init = sghmcRefInit(P);
        init.tau.set(Float32Array.from(rng.uniformArray(P, 1, 20)));
        init.g.set(rng.normalArray(P));
        init.vHat.set(Float32Array.from(rng.uniformArray(P, 0.01, 50)));
        init.momentum.set(rng.normalArray(P, 0, 0.01));
        const p = e.vector(layout, theta0);
        const slots = {
          tau: e.vector(layout, init.tau),
          gm: e.vector(layout, init.g),
          vhat: e.vector(layout, init.vHat),
          mom: e.vector(layout, init.momentum),
          minv: e.vector(layout, 0),
        };
        // The frozen-mass kernel reads 1/(√V̂ + 1e-6) from minv.
        if (!adapt) e.run(SGHMC_MASS, layout, { arrays: slots });
        const stream = e.noise(5, 2);
        const a = draws(stream.getState(), P);
        const zm = resample ? stream.take(layout) : undefined;
        const xi = noise ? stream.take(layout) : undefined;
        const zs = resample ? a.z : undefined;
        const xs = noise ? (resample ? draws(a.state, P).z : a.z) : undefined;
        const lam = [60, 0], lr2 = 1e-4, clip = 0.75;
        e.run(sghmcKernel({ adapt, resample, noise }), layout, {
          arrays: { p, g, ...slots },
          normals: { ...(zm ? { zm } : {}), ...(xi ? { xi } : {}) },
          scalars: {
            scale,
            clip: tf.tensor1d([clip]),
            lam,
            mmax: lam.map((l) => (l > 0 ? 1 / (lr2 * l) : 1e30)),
            lr2,
            lr4: lr2 * lr2,
            fric: 0.05,
          },
        });
        zm?.release();
        xi?.release();
        const got = await p.toHost();
        const gotSlots = {
          tau: await slots.tau.toHost(),
          g: await slots.gm.toHost(),
          vHat: await slots.vhat.toHost(),
          momentum: await slots.mom.toHost(),
        };
        layout.segments.forEach((_, i) => {
          const st = {
            tau: seg(init.tau, i).slice(),
            g: seg(init.g, i).slice(),
            vHat: seg(init.vHat, i).slice(),
            momentum: seg(init.momentum, i).slice(),
          };
          const want = sghmcRef(
            seg(theta0, i),
            seg(grad, i),
            st,
            {
              lr: 1e-2,
              gradScale: scale * clip,
              lam: lam[i],
              friction: 0.05,
              adapt,
            },
            zs && seg(zs, i),
            xs && seg(xs, i),
          );
          const what = `sghmc adapt=${adapt} resample=${resample} noise=${noise} seg ${i}`;
          // V̂ is used in double precision inside the kernel, rounded to float32 in the
          // reference: ~1e-7 relative differences.
          assertClose(seg(got, i), want, 1e-5, what);
          for (const k of ["tau", "g", "vHat", "momentum"] as const) {
            assertClose(seg(gotSlots[k], i), st[k], 1e-5, `${what} ${k}`);
          }
        });
        p.dispose();
        Object.values(slots).forEach((v) => v.dispose());
      }
    }
  }
  g.dispose();
});

Deno.test("pSGLD preconditioner is RMSprop's running average of the squared gradient", async () => {
  const e = getEngine();
  const rng = new Rng(9);
  const n = 5, steps = 20;
  const layout = new Layout([{ name: "p", shape: [n] }]);
  const grads = Array.from({ length: steps }, () => rng.normalArray(n, 0, 3));
  // The kernel with a flat prior and scale 1: d = g.
  const p = e.vector(layout, 0), v = e.vector(layout, 0);
  const expected = new Float64Array(n);
  for (const g of grads) {
    const gt = tf.tensor1d(g);
    e.run(psgldKernel(false), layout, {
      arrays: { p, g: [gt], sq: v },
      scalars: { h: 5e-4, scale: 1, prec: 0, alpha: 0.99, beta: 0.01, eps: 1e-8 },
    });
    gt.dispose();
    for (let j = 0; j < n; j++) expected[j] = 0.99 * expected[j] + 0.01 * g[j] * g[j];
  }
  const got = await v.toHost();
  for (let j = 0; j < n; j++) assert.ok(Math.abs(got[j] - expected[j]) <= 1e-6 * expected[j]);
  // tfjs's RMSprop (decay 0.99) accumulates the same average.
  const probe = tf.variable(tf.zeros([n]), true, "rms_probe");
  const opt = tf.train.rmsprop(1e-3, 0.99, 0, 1e-8);
  for (const g of grads) {
    const gt = tf.tensor1d(g);
    opt.applyGradients({ rms_probe: gt });
    gt.dispose();
  }
  const ms = await (await opt.getWeights()).find((w) => w.name === "rms_probe/rms")!.tensor.data();
  for (let j = 0; j < n; j++) assert.ok(Math.abs(got[j] - ms[j]) <= 1e-5 * ms[j], `v[${j}]`);
  opt.dispose();
  probe.dispose();
  p.dispose();
  v.dispose();
});

/** Gradient of the summed NLL of the linear net at the method's current weights. */
async function tfGrads(w: Float32Array, b: Float32Array, x: tf.Tensor2D, y: tf.Tensor) {
  const [gw, gb] = tf.grads((wt: tf.Tensor, bt: tf.Tensor) =>
    nllSum(linSpec, tf.add(tf.matMul(x, wt), bt) as tf.Tensor2D, y, tf.scalar(Math.log(0.5)))
  )([tf.tensor2d(w, [2, 1]), tf.tensor1d(b)]);
  const out = { w: (await gw.data()) as Float32Array, b: (await gb.data()) as Float32Array };
  tf.dispose([gw, gb]);
  return out;
}

Deno.test("pSGLD and SGHMC method steps are their kernels on the N/n-scaled tfjs gradient", async () => {
  const x = tf.tensor2d([[0.3, -1.2], [1.5, 0.4]]), y = tf.tensor2d([[0.7], [-0.2]]);
  const batch = { x, y, n: 2 };
  for (const kind of ["psgld", "sghmc", "sghmc clipped"] as const) {
    const m = kind === "psgld"
      ? buildPsgld(linSpec, { lr: 1e-3, priorSig: 0.5, noiseStd: 0.5 })
      : buildSghmc(linSpec, {
        lr: 1e-2,
        priorSig: 0.5,
        noiseStd: 0.5,
        burnIn: 3,
        clipStdMul: kind === "sghmc" ? 0 : 20,
      });
    m.init(3);
    const st = await m.getState();
    const maxGrad = 0.5;
    if (kind === "sghmc clipped") {
      // A threshold far below this step's norm: the gradient is scaled down.
      Object.assign(st.extra.sampler as object, { gradBuf: [], maxGrad, pending: [] });
      await m.setState(st);
    }
    const before = await m.current();
    const rng = new Rng(0);
    rng.setState(st.extra.rng as number[]);
    const a = draws(st.extra.noise as number[], 3); // [w1, w2, b]: the injected noise first
    const zm = draws(a.state, 3).z; // then SGHMC's momentum redraw
    const xi = a.z;
    const g = await tfGrads(before["l0.w"], before["l0.b"], x, y);
    await step(m, batch, info(0, 0, 10)); // N = 10, n = 2
    const after = await m.current();
    let expW: Float32Array, expB: Float32Array;
    if (kind === "psgld") {
      const s = { lr: 1e-3, gradScale: 5, priorPrecision: 4, alpha: 0.99, eps: 1e-8 };
      expW = psgldRef(before["l0.w"], g.w, new Float32Array(2), s, xi.subarray(0, 2));
      expB = psgldRef(before["l0.b"], g.b, new Float32Array(1), s, xi.subarray(2));
    } else {
      // Step 0 resamples the prior precision (Gamma draw per tensor) and the momentum.
      const lamW = rng.gamma(10 + 1, 10 + (before["l0.w"][0] ** 2 + before["l0.w"][1] ** 2) / 2);
      const lamB = rng.gamma(10 + 0.5, 10 + before["l0.b"][0] ** 2 / 2);
      let scale = 5;
      if (kind === "sghmc clipped") {
        const norm = 5 * Math.hypot(g.w[0], g.w[1], g.b[0]);
        assert.ok(norm > maxGrad, "the test clips");
        scale *= maxGrad / (norm + 1e-6);
      }
      const s = { lr: 1e-2, gradScale: scale, friction: 0.05, adapt: true };
      expW = sghmcRef(
        before["l0.w"],
        g.w,
        sghmcRefInit(2),
        { ...s, lam: lamW },
        zm.subarray(0, 2),
        xi.subarray(0, 2),
      );
      expB = sghmcRef(
        before["l0.b"],
        g.b,
        sghmcRefInit(1),
        { ...s, lam: lamB },
        zm.subarray(2),
        xi.subarray(2),
      );
    }
    for (let j = 0; j < 2; j++) {
      assert.ok(Math.abs(after["l0.w"][j] - expW[j]) < 1e-6, `${kind} w[${j}]`);
    }
    assert.ok(Math.abs(after["l0.b"][0] - expB[0]) < 1e-6, `${kind} b`);
    assert.notDeepEqual([...after["l0.w"]], [...before["l0.w"]]);
    m.dispose();
  }
  tf.dispose([x, y]);
});

Deno.test("SGHMC after burn-in stays bounded on weights the data leave unconstrained", () => {
  // A dead unit's weight: zero likelihood gradient, so d = λθ and burn-in leaves V̂ ≈ (λθ)².
  // Frozen while θ was near 0, the uncapped step ε²·λ/√V̂ would be ~1e4: the weight would
  // grow geometrically. With the cap (ε²·m·λ ≤ 1) it oscillates about 0 with |θ| bounded.
  const lr = 1e-2, lam = 60, lr2 = lr * lr;
  const theta = new Float32Array([1e-6, -3e-7, 0.05]);
  const vhat = new Float32Array([(lam * 1e-6) ** 2, (lam * 3e-7) ** 2, (lam * 0.05) ** 2]);
  const mom = new Float32Array(3), zero = new Float32Array(3), minv = new Float32Array(3);
  hostRun(SGHMC_MASS, { vhat, minv }, {}, {});
  const rng = new Rng(3);
  const zm = new Float32Array(3), xi = new Float32Array(3);
  let maxAbs = 0;
  for (let t = 0; t < 2000; t++) {
    const resample = t % 50 === 0;
    if (resample) rng.fillNormal(zm);
    rng.fillNormal(xi);
    hostRun(
      sghmcKernel({ adapt: false, resample, noise: true }),
      {
        p: theta,
        g: zero,
        minv,
        mom,
      },
      { zm, xi },
      {
        scale: 1,
        clip: 1,
        lam,
        mmax: 1 / (lr2 * lam),
        lr2,
        lr4: lr2 * lr2,
        fric: 0.05,
      },
    );
    for (const v of theta) maxAbs = Math.max(maxAbs, Math.abs(v));
  }
  assert.ok(theta.every(Number.isFinite));
  // Prior σ = 1/√60 ≈ 0.13: samples stay within a few prior standard deviations.
  assert.ok(maxAbs < 1.5, `max |θ| = ${maxAbs}`);
  // Without the cap the same update explodes (the reason for it).
  const m = 1 / (Math.sqrt((lam * 1e-6) ** 2) + 1e-6);
  assert.ok(lr * lr * m * lam > 4, "the test case is in the unstable regime");
});

Deno.test("cyclical SGHMC adapts the mass while exploring and freezes it while sampling", async () => {
  // 2 cycles of 4 steps, half exploring: steps 0,1 and 4,5 explore; 2,3 and 6,7 sample.
  const x = tf.tensor2d([[0.3, -1.2], [1.5, 0.4]]), y = tf.tensor2d([[0.7], [-0.2]]);
  const m = buildSghmc(linSpec, {
    lr: 1e-2,
    priorSig: 0.5,
    noiseStd: 0.5,
    burnIn: 0,
    sampleFreq: 1, // a run must collect a sample (epochs 1 and 3 end in sampling stages)
    clipStdMul: 0,
    schedule: "cyclical",
    cycles: 2,
    cycleExplore: 0.5,
  });
  m.init(1);
  const vHat = async () => [...(await m.getState()).tensors["opt/l0.w/vHat"].data];
  let prev = await vHat();
  const changed: boolean[] = [];
  for (let t = 0; t < 8; t++) {
    await step(m, { x, y, n: 2 }, {
      datasetSize: 10,
      epoch: t >> 1,
      step: t & 1,
      batchesPerEpoch: 2,
      epochs: 4,
    });
    const now = await vHat();
    changed.push(now.some((v, j) => v !== prev[j]));
    prev = now;
  }
  assert.deepEqual(changed, [true, true, false, false, true, true, false, false]);
  m.dispose();
  tf.dispose([x, y]);
});

Deno.test("the injected noise is the engine's seeded stream; steps without noise draw none", async () => {
  const spec: NetSpec = { inputDim: 3, hidden: [4], outputDim: 2, task: "classification" };
  const x = tf.tensor2d(new Rng(1).normalArray(12), [4, 3]);
  const y = tf.tensor1d([0, 1, 1, 0], "int32");
  const run = async (noise: boolean) => {
    const m = buildSgld(spec, { lr: 1e-3, noise });
    m.init(5);
    const s0 = (await m.getState()).extra.noise;
    for (let t = 0; t < 3; t++) await step(m, { x, y, n: 4 }, info(0, t, 8));
    const s1 = (await m.getState()).extra.noise;
    const w = (await m.current())["l0.w"];
    m.dispose();
    return { s0, s1, w };
  };
  const a = await run(true), b = await run(true), quiet = await run(false);
  assert.deepEqual(a.w, b.w, "same seed, same chain");
  assert.notDeepEqual(a.s1, a.s0, "noisy steps advance the stream");
  assert.deepEqual(quiet.s1, quiet.s0, "steps without noise draw nothing");
  assert.notDeepEqual(quiet.w, a.w);
  tf.dispose([x, y]);
});

Deno.test("clipping window: threshold from the newest 1001 norms, harvested with a fixed lag, resumable", async () => {
  const e = getEngine();
  const norms = Array.from({ length: 1200 }, (_, t) => 1 + ((t * 7919) % 101) / 100);
  norms[1100] = 1e6; // an outlier: clipped, and kept out of the window
  const run = async (w: ClipWindow, from: number, to: number, log: number[]) => {
    for (let t = from; t < to; t++) {
      await w.begin(t);
      log.push(w.maxGrad);
      const coef = w.coefficient(tf.scalar(norms[t]));
      if (t === 1100) {
        assert.ok(typeof coef !== "number");
        const c = (await coef.data())[0];
        assert.ok(Math.abs(c - w.maxGrad / (1e6 + 1e-6)) < 1e-9, `coefficient ${c}`);
      }
      if (typeof coef !== "number") coef.dispose();
      w.record(t, tf.scalar(norms[t]));
    }
  };
  const full = new ClipWindow(e, 2), log: number[] = [];
  await run(full, 0, 1200, log);
  // No clipping until 1001 norms are known: at block boundaries t the norms of steps
  // s < t − CLIP_BLOCK are known, 1008 of them at t = 1024 (992 at t = 1008); the threshold
  // comes from the newest 1001 (steps 7…1007).
  const first = log.findIndex((v) => v < NO_CLIP);
  assert.equal(first, 1024);
  const win = norms.slice(1008 - (CLIP_WINDOW + 1), 1008);
  const mean = win.reduce((a, b) => a + b, 0) / win.length;
  const sd = Math.sqrt(win.reduce((a, b) => a + (b - mean) ** 2, 0) / win.length);
  assert.ok(Math.abs(log[1024] - (mean + 2 * sd)) < 1e-5, `${log[1024]} vs ${mean + 2 * sd}`);
  // The threshold changes only at block boundaries.
  for (let t = 1025; t < 1200; t++) {
    if (t % CLIP_BLOCK) assert.equal(log[t], log[t - 1]);
  }
  assert.ok(full.gradBuf.length <= CLIP_WINDOW && !full.gradBuf.includes(1e6));
  // Saved mid-block (with norms not yet harvested, some not yet read) and restored: the
  // same thresholds as the uninterrupted window.
  const a = new ClipWindow(e, 2), logA: number[] = [];
  await run(a, 0, 1037, logA);
  const saved = JSON.parse(JSON.stringify(await a.getState()));
  assert.ok(saved.pending.length > CLIP_BLOCK);
  a.dispose();
  const b = new ClipWindow(e, 2);
  b.setState(saved);
  await run(b, 1037, 1200, logA);
  assert.deepEqual(logA, log);
  full.dispose();
  b.dispose();
});

Deno.test("steps keep the tensor count flat (MLP, classification)", async () => {
  const spec: NetSpec = { inputDim: 6, hidden: [8, 8], outputDim: 3, task: "classification" };
  const x = tf.tensor2d(new Rng(1).normalArray(24), [4, 6]);
  const y = tf.tensor1d([0, 1, 2, 1], "int32");
  for (const m of [buildSgld(spec), buildPsgld(spec), buildSghmc(spec, { burnIn: 1 })]) {
    m.init(0);
    // SGHMC's clipping keeps each step's norm on the device until its block of 16 is read.
    const at = (s: number) => ({ ...info(0, 0, 100), step: s, batchesPerEpoch: 100 });
    for (let s = 0; s < CLIP_BLOCK; s++) await step(m, { x, y, n: 4 }, at(s));
    const count = tf.memory().numTensors;
    for (let s = CLIP_BLOCK; s < 4 * CLIP_BLOCK; s++) {
      const r = await step(m, { x, y, n: 4 }, at(s));
      assert.ok(Number.isFinite(r.loss) && r.errors >= 0 && r.errors <= 1);
    }
    assert.equal(tf.memory().numTensors, count, `${m.name} leaks tensors`);
    m.dispose();
  }
  tf.dispose([x, y]);
});

Deno.test("schedules: fixed, Robbins–Monro decay and cosine cycles", () => {
  const base = { lr: 0.01, decayB: 100, decayGamma: 0.75, cycles: 4, cycleExplore: 0.8 };
  const clock = (t: number) => ({ t, total: 400 });
  assert.equal(scheduleAt({ ...base, schedule: "fixed" }, clock(123)).lr, 0.01);
  // ε_t = a(b+t)^−γ with a = lr·b^γ
  const a = 0.01 * Math.pow(100, 0.75);
  for (const t of [0, 1, 50, 399]) {
    const got = scheduleAt({ ...base, schedule: "decay" }, clock(t)).lr;
    assert.ok(Math.abs(got - a * Math.pow(100 + t, -0.75)) < 1e-15);
  }
  const cyc = { ...base, schedule: "cyclical" as const };
  assert.equal(scheduleAt(cyc, clock(0)).lr, 0.01); // start of a cycle: full step
  assert.ok(Math.abs(scheduleAt(cyc, clock(50)).lr - 0.005) < 1e-12); // half way
  assert.equal(scheduleAt(cyc, clock(100)).lr, 0.01); // next cycle restarts
  assert.equal(scheduleAt(cyc, clock(70)).sampling, false); // exploring
  assert.equal(scheduleAt(cyc, clock(85)).sampling, true); // sampling stage
  // collection rule: burn-in, thinning, sampling stage
  assert.deepEqual(
    [15, 16, 17, 18, 19, 20].filter((e) => collectsAt(e, { burnIn: 16, sampleFreq: 2 })),
    [16, 18, 20],
  );
  assert.equal(collectsAt(16, { burnIn: 16, sampleFreq: 2 }, false), false);
  assert.deepEqual(pickSamples(10, 3), [3, 6, 9]);
  assert.deepEqual(pickSamples(2, 4), [0, 0, 1, 1]);
});

Deno.test("bad settings are clear errors", async () => {
  const spec: NetSpec = { inputDim: 2, hidden: [4], outputDim: 2, task: "classification" };
  assert.throws(() => buildSgld(spec, { lr: 0 }), /lr must be .*> 0, found 0/);
  assert.throws(() => buildPsgld(spec, { lr: -1e-3 }), /lr must be .*> 0, found -0.001/);
  assert.throws(() => buildSghmc(spec, { lr: -1 }), /lr must be/);
  assert.throws(() => buildSgld(spec, { sampleFreq: 0 }), /sample_freq must be an integer ≥ 1/);
  assert.throws(() => buildSghmc(spec, { sampleFreq: 0.5 }), /sample_freq/);
  assert.throws(() => buildSgld(spec, { burnIn: -1 }), /burn_in must be a non-negative/);
  assert.throws(() => buildSgld(spec, { priorSig: 0 }), /prior_sig must be/);
  assert.throws(
    () => buildSgld(spec, { schedule: "decay", decayGamma: 0.5 }),
    /decay_gamma must be in \(0.5, 1\]/,
  );
  assert.throws(() => buildSghmc(spec, { friction: 0 }), /friction/);
  assert.throws(() => buildSgld(spec, { noiseStd: 0.1 }), /homoscedastic regression/);
  const chainSettings = buildSgld(spec, {}).settings as unknown as ChainSettings;
  assert.throws(
    () => checkCollects({ ...chainSettings, burnIn: 5 }, 5, 10),
    /burn_in \(5 epochs\) must be smaller than epochs \(5\)/,
  );
  // burn-in ≥ epochs is refused at the first step, before any update
  const m = buildSgld(spec, { burnIn: 10 });
  m.init(0);
  const before = await m.current();
  const x = tf.tensor2d([[0, 1]]), y = tf.tensor1d([1], "int32");
  await assert.rejects(
    async () => await m.step({ x, y, n: 1 }, { ...info(), epochs: 10 }),
    (e: Error) => e instanceof RangeError && /burn_in \(10 epochs\)/.test(e.message),
  );
  assert.deepEqual(await m.current(), before);
  tf.dispose([x, y]);
  m.dispose();
});

Deno.test("the chain collects exactly the samples samplesCollected predicts, and refuses runs that collect none", async () => {
  const spec: NetSpec = { inputDim: 2, hidden: [3], outputDim: 2, task: "classification" };
  const x = tf.tensor2d([[0, 1], [1, 0]]), y = tf.tensor1d([1, 0], "int32");
  const batch = { x, y, n: 2 };
  // 7 epochs of 3 steps in 2 cycles of 11 steps: sampling stages at steps 7-10 and 18-20;
  // epoch ends at steps 2, 5, 8, 11, 14, 17, 20 → epochs 2 and 6 collect.
  const cyc = { schedule: "cyclical" as const, cycles: 2, cycleExplore: 0.6, burnIn: 0 };
  const cases: [Record<string, unknown>, number, number[]][] = [
    [cyc, 7, [2, 6]],
    [{ ...cyc, burnIn: 3 }, 7, [6]],
    [{ burnIn: 2, sampleFreq: 2 }, 7, [2, 4, 6]],
  ];
  for (const [settings, epochs, want] of cases) {
    const m = buildSgld(spec, { lr: 1e-3, ...settings });
    m.init(0);
    const bpe = 3;
    assert.equal(
      samplesCollected(m.settings as unknown as ChainSettings, epochs, bpe),
      want.length,
      JSON.stringify(settings),
    );
    for (let e = 0; e < epochs; e++) {
      const i: StepInfo = { datasetSize: 2, epoch: e, step: 0, batchesPerEpoch: bpe, epochs };
      for (let k = 0; k < bpe; k++) await step(m, batch, { ...i, step: k });
      await m.endEpoch!(e, i);
    }
    assert.deepEqual(m.store.entries.map((en) => en.epoch), want, JSON.stringify(settings));
    m.dispose();
  }
  // 7 cycles of 3 steps over 2 epochs of 10: the epochs end at steps 9 and 19, 0 and 1 steps
  // into a cycle, both exploring. A library user (not only the scripts' flag check) gets the
  // error at the first step, before any update.
  const m = buildSgld(spec, {
    lr: 1e-3,
    schedule: "cyclical",
    cycles: 7,
    cycleExplore: 0.8,
    burnIn: 0,
  });
  m.init(0);
  const before = await m.current();
  assert.equal(samplesCollected(m.settings as unknown as ChainSettings, 2, 10), 0);
  await assert.rejects(
    async () =>
      await m.step(batch, { datasetSize: 2, epoch: 0, step: 0, batchesPerEpoch: 10, epochs: 2 }),
    (e: Error) =>
      e instanceof RangeError && /no sample would be collected/.test(e.message) &&
      /cycles 7/.test(e.message) && /2 epochs of 10 steps/.test(e.message),
  );
  assert.deepEqual(await m.current(), before);
  m.dispose();
  tf.dispose([x, y]);
});
