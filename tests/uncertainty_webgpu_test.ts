// Own file: switches the tfjs engine to webgpu. The uncertainty functions never read a GPU
// tensor synchronously: they refuse it with one TypeError naming the fix, and give the same
// numbers on the host arrays `readPrediction` returns as on the CPU path.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../core/backend.ts";
import { readPrediction } from "../core/evaluate.ts";
import { Rng } from "../core/rng.ts";
import {
  classificationMetrics,
  classificationUncertainty,
  regressionMetrics,
  regressionUncertainty,
} from "../uncertainty/mod.ts";

const REFUSED = /on the webgpu backend.*await readPrediction\(pred\)/;

function randomLogProbs(rng: Rng, S: number, N: number, C: number): Float32Array {
  const out = new Float32Array(S * N * C);
  for (let r = 0; r < S * N; r++) {
    const z = Array.from({ length: C }, () => 2 * rng.normal());
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
    for (let c = 0; c < C; c++) out[r * C + c] = z[c] - lse;
  }
  return out;
}

Deno.test("uncertainty: webgpu tensors are refused with a TypeError naming readPrediction", async () => {
  await initBackend({ backend: "webgpu", quiet: true });
  const rng = new Rng(3);
  const S = 3, N = 8, C = 4;
  const lp = randomLogProbs(rng, S, N, C);
  const labels = Int32Array.from({ length: N }, () => rng.int(C));
  const t = tf.tensor3d(lp, [S, N, C]);
  const y = tf.tensor1d(labels, "int32");
  try {
    for (
      const f of [
        () => classificationUncertainty(t),
        () => classificationMetrics(t, labels),
        () => classificationMetrics({ data: lp, shape: [S, N, C] }, y),
      ]
    ) {
      assert.throws(f, (e: Error) => e instanceof TypeError && REFUSED.test(e.message));
    }
    const mu = tf.zeros([S, N, 1]), ls = tf.zeros([S, N, 1]);
    assert.throws(() => regressionUncertainty(mu, ls), TypeError);
    assert.throws(() => regressionMetrics(mu, 0, new Float32Array(N)), REFUSED);
    tf.dispose([mu, ls]);

    // The async route: same numbers as computing on the host arrays directly.
    const host = await readPrediction({ task: "classification", logProbs: t });
    assert.equal(host.task, "classification");
    if (host.task !== "classification") return;
    assert.deepEqual(host.logProbs.shape, [S, N, C]);
    const a = classificationMetrics(host.logProbs, labels);
    const b = classificationMetrics({ data: lp, shape: [S, N, C] }, labels);
    for (const k of Object.keys(a) as (keyof typeof a)[]) {
      assert.ok(Math.abs(a[k] - b[k]) < 1e-5, `${k}: ${a[k]} vs ${b[k]}`);
    }
  } finally {
    tf.dispose([t, y]);
  }
});
