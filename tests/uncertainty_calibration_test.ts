import assert from "node:assert/strict";
import { Rng } from "../core/rng.ts";
import { expectedCalibrationError } from "../uncertainty/mod.ts";

/** N examples, C classes: probabilities softmax(T · z) with z ~ N(0, 2²), and labels drawn from softmax(z). */
function draw(rng: Rng, N: number, C: number, temperature: number) {
  const probs = new Float64Array(N * C);
  const labels = new Int32Array(N);
  const z = new Float64Array(C);
  const q = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) z[c] = 2 * rng.normal();
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, z[c]);
    let sq = 0, sp = 0;
    for (let c = 0; c < C; c++) {
      q[c] = Math.exp(z[c] - m);
      sq += q[c];
      probs[n * C + c] = Math.exp(temperature * (z[c] - m));
      sp += probs[n * C + c];
    }
    for (let c = 0; c < C; c++) probs[n * C + c] /= sp;
    // label ~ softmax(z)
    let u = rng.uniform() * sq;
    let y = C - 1;
    for (let c = 0; c < C; c++) {
      u -= q[c];
      if (u < 0) {
        y = c;
        break;
      }
    }
    labels[n] = y;
  }
  return { probs, labels };
}

Deno.test("ECE of predictions drawn from their own probabilities is near 0", () => {
  const N = 100_000, C = 4;
  const { probs, labels } = draw(new Rng(11), N, C, 1);
  const r = expectedCalibrationError({ data: probs, shape: [1, N, C] }, labels, {
    logProbs: false,
  });
  console.log(`calibrated ECE = ${r.ece.toFixed(4)}`);
  assert.ok(r.ece < 0.01, `ECE ${r.ece}`);
  assert.equal(r.bins.length, 15);
  assert.equal(r.bins.reduce((a, b) => a + b.count, 0), N);
  // top-label confidence is ≥ 1/C, so the lowest bins are empty
  assert.equal(r.bins[0].count, 0);
  assert.ok(Number.isNaN(r.bins[0].accuracy));
  // ECE recomputed from the reliability data
  let ece = 0;
  for (const b of r.bins) {
    if (b.count > 0) {
      ece += (b.count / N) * Math.abs(b.accuracy - b.meanConfidence);
      assert.ok(b.meanConfidence > b.lower && b.meanConfidence <= b.upper);
    }
  }
  assert.ok(Math.abs(ece - r.ece) < 1e-12);
});

Deno.test("ECE of an overconfident predictor is clearly > 0", () => {
  const N = 20_000, C = 4;
  // predictions sharpened (temperature 3) relative to the label distribution
  const { probs, labels } = draw(new Rng(12), N, C, 3);
  const logp = probs.map(Math.log);
  const r = expectedCalibrationError({ data: logp, shape: [1, N, C] }, labels);
  console.log(`overconfident ECE = ${r.ece.toFixed(4)}`);
  assert.ok(r.ece > 0.05, `ECE ${r.ece}`);
  // overconfident: accuracy below confidence in the populated high bins
  const top = r.bins[14];
  assert.ok(top.count > 0 && top.accuracy < top.meanConfidence);
});

Deno.test("ECE on a hand example, and custom bin count", () => {
  // confidences 0.9 (correct) and 0.7 (wrong): ECE = ½|1 − 0.9| + ½|0 − 0.7| = 0.4
  const pred = { data: [0.9, 0.1, 0.3, 0.7], shape: [1, 2, 2] };
  const r = expectedCalibrationError(pred, [0, 0], { logProbs: false });
  assert.ok(Math.abs(r.ece - 0.4) < 1e-12, `${r.ece}`);
  assert.ok(Math.abs(r.mce - 0.7) < 1e-12);
  assert.equal(r.bins[13].count, 1); // 0.9 ∈ (13/15, 14/15]
  assert.equal(r.bins[10].count, 1); // 0.7 ∈ (10/15, 11/15]
  // both in one bin of width 1/2: ECE = |½ − 0.8| = 0.3
  const r2 = expectedCalibrationError(pred, [0, 0], { logProbs: false, bins: 2 });
  assert.ok(Math.abs(r2.ece - 0.3) < 1e-12);
  assert.throws(
    () => expectedCalibrationError(pred, [0, 0], { bins: 0 }),
    /bins must be a positive integer/,
  );
});
