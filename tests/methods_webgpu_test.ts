// Every registered method on the WebGPU engine (Mesa's llvmpipe in CI): trains a few
// steps through fit, checkpoints, resumes exactly, and predicts; and MAP's update is the
// CPU engine's. Tiny networks: llvmpipe runs a 784-1200-1200-10 step in ~0.4 s.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../core/backend.ts";
import type { ArrayDataset } from "../core/data.ts";
import { evaluate } from "../core/evaluate.ts";
import { getEngine } from "../core/engine/current.ts";
import { disposePrediction } from "../core/likelihood.ts";
import type { Method, MethodState, NetSpec } from "../core/method.ts";
import { readSaved } from "../core/persist.ts";
import { Rng } from "../core/rng.ts";
import { fit } from "../core/train.ts";
import { buildMap } from "../methods/map.ts";
import { METHODS } from "../methods/registry.ts";

const SPEC: NetSpec = { inputDim: 6, hidden: [16], outputDim: 3, task: "classification" };

function toyData(n: number, seed: number): ArrayDataset {
  const rng = new Rng(seed);
  const x = rng.normalArray(n * 6);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = (x[6 * i] > 0 ? 1 : 0) + (x[6 * i + 1] > 0.5 ? 1 : 0);
  return { x, y, n, xShape: [6], yShape: [], numClasses: 3 };
}

/** Settings that make every method cheap and collect samples early. */
function quick(key: string): Record<string, unknown> {
  const s: Record<string, unknown> = { ...(METHODS[key].quick.settings ?? {}) };
  if (["sgld", "psgld", "sghmc"].includes(key)) Object.assign(s, { burnIn: 1, sampleFreq: 1 });
  if (key.startsWith("bbb")) {
    Object.assign(s, { nSamples: 2, firstEpochSamples: 2, predictSamples: 4 });
  }
  // Three members: predict gives one sample per member (at most nNets), and the test asks for 3.
  if (key === "ensemble") Object.assign(s, { nNets: 3 });
  if (key === "kfac_laplace") Object.assign(s, { samples: 4 });
  return s;
}

const ported = (Deno.env.get("BNN_TEST_METHODS") ??
  "map,mc_dropout,ensemble,bbb_gaussian,bbb_laplace,bbb_gmm,bbb_local,bbb_flipout,sgld,psgld,sghmc,kfac_laplace")
  .split(",");
const BACKEND = Deno.env.get("BNN_TEST_BACKEND") ?? "webgpu";

for (const key of ported) {
  Deno.test(`webgpu: ${key} trains, checkpoints, resumes exactly and predicts`, async () => {
    await initBackend({ backend: BACKEND, quiet: true });
    assert.equal(getEngine().kind, BACKEND === "webgpu" ? "webgpu" : "cpu");
    const train = toyData(96, 1), test = toyData(40, 2);
    const dir = await Deno.makeTempDir();
    try {
      const build = () => METHODS[key].build(SPEC, quick(key));
      const opts = { batchSize: 32, seed: 3, progress: false, checkpointDir: dir };
      const a = build();
      const full = await fit(a, train, { ...opts, epochs: 3 });
      assert.equal(full.history.length, 3);
      assert.ok(full.history.every((r) => Number.isFinite(r.trainLoss)));
      const want = await a.getState();
      // Stop after 2 epochs, resume to 3: the same state as the uninterrupted run.
      const b = build();
      await fit(b, train, { ...opts, epochs: 2 });
      const c = build();
      const resumed = await fit(c, train, { ...opts, epochs: 3, resume: true });
      assert.equal(resumed.resumedFrom, 2);
      assertSameState(await c.getState(), want, key);
      const { manifest } = await readSaved(dir, "checkpoint.safetensors");
      assert.equal(manifest.method, a.name);
      const m = await evaluate(c, test, { samples: 3 });
      assert.ok(Number.isFinite(m.logLikMean) && m.errorPct! <= 100);
      const x = tf.tensor2d(test.x, [test.n, 6]);
      const p = c.predict(x, { samples: 3 });
      assert.equal(p.task, "classification");
      if (p.task === "classification") assert.deepEqual(p.logProbs.shape, [3, test.n, 3]);
      disposePrediction(p);
      x.dispose();
      for (const mm of [a, b, c]) mm.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

function assertSameState(got: MethodState, want: MethodState, what: string) {
  assert.deepEqual(Object.keys(got.tensors).sort(), Object.keys(want.tensors).sort(), what);
  for (const [k, t] of Object.entries(want.tensors)) {
    assert.deepEqual(Array.from(got.tensors[k].data), Array.from(t.data), `${what}: ${k}`);
  }
  assert.deepEqual(got.extra, want.extra, `${what}: JSON state`);
}

Deno.test("webgpu: one MAP step from the same weights and batch matches wasm (rel. err ≤ 1e-4)", async () => {
  const train = toyData(64, 5);
  const step = async (backend: string, state?: MethodState) => {
    await initBackend({ backend, quiet: true });
    const m: Method = buildMap(SPEC, { optimizer: "adam", lr: 1e-2, weightDecay: 1e-3 });
    m.init(0);
    if (state) await m.setState(state);
    const before = await m.getState();
    const x = tf.tensor2d(train.x, [train.n, 6]);
    const y = tf.tensor1d(train.y as Int32Array, "int32");
    const r = await m.step({ x, y, n: train.n }, {
      datasetSize: train.n,
      epoch: 0,
      step: 0,
      batchesPerEpoch: 1,
      epochs: 1,
    });
    tf.dispose([x, y, ...Object.values(r).filter((v) => typeof v !== "number") as tf.Tensor[]]);
    const after = await m.getState();
    m.dispose();
    return { before, after };
  };
  const cpu = await step("wasm");
  const gpu = await step("webgpu", cpu.before);
  for (const [k, t] of Object.entries(cpu.after.tensors)) {
    const g = gpu.after.tensors[k].data;
    let worst = 0;
    for (let i = 0; i < t.data.length; i++) {
      worst = Math.max(worst, Math.abs(g[i] - t.data[i]) / Math.max(1e-3, Math.abs(t.data[i])));
    }
    assert.ok(worst <= 1e-4, `${k}: relative error ${worst}`);
  }
});
