// Bootstrap MAP ensemble: subsamples, member independence, predict shape, persistence,
// exact resume, the worker path, regression heads, study hooks, and the training script.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../core/backend.ts";
import type { NetSpec, StepInfo, StepResult, TensorBatch } from "../core/method.ts";
import { loadMethod, readSaved, saveMethod } from "../core/persist.ts";
import { Rng } from "../core/rng.ts";
import { fit } from "../core/train.ts";
import type { ArrayDataset } from "../datasets/types.ts";
import { buildEnsemble, type EnsembleMethod, memberSubset } from "../methods/ensemble.ts";
import { trainEnsembleParallel } from "../methods/ensemble_parallel.ts";
import type {} from "../methods/ensemble_worker.ts";
import { runScript } from "./_run_script.ts";

await initBackend({ backend: "wasm", quiet: true });

const D = 6;
const SPEC: NetSpec = { inputDim: D, hidden: [16], outputDim: 3, task: "classification" };

function toyData(n: number, seed = 1): ArrayDataset {
  const rng = new Rng(seed);
  const x = rng.normalArray(n * D);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const s = x[i * D] + 0.5 * x[i * D + 1];
    y[i] = s < -0.5 ? 0 : s < 0.5 ? 1 : 2;
  }
  return { x, y, n, xShape: [D], yShape: [], numClasses: 3 };
}

function info(n: number): StepInfo {
  return { datasetSize: n, epoch: 0, step: 0, batchesPerEpoch: 1, epochs: 1 };
}

function batchOf(ds: ArrayDataset, rows: number[]): TensorBatch {
  const x = new Float32Array(rows.length * D);
  rows.forEach((r, i) => x.set(ds.x.subarray(r * D, r * D + D), i * D));
  return {
    x: tf.tensor2d(x, [rows.length, D]),
    y: tf.tensor1d(rows.map((r) => ds.y[r]), "int32"),
    n: rows.length,
    indices: Int32Array.from(rows),
  };
}

async function weights(m: EnsembleMethod): Promise<Record<string, Float32Array>> {
  const st = await m.getState();
  return Object.fromEntries(Object.entries(st.tensors).map(([k, v]) => [k, v.data]));
}

/** A tensor's values (an asynchronous read, as on any engine). */
async function host(t: tf.Tensor): Promise<Float32Array> {
  return Float32Array.from(await t.data() as ArrayLike<number>);
}

/** A step's scalars as numbers; disposes its tensors. */
async function scalars(r: StepResult): Promise<Record<string, number>> {
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

function assertSameWeights(a: Record<string, Float32Array>, b: Record<string, Float32Array>) {
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
  for (const k of Object.keys(a)) assert.deepEqual(a[k], b[k], k);
}

Deno.test("bad settings are clear errors", () => {
  for (
    const [s, msg] of [
      [{ nNets: 0 }, /n_nets must be a positive integer, found 0/],
      [{ nNets: 2.5 }, /n_nets must be a positive integer, found 2.5/],
      [{ subsample: 0 }, /subsample must be a fraction in \(0, 1\], found 0/],
      [{ subsample: 1.5 }, /subsample must be a fraction in \(0, 1\], found 1.5/],
      [{ subsample: NaN }, /subsample must be a fraction in \(0, 1\], found NaN/],
      [{ lr: -1 }, /lr must be a finite number > 0, found -1/],
    ] as const
  ) {
    assert.throws(() => buildEnsemble(SPEC, s), RangeError);
    assert.throws(() => buildEnsemble(SPEC, s), msg);
  }
  assert.throws(() => buildEnsemble(SPEC, { nNets: 3 }, { memberIds: [3] }), /out of range/);
  assert.throws(() => buildEnsemble(SPEC, { nNets: 3 }, { memberIds: [1, 1] }), /listed twice/);
});

Deno.test("subsamples: right size, distinct per member, seeded", async () => {
  const n = 500;
  const m = buildEnsemble(SPEC, { nNets: 4, subsample: 0.8 });
  m.init(7);
  const ds = toyData(n);
  const b = batchOf(ds, [0, 1, 2, 3]);
  await scalars(await m.step(b, info(n))); // subsamples are drawn once the dataset size is known
  tf.dispose([b.x, b.y]);
  assert.equal(m.datasetSize(), n);
  const masks = m.memberIds.map((id) => m.membership(id));
  for (const mask of masks) assert.equal(mask.reduce((a, v) => a + v, 0), 400);
  for (let i = 0; i < masks.length; i++) {
    for (let j = i + 1; j < masks.length; j++) assert.notDeepEqual(masks[i], masks[j]);
  }
  // Determined by (seed, member, n, fraction); a different seed gives different rows.
  assert.deepEqual(memberSubset(7, 2, n, 0.8), memberSubset(7, 2, n, 0.8));
  assert.notDeepEqual(memberSubset(7, 2, n, 0.8), memberSubset(8, 2, n, 0.8));
  const rows = memberSubset(7, 2, n, 0.8);
  assert.equal(new Set(rows).size, 400, "drawn without replacement");
  assert.equal(memberSubset(0, 0, 10, 1).length, 10);
  assert.equal(memberSubset(0, 0, 10, 0.01).length, 1, "at least one row");
  m.dispose();
});

Deno.test("step trains each member only on its own rows; tensors do not leak", async () => {
  const n = 200;
  const ds = toyData(n);
  const m = buildEnsemble(SPEC, { nNets: 3, subsample: 0.5, lr: 0.05 });
  m.init(3);
  const first = batchOf(ds, [0]);
  await scalars(await m.step(first, info(n)));
  tf.dispose([first.x, first.y]);
  // A batch made only of rows outside member 0's subsample.
  const outside: number[] = [];
  const mask0 = m.membership(0);
  for (let r = 0; r < n && outside.length < 16; r++) if (!mask0[r]) outside.push(r);
  const before = await Promise.all(m.members().map((mem) => host(mem.layers().w[0])));
  const b = batchOf(ds, outside);
  const r = await scalars(await m.step(b, info(n)));
  assert.ok(Number.isFinite(r.loss) && r.loss > 0);
  assert.ok(r.errors! >= 0 && r.errors! <= 1);
  const after = await Promise.all(m.members().map((mem) => host(mem.layers().w[0])));
  // Every member has now stepped once (optimizer slots exist): the count stays flat.
  const tensors = tf.memory().numTensors;
  const all = batchOf(ds, [...Array(32).keys()]);
  for (let i = 0; i < 3; i++) await scalars(await m.step(all, info(n)));
  tf.dispose([all.x, all.y]);
  assert.equal(tf.memory().numTensors, tensors, "no tensors leak across steps");
  assert.deepEqual(after[0], before[0], "member 0 saw none of these rows");
  for (const k of [1, 2]) {
    const hasRows = outside.some((row) => m.membership(k)[row]);
    assert.ok(hasRows);
    assert.notDeepEqual(after[k], before[k], `member ${k} trained`);
  }
  const noIdx = { x: b.x, y: b.y, n: b.n };
  await assert.rejects(async () => await m.step(noIdx, info(n)), /needs batch.indices/);
  await assert.rejects(
    async () => await m.step(b, info(n + 1)),
    /drawn for a training set of 200 rows/,
  );
  tf.dispose([b.x, b.y]);
  m.dispose();
});

Deno.test("members differ; predict returns one sample per member", async () => {
  const ds = toyData(300);
  const m = buildEnsemble(SPEC, { nNets: 3, lr: 0.01 });
  await fit(m, ds, { epochs: 2, batchSize: 32, seed: 0, progress: false });
  const w = await Promise.all(m.members().map((mem) => host(mem.layers().w[0])));
  assert.notDeepEqual(w[0], w[1]);
  assert.notDeepEqual(w[1], w[2]);
  const x = tf.tensor2d(ds.x.subarray(0, 20 * D), [20, D]);
  const p = m.predict(x);
  assert.equal(p.task, "classification");
  if (p.task !== "classification") return;
  assert.deepEqual(p.logProbs.shape, [3, 20, 3]);
  const lp = await p.logProbs.array();
  assert.notDeepEqual(lp[0], lp[1], "members predict differently");
  // Each row is a log-distribution.
  for (const c of lp[2]) assert.ok(Math.abs(c.reduce((a, v) => a + Math.exp(v), 0) - 1) < 1e-5);
  const p2 = m.predict(x, { samples: 2 });
  const p9 = m.predict(x, { samples: 9 });
  assert.deepEqual(p2.task === "classification" && p2.logProbs.shape, [2, 20, 3]);
  assert.deepEqual(p9.task === "classification" && p9.logProbs.shape, [3, 20, 3]);
  assert.throws(() => m.predict(x, { samples: 0 }), /samples must be a positive integer/);
  tf.dispose([x, p.logProbs]);
  if (p2.task === "classification") p2.logProbs.dispose();
  if (p9.task === "classification") p9.logProbs.dispose();
  m.dispose();
});

Deno.test("save → load gives identical predictions", async () => {
  const ds = toyData(200);
  const m = buildEnsemble(SPEC, { nNets: 2, lr: 0.01 });
  await fit(m, ds, { epochs: 1, batchSize: 50, seed: 4, progress: false });
  const dir = await Deno.makeTempDir();
  await saveMethod(dir, m);
  const m2 = buildEnsemble(SPEC, { nNets: 2, lr: 0.01 });
  await loadMethod(dir, m2);
  const x = tf.tensor2d(ds.x.subarray(0, 30 * D), [30, D]);
  const a = m.predict(x), b = m2.predict(x);
  assert.ok(a.task === "classification" && b.task === "classification");
  assert.deepEqual(await a.logProbs.data(), await b.logProbs.data());
  assert.deepEqual(m2.membership(1), m.membership(1), "subsamples restored");
  tf.dispose([x, a.logProbs, b.logProbs]);
  // A differently configured ensemble refuses the file.
  await assert.rejects(
    () => loadMethod(dir, buildEnsemble(SPEC, { nNets: 3 })),
    /ensemble of 2 nets, this one has 3/,
  );
  await assert.rejects(
    () => loadMethod(dir, buildEnsemble(SPEC, { nNets: 2, subsample: 0.5 })),
    /subsample 0.8, this ensemble uses 0.5/,
  );
  m.dispose();
  m2.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("resume from an epoch-2 checkpoint equals a straight 3-epoch run", async () => {
  const ds = toyData(256);
  const opts = { batchSize: 32, seed: 9, progress: false };
  const straight = buildEnsemble(SPEC, { nNets: 2, lr: 0.01 });
  await fit(straight, ds, { ...opts, epochs: 3 });
  const dir = await Deno.makeTempDir();
  const a = buildEnsemble(SPEC, { nNets: 2, lr: 0.01 });
  await fit(a, ds, { ...opts, epochs: 2, checkpointDir: dir });
  a.dispose();
  const b = buildEnsemble(SPEC, { nNets: 2, lr: 0.01 });
  const r = await fit(b, ds, { ...opts, epochs: 3, checkpointDir: dir, resume: true });
  assert.equal(r.resumedFrom, 2);
  assert.equal(r.history.length, 3);
  assertSameWeights(await weights(b), await weights(straight));
  straight.dispose();
  b.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("worker path trains the same members as fit and resumes fit's checkpoints", async () => {
  const ds = toyData(300);
  const valid = toyData(100, 2);
  const opts = { batchSize: 32, seed: 5, progress: false, valid };
  const seq = buildEnsemble(SPEC, { nNets: 3, lr: 0.01 });
  const hs = await fit(seq, ds, { ...opts, epochs: 2 });
  // Epoch 1 in this thread, epoch 2 in two workers (member 0 and 2 in one, 1 in the other).
  const dir = await Deno.makeTempDir();
  const first = buildEnsemble(SPEC, { nNets: 3, lr: 0.01 });
  await fit(first, ds, { ...opts, epochs: 1, checkpointDir: dir });
  first.dispose();
  const par = buildEnsemble(SPEC, { nNets: 3, lr: 0.01 });
  const hp = await trainEnsembleParallel(par, ds, {
    ...opts,
    epochs: 2,
    workers: 2,
    checkpointDir: dir,
    resume: true,
  });
  assert.equal(hp.resumedFrom, 1);
  assert.equal(hp.history.length, 2);
  assertSameWeights(await weights(par), await weights(seq));
  const h = hs.history[1], q = hp.history[1];
  // The members' mean loss is summed on the device in float32, so grouping the members
  // differently (three in one thread, two and one in the workers) moves it by rounding only.
  assert.ok(
    Math.abs(h.trainLoss - q.trainLoss) <= 1e-6 * Math.abs(h.trainLoss),
    `loss ${h.trainLoss} vs ${q.trainLoss}`,
  );
  assert.ok(Math.abs(h.validLogLik! - q.validLogLik!) < 1e-6, "valid log-likelihood");
  assert.equal(h.validErrorPct, q.validErrorPct);
  // The workers' epoch was checkpointed in fit's format.
  const back = buildEnsemble(SPEC, { nNets: 3, lr: 0.01 });
  const r = await fit(back, ds, { ...opts, epochs: 2, checkpointDir: dir, resume: true });
  assert.equal(r.resumedFrom, 2);
  assertSameWeights(await weights(back), await weights(seq));
  await assert.rejects(
    () => trainEnsembleParallel(par, ds, { ...opts, epochs: 1, workers: 0 }),
    /workers must be a positive integer, found 0/,
  );
  for (const m of [seq, par, back]) m.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("worker path: a stop lands every member on one step, and resuming on either path finishes the same run", async () => {
  // 100 steps an epoch, a few milliseconds each: the stop (asked for as epoch 1 ends) reaches
  // the workers a step or some later, wherever they are; the run must resume exactly there.
  const ds = toyData(3200);
  const epochs = 12;
  const opts = { batchSize: 32, seed: 7, progress: false };
  const seq = buildEnsemble(SPEC, { nNets: 3, lr: 0.01 });
  const hs = await fit(seq, ds, { ...opts, epochs });
  const dir = await Deno.makeTempDir();
  const par = buildEnsemble(SPEC, { nNets: 3, lr: 0.01 });
  const stop = new AbortController();
  const r = await trainEnsembleParallel(par, ds, {
    ...opts,
    epochs,
    workers: 2,
    checkpointDir: dir,
    signal: stop.signal,
    onEpoch: (rec) => void (rec.epoch === 1 && stop.abort()),
  });
  assert.equal(r.stopReason, "aborted");
  const at = r.stoppedAt!;
  assert.ok(at.epoch < epochs, `stopped at ${JSON.stringify(at)}`);
  const { manifest } = await readSaved(dir, "checkpoint.safetensors");
  const perEpoch = 100;
  if (at.step < perEpoch) {
    // Inside an epoch: fit's format, the steps done and the members' sums so far.
    assert.equal(manifest.info.epoch, at.epoch - 1);
    assert.equal(manifest.info.step, at.step);
    const partial = manifest.info.partial as { seen: number };
    assert.equal(partial.seen, 32 * at.step);
  } else assert.equal(manifest.info.epoch, at.epoch);
  assert.equal(r.history.length, manifest.info.epoch);
  // Resume in this thread (a copy) and in the workers: both finish the uninterrupted run.
  const copy = await Deno.makeTempDir();
  await Deno.copyFile(`${dir}/checkpoint.safetensors`, `${copy}/checkpoint.safetensors`);
  const inThread = buildEnsemble(SPEC, { nNets: 3, lr: 0.01 });
  await fit(inThread, ds, { ...opts, epochs, checkpointDir: copy, resume: true });
  assertSameWeights(await weights(inThread), await weights(seq));
  const again = buildEnsemble(SPEC, { nNets: 3, lr: 0.01 });
  const hp = await trainEnsembleParallel(again, ds, {
    ...opts,
    epochs,
    workers: 2,
    checkpointDir: dir,
    resume: true,
  });
  assert.equal(hp.stopReason, undefined);
  assertSameWeights(await weights(again), await weights(seq));
  assert.equal(hp.history.length, epochs);
  // The interrupted epoch's mean loss joins the sums before and after the stop.
  const h = hs.history[at.epoch - 1].trainLoss, q = hp.history[at.epoch - 1].trainLoss;
  assert.ok(Math.abs(h - q) <= 1e-6 * Math.abs(h), `epoch ${at.epoch} loss ${h} vs ${q}`);
  for (const m of [seq, par, inThread, again]) m.dispose();
  for (const d of [dir, copy]) await Deno.remove(d, { recursive: true });
});

Deno.test("regression heads: homo- and heteroscedastic members", async () => {
  const n = 120;
  const rng = new Rng(5);
  const x = rng.normalArray(n);
  const y = Float32Array.from(x, (v) => Math.sin(2 * v) + 0.1 * rng.normal());
  const ds: ArrayDataset = { x, y, n, xShape: [1], yShape: [1] };
  for (const noise of ["homoscedastic", "heteroscedastic"] as const) {
    const spec: NetSpec = { inputDim: 1, hidden: [16], outputDim: 1, task: "regression", noise };
    const m = buildEnsemble(spec, { nNets: 3, optimizer: "adam", lr: 1e-2 });
    const { history } = await fit(m, ds, { epochs: 3, batchSize: 32, seed: 0, progress: false });
    assert.ok(history.every((h) => Number.isFinite(h.trainLoss)));
    const xt = tf.tensor2d([[-1], [0], [1]]);
    const p = m.predict(xt);
    assert.equal(p.task, "regression");
    if (p.task !== "regression") return;
    assert.deepEqual(p.mean.shape, [3, 3, 1]);
    assert.deepEqual(p.logSigma.shape, [3, 3, 1]);
    const mu = await p.mean.array();
    assert.notDeepEqual(mu[0], mu[1]);
    if (noise === "homoscedastic") {
      assert.ok("m0/log_noise" in (await m.getState()).tensors, "each member has its own noise");
    }
    tf.dispose([xt, p.mean, p.logSigma]);
    m.dispose();
  }
});

Deno.test("study hooks: member weight sets and per-member magnitude pruning", async () => {
  const m = buildEnsemble(SPEC, { nNets: 2 });
  m.init(1);
  const sets = await m.sampleWeights(3);
  assert.equal(sets.length, 3);
  assert.deepEqual(Object.keys(sets[0]).sort(), ["l0.b", "l0.w", "l1.b", "l1.w"]);
  assert.notDeepEqual(sets[0]["l0.w"], sets[1]["l0.w"], "different members");
  assert.deepEqual(sets[2]["l0.w"], sets[0]["l0.w"], "cycled");
  const scores = await m.pruningScores();
  assert.deepEqual(Object.keys(scores).sort(), ["m0/l0.w", "m0/l1.w", "m1/l0.w", "m1/l1.w"]);
  assert.ok(scores["m1/l0.w"].every((v) => v >= 0));
  const keep: Record<string, Uint8Array> = {};
  for (const [k, s] of Object.entries(scores)) keep[k] = new Uint8Array(s.length).fill(1);
  keep["m1/l0.w"][0] = 0;
  m.applyPruningMask(keep);
  assert.equal((await host(m.members()[1].layers().w[0]))[0], 0);
  assert.notEqual((await host(m.members()[0].layers().w[0]))[0], 0);
  assert.throws(() => m.applyPruningMask({ "l0.w": new Uint8Array(1) }), /m<member>\/<weight>/);
  m.dispose();
});

// ---- The training script (real MNIST) ----

const DATA = Deno.env.get("BNN_DATA_DIR");
if (!DATA) console.warn("SKIP bootstrap-ensemble script test: BNN_DATA_DIR is not set");

const runEnsemble = (args: string[]) =>
  runScript("experiments/train_bootstrap_ensemble_mnist.ts", args);

Deno.test({
  name: "train_bootstrap_ensemble_mnist.ts: 1 epoch on 2000 MNIST examples",
  ignore: !DATA,
  async fn() {
    const dir = await Deno.makeTempDir();
    const r = await runEnsemble([
      "--limit=2000",
      "--test_limit=500",
      "--epochs=1",
      "--test_samples=5",
      "--n_nets=3",
      `--models_dir=${dir}/m`,
      `--results_dir=${dir}/r`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ensemble: test error [\d.]+%.*3 sample\(s\)/);
    const history = JSON.parse(await Deno.readTextFile(`${dir}/r/history.json`));
    assert.equal(history.length, 1);
    assert.ok(history[0].validErrorPct < 50, `error after 1 epoch: ${history[0].validErrorPct}%`);
    const metrics = JSON.parse(await Deno.readTextFile(`${dir}/r/test_metrics.json`));
    assert.equal(metrics.samples, 3);
    assert.equal(metrics.settings.nNets, 3);
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/m/manifest.json`));
    assert.equal(manifest.method, "ensemble");
    for (const f of ["weights.safetensors", "checkpoint.safetensors", "training_curve.svg"]) {
      await Deno.stat(f.endsWith(".svg") ? `${dir}/r/${f}` : `${dir}/m/${f}`);
    }
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("train_bootstrap_ensemble_mnist.ts rejects bad input with exit code 2", async () => {
  for (
    const [args, msg] of [
      [["--subsample", "0"], /--subsample must be in \(0, 1\], found 0/],
      [["--n_nets", "0"], /--n_nets must be ≥ 1, found 0/],
    ] as const
  ) {
    const r = await runEnsemble([...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
});
