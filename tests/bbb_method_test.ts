// Bayes by Backprop as a method: estimators agree in distribution, KL bookkeeping, settings
// validation, save/load and resume, pruning, memory, regression heads.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../core/backend.ts";
import type { NetSpec, StepInfo, TensorBatch } from "../core/method.ts";
import { loadMethod, saveMethod } from "../core/persist.ts";
import { evaluate } from "../core/evaluate.ts";
import { fit } from "../core/train.ts";
import { Rng } from "../core/rng.ts";
import { getEngine } from "../core/engine/current.ts";
import type { Method, StepResult } from "../core/method.ts";
import { bbbName, BbbSettingsError, buildBbb } from "../methods/bbb.ts";
import { localForward } from "../methods/bbb/forward.ts";
import { gaussianKl } from "../methods/bbb/priors.ts";

await initBackend({ backend: "wasm", quiet: true });

/** A step's scalars as numbers (the step returns tensors, read here). */
async function stepValues(m: Method, b: TensorBatch, i: StepInfo): Promise<Record<string, number>> {
  const r: StepResult = await m.step(b, i);
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

const info = (batchesPerEpoch = 1): StepInfo => ({
  datasetSize: 100,
  epoch: 1,
  step: 0,
  batchesPerEpoch,
  epochs: 2,
});

function classBatch(n: number, d: number, c: number, seed: number): TensorBatch {
  const r = new Rng(seed);
  return {
    x: tf.tensor2d(r.normalArray(n * d), [n, d]),
    y: tf.tensor1d(Array.from({ length: n }, () => r.int(c)), "int32"),
    n,
  };
}

const disposeBatch = (b: TensorBatch) => tf.dispose([b.x, b.y]);

Deno.test("names follow the registry keys; bad settings are clear errors", () => {
  assert.equal(bbbName({}), "bbb_gaussian");
  assert.equal(bbbName({ prior: "laplace" }), "bbb_laplace");
  assert.equal(bbbName({ prior: "gmm" }), "bbb_gmm");
  assert.equal(bbbName({ estimator: "local" }), "bbb_local");
  assert.equal(bbbName({ estimator: "flipout" }), "bbb_flipout");
  assert.equal(bbbName({ estimator: "flipout", prior: "laplace" }), "bbb_flipout_laplace");
  const spec: NetSpec = { inputDim: 2, hidden: [3], outputDim: 2, task: "classification" };
  assert.equal(buildBbb(spec, { estimator: "local" }).name, "bbb_local");
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ priorSigma: 0 }, /prior sigma must be a finite number > 0, found 0/],
    [{ priorSigma: -1, prior: "laplace" }, /scale b \(prior sigma\) must be/],
    [{ nSamples: 0 }, /nSamples \(n_samples\) must be an integer ≥ 1, found 0/],
    [{ nSamples: 1.5 }, /nSamples/],
    [{ prior: "gmm", gmmPi: 1 }, /pi must be in \(0, 1\), found 1/],
    [{ prior: "gmm", gmmPi: 0 }, /pi must be in \(0, 1\)/],
    [{ prior: "cauchy" }, /prior must be one of gaussian, laplace, gmm, found "cauchy"/],
    [{ estimator: "rff" }, /estimator must be one of weight, local, flipout, found "rff"/],
    [{ prior: "laplace", kl: "closed" }, /kl "closed" needs the Gaussian prior/],
    [{ rhoInit: [-2, -3] }, /rhoInit must be a range \[lo, hi\]/],
    [{ lr: 0 }, /lr must be a finite number > 0/],
    [{ optimizer: "lbfgs" }, /optimizer must be one of sgd, momentum, adam/],
    [{ fixedNoise: 0.1 }, /fixedNoise applies to homoscedastic regression only/],
    [{ samplesAfter: [0, 5] }, /samplesAfter must be null or \[epochs, samples\] .*found \[0,5\]/],
    [{ samplesAfter: [60, 0] }, /samplesAfter's samples must be an integer ≥ 1, found 0/],
  ];
  for (const [s, msg] of bad) {
    assert.throws(
      () => buildBbb(spec, s),
      (e) => e instanceof BbbSettingsError && msg.test((e as Error).message),
      JSON.stringify(s),
    );
  }
});

Deno.test("local reparametrisation output moments equal the weight-sampling moments", async () => {
  // One linear layer: out = x·W + b with W ~ N(μ, σ²) ⇒ out ~ N(xμ + μ_b, x²σ² + σ_b²) per row.
  const spec: NetSpec = { inputDim: 3, hidden: [], outputDim: 2, task: "classification" };
  const mu = [0.5, -1, 0.25, 1, 0, -0.5], sigma = [0.3, 0.1, 0.6, 0.2, 0.4, 0.05];
  const muB = [0.2, -0.1], sB = [0.4, 0.1];
  const xs = [[1, 2, -1], [0.5, 0, 2], [-1, 1, 1]];
  const S = 20000;
  const m = buildBbb(spec, { estimator: "local", predictBy: "activations" });
  m.init(0);
  await m.setPosterior({ "l0.w": { mu, sigma }, "l0.b": { mu: muB, sigma: sB } });
  // Weight sampling: S weight draws, out computed on the host.
  const draws = await m.sampleWeights(S, 1);
  const wOut = (s: number, r: number, k: number) =>
    xs[r].reduce((a, xi, i) => a + xi * draws[s]["l0.w"][i * 2 + k], draws[s]["l0.b"][k]);
  // Local reparametrisation: the training forward pass, S samples batched.
  const noise = getEngine().noise(2, 0);
  const localT = tf.tidy(() =>
    localForward(
      tf.tensor2d(xs),
      [tf.tensor2d(mu, [3, 2])],
      [tf.tensor2d(sigma.map((v) => v * v), [3, 2])],
      [tf.tensor1d(muB)],
      [tf.tensor1d(sB.map((v) => v * v))],
      (shape) => noise.normalTensor(shape),
      S,
    )
  );
  const local = await localT.data();
  localT.dispose();
  for (let r = 0; r < 3; r++) {
    for (let k = 0; k < 2; k++) {
      const exactM = xs[r].reduce((a, xi, i) => a + xi * mu[i * 2 + k], muB[k]);
      const exactV = xs[r].reduce((a, xi, i) => a + xi * xi * sigma[i * 2 + k] ** 2, sB[k] ** 2);
      for (
        const [name, get] of [
          ["weights", (s: number) => wOut(s, r, k)],
          ["local", (s: number) => local[(s * 3 + r) * 2 + k]],
        ] as const
      ) {
        let s1 = 0, s2 = 0;
        for (let s = 0; s < S; s++) {
          const v = get(s);
          s1 += v;
          s2 += v * v;
        }
        const mean = s1 / S, v = s2 / S - mean * mean;
        const at = `${name} row ${r} unit ${k}`;
        assert.ok(Math.abs(mean - exactM) < 4 * Math.sqrt(exactV / S), `${at}: mean ${mean}`);
        assert.ok(Math.abs(v / exactV - 1) < 4 * Math.sqrt(2 / S), `${at}: var ${v} vs ${exactV}`);
      }
    }
  }
  // Predicting by activations runs the same pass per sample.
  const p = m.predict(tf.tensor2d(xs), { samples: 5 });
  if (p.task !== "classification") throw new Error("task");
  assert.deepEqual(p.logProbs.shape, [5, 3, 2]);
  p.logProbs.dispose();
  m.dispose();
});

Deno.test("Flipout gradients are unbiased: their mean equals weight sampling's", async () => {
  const spec: NetSpec = { inputDim: 3, hidden: [], outputDim: 3, task: "classification" };
  const batch = classBatch(8, 3, 3, 4);
  const r = new Rng(9);
  const mu = Array.from(r.normalArray(9)), muB = Array.from(r.normalArray(3, 0, 0.5));
  const post = {
    "l0.w": { mu, sigma: new Array(9).fill(0.8) },
    "l0.b": { mu: muB, sigma: [0.5, 0.5, 0.5] },
  };
  const R = 10, S = 60;
  const stats = async (est: "weight" | "flipout") => {
    const m = buildBbb(spec, { estimator: est, nSamples: S, priorSigma: 1 });
    m.init(1);
    await m.setPosterior(post);
    const all: Float32Array[] = [];
    for (let i = 0; i < R; i++) {
      const g = await m.gradient(batch, info());
      const v = new Float32Array(24);
      v.set(g.mu, 0);
      v.set(g.rho, 12);
      all.push(v);
    }
    const q = await m.posterior();
    const sigma = [...q["l0.w"].sigma, ...q["l0.b"].sigma];
    m.dispose();
    const mean = new Float64Array(24), se = new Float64Array(24);
    for (const v of all) v.forEach((x, j) => (mean[j] += x / R));
    for (const v of all) v.forEach((x, j) => (se[j] += (x - mean[j]) ** 2 / (R - 1)));
    for (let j = 0; j < 24; j++) se[j] = Math.sqrt(se[j] / R);
    return { mean, se, sigma };
  };
  const w = await stats("weight"), f = await stats("flipout");
  let moved = 0;
  for (let j = 0; j < 24; j++) {
    const tol = 4.5 * Math.hypot(w.se[j], f.se[j]) + 1e-4;
    assert.ok(
      Math.abs(w.mean[j] - f.mean[j]) < tol,
      `coordinate ${j}: weight ${w.mean[j]} vs flipout ${f.mean[j]} (tol ${tol})`,
    );
    if (j >= 12) {
      // Power check: the ρ-gradient's likelihood part (through the perturbation) is clearly
      // non-zero, i.e. differs from the KL-only gradient (σ/σp² − 1/σ)·dσ/dρ (σp = 1).
      const s = f.sigma[j - 12];
      const klOnly = (s - 1 / s) * (1 - Math.exp(-(s - 1e-6)));
      if (Math.abs(f.mean[j] - klOnly) > 4 * f.se[j]) moved++;
    }
  }
  assert.ok(moved >= 6, `only ${moved} of 12 ρ-gradients carry the likelihood term`);
  disposeBatch(batch);
});

Deno.test("KL: closed form is Σ per-weight KL; the Monte Carlo KL agrees with it", async () => {
  const spec: NetSpec = { inputDim: 2, hidden: [3], outputDim: 2, task: "classification" };
  const batch = classBatch(1, 2, 2, 1);
  const m = buildBbb(spec, { priorSigma: 0.3 });
  m.init(2);
  const post = await m.posterior();
  let kl = 0;
  for (const seg of Object.values(post)) {
    seg.mu.forEach((mu, j) => (kl += gaussianKl(mu, seg.sigma[j], 0.3)));
  }
  const r = await stepValues(m, batch, info(4)); // reported kl = KL / batches / n
  assert.ok(Math.abs(r.kl * 4 - kl) < 1e-4 * kl, `closed ${r.kl * 4} vs ${kl}`);
  // Same posterior, Monte Carlo KL with many samples (local estimator: one batched pass).
  const mc = buildBbb(spec, { priorSigma: 0.3, kl: "mc", estimator: "local", nSamples: 20000 });
  mc.init(2);
  const r2 = await stepValues(mc, batch, info(1));
  // Per-sample KL estimates have a standard deviation of about √(P/2) ≈ 2.3 here.
  assert.ok(Math.abs(r2.kl - kl) < 4 * 2.3 / Math.sqrt(20000), `mc ${r2.kl} vs ${kl}`);
  m.dispose();
  mc.dispose();
  disposeBatch(batch);
});

Deno.test("every estimator and prior trains without leaking tensors", async () => {
  const cases: [NetSpec, Record<string, unknown>][] = [];
  const cls: NetSpec = { inputDim: 4, hidden: [5, 5], outputDim: 3, task: "classification" };
  for (const estimator of ["weight", "local", "flipout"]) {
    for (const prior of ["gaussian", "laplace", "gmm"]) cases.push([cls, { estimator, prior }]);
  }
  const hetero: NetSpec = { inputDim: 2, hidden: [6], outputDim: 1, task: "regression" };
  const homo: NetSpec = { ...hetero, noise: "homoscedastic" };
  for (const estimator of ["weight", "local", "flipout"]) {
    cases.push([hetero, { estimator }], [homo, { estimator, optimizer: "adam" }]);
  }
  const r = new Rng(0);
  for (const [spec, s] of cases) {
    const m = buildBbb(spec, { nSamples: 2, ...s });
    m.init(0);
    const x = tf.tensor2d(r.normalArray(10 * spec.inputDim), [10, spec.inputDim]);
    const y = spec.task === "classification"
      ? tf.tensor1d(Array.from({ length: 10 }, (_, i) => i % 3), "int32")
      : tf.tensor2d(r.normalArray(10), [10, 1]);
    const batch = { x, y, n: 10 };
    await stepValues(m, batch, info(3));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const res = await stepValues(m, batch, info(3));
      assert.ok(Number.isFinite(res.loss), `${m.name} ${JSON.stringify(s)} loss ${res.loss}`);
      assert.ok(res.kl > 0 && Number.isFinite(res.nll));
    }
    const p = m.predict(x, { samples: 3, chunk: 4 });
    if (p.task === "classification") {
      assert.deepEqual(p.logProbs.shape, [3, 10, 3]);
      p.logProbs.dispose();
    } else {
      assert.deepEqual(p.mean.shape, [3, 10, 1]);
      tf.dispose([p.mean, p.logSigma]);
    }
    assert.equal(tf.memory().numTensors, before, `${m.name} ${JSON.stringify(s)} leaks`);
    if (spec.noise === "homoscedastic") {
      const st = await m.getState();
      assert.ok(st.tensors.log_noise, "homoscedastic state has log_noise");
    }
    tf.dispose([x, y]);
    m.dispose();
  }
});

Deno.test("save → load gives identical predictions and an identical next step", async () => {
  const spec: NetSpec = { inputDim: 5, hidden: [7], outputDim: 3, task: "classification" };
  const settings = { prior: "laplace" as const, optimizer: "adam" as const, lr: 0.01 };
  const m = buildBbb(spec, settings);
  m.init(4);
  const batch = classBatch(16, 5, 3, 2);
  for (let i = 0; i < 3; i++) await stepValues(m, batch, info(2));
  const dir = await Deno.makeTempDir();
  await saveMethod(dir, m);
  const m2 = buildBbb(spec, settings);
  await loadMethod(dir, m2);
  const p1 = m.predict(batch.x, { samples: 4, seed: 7 });
  const p2 = m2.predict(batch.x, { samples: 4, seed: 7 });
  if (p1.task !== "classification" || p2.task !== "classification") throw new Error("task");
  assert.deepEqual(await p1.logProbs.data(), await p2.logProbs.data());
  const p3 = m.predict(batch.x, { samples: 4, seed: 8 });
  if (p3.task !== "classification") throw new Error("task");
  assert.notDeepEqual(await p1.logProbs.data(), await p3.logProbs.data(), "the seed matters");
  tf.dispose([p1.logProbs, p2.logProbs, p3.logProbs]);
  // Noise stream and optimizer state were restored: the next step is bitwise identical.
  const a = await stepValues(m, batch, info(2)), b = await stepValues(m2, batch, info(2));
  assert.equal(a.loss, b.loss);
  assert.deepEqual((await m.posterior())["l0.w"].mu, (await m2.posterior())["l0.w"].mu);
  const wrong = buildBbb(spec, { estimator: "local" });
  await assert.rejects(
    () => loadMethod(dir, wrong),
    /holds a "bbb_laplace" model, not "bbb_local"/,
  );
  m.dispose();
  m2.dispose();
  disposeBatch(batch);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("pruning: |μ|/σ scores; pruned weights are exactly zero in every sample", async () => {
  const spec: NetSpec = { inputDim: 4, hidden: [6], outputDim: 3, task: "classification" };
  const m = buildBbb(spec);
  m.init(3);
  const saved = await m.getState();
  const post = await m.posterior();
  const scores = await m.pruningScores();
  assert.deepEqual(Object.keys(scores), ["l0.w", "l1.w"]);
  scores["l0.w"].forEach((s, j) => {
    const want = Math.abs(post["l0.w"].mu[j]) / post["l0.w"].sigma[j];
    assert.ok(Math.abs(s - want) < 1e-5 * want);
  });
  const keep0 = new Uint8Array(24); // prune all first-layer weights
  const keep1 = Uint8Array.from({ length: 18 }, (_, j) => j % 2);
  await m.applyPruningMask({ "l0.w": keep0, "l1.w": keep1 });
  for (const set of await m.sampleWeights(5, 1)) {
    assert.ok(set["l0.w"].every((v) => v === 0));
    set["l1.w"].forEach((v, j) => {
      if (j % 2 === 0) assert.equal(v, 0);
      else assert.notEqual(v, 0);
    });
  }
  // With W₀ = 0 exactly, every input gives the same output within a weight sample.
  const x = tf.tensor2d([[1, 2, 3, 4], [-5, 0, 2, 9]]);
  const p = m.predict(x, { samples: 3 });
  if (p.task !== "classification") throw new Error("task");
  const v = await p.logProbs.array();
  for (const s of v) assert.deepEqual(s[0], s[1]);
  // The mask survives save/load, and restoring the earlier state un-prunes.
  const st = await m.getState();
  assert.ok(st.tensors["mask/l0.w"]);
  await m.setState(saved);
  assert.ok((await m.sampleWeights(1, 1))[0]["l0.w"].some((w) => w !== 0));
  await assert.rejects(
    async () => await m.applyPruningMask({ "l0.w": new Uint8Array(3) }),
    /has 3 entries, expected 24/,
  );
  tf.dispose([x, p.logProbs]);
  m.dispose();
});

Deno.test("sampleWeights draws from N(μ, σ²) per weight", async () => {
  const spec: NetSpec = { inputDim: 2, hidden: [2], outputDim: 2, task: "classification" };
  const m = buildBbb(spec);
  m.init(0);
  const post = await m.posterior();
  const sets = await m.sampleWeights(4000, 2);
  for (let j = 0; j < 4; j++) {
    const xs = sets.map((s) => s["l0.w"][j]);
    const mean = xs.reduce((a, b) => a + b) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    const { mu, sigma } = post["l0.w"];
    assert.ok(Math.abs(mean - mu[j]) < 4 * sigma[j] / Math.sqrt(4000));
    assert.ok(Math.abs(sd / sigma[j] - 1) < 0.06);
  }
  m.dispose();
});

Deno.test("a step applies exactly the gradient `gradient()` reports (SGD), pruned or not", async () => {
  const spec: NetSpec = { inputDim: 6, hidden: [5], outputDim: 3, task: "classification" };
  const batch = classBatch(12, 6, 3, 5);
  for (const pruned of [false, true]) {
    const [a, b] = [0, 1].map(() => buildBbb(spec, { lr: 0.05, prior: "laplace" }));
    for (const m of [a, b]) {
      m.init(7);
      if (pruned) {
        await m.applyPruningMask({ "l0.w": Uint8Array.from({ length: 30 }, (_, j) => j % 3) });
      }
    }
    const before = await a.posterior();
    const g = await a.gradient(batch, info(3));
    const r = await stepValues(b, batch, info(3));
    assert.ok(Math.abs(g.loss - r.loss) < 1e-9 * Math.abs(r.loss), "same noise, same loss");
    const after = await b.posterior();
    let off = 0;
    for (const [name, seg] of Object.entries(before)) {
      seg.mu.forEach((m, j) => {
        // The update applies the gradient before it is rounded to float32: equal within a
        // float32 rounding of each term.
        const step = 0.05 * g.mu[off + j], want = m - step;
        assert.ok(
          Math.abs(after[name].mu[j] - want) <= 2 ** -22 * (Math.abs(want) + Math.abs(step)),
          `${name}.mu[${j}] pruned=${pruned}: ${after[name].mu[j]} vs ${want}`,
        );
      });
      off += seg.mu.length;
    }
    if (pruned) assert.equal(after["l0.w"].sigma[0], 0);
    a.dispose();
    b.dispose();
  }
  disposeBatch(batch);
});

Deno.test("samplesAfter: from that epoch on, a step draws that many samples", async () => {
  const spec: NetSpec = { inputDim: 6, hidden: [5], outputDim: 3, task: "classification" };
  const batch = classBatch(12, 6, 3, 5);
  /** The loss of one gradient at `epoch` (0-based) from a fresh method, same seed. */
  const lossAt = async (s: Record<string, unknown>, epoch: number) => {
    const m = buildBbb(spec, { prior: "laplace", ...s });
    m.init(7);
    const g = await m.gradient(batch, { ...info(3), epoch });
    m.dispose();
    return g.loss;
  };
  const switching = { nSamples: 1, samplesAfter: [2, 3] };
  // Epoch 1: still nSamples (1); epoch 2 and later: 3, as with nSamples 3 throughout.
  assert.equal(await lossAt(switching, 1), await lossAt({ nSamples: 1 }, 1));
  assert.notEqual(await lossAt(switching, 1), await lossAt({ nSamples: 3 }, 1));
  for (const epoch of [2, 5]) {
    assert.equal(await lossAt(switching, epoch), await lossAt({ nSamples: 3 }, epoch));
    assert.notEqual(await lossAt(switching, epoch), await lossAt({ nSamples: 1 }, epoch));
  }
  // The first epoch keeps firstEpochSamples.
  assert.equal(
    await lossAt({ ...switching, firstEpochSamples: 4 }, 0),
    await lossAt({ nSamples: 4 }, 1),
  );
  disposeBatch(batch);
});

/** 40 two-feature points with random labels of two classes (seeded). */
function toyClasses(seed: number) {
  const r = new Rng(seed);
  return {
    n: 40,
    x: Float32Array.from(r.normalArray(80)),
    xShape: [2],
    y: Int32Array.from({ length: 40 }, () => r.int(2)),
    yShape: [],
    numClasses: 2,
  };
}

Deno.test("stepWork is the samples per step; fit's ETA is a range until every level is timed", async () => {
  const spec: NetSpec = { inputDim: 2, hidden: [3], outputDim: 2, task: "classification" };
  const s = { nSamples: 1, firstEpochSamples: 1, samplesAfter: [2, 3] as [number, number] };
  const m = buildBbb(spec, s);
  assert.deepEqual([0, 1, 2, 3].map((e) => m.stepWork!(e)), [1, 1, 3, 3]);
  assert.deepEqual(
    [0, 1, 2].map((e) => buildBbb(spec, { firstEpochSamples: 10 }).stepWork!(e)),
    [10, 3, 3],
  );
  // Off a terminal, fit prints one line per epoch. Epochs 1–2 draw 1 sample, 3–4 draw 3: until
  // a 3-sample epoch is timed, how much longer it takes is unknown, so the ETA is a range.
  const ds = toyClasses(5);
  const lines: string[] = [];
  const err = console.error;
  console.error = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    assert.equal(Deno.stderr.isTerminal(), false);
    await fit(m, ds, { epochs: 4, batchSize: 10, seed: 0 });
  } finally {
    console.error = err;
  }
  const epochs = lines.filter((l) => l.startsWith("epoch "));
  assert.equal(epochs.length, 4, lines.join("\n"));
  assert.match(epochs[0], / {2}ETA [^–]+–[^–]+$/);
  assert.match(epochs[1], / {2}ETA [^–]+–[^–]+$/);
  assert.match(epochs[2], / {2}ETA [^–]+$/);
  assert.doesNotMatch(epochs[3], /ETA/);
  m.dispose();
});

Deno.test("predictMean is the network at μ, pruned weights included; fit evaluates it per epoch", async () => {
  const spec: NetSpec = { inputDim: 2, hidden: [2], outputDim: 2, task: "classification" };
  const m = buildBbb(spec, {});
  m.init(0);
  const w0 = [1, -2, 0.5, 1], b0 = [0.1, -0.3], w1 = [2, -1, -0.5, 1.5], b1 = [0, 0.2];
  const big = (n: number) => new Array(n).fill(0.5); // σ must not matter
  await m.setPosterior({
    "l0.w": { mu: w0, sigma: big(4) },
    "l0.b": { mu: b0, sigma: big(2) },
    "l1.w": { mu: w1, sigma: big(4) },
    "l1.b": { mu: b1, sigma: big(2) },
  });
  const xs = [[1, 2], [-1, 0.5], [0.3, -2]];
  // Host forward pass at μ: relu(x·W0 + b0)·W1 + b1, then log-softmax.
  const expected = (w0v: number[]) =>
    xs.map((x) => {
      const h = [0, 1].map((k) => Math.max(0, x[0] * w0v[k] + x[1] * w0v[2 + k] + b0[k]));
      const z = [0, 1].map((k) => h[0] * w1[k] + h[1] * w1[2 + k] + b1[k]);
      const lse = Math.log(Math.exp(z[0]) + Math.exp(z[1]));
      return z.map((v) => v - lse);
    });
  const read = async () => {
    const x = tf.tensor2d(xs);
    const p = m.predictMean(x);
    x.dispose();
    assert.equal(p.task, "classification");
    if (p.task !== "classification") return [];
    assert.deepEqual(p.logProbs.shape, [1, 3, 2]);
    const v = await p.logProbs.data();
    p.logProbs.dispose();
    return Array.from(v);
  };
  const close = (a: number[], b: number[][]) =>
    b.flat().forEach((e, i) => assert.ok(Math.abs(a[i] - e) < 1e-5, `${a[i]} vs ${e}`));
  close(await read(), expected(w0));
  await m.applyPruningMask({ "l0.w": Uint8Array.from([1, 0, 1, 1]) });
  close(await read(), expected([1, 0, 0.5, 1]));

  // fit with evalMean records the mean network's metrics; a method without one is refused.
  const ds = toyClasses(3);
  const net = buildBbb(spec, {});
  const res = await fit(net, ds, {
    epochs: 1,
    batchSize: 20,
    seed: 0,
    valid: ds,
    evalMean: true,
    progress: false,
  });
  const rec = res.history[0];
  assert.ok(rec.meanErrorPct! >= 0 && rec.meanErrorPct! <= 100 && rec.meanLogLik! < 0, `${rec}`);
  const direct = await evaluate(net, ds, { mean: true });
  assert.equal(direct.errorPct, rec.meanErrorPct);
  assert.equal(direct.logLikMean, rec.meanLogLik);
  const noMean = { ...net, name: "plain", predictMean: undefined };
  await assert.rejects(
    fit(noMean, ds, { epochs: 1, batchSize: 20, seed: 0, valid: ds, evalMean: true }),
    /evalMean: plain has no posterior-mean network/,
  );
  await assert.rejects(
    fit(net, ds, { epochs: 1, batchSize: 20, seed: 0, evalMean: true }),
    /evalMean needs a validation set/,
  );
  m.dispose();
  net.dispose();
});
