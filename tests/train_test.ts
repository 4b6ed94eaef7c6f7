import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../core/backend.ts";
import { nllSum } from "../core/likelihood.ts";
import type { NetSpec } from "../core/method.ts";
import { initLayers, mlpForward } from "../core/mlp.ts";
import { lrScheduleFactor, type LrScheduleName } from "../core/optim.ts";
import { loadMethod, saveMethod } from "../core/persist.ts";
import { Rng } from "../core/rng.ts";
import { CHECKPOINT_FILE, DivergenceError, epochLine, fit, workEta } from "../core/train.ts";
import { evaluate } from "../core/evaluate.ts";
import type { ArrayDataset } from "../datasets/types.ts";
import { buildEnsemble } from "../methods/ensemble.ts";
import { buildKfacLaplace } from "../methods/kfac_laplace.ts";
import { buildMap } from "../methods/map.ts";
import { buildMcDropout } from "../methods/mc_dropout.ts";
import { buildSghmc } from "../methods/sghmc.ts";

await initBackend({ backend: "wasm", quiet: true });

/** Three Gaussian blobs in 2-D, well separated (Bayes error ≈ 0). */
function blobs(n: number, seed: number): ArrayDataset {
  const r = new Rng(seed);
  const centers = [[0, 3], [3, -2], [-3, -2]];
  const x = new Float32Array(2 * n), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    y[i] = c;
    x[2 * i] = centers[c][0] + 0.8 * r.normal();
    x[2 * i + 1] = centers[c][1] + 0.8 * r.normal();
  }
  return { x, y, n, xShape: [2], yShape: [], numClasses: 3 };
}

const CLS: NetSpec = { inputDim: 2, hidden: [32, 32], outputDim: 3, task: "classification" };

Deno.test("MAP fits a small synthetic classification problem to ≥ 95% accuracy, loss falls", async () => {
  const train = blobs(600, 1), test = blobs(300, 2);
  const m = buildMap(CLS, { optimizer: "adam", lr: 1e-2 });
  const { history } = await fit(m, train, {
    epochs: 15,
    batchSize: 50,
    seed: 0,
    valid: test,
    progress: false,
  });
  assert.ok(
    history.at(-1)!.trainLoss < history[0].trainLoss / 3,
    JSON.stringify(history.map((h) => h.trainLoss)),
  );
  const r = await evaluate(m, test);
  assert.ok(r.errorPct! <= 5, `test error ${r.errorPct}%`);
  m.dispose();
});

Deno.test("cosine lr schedule: a mid-run step moves the weights half as far as a constant lr", async () => {
  const b = blobs(30, 3);
  const batch = {
    x: tf.tensor2d(b.x, [b.n, 2]),
    y: tf.tensor1d(b.y, "int32"),
    n: b.n,
    indices: Int32Array.from({ length: b.n }, (_, i) => i),
  };
  // Step 0 of epoch 1 of 2 (one batch per epoch): t/T = 1/2, so the cosine factor is 0.5.
  const info = { datasetSize: b.n, epoch: 1, step: 0, batchesPerEpoch: 1, epochs: 2 };
  // A MAP network, an ensemble's one member and KFAC Laplace's MAP network (the schedule passed
  // on to them).
  const builders = {
    map: (lrSchedule: LrScheduleName) => {
      const m = buildMap(CLS, { optimizer: "sgd", lr: 1e-2, lrSchedule });
      return { m, first: () => m.layers().w[0] };
    },
    ensemble: (lrSchedule: LrScheduleName) => {
      const m = buildEnsemble(CLS, {
        nNets: 1,
        subsample: 1,
        optimizer: "sgd",
        lr: 1e-2,
        lrSchedule,
      });
      return { m, first: () => m.members()[0].layers().w[0] };
    },
    kfac: (lrSchedule: LrScheduleName) => {
      const m = buildKfacLaplace(CLS, { optimizer: "sgd", lr: 1e-2, lrSchedule });
      return { m, first: () => m.map.layers().w[0] };
    },
  };
  for (const [name, build] of Object.entries(builders)) {
    const moved = async (lrSchedule: LrScheduleName) => {
      const { m, first } = build(lrSchedule);
      m.init(5);
      const before = await first().data();
      await m.step(batch, info);
      const after = await first().data();
      m.dispose();
      return Array.from(after, (v, i) => v - before[i]);
    };
    const constant = await moved("constant"), cosine = await moved("cosine");
    const norm = Math.hypot(...constant);
    assert.ok(norm > 1e-4, `${name}: the constant-lr step moved the weights by ${norm}`);
    for (let i = 0; i < constant.length; i++) {
      assert.ok(
        Math.abs(cosine[i] - 0.5 * constant[i]) < 1e-6 + 1e-3 * Math.abs(constant[i]),
        `${name}: weight ${i} moved ${cosine[i]} with cosine, ${constant[i]} with constant lr`,
      );
    }
  }
  tf.dispose([batch.x, batch.y]);
  // The factor over a run: 1 at the start, ½ half way, → 0 at the end; constant stays 1.
  assert.equal(lrScheduleFactor("cosine", 0, 8), 1);
  assert.ok(Math.abs(lrScheduleFactor("cosine", 4, 8) - 0.5) < 1e-12);
  assert.ok(lrScheduleFactor("cosine", 7, 8) < 0.04);
  assert.equal(lrScheduleFactor("constant", 7, 8), 1);
  assert.throws(
    () => buildMap(CLS, { lrSchedule: "linear" as "cosine" }),
    /lr_schedule must be one of constant, cosine, found "linear"/,
  );
});

Deno.test("gradient of the heteroscedastic regression loss equals finite differences", () => {
  const spec: NetSpec = { inputDim: 3, hidden: [5], outputDim: 1, task: "regression" };
  const host = initLayers(spec, new Rng(4));
  const vars = Object.fromEntries(
    Object.entries(host).map(([k, t]) => [k, tf.variable(tf.tensor(t.data, t.shape))]),
  );
  const x = tf.tensor2d(new Rng(5).normalArray(12), [4, 3]);
  const y = tf.tensor2d([0.5, -1, 2, 0.1], [4, 1]);
  const f = () =>
    nllSum(
      spec,
      mlpForward({
        w: [vars["l0.w"] as tf.Tensor2D, vars["l1.w"] as tf.Tensor2D],
        b: [vars["l0.b"] as tf.Tensor1D, vars["l1.b"] as tf.Tensor1D],
      }, x),
      y,
    );
  const { grads } = tf.variableGrads(f, Object.values(vars));
  const h = 1e-3;
  for (const v of Object.values(vars)) {
    const g = grads[v.name].dataSync();
    const base = v.dataSync().slice();
    for (const i of [0, base.length - 1]) {
      const p = base.slice(), q = base.slice();
      p[i] += h;
      q[i] -= h;
      v.assign(tf.tensor(p, v.shape));
      const fp = f().dataSync()[0];
      v.assign(tf.tensor(q, v.shape));
      const fq = f().dataSync()[0];
      v.assign(tf.tensor(base, v.shape));
      const fd = (fp - fq) / (2 * h);
      assert.ok(
        Math.abs(fd - g[i]) < 2e-2 * Math.max(1, Math.abs(fd)),
        `${v.name}[${i}] ${g[i]} vs ${fd}`,
      );
    }
  }
});

Deno.test("MC dropout: samples differ, and their mean matches the deterministic net (inverted dropout)", () => {
  const spec: NetSpec = {
    inputDim: 2,
    hidden: [64],
    outputDim: 1,
    task: "regression",
    noise: "homoscedastic",
  };
  const m = buildMcDropout(spec, { dropout: 0.5 });
  m.init(3);
  const x = tf.tensor2d([[0.5, -1], [1, 2]]);
  const p = m.predict(x, { samples: 4000, seed: 1 });
  assert.equal(p.task, "regression");
  if (p.task !== "regression") return;
  const mu = p.mean.dataSync(); // [S, 2, 1]
  assert.notEqual(mu[0], mu[2], "two dropout samples gave the same output");
  // One hidden layer + linear output: E_mask[out] is exactly the deterministic output.
  const det = mlpForward(m.layers(), x).dataSync();
  for (let n = 0; n < 2; n++) {
    let s = 0, s2 = 0;
    for (let k = 0; k < 4000; k++) {
      s += mu[2 * k + n];
      s2 += mu[2 * k + n] ** 2;
    }
    const mean = s / 4000, sd = Math.sqrt(s2 / 4000 - mean * mean);
    assert.ok(
      Math.abs(mean - det[n]) < 4 * sd / Math.sqrt(4000) + 1e-6,
      `${mean} vs ${det[n]} (sd ${sd})`,
    );
  }
  m.dispose();
});

Deno.test("save → load gives identical predictions (MAP and MC dropout)", async () => {
  const dir = await Deno.makeTempDir();
  const train = blobs(120, 3);
  for (const build of [() => buildMap(CLS), () => buildMcDropout(CLS)]) {
    const a = build();
    await fit(a, train, { epochs: 2, batchSize: 30, seed: 1, progress: false });
    await saveMethod(dir, a);
    const b = build();
    b.init(99);
    await loadMethod(dir, b);
    const x = tf.tensor2d(train.x.subarray(0, 20), [10, 2]);
    const pa = a.predict(x, { samples: 5, seed: 7 }), pb = b.predict(x, { samples: 5, seed: 7 });
    if (pa.task === "classification" && pb.task === "classification") {
      assert.deepEqual(Array.from(pa.logProbs.dataSync()), Array.from(pb.logProbs.dataSync()));
    } else assert.fail("expected classification");
    a.dispose();
    b.dispose();
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("loading a model into the wrong method or network is a clear error", async () => {
  const dir = await Deno.makeTempDir();
  const a = buildMap(CLS);
  a.init(0);
  await saveMethod(dir, a);
  const b = buildMcDropout(CLS);
  await assert.rejects(() => loadMethod(dir, b), /holds a "map" model, not "mc_dropout"/);
  const c = buildMap({ ...CLS, hidden: [16] });
  await assert.rejects(() => loadMethod(dir, c), /does not match/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("resume continues from the saved epoch and matches an uninterrupted run bitwise", async () => {
  const dir = await Deno.makeTempDir();
  const train = blobs(90, 5);
  const straight = buildMcDropout(CLS);
  await fit(straight, train, { epochs: 3, batchSize: 20, seed: 2, progress: false });
  const first = buildMcDropout(CLS);
  await fit(first, train, {
    epochs: 2,
    batchSize: 20,
    seed: 2,
    checkpointDir: dir,
    progress: false,
  });
  first.dispose();
  const resumed = buildMcDropout(CLS);
  const r = await fit(resumed, train, {
    epochs: 3,
    batchSize: 20,
    seed: 2,
    checkpointDir: dir,
    resume: true,
    progress: false,
  });
  assert.equal(r.resumedFrom, 2);
  assert.equal(r.history.length, 3);
  const a = (await straight.getState()).tensors, b = (await resumed.getState()).tensors;
  for (const k of Object.keys(a)) assert.deepEqual(b[k].data, a[k].data, k);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a NaN loss stops training naming epoch and step, keeping the last good checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  const train = blobs(90, 6);
  const m = buildMap(CLS, { lr: 1e-2 });
  await fit(m, train, { epochs: 1, batchSize: 30, seed: 0, checkpointDir: dir, progress: false });
  const before = await Deno.readFile(`${dir}/${CHECKPOINT_FILE}`);
  const bad = { ...train, x: train.x.slice() };
  bad.x[5] = NaN;
  for (let i = 0; i < bad.x.length; i++) if (i % 7 === 0) bad.x[i] = NaN;
  const m2 = buildMap(CLS, { lr: 1e-2 });
  await assert.rejects(
    () => fit(m2, bad, { epochs: 3, batchSize: 30, seed: 0, checkpointDir: dir, progress: false }),
    (e: unknown) => e instanceof DivergenceError && /epoch 1, step 1/.test((e as Error).message),
  );
  assert.deepEqual(await Deno.readFile(`${dir}/${CHECKPOINT_FILE}`), before);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("SGHMC's Gibbs step on NaN weights leaves the divergence to the loss check", async () => {
  // An update can turn the weights NaN while its own loss (from the weights before it) was
  // finite; the next Gibbs draw of the prior precisions then read Σθ² = NaN, and a Gamma
  // draw with a NaN rate threw a RangeError that ended a whole UCI run.
  const m = buildSghmc(CLS, { lr: 1e-2, resamplePriorEvery: 1 });
  m.init(0);
  const state = await m.getState();
  for (const t of Object.values(state.tensors)) t.data.fill(NaN);
  await m.setState(state);
  const train = blobs(30, 6);
  const x = tf.tensor2d(train.x, [30, 2]), y = tf.tensor1d(train.y, "int32");
  const info = { datasetSize: 30, epoch: 0, step: 0, batchesPerEpoch: 1, epochs: 40 };
  const r = await m.step({ x, y, n: 30 }, info);
  const loss = typeof r.loss === "number" ? r.loss : (await r.loss.data())[0];
  assert.ok(!Number.isFinite(loss), `loss ${loss}`);
  tf.dispose([x, y, ...Object.values(r).filter((v) => typeof v !== "number")]);
  m.dispose();
});

Deno.test("bad training settings are clear errors", async () => {
  assert.throws(() => buildMap(CLS, { lr: -1 }), /lr must be a finite number > 0/);
  assert.throws(() => buildMcDropout(CLS, { dropout: 1 }), /dropout rate in \(0, 1\)/);
  assert.throws(
    () => buildMap({ ...CLS, hidden: [0] }),
    /hidden must be a list of positive integers/,
  );
  const m = buildMap(CLS);
  await assert.rejects(
    () => fit(m, blobs(10, 1), { epochs: -1, batchSize: 5, seed: 0 }),
    /epochs must be/,
  );
  await assert.rejects(
    () => fit(m, blobs(10, 1), { epochs: 1, batchSize: 0, seed: 0 }),
    /batch size/,
  );
  // Data that does not fit the network is named before tfjs sees it.
  const b = blobs(10, 1);
  await assert.rejects(
    () => fit(m, { ...b, y: Float32Array.from(b.y) }, { epochs: 1, batchSize: 5, seed: 0 }),
    /training set: class labels y should be an Int32Array of 10 class indices, found Float32Array/,
  );
  await assert.rejects(
    () => fit(m, { ...b, y: b.y.map(() => 7) }, { epochs: 1, batchSize: 5, seed: 0 }),
    /label 7 of example 0 is outside the network's classes 0\.\.\d/,
  );
  await assert.rejects(
    () => fit(m, { ...b, xShape: [b.xShape[0] + 1] }, { epochs: 1, batchSize: 5, seed: 0 }),
    /xShape \[\d+\] has \d+ values per example, but the network's inputDim is/,
  );
  await assert.rejects(
    () => fit(m, b, { epochs: 1, batchSize: 5, seed: 0, valid: { ...b, x: b.x.subarray(1) } }),
    /validation set: x should be a Float32Array of n × \d+ = \d+ values/,
  );
});

Deno.test("loadModel: one call loads any saved model; an unknown method is named", async () => {
  const { loadModel } = await import("../methods/registry.ts");
  const m = buildMap(CLS, { optimizer: "adam", lr: 1e-2 });
  m.init(3);
  const dir = await Deno.makeTempDir();
  await saveMethod(dir, m);
  const back = await loadModel(dir);
  assert.equal(back.name, "map");
  assert.deepEqual(
    (await back.getState()).tensors["l0.w"].data,
    (await m.getState()).tensors["l0.w"].data,
  );
  // A manifest naming a method no builder knows.
  const manifest = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
  const { buildFromManifest } = await import("../methods/registry.ts");
  assert.throws(
    () => buildFromManifest({ ...manifest, method: "vi_flows" }),
    /"vi_flows" model, which no registered method loads \(known: map, mc_dropout/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the ETA follows the recent epochs' median pace, not one slow epoch", () => {
  const one = (paces: number[], steps: number) =>
    workEta(new Map([[1, paces]]), [{ work: 1, steps }]);
  // One paused epoch (30 s a step) among 0.1 s steps: the mean would say ~50 min for 100 steps.
  assert.deepEqual(one([0.1, 0.1, 30, 0.1, 0.1], 100), [0.1 * 100, 0.1 * 100]);
  const [lo, hi] = one([0.1, 0.12, 30, 0.2], 100)!; // median of 4: 0.16
  assert.ok(Math.abs(lo - 16) < 1e-9 && lo === hi);
  assert.equal(one([], 100), undefined);
  assert.deepEqual(one([0.5], 0), [0, 0]);
});

Deno.test("the ETA prices each epoch by its step work (BBB's samples per step)", () => {
  // Measured: 1 sample per step at 0.06 s. Left: 100 steps at 1 sample, 300 at 3.
  const left = [{ work: 1, steps: 100 }, { work: 3, steps: 300 }];
  const [lo, hi] = workEta(new Map([[1, [0.06]]]), left)!;
  // Unknown how a step's cost grows with samples: between none (0.06) and in proportion (0.18).
  assert.ok(Math.abs(lo - (6 + 300 * 0.06)) < 1e-9, `${lo}`);
  assert.ok(Math.abs(hi - (6 + 300 * 0.18)) < 1e-9, `${hi}`);
  // Two levels measured (1 → 0.06, 3 → 0.16: a = 0.01, b = 0.05): one figure, 5 samples by the line.
  const two = new Map([[1, [0.06]], [3, [0.16]]]);
  const [l2, h2] = workEta(two, [{ work: 3, steps: 300 }, { work: 5, steps: 10 }])!;
  assert.ok(Math.abs(l2 - (300 * 0.16 + 10 * 0.26)) < 1e-9 && l2 === h2, `${l2}`);
  // Fewer samples than measured, where the line is not positive: in proportion to the nearest.
  const steep = new Map([[2, [0.01]], [3, [0.1]]]);
  const [l3] = workEta(steep, [{ work: 1, steps: 10 }])!;
  assert.ok(Math.abs(l3 - 10 * 0.005) < 1e-12, `${l3}`);
});

Deno.test("epochLine: one ETA, or a range when the work ahead is unmeasured", () => {
  const rec = { epoch: 3, trainLoss: 1, samplesPerSec: 10, seconds: 2 } as const;
  assert.match(epochLine(rec, 10, 750), / {2}ETA 12m30s$/);
  assert.match(epochLine(rec, 10, 750, 751), / {2}ETA 12m30s$/);
  assert.match(epochLine(rec, 10, 2943, 7860), / {2}ETA 49m03s–2h11m$/);
});
