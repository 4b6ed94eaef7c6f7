import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../core/rng.ts";
import {
  gaussianMixtureLogLikelihood,
  regressionMetrics,
  regressionUncertainty,
} from "../uncertainty/mod.ts";

function close(a: number, b: number, tol = 1e-10, msg = ""): void {
  assert.ok(Math.abs(a - b) <= tol, `${msg} expected ${b}, found ${a}`);
}

/** N(y; m, s²) density. */
function pdf(y: number, m: number, s: number): number {
  return Math.exp(-0.5 * ((y - m) / s) ** 2) / (s * Math.sqrt(2 * Math.PI));
}

Deno.test("variance decomposition by hand", () => {
  // S = 2 samples, one example: μ = 0 and 2, σ = 1 in both
  // mean = 1, aleatoric E[σ²] = 1, epistemic Var[μ] = ((0−1)² + (2−1)²)/2 = 1, total = 2
  const mu = { data: [0, 2], shape: [2, 1, 1] };
  const ls = { data: [0, 0], shape: [2, 1, 1] };
  const u = regressionUncertainty(mu, ls);
  close(u.mean[0], 1);
  close(u.aleatoricVar[0], 1);
  close(u.epistemicVar[0], 1);
  close(u.totalVar[0], 2);
  // in original units with yMean = 10, yStd = 3: mean 13, variances × 9
  const v = regressionUncertainty(mu, ls, { yMean: 10, yStd: 3 });
  close(v.mean[0], 13);
  close(v.aleatoricVar[0], 9);
  close(v.epistemicVar[0], 9);
  close(v.totalVarMean, 18);
  // different σ per sample: σ = e^0 and e^{ln 2} → E[σ²] = (1 + 4)/2
  const w = regressionUncertainty(mu, { data: [0, Math.log(2)], shape: [2, 1] });
  close(w.aleatoricVar[0], 2.5, 1e-12);
  // a scalar log σ equals a constant array
  const c1 = regressionUncertainty(mu, -0.7);
  const c2 = regressionUncertainty(mu, { data: [-0.7, -0.7], shape: [2, 1, 1] });
  close(c1.aleatoricVar[0], c2.aleatoricVar[0], 1e-15);
});

Deno.test("Gaussian-mixture log-likelihood equals a direct computation, with the yStd correction", () => {
  const rng = new Rng(4);
  const S = 3, N = 5;
  const mu = rng.normalArray(S * N);
  const logSigma = rng.normalArray(S * N, -0.5, 0.3);
  const yMean = 7, yStd = 2.5;
  const y = Array.from({ length: N }, () => yMean + yStd * rng.normal());
  const ll = gaussianMixtureLogLikelihood(
    { data: mu, shape: [S, N, 1] },
    { data: logSigma, shape: [S, N, 1] },
    y,
    { yMean, yStd },
  );
  let sum = 0;
  for (let n = 0; n < N; n++) {
    // direct: the mixture density in original units, components N(yMean + yStd μ, (yStd σ)²)
    let p = 0;
    for (let s = 0; s < S; s++) {
      const i = s * N + n;
      p += pdf(y[n], yMean + yStd * mu[i], yStd * Math.exp(logSigma[i])) / S;
    }
    close(ll.perExample[n], Math.log(p), 1e-9, `example ${n}`);
    sum += Math.log(p);
  }
  close(ll.sum, sum, 1e-9);
  close(ll.mean, sum / N, 1e-9);
  // standardised targets give the same answer
  const z = y.map((v) => (v - yMean) / yStd);
  const llz = gaussianMixtureLogLikelihood(
    { data: mu, shape: [S, N, 1] },
    { data: logSigma, shape: [S, N, 1] },
    z,
    { yMean, yStd, targetsStandardized: true },
  );
  close(llz.sum, sum, 1e-9);
  // the yStd correction: the same model in standardised units differs by N log yStd
  const ll1 = gaussianMixtureLogLikelihood(
    { data: mu, shape: [S, N, 1] },
    { data: logSigma, shape: [S, N, 1] },
    z,
  );
  close(ll1.sum - N * Math.log(yStd), sum, 1e-9);
});

Deno.test("log-mean-exp stays finite far from every component", () => {
  // y is 100 σ away: densities underflow, the log-likelihood must not be -Infinity
  const ll = gaussianMixtureLogLikelihood(
    { data: [0, 0], shape: [2, 1, 1] },
    { data: [Math.log(0.01), Math.log(0.01)], shape: [2, 1, 1] },
    [1],
  );
  const expected = -0.5 * Math.log(2 * Math.PI) - Math.log(0.01) - 0.5 * 100 ** 2;
  close(ll.sum, expected, 1e-6);
});

Deno.test("regressionMetrics: RMSE in original units, tensors accepted", async () => {
  await tf.setBackend("cpu");
  // S = 2, N = 2: predictive means (standardised) 0.5 and −1 → original 10 + 2·0.5 = 11, 10 − 2 = 8
  const mu = tf.tensor3d([0, -1, 1, -1], [2, 2, 1]);
  const ls = tf.tensor3d([0, 0, 0, 0], [2, 2, 1]);
  const m = regressionMetrics(mu, ls, tf.tensor1d([12, 8]), { yMean: 10, yStd: 2 });
  close(m.rmse, Math.sqrt((1 + 0) / 2), 1e-12);
  assert.equal(m.n, 2);
  // epistemic: Var[μ] per example 0.25 and 0 → × yStd² = 1 and 0
  close(m.epistemicVarMean, 0.5, 1e-12);
  close(m.aleatoricVarMean, 4, 1e-12);
  close(m.totalVarMean, 4.5, 1e-12);
  const ll = gaussianMixtureLogLikelihood(mu, ls, [12, 8], { yMean: 10, yStd: 2 });
  close(m.logLikSum, ll.sum, 1e-12);
  close(m.logLikMean, ll.sum / 2, 1e-12);
  mu.dispose();
  ls.dispose();
});

Deno.test("regression shape errors are clear", () => {
  const mu = { data: [0, 1, 2, 3], shape: [2, 2, 1] };
  assert.throws(
    () => regressionMetrics(mu, { data: [0, 0, 0], shape: [3, 1, 1] }, [1, 2]),
    /log σ: shape \[3, 1, 1\] does not match μ's shape \[2, 2, 1\]/,
  );
  assert.throws(
    () => regressionMetrics(mu, 0, [1, 2, 3]),
    /targets: expected 2 values .* found 3/,
  );
  assert.throws(
    () => regressionUncertainty({ data: [0, 1, 2, 3], shape: [1, 2, 2] }, 0),
    /expected shape \[S, N, 1\] \(one output\), found \[1, 2, 2\]/,
  );
  assert.throws(() => regressionUncertainty(mu, 0, { yStd: 0 }), /yStd must be a positive/);
  assert.throws(
    () => regressionMetrics(mu, 0, [1, NaN]),
    /targets\[1\] = NaN is not a finite number/,
  );
});
