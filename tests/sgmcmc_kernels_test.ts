/**
 * SG-MCMC update rules and settings: SGLD without noise is exactly SGD on
 * the potential, pSGLD's preconditioner is RMSprop's running average, the
 * methods' steps are the kernels applied to the tfjs gradient (N/n scaling,
 * per-tensor prior), schedules follow their formulas, bad settings fail with
 * clear errors, and steps do not leak tensors.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../core/backend.ts";
import { nllSum } from "../core/likelihood.ts";
import type { NetSpec, StepInfo } from "../core/method.ts";
import { Rng } from "../core/rng.ts";
import { fit } from "../core/train.ts";
import {
  buildPsgld,
  buildSgld,
  checkBurnIn,
  collectsAt,
  InlineNoise,
  pickSamples,
  psgldUpdate,
  scheduleAt,
  WorkerNoise,
} from "../methods/sgld.ts";
import { buildSghmc, sghmcInitState, sghmcUpdate } from "../methods/sghmc.ts";

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
  m.step(batch, info(0, 0, 4)); // N = 4, n = 2: likelihood scaled by 2
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
  const cur = m.current();
  assert.deepEqual([...cur["l0.w"]], expW);
  assert.deepEqual([...cur["l0.b"]], [expB]);
  tf.dispose([batch.x, batch.y]);
  m.dispose();
});

Deno.test("pSGLD preconditioner is RMSprop's running average of the squared gradient", async () => {
  const rng = new Rng(9);
  const n = 5, steps = 20;
  const grads = Array.from({ length: steps }, () => rng.normalArray(n, 0, 3));
  // The kernel with a flat prior and gradScale 1: d = g.
  const v = new Float32Array(n), theta = new Float32Array(n);
  const expected = new Float64Array(n);
  for (const g of grads) {
    psgldUpdate(theta, theta, g, v, {
      lr: 1e-3,
      gradScale: 1,
      priorPrecision: 0,
      noise: false,
      alpha: 0.99,
      eps: 1e-8,
    }, rng);
    for (let j = 0; j < n; j++) expected[j] = 0.99 * expected[j] + 0.01 * g[j] * g[j];
  }
  for (let j = 0; j < n; j++) assert.ok(Math.abs(v[j] - expected[j]) <= 1e-6 * expected[j]);
  // tfjs's RMSprop (decay 0.99) accumulates the same average.
  const p = tf.variable(tf.zeros([n]), true, "rms_probe");
  const opt = tf.train.rmsprop(1e-3, 0.99, 0, 1e-8);
  for (const g of grads) {
    const gt = tf.tensor1d(g);
    opt.applyGradients({ rms_probe: gt });
    gt.dispose();
  }
  const ms = (await opt.getWeights()).find((w) => w.name === "rms_probe/rms")!.tensor.dataSync();
  for (let j = 0; j < n; j++) assert.ok(Math.abs(v[j] - ms[j]) <= 1e-5 * ms[j], `v[${j}]`);
  opt.dispose();
  p.dispose();
});

/** Gradient of the summed NLL of the linear net at the method's current weights. */
function tfGrads(w: Float32Array, b: Float32Array, x: tf.Tensor2D, y: tf.Tensor) {
  const [gw, gb] = tf.grads((wt: tf.Tensor, bt: tf.Tensor) =>
    nllSum(linSpec, tf.add(tf.matMul(x, wt), bt) as tf.Tensor2D, y, tf.scalar(Math.log(0.5)))
  )([tf.tensor2d(w, [2, 1]), tf.tensor1d(b)]);
  const out = { w: gw.dataSync() as Float32Array, b: gb.dataSync() as Float32Array };
  tf.dispose([gw, gb]);
  return out;
}

Deno.test("pSGLD and SGHMC method steps are their kernels on the N/n-scaled tfjs gradient", async () => {
  const x = tf.tensor2d([[0.3, -1.2], [1.5, 0.4]]), y = tf.tensor2d([[0.7], [-0.2]]);
  const batch = { x, y, n: 2 };
  for (const kind of ["psgld", "sghmc"] as const) {
    const m = kind === "psgld"
      ? buildPsgld(linSpec, { lr: 1e-3, priorSig: 0.5, noiseStd: 0.5 })
      : buildSghmc(linSpec, { lr: 1e-2, priorSig: 0.5, noiseStd: 0.5, burnIn: 3, clipStdMul: 0 });
    m.init(3);
    const before = m.current();
    const st = await m.getState();
    const rng = new Rng(0);
    rng.setState(st.extra.rng as number[]);
    const xi = new InlineNoise(3, st.extra.noise as number[]).next(); // [w1, w2, b]
    const g = tfGrads(before["l0.w"], before["l0.b"], x, y);
    const nInfo = info(0, 0, 10); // N = 10, n = 2
    m.step(batch, nInfo);
    const after = m.current();
    const expW = new Float32Array(2), expB = new Float32Array(1);
    if (kind === "psgld") {
      const s = { lr: 1e-3, gradScale: 5, priorPrecision: 4, noise: true, alpha: 0.99, eps: 1e-8 };
      psgldUpdate(expW, before["l0.w"], g.w, new Float32Array(2), s, rng, xi.subarray(0, 2));
      psgldUpdate(expB, before["l0.b"], g.b, new Float32Array(1), s, rng, xi.subarray(2));
    } else {
      // Step 0 resamples the prior precision (Gamma draw per tensor) and the momentum.
      const lamW = rng.gamma(10 + 1, 10 + (before["l0.w"][0] ** 2 + before["l0.w"][1] ** 2) / 2);
      const lamB = rng.gamma(10 + 0.5, 10 + before["l0.b"][0] ** 2 / 2);
      const s = {
        lr: 1e-2,
        gradScale: 5,
        friction: 0.05,
        adapt: true,
        resampleMomentum: true,
        noise: true,
      };
      sghmcUpdate(expW, before["l0.w"], g.w, sghmcInitState(2, lamW), s, rng, xi.subarray(0, 2));
      sghmcUpdate(expB, before["l0.b"], g.b, sghmcInitState(1, lamB), s, rng, xi.subarray(2));
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
  const lr = 1e-2, lam = 60;
  const st = sghmcInitState(3, lam);
  const theta = new Float32Array([1e-6, -3e-7, 0.05]);
  st.vHat.set([(lam * 1e-6) ** 2, (lam * 3e-7) ** 2, (lam * 0.05) ** 2]);
  const zero = new Float32Array(3);
  const rng = new Rng(3);
  let maxAbs = 0;
  for (let t = 0; t < 2000; t++) {
    sghmcUpdate(theta, theta, zero, st, {
      lr,
      gradScale: 1,
      friction: 0.05,
      adapt: false,
      resampleMomentum: t % 50 === 0,
      noise: true,
    }, rng);
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
    m.step({ x, y, n: 2 }, {
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

Deno.test("worker noise is the inline stream, drawn ahead; the chain is the same with either", async () => {
  const state = new Rng(5).getState();
  const inline = new InlineNoise(1000, state), worker = new WorkerNoise(1000, state);
  for (let k = 0; k < 3; k++) assert.deepEqual(worker.next(), inline.next());
  assert.deepEqual(worker.getState().map((v) => v | 0), inline.getState().map((v) => v | 0));
  worker.setState(state);
  inline.setState(state);
  assert.deepEqual(worker.next(), inline.next());
  worker.dispose();
  const spec: NetSpec = { inputDim: 6, hidden: [8], outputDim: 3, task: "classification" };
  const r = new Rng(2);
  const train = {
    x: r.normalArray(40 * 6),
    y: Int32Array.from({ length: 40 }, () => r.int(3)),
    n: 40,
    xShape: [6],
    yShape: [],
  };
  const a = buildSgld(spec, { lr: 1e-3, burnIn: 0 });
  const b = buildSgld(spec, { lr: 1e-3, burnIn: 0, noiseWorker: true });
  for (const m of [a, b]) {
    await fit(m, train, { epochs: 2, batchSize: 10, seed: 3, progress: false });
  }
  assert.deepEqual(b.current(), a.current());
  a.dispose();
  b.dispose();
});

Deno.test("steps keep the tensor count flat (MLP, classification)", () => {
  const spec: NetSpec = { inputDim: 6, hidden: [8, 8], outputDim: 3, task: "classification" };
  const x = tf.tensor2d(new Rng(1).normalArray(24), [4, 6]);
  const y = tf.tensor1d([0, 1, 2, 1], "int32");
  for (const m of [buildSgld(spec), buildPsgld(spec), buildSghmc(spec, { burnIn: 1 })]) {
    m.init(0);
    m.step({ x, y, n: 4 }, info(0, 0, 100));
    const count = tf.memory().numTensors;
    for (let s = 1; s < 6; s++) {
      const r = m.step({ x, y, n: 4 }, info(0, s, 100));
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

Deno.test("bad settings are clear errors", () => {
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
  assert.throws(() => checkBurnIn(5, 5), /burn_in \(5 epochs\) must be smaller than epochs \(5\)/);
  // burn-in ≥ epochs is refused at the first step, before any update
  const m = buildSgld(spec, { burnIn: 10 });
  m.init(0);
  const x = tf.tensor2d([[0, 1]]), y = tf.tensor1d([1], "int32");
  assert.throws(
    () => m.step({ x, y, n: 1 }, { ...info(), epochs: 10 }),
    (e: Error) => e instanceof RangeError && /burn_in \(10 epochs\)/.test(e.message),
  );
  tf.dispose([x, y]);
  m.dispose();
});
