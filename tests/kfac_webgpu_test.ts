// KFAC Laplace on the WebGPU engine (Mesa's llvmpipe in CI): the curvature pass and the
// linearised predictive match wasm; weight draws and Monte Carlo predictions run there.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../core/backend.ts";
import { getEngine } from "../core/engine/current.ts";
import { readPrediction } from "../core/evaluate.ts";
import { disposePrediction } from "../core/likelihood.ts";
import type { MethodState, NetSpec } from "../core/method.ts";
import { Rng } from "../core/rng.ts";
import type { ArrayDataset } from "../datasets/types.ts";
import { type KronFactors, kronFactors } from "../methods/kfac/curvature.ts";
import { augment } from "../methods/kfac/host_net.ts";
import { buildKfacLaplace, type KfacLaplaceSettings } from "../methods/kfac_laplace.ts";

const BACKEND = Deno.env.get("BNN_TEST_BACKEND") ?? "webgpu";
const spec: NetSpec = { inputDim: 5, hidden: [12, 9], outputDim: 4, task: "classification" };

function data(n: number, seed: number): ArrayDataset {
  const rng = new Rng(seed);
  const x = rng.normalArray(n * 5);
  const y = Int32Array.from(
    { length: n },
    (_, i) => (x[5 * i] > 0 ? 2 : 0) + (x[5 * i + 1] > 0 ? 1 : 0),
  );
  return { x, y, n, xShape: [5], yShape: [], numClasses: 4 };
}

const rng = new Rng(2);
const dims = [5, 12, 9, 4];
const layers = dims.slice(0, -1).map((d, l) =>
  augment(
    rng.normalArray(d * dims[l + 1], 0, 0.8),
    rng.normalArray(dims[l + 1], 0, 0.3),
    d,
    dims[l + 1],
  )
);
const train = data(150, 1);

const relDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let worst = 0, scale = 0;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / scale);
  return worst;
};

async function factorsOn(backend: string, tol: number): Promise<KronFactors> {
  await initBackend({ backend, quiet: true });
  return await kronFactors(spec, layers, train, { ggnTol: tol, batchSize: 32 });
}

Deno.test(`${BACKEND}: the curvature pass matches wasm (exact and truncated)`, async () => {
  for (const tol of [0, 0.05]) {
    const cpu = await factorsOn("wasm", tol);
    const gpu = await factorsOn(BACKEND, tol);
    assert.equal(getEngine().kind, BACKEND === "webgpu" ? "webgpu" : "cpu");
    assert.ok(Math.abs(gpu.trainNll - cpu.trainNll) < 1e-4 * Math.abs(cpu.trainNll));
    assert.ok(gpu.ggn.massDropped <= tol * gpu.ggn.massTotal + 1e-9);
    if (tol === 0) assert.equal(gpu.ggn.rowsKept, cpu.ggn.rowsKept);
    else assert.ok(Math.abs(gpu.ggn.rowsKept - cpu.ggn.rowsKept) <= 2, "ties may fall either way");
    for (let l = 0; l < 3; l++) {
      assert.ok(relDiff(gpu.layers[l].q, cpu.layers[l].q) < 1e-5, `layer ${l} Q`);
      const hTol = tol === 0 ? 1e-4 : 0.05;
      assert.ok(relDiff(gpu.layers[l].h, cpu.layers[l].h) < hTol, `layer ${l} H (tol ${tol})`);
    }
  }
});

async function trainedState(settings: KfacLaplaceSettings): Promise<MethodState> {
  await initBackend({ backend: "wasm", quiet: true });
  const m = buildKfacLaplace(spec, settings);
  m.init(0);
  await m.fitCurvature(train);
  const st = await m.getState();
  m.dispose();
  return st;
}

async function predictOn(
  backend: string,
  st: MethodState,
  settings: KfacLaplaceSettings,
  samples: number,
) {
  await initBackend({ backend, quiet: true });
  const m = buildKfacLaplace(spec, settings);
  m.init(0);
  await m.setState(st);
  const test = data(30, 5);
  const x = tf.tensor2d(test.x, [test.n, 5]);
  const p = m.predict(x, { samples, seed: 1 });
  const host = await readPrediction(p);
  disposePrediction(p);
  const w = await m.sampleWeights(2, 3);
  x.dispose();
  m.dispose();
  assert.equal(host.task, "classification");
  return { lp: host.task === "classification" ? host.logProbs : null, w };
}

Deno.test(`${BACKEND}: GLM probit predictions match wasm; Monte Carlo and sampled predictions run`, async () => {
  const glm: KfacLaplaceSettings = { predictive: "glm", ggnTol: 0, priorPrecision: 2 };
  const st = await trainedState(glm);
  const cpu = await predictOn("wasm", st, glm, 1);
  const gpu = await predictOn(BACKEND, st, glm, 1);
  assert.deepEqual(gpu.lp!.shape, [1, 30, 4]);
  assert.ok(
    relDiff(gpu.lp!.data, cpu.lp!.data) < 1e-4,
    `probit ${relDiff(gpu.lp!.data, cpu.lp!.data)}`,
  );
  for (const settings of [{ ...glm, link: "mc" as const }, { ggnTol: 0, priorPrecision: 2 }]) {
    const r = await predictOn(BACKEND, st, settings, 6);
    assert.deepEqual(r.lp!.shape, [6, 30, 4]);
    assert.ok(r.lp!.data.every(Number.isFinite));
    assert.ok(
      relDiff(r.lp!.data.subarray(0, 120), r.lp!.data.subarray(120, 240)) > 1e-4,
      "samples differ",
    );
    assert.equal(r.w.length, 2);
    assert.ok(relDiff(r.w[0]["l1.w"], r.w[1]["l1.w"]) > 1e-4);
  }
});
