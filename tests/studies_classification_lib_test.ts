// Unit tests of the classification studies' shared helpers (no data needed):
// FGSM gradients (through predict and through sampled weights), perturbation
// clipping, rotation fill on the wasm backend, re-normalisation, tables.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../core/backend.ts";
import type { Method, Prediction } from "../core/method.ts";
import type { ImageDataset } from "../datasets/mnist.ts";
import { buildMap } from "../methods/map.ts";
import { buildMcDropout } from "../methods/mc_dropout.ts";
import {
  evaluateClassifier,
  formatTable,
  normalizeWith,
  rotateWithBackground,
} from "../experiments/lib/classification_study_eval.ts";
import { fgsmDirection, fgsmPerturb } from "../experiments/lib/classification_study_fgsm.ts";
import { Rng } from "../core/rng.ts";

await initBackend({ backend: "wasm", quiet: true });

const spec = { inputDim: 12, hidden: [16], outputDim: 3, task: "classification" as const };

function data(n: number, seed: number): { x: Float32Array; y: Int32Array } {
  const r = new Rng(seed);
  return {
    x: r.normalArray(n * spec.inputDim),
    y: Int32Array.from({ length: n }, () => r.int(3)),
  };
}

/** Predictive NLL summed over the rows, from `predict` with S samples. */
function nll(m: Method, x: Float32Array, y: Int32Array, samples: number, seed: number): number {
  const n = y.length;
  const xt = tf.tensor2d(x, [n, spec.inputDim]);
  const p = m.predict(xt, { samples, seed }) as Extract<Prediction, { task: "classification" }>;
  const lp = p.logProbs.arraySync();
  xt.dispose();
  p.logProbs.dispose();
  let s = 0;
  for (let i = 0; i < n; i++) {
    const vals = lp.map((sample) => Math.exp(sample[i][y[i]]));
    s -= Math.log(vals.reduce((a, b) => a + b, 0) / samples);
  }
  return s;
}

/** A method whose predict leaves the autodiff tape (reads x to the host). */
function nonDifferentiable(inner: Method): Method {
  return {
    ...inner,
    predict(x, opts) {
      const copy = tf.tensor2d(x.dataSync(), x.shape);
      try {
        return inner.predict(copy, opts);
      } finally {
        copy.dispose();
      }
    },
    sampleWeights: inner.sampleWeights?.bind(inner),
  };
}

Deno.test("fgsmDirection through predict: the sign step raises the predictive NLL", async () => {
  for (const m of [buildMap(spec), buildMcDropout(spec, { dropout: 0.3 })]) {
    m.init(1);
    const { x, y } = data(40, 2);
    const S = m.name === "map" ? 1 : 8;
    const before = tf.memory().numTensors;
    const d = await fgsmDirection(m, x, y, { samples: S, seed: 5, rowsPerChunk: 16 });
    assert.equal(tf.memory().numTensors, before, "no tensors leak");
    assert.equal(d.source, "predict");
    assert.equal(d.samples, S);
    assert.ok(d.sign.every((v) => v === -1 || v === 0 || v === 1));
    assert.ok(d.sign.filter((v) => v !== 0).length > x.length * 0.9, "mostly non-zero");
    // Same noise seed as the attack: a small step along the sign must raise the NLL,
    // a step against it must lower it.
    const eps = 1e-3;
    const up = x.map((v, i) => v + eps * d.sign[i]);
    const down = x.map((v, i) => v - eps * d.sign[i]);
    // The attack used seed 5 + row offset per 16-row chunk; evaluate with the same chunks.
    let base = 0, hi = 0, lo = 0;
    for (let s = 0; s < 40; s += 16) {
      const k = Math.min(16, 40 - s);
      const sl = (a: Float32Array) => a.subarray(s * 12, (s + k) * 12);
      const ys = y.subarray(s, s + k);
      base += nll(m, sl(x), ys, S, 5 + s);
      hi += nll(m, sl(up), ys, S, 5 + s);
      lo += nll(m, sl(down), ys, S, 5 + s);
    }
    assert.ok(hi > base && base > lo, `${m.name}: NLL ${lo} < ${base} < ${hi}`);
    m.dispose();
  }
});

Deno.test("fgsmDirection falls back to sampleWeights when predict is not differentiable", async () => {
  const map = buildMap(spec);
  map.init(3);
  const { x, y } = data(30, 4);
  const viaPredict = await fgsmDirection(map, x, y, { samples: 1, seed: 0 });
  const wrapped = nonDifferentiable(map);
  const viaWeights = await fgsmDirection(wrapped, x, y, { samples: 1, seed: 0 });
  assert.equal(viaWeights.source, "sampleWeights");
  // MAP has one weight set: both routes compute the same gradient.
  assert.deepEqual(Array.from(viaWeights.sign), Array.from(viaPredict.sign));
  // Without the hook there is no way to get a gradient: a clear error.
  const bare: Method = { ...wrapped, sampleWeights: undefined };
  await assert.rejects(
    () => fgsmDirection(bare, x, y, { samples: 1, seed: 0 }),
    /not differentiable in its inputs and the method has no sampleWeights hook/,
  );
  map.dispose();
});

Deno.test("fgsmDirection falls back to sampleWeights when tfjs gets the predict gradient wrong", async () => {
  const map = buildMap(spec);
  map.init(3);
  const { x, y } = data(30, 4);
  const viaPredict = await fgsmDirection(map, x, y, { samples: 1, seed: 0 });
  // A batch-broadcast matmul ([1, n, d] × [2, d, 1]) on x, as a forward over stacked weight
  // samples does: tfjs's BatchMatMul gradient comes back unreduced and throws.
  const broadcasting: Method = {
    ...map,
    predict(xx, opts) {
      const p = map.predict(xx, opts) as Extract<Prediction, { task: "classification" }>;
      const zero = tf.mul(tf.sum(tf.matMul(xx.expandDims(0), tf.ones([2, spec.inputDim, 1]))), 0);
      return { task: "classification", logProbs: tf.add(p.logProbs, zero) as tf.Tensor3D };
    },
    sampleWeights: map.sampleWeights.bind(map),
  };
  const d = await fgsmDirection(broadcasting, x, y, { samples: 1, seed: 0 });
  assert.equal(d.source, "sampleWeights");
  assert.deepEqual(Array.from(d.sign), Array.from(viaPredict.sign));
  map.dispose();
});

Deno.test("fgsmDirection sampleWeights route for MC dropout caps S and raises the NLL", async () => {
  const m = buildMcDropout(spec, { dropout: 0.2 });
  m.init(6);
  const { x, y } = data(20, 7);
  const d = await fgsmDirection(m, x, y, { samples: 50, seed: 1, forceSampleWeights: true });
  assert.equal(d.source, "sampleWeights");
  assert.equal(d.samples, 20, "capped at MAX_FALLBACK_SAMPLES");
  // Against a 200-sample predictive the step still raises the NLL (dropout p = 0.2).
  const up = x.map((v, i) => v + 0.01 * d.sign[i]);
  assert.ok(nll(m, up, y, 200, 9) > nll(m, x, y, 200, 9));
  m.dispose();
});

Deno.test("fgsmPerturb: ε in pixel units, clipped to the normalised [0, 1] range", () => {
  const norm = { mean: 0.1307, std: 0.3081 };
  const px = [0, 0.5, 0.98, 1];
  const x = Float32Array.from(px, (p) => (p - norm.mean) / norm.std);
  const out = fgsmPerturb(x, new Float32Array([1, -1, 1, 0]), 0.1, norm);
  const back = Array.from(out, (v) => v * norm.std + norm.mean);
  const want = [0.1, 0.4, 1, 1];
  back.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-5, `pixel ${i}: ${v}`));
  assert.throws(() => fgsmPerturb(x, new Float32Array(3), 0.1, norm), /4 inputs but 3 signs/);
  assert.throws(() => fgsmPerturb(x, x, -1, norm), /ε must be ≥ 0/);
});

Deno.test("rotateWithBackground fills rotated-in corners with the background (wasm)", async () => {
  const bg = -0.4242;
  const img = new Float32Array(784).fill(bg);
  for (let r = 10; r < 18; r++) for (let c = 10; c < 18; c++) img[r * 28 + c] = 2.8;
  const out = await rotateWithBackground(img, 1, 45, bg);
  for (const i of [0, 27, 27 * 28, 783]) assert.ok(Math.abs(out[i] - bg) < 1e-6, `corner ${i}`);
  // The square in the middle stays (rotation about the centre).
  assert.ok(Math.abs(out[14 * 28 + 14] - 2.8) < 1e-6);
  // Angle 0 is a copy.
  assert.deepEqual(await rotateWithBackground(img, 1, 0, bg), img);
});

Deno.test("normalizeWith re-normalises [0, 1] pixels with another set's statistics", () => {
  const raw: ImageDataset = {
    x: new Float32Array([0, 1, 0.5, 0.25]),
    y: new Int32Array([0, 1]),
    n: 2,
    xShape: [2],
    yShape: [],
    numClasses: 10,
    normalization: null,
    background: 0,
    classes: [],
  };
  const ds = normalizeWith(raw, { mean: 0.5, std: 0.25 });
  assert.deepEqual(Array.from(ds.x), [-2, 2, 0, -1]);
  assert.equal(ds.background, -2);
  assert.deepEqual(ds.normalization, { mean: 0.5, std: 0.25 });
  assert.throws(() => normalizeWith(ds, { mean: 0, std: 1 }), /normalised already/);
});

Deno.test("evaluateClassifier: one weight set has exactly zero epistemic entropy", async () => {
  const m = buildMap(spec);
  m.init(0);
  const { x, y } = data(25, 8);
  const ds = { x, y, n: 25, xShape: [12], yShape: [], numClasses: 3 } as unknown as ImageDataset;
  const before = tf.memory().numTensors;
  const { metrics, uncertainty } = await evaluateClassifier(m, ds, 1, 0);
  assert.equal(tf.memory().numTensors, before);
  assert.ok(uncertainty.epistemic.every((v) => v === 0));
  assert.equal(metrics.epistemicMean, 0);
  assert.deepEqual(uncertainty.aleatoric, uncertainty.total);
  assert.equal(metrics.n, 25);
  m.dispose();
});

Deno.test("formatTable aligns text and number columns", () => {
  const t = formatTable(["method", "set", "AUROC"], [["MAP", "Fashion", "0.9"]], 2);
  assert.equal(
    t.markdown,
    "| method | set | AUROC |\n| --- | --- | ---: |\n| MAP | Fashion | 0.9 |\n",
  );
  assert.equal(t.text.split("\n")[2], "MAP     Fashion    0.9");
});
