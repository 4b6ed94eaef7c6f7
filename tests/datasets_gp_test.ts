import assert from "node:assert/strict";
import { Rng } from "../core/rng.ts";
import { gpPosterior, gpSample, gpToyData, gpToyNoiseStd, rbf } from "../datasets/mod.ts";

Deno.test("gpSample: empirical covariance of many draws matches the RBF kernel", () => {
  const xs = [0, 0.5, 2];
  const draws = 4000;
  const rng = new Rng(11);
  const sum = new Float64Array(3);
  const prod = new Float64Array(9);
  for (let s = 0; s < draws; s++) {
    const f = gpSample(xs, rng);
    for (let i = 0; i < 3; i++) {
      sum[i] += f[i];
      for (let j = 0; j < 3; j++) prod[i * 3 + j] += f[i] * f[j];
    }
  }
  for (let i = 0; i < 3; i++) {
    assert.ok(Math.abs(sum[i] / draws) < 0.06, `mean at x=${xs[i]}: ${sum[i] / draws}`);
    for (let j = 0; j < 3; j++) {
      const cov = prod[i * 3 + j] / draws;
      const k = rbf(xs[i], xs[j]);
      assert.ok(Math.abs(cov - k) < 0.07, `cov(${xs[i]}, ${xs[j]}) = ${cov}, kernel ${k}`);
    }
  }
  // Length-scale and signal variance are honoured.
  const k2 = rbf(0, 1, { lengthScale: 2, signalVar: 3 });
  assert.ok(Math.abs(k2 - 3 * Math.exp(-1 / 8)) < 1e-12);
});

Deno.test("gpToyData: seeded, with the stated noise models", () => {
  const a = gpToyData({ n: 400, kind: "homo", seed: 3 });
  const b = gpToyData({ n: 400, kind: "homo", seed: 3 });
  assert.deepEqual(a.y, b.y);
  assert.notDeepEqual(gpToyData({ n: 400, seed: 4 }).y, a.y);
  assert.deepEqual(a.train.xShape, [1]);
  assert.deepEqual(a.train.yShape, [1]);
  assert.equal(a.train.n, 400);
  assert.ok(a.x.every((v) => v >= -4 && v <= 4));
  assert.equal(a.grid.length, 200);
  let ss = 0;
  for (let i = 0; i < a.x.length; i++) ss += (a.y[i] - a.f[i]) ** 2;
  const sd = Math.sqrt(ss / a.x.length);
  assert.ok(Math.abs(sd - 0.3) < 0.04, `homoscedastic noise std ${sd}`);

  const h = gpToyData({ n: 400, kind: "hetero", seed: 3 });
  let z2 = 0;
  for (let i = 0; i < h.x.length; i++) {
    assert.ok(Math.abs(h.noiseStd[i] - 0.3 * Math.abs(h.x[i] + 2)) < 1e-12);
    z2 += ((h.y[i] - h.f[i]) / Math.max(h.noiseStd[i], 1e-9)) ** 2;
  }
  const zsd = Math.sqrt(z2 / h.x.length);
  assert.ok(Math.abs(zsd - 1) < 0.12, `standardised heteroscedastic noise std ${zsd}`);
  assert.equal(gpToyNoiseStd(-2, "hetero"), 0);
  // The function on the grid is the same draw as at the inputs.
  for (let i = 0; i < a.x.length; i++) {
    const g = Math.round(((a.x[i] + 4) / 8) * 199);
    if (Math.abs(a.grid[g] - a.x[i]) < 0.005) assert.ok(Math.abs(a.fGrid[g] - a.f[i]) < 0.05);
  }
});

Deno.test("gpPosterior: closed form for one point, prior far away", () => {
  const x1 = 0.3, y1 = 1.7, s = 0.5;
  const grid = [0.3, 1.0, 50];
  const { mean, variance } = gpPosterior({ x: [x1], y: [y1] }, grid, s);
  for (let j = 0; j < grid.length; j++) {
    const k = rbf(grid[j], x1);
    assert.ok(Math.abs(mean[j] - (k * y1) / (1 + s * s)) < 1e-9);
    assert.ok(Math.abs(variance[j] - (1 - (k * k) / (1 + s * s))) < 1e-9);
  }
  assert.ok(Math.abs(variance[2] - 1) < 1e-12 && Math.abs(mean[2]) < 1e-12);
  // Per-point noise equal everywhere = homoscedastic.
  const tr = { x: [-1, 0, 2], y: [0.5, -0.2, 1] };
  const h = gpPosterior(tr, grid, [0.3, 0.3, 0.3]);
  const o = gpPosterior(tr, grid, 0.3);
  for (let j = 0; j < grid.length; j++) assert.ok(Math.abs(h.mean[j] - o.mean[j]) < 1e-12);
  // A noisier middle observation → more posterior variance at it.
  const noisy = gpPosterior(tr, [0], [0.3, 3, 0.3]);
  const plain = gpPosterior(tr, [0], 0.3);
  assert.ok(noisy.variance[0] > plain.variance[0] + 0.01);
});

Deno.test("gpPosterior on toy data recovers the true function with calibrated variance", () => {
  for (const kind of ["homo", "hetero"] as const) {
    const d = gpToyData({ n: 500, kind, seed: 21 });
    const post = gpPosterior(d, d.grid, d.noiseStd);
    let se = 0, z = 0;
    for (let j = 0; j < d.grid.length; j++) {
      const e = d.fGrid[j] - post.mean[j];
      se += e * e;
      z += (e * e) / post.variance[j];
    }
    const rmse = Math.sqrt(se / d.grid.length);
    assert.ok(rmse < 0.15, `${kind}: RMSE ${rmse}`);
    const zm = z / d.grid.length;
    assert.ok(zm > 0.1 && zm < 5, `${kind}: mean squared z ${zm}`);
  }
});
