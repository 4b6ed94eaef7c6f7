// Bootstrap ensemble on the WebGPU engine (Mesa's llvmpipe in CI): prediction with the
// members' weights stacked into one batched pass equals each member's own prediction
// (classification and homoscedastic regression, whose log σ is stacked too); worker
// training, which is CPU only, is refused with one clear line (API and training script).
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../core/backend.ts";
import type { ArrayDataset } from "../core/data.ts";
import { getEngine } from "../core/engine/current.ts";
import { disposePrediction } from "../core/likelihood.ts";
import type { NetSpec, Prediction } from "../core/method.ts";
import { Rng } from "../core/rng.ts";
import { fit } from "../core/train.ts";
import { buildEnsemble } from "../methods/ensemble.ts";
import { trainEnsembleParallel } from "../methods/ensemble_parallel.ts";
import { runScript } from "./_run_script.ts";

function toyData(n: number, d: number, seed: number, regression: boolean): ArrayDataset {
  const rng = new Rng(seed);
  const x = rng.normalArray(n * d);
  if (regression) {
    const y = Float32Array.from({ length: n }, (_, i) => Math.sin(2 * x[i * d]));
    return { x, y, n, xShape: [d], yShape: [1] };
  }
  const y = Int32Array.from(
    { length: n },
    (_, i) => (x[i * d] > 0 ? 1 : 0) + (x[i * d + 1] > 0.5 ? 1 : 0),
  );
  return { x, y, n, xShape: [d], yShape: [], numClasses: 3 };
}

/** The prediction's tensors as host arrays (asynchronous reads); disposes it. */
async function hostOf(p: Prediction): Promise<Float32Array[]> {
  const ts = p.task === "classification" ? [p.logProbs] : [p.mean, p.logSigma];
  const out = await Promise.all(ts.map((t) => getEngine().read(t)));
  disposePrediction(p);
  return out;
}

const SPECS: [string, NetSpec][] = [
  ["classification", { inputDim: 6, hidden: [16], outputDim: 3, task: "classification" }],
  ["homoscedastic regression", {
    inputDim: 1,
    hidden: [16],
    outputDim: 1,
    task: "regression",
    noise: "homoscedastic",
  }],
];

for (const [what, spec] of SPECS) {
  Deno.test(`webgpu: ensemble predict in one stacked pass equals the members' own (${what})`, async () => {
    await initBackend({ backend: "webgpu", quiet: true });
    assert.equal(getEngine().kind, "webgpu");
    const train = toyData(64, spec.inputDim, 1, spec.task === "regression");
    const m = buildEnsemble(spec, { nNets: 3, optimizer: "adam", lr: 1e-2 });
    await fit(m, train, { epochs: 1, batchSize: 32, seed: 0, progress: false });
    const x = tf.tensor2d(train.x.subarray(0, 20 * spec.inputDim), [20, spec.inputDim]);
    // The members fit one pass on the GPU: a single chunk of 3 samples.
    assert.equal(getEngine().samplesPerPass(3, 1000), 3);
    const all = await hostOf(m.predict(x));
    const own = await Promise.all(m.members().map((mem) => hostOf(mem.predict(x))));
    for (let t = 0; t < all.length; t++) {
      const per = all[t].length / 3;
      own.forEach((o, j) => {
        const part = all[t].subarray(j * per, (j + 1) * per);
        assert.equal(o[t].length, per);
        for (let i = 0; i < per; i++) {
          assert.ok(
            Math.abs(part[i] - o[t][i]) <= 1e-5 * Math.max(1, Math.abs(o[t][i])),
            `member ${j}, tensor ${t}, value ${i}: ${part[i]} vs ${o[t][i]}`,
          );
        }
      });
    }
    // Members differ, so the stacked pass did not repeat one member's weights.
    assert.notDeepEqual(own[0][0], own[1][0]);
    x.dispose();
    m.dispose();
  });
}

Deno.test("webgpu: ensemble workers are refused with one clear error (CPU engine only)", async () => {
  await initBackend({ backend: "webgpu", quiet: true });
  const spec = SPECS[0][1];
  const m = buildEnsemble(spec, { nNets: 2 });
  await assert.rejects(
    () =>
      trainEnsembleParallel(m, toyData(64, 6, 1, false), {
        epochs: 1,
        batchSize: 32,
        seed: 0,
        workers: 2,
      }),
    (e: Error) => {
      assert.equal(e.name, "BackendError");
      assert.match(e.message, /ensemble workers run on the CPU engine only/);
      assert.match(e.message, /webgpu engine/);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    },
  );
  m.dispose();
});

const DATA = Deno.env.get("BNN_DATA_DIR");

Deno.test({
  name: "train_bootstrap_ensemble_mnist.ts --backend webgpu --workers 2: one error line, exit 2",
  ignore: !DATA,
  async fn() {
    const dir = await Deno.makeTempDir();
    const r = await runScript("experiments/train_bootstrap_ensemble_mnist.ts", [
      "--backend=webgpu",
      "--workers=2",
      "--n_nets=2",
      "--epochs=1",
      "--limit=200",
      "--test_limit=50",
      `--models_dir=${dir}/m`,
      `--results_dir=${dir}/r`,
    ], { BNN_DATA_DIR: DATA! });
    assert.equal(r.code, 2, r.stderr);
    // (Mesa prints its own "error: XDG_RUNTIME_DIR …" lines on some machines.)
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("error") && !/XDG/.test(l));
    assert.equal(errors.length, 1, r.stderr);
    assert.match(errors[0], /^error: ensemble workers run on the CPU engine only/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    await Deno.remove(dir, { recursive: true });
  },
});
