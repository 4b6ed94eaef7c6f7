// The public API's conveniences: load(dir), laplaceFromMap, the streaming
// predictive summary against the host uncertainty functions, plain-array
// inputs, the tfjs pairing, and what the root entry point exports.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import * as api from "../mod.ts";
import {
  buildEnsemble,
  buildKfacLaplace,
  buildMap,
  buildMcDropout,
  classificationMetrics,
  classificationUncertainty,
  fit,
  gpToyData,
  initBackend,
  laplaceFromMap,
  load,
  type NetSpec,
  predictHost,
  predictSummary,
  regressionMetrics,
  regressionUncertainty,
  Rng,
  saveMethod,
  TFJS_VERSION,
  toInputs,
} from "../mod.ts";
import type { ArrayDataset } from "../datasets/types.ts";

await initBackend({ backend: "wasm", quiet: true });

const CLS: NetSpec = { inputDim: 2, hidden: [16], outputDim: 3, task: "classification" };

function blobs(n: number, seed: number): ArrayDataset {
  const r = new Rng(seed);
  const x = new Float32Array(2 * n), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 3;
    x[2 * i] = 2 * y[i] + 0.7 * r.normal();
    x[2 * i + 1] = -y[i] + 0.7 * r.normal();
  }
  return { x, y, n, xShape: [2], yShape: [], numClasses: 3 };
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) => {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) {
    assert.ok(
      Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(b[i])),
      `${what}[${i}]: ${a[i]} vs ${b[i]}`,
    );
  }
};

Deno.test("load(dir) restores any saved model in one call: the same predictions", async () => {
  const train = blobs(90, 1);
  const dir = await Deno.makeTempDir();
  const m = buildMcDropout(CLS, { optimizer: "adam", lr: 1e-2 });
  await fit(m, train, { epochs: 2, batchSize: 30, seed: 0, progress: false });
  await saveMethod(dir, m);
  const back = await load(dir);
  assert.equal(back.name, "mc_dropout");
  const a = await predictHost(m, train, { samples: 4, seed: 2 });
  const b = await predictHost(back, train, { samples: 4, seed: 2 });
  assert.deepEqual(a, b);
  await assert.rejects(() => load(`${dir}/nothing`), /cannot read/);
  m.dispose();
  back.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("laplaceFromMap equals building KFAC Laplace, loading the MAP state and fitting the curvature", async () => {
  const train = blobs(120, 2);
  const map = buildMap(CLS, { optimizer: "adam", lr: 1e-2, weightDecay: 1e-2 });
  await fit(map, train, { epochs: 3, batchSize: 30, seed: 1, progress: false });
  const before = (await map.getState()).tensors["l0.w"].data.slice();
  const lap = await laplaceFromMap(map, train, { samples: 10, priorPrecision: 10 });
  // The three steps it replaces.
  const manual = buildKfacLaplace(CLS, {
    optimizer: "adam",
    lr: 1e-2,
    weightDecay: 1e-2,
    samples: 10,
    priorPrecision: 10,
  });
  manual.init(0);
  const st = await map.getState();
  await manual.setState({ tensors: st.tensors, extra: { map: st.extra } });
  await manual.fitCurvature(train, { progress: false });
  assert.ok(lap.hasCurvature());
  assert.equal(lap.factors()!.n, 120);
  lap.factors()!.layers.forEach((l, i) => {
    assert.deepEqual(l.q, manual.factors()!.layers[i].q);
    assert.deepEqual(l.h, manual.factors()!.layers[i].h);
  });
  assert.deepEqual(
    await predictHost(lap, train, { samples: 10, seed: 3 }),
    await predictHost(manual, train, { samples: 10, seed: 3 }),
  );
  // The MAP network is untouched and still usable.
  assert.deepEqual((await map.getState()).tensors["l0.w"].data, before);
  // Tuning in the same call.
  const tuned = await laplaceFromMap(map, train, { tune: "marglik" });
  assert.notEqual(tuned.prior().priorPrecision, 1 / 0.15 ** 2);
  const byVal = await laplaceFromMap(map, train, { samples: 5 }, {
    tune: { method: "val", valid: blobs(60, 3), priorPrecisions: [1, 100] },
  });
  assert.ok([1, 100].includes(byVal.prior().priorPrecision));
  const mc = buildMcDropout(CLS);
  mc.init(0);
  await assert.rejects(() => laplaceFromMap(mc, train), /needs a trained MAP network/);
  await assert.rejects(
    () => laplaceFromMap(map, train, { optimizer: "sgd" }),
    /trained with optimizer "adam"/,
  );
  for (const x of [map, lap, manual, tuned, byVal, mc]) x.dispose();
});

Deno.test("predictSummary (row chunks reduced on the device) equals the host uncertainty functions", async () => {
  const train = blobs(90, 4), test = blobs(50, 5);
  const ens = buildEnsemble(CLS, { nNets: 3, optimizer: "adam", lr: 1e-2 });
  await fit(ens, train, { epochs: 2, batchSize: 30, seed: 0, progress: false });
  const host = await predictHost(ens, test);
  assert.equal(host.task, "classification");
  if (host.task !== "classification") return;
  const want = classificationUncertainty(host.logProbs);
  const wantM = classificationMetrics(host.logProbs, test.y);
  const n0 = tf.memory().numTensors;
  for (const rows of [undefined, 7]) {
    const s = await predictSummary(ens, test, { targets: test.y, rows });
    assert.equal(s.task, "classification");
    if (s.task !== "classification") return;
    assert.equal(s.s, 3);
    close(s.probs, want.probs, 1e-5, "probs");
    close(s.total, want.total, 1e-5, "total");
    close(s.aleatoric, want.aleatoric, 1e-5, "aleatoric");
    close(s.epistemic, want.epistemic, 1e-4, "epistemic");
    assert.equal(s.metrics!.errorPct, wantM.errorPct);
    close([s.metrics!.logLikSum, s.metrics!.brier], [wantM.logLikSum, wantM.brier], 1e-5, "ll");
  }
  assert.equal(tf.memory().numTensors, n0, "no tensors left behind");
  ens.dispose();
});

Deno.test("predictSummary for regression: mean, variance split and mixture log-likelihood in original units", async () => {
  const data = gpToyData({ kind: "hetero", seed: 0, n: 80, gridSize: 10 });
  const m = buildMcDropout({ inputDim: 1, hidden: [16], outputDim: 1, task: "regression" }, {
    optimizer: "adam",
    lr: 1e-2,
  });
  await fit(m, data.train, { epochs: 3, batchSize: 40, seed: 0, progress: false });
  const scale = { yMean: 1.5, yStd: 2 };
  const host = await predictHost(m, data.x, { samples: 8, seed: 1 });
  if (host.task !== "regression") throw new Error("expected regression");
  const want = regressionUncertainty(host.mean, host.logSigma, scale);
  const targets = Array.from(data.y, (v) => 1.5 + 2 * v);
  const wantM = regressionMetrics(host.mean, host.logSigma, targets, scale);
  // One chunk: the same dropout masks as one predict call.
  const s = await predictSummary(m, data.x, { samples: 8, seed: 1, targets, ...scale });
  if (s.task !== "regression") throw new Error("expected regression");
  close(s.mean, want.mean, 1e-5, "mean");
  close(s.aleatoricVar, want.aleatoricVar, 1e-5, "aleatoric");
  close(s.epistemicVar, want.epistemicVar, 1e-4, "epistemic");
  close(
    [s.metrics!.logLikSum, s.metrics!.rmse, s.metrics!.totalVarMean],
    [wantM.logLikSum, wantM.rmse, wantM.totalVarMean],
    1e-5,
    "metrics",
  );
  m.dispose();
});

Deno.test("plain arrays are accepted where inputs are: rows, flat arrays, { data, shape }, datasets, tensors", () => {
  const forms = [
    [[1, 2], [3, 4], [5, 6]],
    new Float64Array([1, 2, 3, 4, 5, 6]),
    [1, 2, 3, 4, 5, 6],
    { data: new Float32Array([1, 2, 3, 4, 5, 6]), shape: [3, 2] },
    {
      x: new Float32Array([1, 2, 3, 4, 5, 6]),
      y: new Int32Array(3),
      n: 3,
      xShape: [2],
      yShape: [],
    },
    tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]),
  ];
  for (const f of forms) {
    const x = toInputs(f, 2);
    assert.deepEqual(x.shape, [3, 2]);
    assert.equal(x.dtype, "float32");
    assert.deepEqual(Array.from(x.dataSync()), [1, 2, 3, 4, 5, 6]);
    x.dispose();
  }
  const one = toInputs(tf.tensor1d([1, 2, 3]), 1);
  assert.deepEqual(one.shape, [3, 1]);
  one.dispose();
  assert.throws(() => toInputs([[1, 2], [3]], 2), /row 1 has 1 values, the network expects 2/);
  assert.throws(() => toInputs([1, 2, 3], 2), /3 values, not a multiple of the network's 2/);
  assert.throws(() => toInputs({ data: [1, 2], shape: [1, 2] }, 3), /does not fit/);
  assert.throws(() => toInputs(tf.zeros([2, 5]), 2), /shape \[2,5\] does not fit/);
});

Deno.test("the tfjs version to pair with is the one in deno.json and the one running", async () => {
  const cfg = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assert.equal(cfg.imports["@tensorflow/tfjs"], `npm:@tensorflow/tfjs@${TFJS_VERSION}`);
  assert.equal(tf.version.tfjs, TFJS_VERSION);
  assert.equal(api.tf, tf, "the re-exported tf is the same module");
});

Deno.test("the root entry point exports the public API, not internals", () => {
  const names = Object.keys(api);
  for (
    const internal of [
      "softplusFast",
      "sgemm",
      "heapValues",
      "parseFlags",
      "TABLE_LO",
      "getEngine",
      "defineKernel",
      "Layout",
      "predictBatched",
      "buildPointNet",
      "stripUndefined",
      "sgldKernel",
      "ClipWindow",
      "localForward",
      "rebatchRows",
    ]
  ) assert.ok(!names.includes(internal), `${internal} is exported`);
  for (
    const pub of [
      "initBackend",
      "fit",
      "evaluate",
      "load",
      "saveMethod",
      "predictSummary",
      "laplaceFromMap",
      "METHODS",
      "buildMap",
      "buildMcDropout",
      "buildEnsemble",
      "buildKfacLaplace",
      "buildBbb",
      "buildSgld",
      "buildPsgld",
      "buildSghmc",
      "MAP_DEFAULTS",
      "SGHMC_DEFAULTS",
      "gpToyData",
      "loadMnist",
      "classificationMetrics",
      "regressionMetrics",
      "tf",
    ]
  ) assert.ok(names.includes(pub), `${pub} is missing`);
  assert.ok(names.length < 150, `${names.length} runtime exports`);
});
