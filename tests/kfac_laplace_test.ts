// The KFAC Laplace method: curvature after fit, τ/N changes without a new
// pass, state round trip, tuning, last-layer and GLM variants, regression
// heads, and the study hooks.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../core/backend.ts";
import { getEngine } from "../core/engine/current.ts";
import type { NetSpec, Prediction } from "../core/method.ts";
import { Rng } from "../core/rng.ts";
import { fit } from "../core/train.ts";
import type { ArrayDataset } from "../datasets/types.ts";
import { buildKfacLaplace, type KfacLaplaceSettings } from "../methods/kfac_laplace.ts";

await initBackend({ backend: "wasm", quiet: true });

const spec: NetSpec = { inputDim: 4, hidden: [16], outputDim: 3, task: "classification" };

function blobs(n: number, seed: number): ArrayDataset {
  const rng = new Rng(seed);
  const x = new Float32Array(n * 4), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 3;
    for (let j = 0; j < 4; j++) x[i * 4 + j] = rng.normal() + (j === y[i] ? 2 : 0);
  }
  return { x, y, n, xShape: [4], yShape: [], numClasses: 3 };
}

const data = blobs(300, 1);
const xt = tf.tensor2d(data.x.subarray(0, 40 * 4), [40, 4]);

async function trained(settings: KfacLaplaceSettings = {}) {
  const m = buildKfacLaplace(spec, { samples: 20, ...settings });
  await fit(m, data, { epochs: 3, batchSize: 32, seed: 1, progress: false });
  return m;
}

async function logProbs(p: Prediction): Promise<Float32Array> {
  assert.equal(p.task, "classification");
  const v = await getEngine().read(p.logProbs);
  p.logProbs.dispose();
  return v;
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

Deno.test("fit ends with one curvature pass; a new τ or N reuses the stored factors", async () => {
  const m = await trained();
  assert.ok(m.hasCurvature());
  assert.equal(m.curvaturePasses, 1);
  assert.equal(m.factors()!.n, 300);
  assert.deepEqual(m.factors()!.layers.map((l) => l.layer), [0, 1]);
  const before = m.factors()!.layers.map((l) => [l.q.slice(), l.h.slice()]);
  const p1 = m.predict(xt, { samples: 20, seed: 3 });
  assert.deepEqual(p1.task === "classification" && p1.logProbs.shape, [20, 40, 3]);
  const a = await logProbs(p1);
  const n0 = tf.memory().numTensors;
  m.setPrior({ priorPrecision: 1e3 });
  const b = await logProbs(m.predict(xt, { samples: 20, seed: 3 }));
  m.setPrior({ dataScale: 10 });
  const c = await logProbs(m.predict(xt, { samples: 20, seed: 3 }));
  assert.equal(tf.memory().numTensors, n0, "predict leaks no tensors");
  assert.ok(maxDiff(a, b) > 1e-3 && maxDiff(b, c) > 1e-3, "the prior changes the predictions");
  assert.equal(m.curvaturePasses, 1, "no new curvature pass");
  m.factors()!.layers.forEach((l, i) => {
    assert.deepEqual(l.q, before[i][0]);
    assert.deepEqual(l.h, before[i][1]);
  });
  assert.deepEqual(m.prior(), { priorPrecision: 1e3, dataScale: 10 });
  assert.equal(m.settings.priorPrecision, 1e3);
  // Same seed, same prior: the same draws.
  assert.equal(maxDiff(c, await logProbs(m.predict(xt, { samples: 20, seed: 3 }))), 0);
  // A huge τ collapses the posterior onto the MAP.
  m.setPrior({ priorPrecision: 1e14, dataScale: 300 });
  const map = await logProbs(m.map.predict(xt, { samples: 1 }));
  const tight = await logProbs(m.predict(xt, { samples: 2, seed: 1 }));
  assert.ok(maxDiff(tight.subarray(0, map.length), map) < 1e-3);
  m.dispose();
});

Deno.test("state round trip keeps factors, prior and predictions; training again drops the factors", async () => {
  const m = await trained();
  m.setPrior({ priorPrecision: 77 });
  const st = await m.getState();
  assert.ok(st.tensors["kfac.l0.q"] && st.tensors["kfac.l1.h"]);
  assert.deepEqual(st.tensors["kfac.l0.q"].shape, [5, 5]);
  const copy = buildKfacLaplace(spec, { samples: 20 });
  copy.init(9);
  // The JSON part goes through the manifest on disk.
  await copy.setState({ tensors: st.tensors, extra: JSON.parse(JSON.stringify(st.extra)) });
  assert.ok(copy.hasCurvature());
  assert.equal(copy.prior().priorPrecision, 77);
  const a = await logProbs(m.predict(xt, { samples: 5, seed: 2 }));
  const b = await logProbs(copy.predict(xt, { samples: 5, seed: 2 }));
  assert.ok(maxDiff(a, b) < 1e-6);
  // Before any curvature the method is its MAP network (one sample).
  const fresh = buildKfacLaplace(spec);
  fresh.init(0);
  const p = fresh.predict(xt, { samples: 7 });
  assert.equal(p.task === "classification" && p.logProbs.shape[0], 1);
  await logProbs(p);
  // A step moves the weights: the factors no longer apply.
  const x = tf.tensor2d(data.x.subarray(0, 32 * 4), [32, 4]);
  const y = tf.tensor1d(data.y.subarray(0, 32), "int32");
  const r = await copy.step({ x, y, n: 32 }, {
    datasetSize: 300,
    epoch: 0,
    step: 0,
    batchesPerEpoch: 10,
    epochs: 5,
  });
  assert.ok(!copy.hasCurvature());
  tf.dispose([x, y, ...Object.values(r).filter((v) => typeof v !== "number") as tf.Tensor[]]);
  for (const k of [m, copy, fresh]) k.dispose();
});

Deno.test("explicit fitCurvature equals the automatic pass (exact Gauss–Newton)", async () => {
  const m = await trained({ ggnTol: 0 });
  const auto = m.factors()!.layers.map((l) => [l.q.slice(), l.h.slice()]);
  await m.fitCurvature(data, { progress: false });
  assert.equal(m.curvaturePasses, 2);
  m.factors()!.layers.forEach((l, i) => {
    assert.ok(maxDiff(l.q, auto[i][0]) < 1e-5);
    assert.ok(maxDiff(l.h, auto[i][1]) < 1e-5);
  });
  m.dispose();
});

Deno.test("tuning: marglik maximises the evidence, val picks the best candidate", async () => {
  const m = await trained();
  const r = await m.tune({ method: "marglik" });
  assert.equal(m.prior().priorPrecision, r.priorPrecision);
  assert.ok(Math.abs(m.logEvidence() - r.score) < 1e-6 * Math.abs(r.score));
  for (const f of [0.5, 2]) {
    assert.ok(m.logEvidence({ priorPrecision: r.priorPrecision * f }) < r.score);
  }
  const valid = blobs(60, 2);
  const v = await m.tune({ method: "val", valid, priorPrecisions: [0.1, 10, 1e4], samples: 4 });
  assert.equal(v.table.length, 3);
  const best = v.table.reduce((a, b) => (b.score > a.score ? b : a));
  assert.equal(v.priorPrecision, best.priorPrecision);
  assert.equal(m.prior().priorPrecision, best.priorPrecision);
  assert.equal(m.curvaturePasses, 1);
  await assert.rejects(() => m.tune({ method: "val" }), /valid data/);
  m.dispose();
});

Deno.test("last-layer Laplace and the GLM predictive", async () => {
  const last = await trained({ lastLayer: true, ggnTol: 0 });
  assert.deepEqual(last.factors()!.layers.map((l) => l.layer), [1]);
  const w = await last.sampleWeights(3, 1);
  assert.deepEqual(w[0]["l0.w"], w[1]["l0.w"], "first layer fixed at the MAP");
  assert.ok(maxDiff(w[0]["l1.w"], w[1]["l1.w"]) > 0);
  last.dispose();

  const glm = await trained({ predictive: "glm" });
  const p = glm.predict(xt);
  assert.equal(glm.defaultSamples, 1);
  const lp = await logProbs(p);
  assert.equal(lp.length, 40 * 3);
  for (let i = 0; i < 40; i++) {
    const s = Math.exp(lp[i * 3]) + Math.exp(lp[i * 3 + 1]) + Math.exp(lp[i * 3 + 2]);
    assert.ok(Math.abs(s - 1) < 1e-5);
  }
  glm.setPrior({ priorPrecision: 1e14 });
  const map = await logProbs(glm.map.predict(xt, { samples: 1 }));
  assert.ok(maxDiff(await logProbs(glm.predict(xt)), map) < 1e-3, "GLM → MAP as τ → ∞");
  glm.dispose();
  const mc = await trained({ predictive: "glm", link: "mc" });
  const q = mc.predict(xt, { samples: 6 });
  assert.deepEqual(q.task === "classification" && q.logProbs.shape, [6, 40, 3]);
  await logProbs(q);
  mc.dispose();
});

Deno.test("regression heads (homo- and heteroscedastic), sampling and GLM", async () => {
  const rng = new Rng(4);
  const n = 120;
  const x = rng.normalArray(n), y = x.map((v) => Math.sin(2 * v) + 0.1 * rng.normal());
  const ds: ArrayDataset = { x, y, n, xShape: [1], yShape: [1] };
  const xr = tf.tensor2d(x.subarray(0, 10), [10, 1]);
  for (const noise of ["homoscedastic", "heteroscedastic"] as const) {
    for (const predictive of ["sample", "glm"] as const) {
      const rs: NetSpec = { inputDim: 1, hidden: [20], outputDim: 1, task: "regression", noise };
      const m = buildKfacLaplace(rs, {
        optimizer: "adam",
        lr: 1e-2,
        weightDecay: 1e-3,
        predictive,
        samples: 8,
      });
      await fit(m, ds, { epochs: 5, batchSize: 32, seed: 0, progress: false });
      assert.ok(m.hasCurvature(), `${noise}/${predictive}`);
      const p = m.predict(xr);
      assert.equal(p.task, "regression");
      if (p.task !== "regression") continue;
      assert.deepEqual(p.mean.shape, [8, 10, 1]);
      const mu = await getEngine().read(p.mean), ls = await getEngine().read(p.logSigma);
      assert.ok(mu.every(Number.isFinite) && ls.every(Number.isFinite));
      assert.ok(maxDiff(mu.subarray(0, 10), mu.subarray(10, 20)) > 0, "samples differ");
      tf.dispose([p.mean, p.logSigma]);
      assert.ok(Number.isFinite((await m.tune({ method: "marglik" })).priorPrecision));
      m.dispose();
    }
  }
  xr.dispose();
});

Deno.test("study hooks: weight samples, |w|/σ scores, pruning masks", async () => {
  const m = await trained();
  const scores = await m.pruningScores();
  assert.equal(scores["l0.w"].length, 4 * 16);
  assert.ok(scores["l1.w"].every((v) => Number.isFinite(v) && v >= 0));
  const keep = { "l0.w": Uint8Array.from({ length: 64 }, (_, i) => (i % 2 ? 1 : 0)) };
  await m.applyPruningMask(keep);
  for (const set of await m.sampleWeights(3, 5)) {
    for (let i = 0; i < 64; i += 2) assert.equal(set["l0.w"][i], 0);
    assert.ok(set["l0.w"][1] !== 0);
  }
  const st = await m.getState();
  assert.ok(st.tensors["mask.l0.w"]);
  await assert.rejects(
    async () => await m.applyPruningMask({ "l7.w": new Uint8Array(1) }),
    /unknown weight/,
  );
  m.dispose();
});

Deno.test("row chunks: every chunk of inputs sees the same weight draws (and the same GLM)", async () => {
  for (const settings of [{}, { lastLayer: true }, { predictive: "glm" as const }]) {
    const m = await trained(settings);
    const whole = await logProbs(m.predict(xt, { samples: 6, seed: 4 }));
    const chunked = await logProbs(m.predict(xt, { samples: 6, seed: 4, chunk: 7 }));
    assert.ok(
      maxDiff(whole, chunked) < 1e-5,
      `${JSON.stringify(settings)}: ${maxDiff(whole, chunked)}`,
    );
    m.dispose();
  }
});

Deno.test("bad settings are named", () => {
  assert.throws(() => buildKfacLaplace(spec, { priorPrecision: -1 }), /prior precision τ/);
  assert.throws(() => buildKfacLaplace(spec, { predictive: "nuts" as "glm" }), /predictive/);
  assert.throws(() => buildKfacLaplace(spec, { ggnTol: 2 }), /ggnTol/);
  assert.throws(
    () => buildKfacLaplace(spec, { lrSchedule: "linear" as "cosine" }),
    /lr_schedule must be one of constant, cosine, found "linear"/,
  );
});
