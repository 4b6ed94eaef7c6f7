import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../core/rng.ts";
import {
  brierScore,
  classificationMetrics,
  classificationUncertainty,
  errorPercent,
  logLikelihood,
  predictiveDistribution,
} from "../uncertainty/mod.ts";

function close(a: number, b: number, tol = 1e-9, msg = ""): void {
  assert.ok(Math.abs(a - b) <= tol, `${msg} expected ${b}, found ${a} (tol ${tol})`);
}

/** Random [S, N, C] log-probabilities (log-softmax of N(0, scale²) logits). */
function randomLogProbs(rng: Rng, S: number, N: number, C: number, scale = 2): Float32Array {
  const out = rng.normalArray(S * N * C, 0, scale);
  for (let r = 0; r < S * N; r++) {
    const o = r * C;
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, out[o + c]);
    let z = 0;
    for (let c = 0; c < C; c++) z += Math.exp(out[o + c] - m);
    const lz = m + Math.log(z);
    for (let c = 0; c < C; c++) out[o + c] -= lz;
  }
  return out;
}

Deno.test("identical samples have zero epistemic uncertainty", () => {
  const rng = new Rng(1);
  const one = randomLogProbs(rng, 1, 20, 5);
  const S = 7;
  const data = new Float32Array(S * one.length);
  for (let s = 0; s < S; s++) data.set(one, s * one.length);
  const u = classificationUncertainty({ data, shape: [S, 20, 5] });
  for (let n = 0; n < 20; n++) {
    close(u.epistemic[n], 0, 1e-6, `epistemic[${n}]`);
    close(u.total[n], u.aleatoric[n], 1e-6, `total vs aleatoric [${n}]`);
    assert.ok(u.total[n] > 0.01, "these random predictions are not one-hot");
  }
  // the predictive equals the single sample
  for (let i = 0; i < one.length; i++) close(u.logProbs[i], one[i], 1e-6);
});

Deno.test("one-hot samples have zero aleatoric uncertainty; disagreement is epistemic", () => {
  // S = 3, N = 2, C = 3; example 0: samples say class 0, 1, 2; example 1: all say class 2.
  const p = [
    [[1, 0, 0], [0, 0, 1]],
    [[0, 1, 0], [0, 0, 1]],
    [[0, 0, 1], [0, 0, 1]],
  ];
  const u = classificationUncertainty({ data: p.flat(2), shape: [3, 2, 3] }, { logProbs: false });
  close(u.aleatoric[0], 0);
  close(u.aleatoric[1], 0);
  close(u.total[0], Math.log(3), 1e-12);
  close(u.epistemic[0], Math.log(3), 1e-12);
  close(u.total[1], 0);
  close(u.epistemic[1], 0);
  // same result from log-probabilities containing -Infinity
  const lp = p.flat(2).map(Math.log);
  const v = classificationUncertainty({ data: lp, shape: [3, 2, 3] });
  close(v.aleatoric[0], 0);
  close(v.epistemic[0], Math.log(3), 1e-12);
  assert.equal(v.logProbs[0 * 3 + 0], Math.log(1 / 3));
  assert.equal(v.logProbs[1 * 3 + 0], -Infinity);
});

Deno.test("uniform predictions have total entropy log C, all aleatoric", () => {
  for (const C of [2, 10, 100]) {
    const S = 4, N = 3;
    const data = new Float32Array(S * N * C).fill(-Math.log(C));
    const u = classificationUncertainty({ data, shape: [S, N, C] });
    for (let n = 0; n < N; n++) {
      close(u.total[n], Math.log(C), 1e-5, `C=${C} total`);
      close(u.aleatoric[n], Math.log(C), 1e-5, `C=${C} aleatoric`);
      close(u.epistemic[n], 0, 1e-6, `C=${C} epistemic`);
    }
    close(u.totalMean, Math.log(C), 1e-5);
  }
});

Deno.test("two-sample case worked by hand", () => {
  // One example, C = 2, two posterior samples:
  //   p_1 = (0.9, 0.1), p_2 = (0.5, 0.5)  →  p̄ = (0.7, 0.3)
  // total     H[p̄]  = −(0.7 ln 0.7 + 0.3 ln 0.3) = 0.7·0.356675 + 0.3·1.203973 = 0.610864
  // H[p_1]          = −(0.9 ln 0.9 + 0.1 ln 0.1) = 0.9·0.105361 + 0.1·2.302585 = 0.325083
  // H[p_2]          = ln 2                                                     = 0.693147
  // aleatoric       = (0.325083 + 0.693147) / 2                                = 0.509115
  // epistemic       = 0.610864 − 0.509115                                      = 0.101749
  // with label 0: log-lik = ln 0.7 = −0.356675; Brier = 0.3² + 0.3² = 0.18; no error.
  const probs = [0.9, 0.1, 0.5, 0.5];
  for (const logProbs of [false, true]) {
    const data = logProbs ? probs.map(Math.log) : probs;
    const u = classificationUncertainty({ data, shape: [2, 1, 2] }, { logProbs });
    close(u.probs[0], 0.7, 1e-12);
    close(u.probs[1], 0.3, 1e-12);
    close(u.total[0], 0.610864, 1e-6);
    close(u.aleatoric[0], 0.509115, 1e-6);
    close(u.epistemic[0], 0.101749, 1e-6);
    close(u.epistemicMean, 0.101749, 1e-6);
    const m = classificationMetrics(u, [0]);
    close(m.logLikSum, -0.356675, 1e-6);
    close(m.brier, 0.18, 1e-12);
    assert.equal(m.errorPct, 0);
    assert.equal(m.n, 1);
  }
});

Deno.test("log-probability and probability inputs agree; tensor and array inputs agree", async () => {
  await tf.setBackend("cpu");
  const rng = new Rng(7);
  const S = 5, N = 40, C = 4;
  const lp = randomLogProbs(rng, S, N, C);
  const p = lp.map(Math.exp);
  const a = classificationUncertainty({ data: lp, shape: [S, N, C] });
  const b = classificationUncertainty({ data: p, shape: [S, N, C] }, { logProbs: false });
  const t = tf.tensor3d(lp, [S, N, C]);
  const c = classificationUncertainty(t);
  t.dispose();
  for (let i = 0; i < N * C; i++) {
    close(a.logProbs[i], b.logProbs[i], 1e-5);
    assert.equal(a.logProbs[i], c.logProbs[i]);
  }
  for (let n = 0; n < N; n++) {
    close(a.total[n], b.total[n], 1e-5);
    close(a.aleatoric[n], b.aleatoric[n], 1e-5);
    close(a.epistemic[n], b.epistemic[n], 1e-5);
    assert.ok(a.epistemic[n] >= 0);
  }
  const labels = Int32Array.from({ length: N }, () => rng.int(C));
  const ma = classificationMetrics({ data: lp, shape: [S, N, C] }, labels);
  const mb = classificationMetrics({ data: p, shape: [S, N, C] }, labels, { logProbs: false });
  for (const k of Object.keys(ma) as (keyof typeof ma)[]) close(ma[k], mb[k], 1e-5, k);
  // the convenience function agrees with the single-purpose ones
  close(ma.logLikSum, logLikelihood(a, labels).sum, 1e-12);
  close(ma.logLikMean, ma.logLikSum / N, 1e-12);
  close(ma.brier, brierScore(a, labels), 1e-12);
  assert.equal(ma.errorPct, errorPercent(a, labels));
});

Deno.test("log-sum-exp keeps very small probabilities finite", () => {
  // class 1 has log-prob −1000 and −1200 in the two samples: p̄ = (e^−1000 + e^−1200)/2
  const eps = Math.log1p(-Math.exp(-1000)); // ≈ 0
  const data = new Float64Array([eps, -1000, 0, -1200]);
  const pd = predictiveDistribution({ data, shape: [2, 1, 2] });
  close(pd.logProbs[1], -1000 - Math.log(2), 1e-9);
  const ll = logLikelihood(pd, [1]);
  close(ll.sum, -1000 - Math.log(2), 1e-9);
});

Deno.test("error, log-likelihood and Brier on a small hand example", () => {
  // S = 1; rows (0.2, 0.8) label 1 ✓, (0.6, 0.4) label 1 ✗, (0.5, 0.5) label 0 ✓ (first arg-max)
  const pred = { data: [0.2, 0.8, 0.6, 0.4, 0.5, 0.5], shape: [1, 3, 2] };
  const labels = [1, 1, 0];
  close(errorPercent(pred, labels, { logProbs: false }), 100 / 3, 1e-12);
  const ll = logLikelihood(pred, labels, { logProbs: false });
  close(ll.sum, Math.log(0.8) + Math.log(0.4) + Math.log(0.5), 1e-12);
  close(ll.mean, ll.sum / 3, 1e-12);
  const brier = (0.04 + 0.04 + 0.36 + 0.36 + 0.25 + 0.25) / 3;
  close(brierScore(pred, labels, { logProbs: false }), brier, 1e-12);
});

Deno.test("shape and label errors name expected vs found", async () => {
  await tf.setBackend("cpu");
  const pred = { data: new Float32Array(2 * 3 * 4).fill(-Math.log(4)), shape: [2, 3, 4] };
  // wrong N
  assert.throws(
    () => classificationMetrics(pred, [0, 1]),
    (e: Error) =>
      e instanceof RangeError && /expected 3 values/.test(e.message) && /found 2/.test(e.message),
  );
  // wrong rank of predictions
  assert.throws(
    () => classificationUncertainty({ data: new Float32Array(12), shape: [3, 4] }),
    /expected rank 3 with shape \[S, N, C\], found rank 2 with shape \[3, 4\]/,
  );
  const t2 = tf.zeros([3, 4]);
  assert.throws(() => classificationUncertainty(t2), /found rank 2 with shape \[3, 4\]/);
  t2.dispose();
  // wrong rank of labels
  const oneHot = tf.oneHot([0, 1, 2], 4);
  assert.throws(
    () => classificationMetrics(pred, oneHot),
    /labels: expected shape \[3\] \(or \[3, 1\]\), found rank 2 with shape \[3, 4\]/,
  );
  oneHot.dispose();
  // label >= C
  assert.throws(
    () => errorPercent(pred, [0, 4, 1]),
    /labels\[1\] = 4 is out of range: predictions have C = 4 classes, so labels must be in \[0, 3\]/,
  );
  assert.throws(() => errorPercent(pred, [0, -1, 1]), /labels\[1\] = -1 is out of range/);
  // non-integer label
  assert.throws(() => errorPercent(pred, [0, 1.5, 1]), /labels\[1\] = 1.5 is not an integer/);
  // data length vs shape
  assert.throws(
    () => classificationUncertainty({ data: new Float32Array(10), shape: [2, 3, 4] }),
    /data length 10 does not match shape \[2, 3, 4\] \(expected 24 values\)/,
  );
  // probabilities passed as log-probabilities
  assert.throws(
    () => classificationUncertainty({ data: [0.2, 0.8], shape: [1, 1, 2] }),
    /not a normalised distribution.*logProbs: false/,
  );
  // NaN
  assert.throws(
    () => classificationUncertainty({ data: [NaN, 0], shape: [1, 1, 2] }),
    /invalid value at \[0, 0, 0\] = NaN/,
  );
  assert.throws(
    () => classificationUncertainty({ data: [-0.1, 1.1], shape: [1, 1, 2] }, { logProbs: false }),
    /invalid value at \[0, 0, 0\] = -0.1/,
  );
});

Deno.test("speed: S=100, N=10000, C=10 log-probabilities", () => {
  const rng = new Rng(3);
  const S = 100, N = 10_000, C = 10;
  // build cheaply: 8 distinct normalised blocks repeated over samples
  const block = randomLogProbs(rng, 8, N, C);
  const data = new Float32Array(S * N * C);
  for (let s = 0; s < S; s++) {
    data.set(block.subarray((s % 8) * N * C, (s % 8 + 1) * N * C), s * N * C);
  }
  const labels = Int32Array.from({ length: N }, () => rng.int(C));
  classificationUncertainty({ data: data.subarray(0, 2 * N * C), shape: [2, N, C] }); // warm-up
  const t0 = performance.now();
  const m = classificationMetrics({ data, shape: [S, N, C] }, labels);
  const ms = performance.now() - t0;
  console.log(`classificationMetrics on [${S}, ${N}, ${C}]: ${ms.toFixed(0)} ms`);
  assert.equal(m.n, N);
  assert.ok(m.epistemicMean > 0);
  assert.ok(ms < 3000, `too slow: ${ms} ms`);
});
