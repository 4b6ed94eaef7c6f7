// Matrix-normal sampling of the KFAC Laplace posterior (on the device): the samples have the
// intended row and column covariances; evidence and eigen helpers.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { inverse, Matrix } from "ml-matrix";
import { initBackend } from "../core/backend.ts";
import { getEngine } from "../core/engine/current.ts";
import { getLinalg } from "../core/linalg.ts";
import { Rng } from "../core/rng.ts";
import type { KronLayerFactors } from "../methods/kfac/curvature.ts";
import {
  dampedFactor,
  eigenVariances,
  laplaceEvidence,
  layerEigen,
  marginalVariances,
  maximiseEvidence,
  samplingFactors,
} from "../methods/kfac/posterior.ts";
import { devicePosterior, disposePosterior, drawLayer } from "../methods/kfac/sampler.ts";

await initBackend({ backend: "wasm", quiet: true });

function spd(n: number, rng: Rng): Float32Array {
  const x = Matrix.from1DArray(n, n, Array.from(rng.normalArray(n * n)));
  return Float32Array.from(x.transpose().mmul(x).div(n).to1DArray());
}

const rng = new Rng(21);
const layer: KronLayerFactors = { layer: 0, inDim: 2, outDim: 3, q: spd(3, rng), h: spd(3, rng) };
const prior = { priorPrecision: 2, dataScale: 4 };
const rows = 3, cols = 3;
const inv = (f: Float32Array, d: number) =>
  inverse(Matrix.from1DArray(d, d, Array.from(dampedFactor(f, d, prior))));
const U = inv(layer.q, rows), V = inv(layer.h, cols);

let noLapack: string | null = null;
try {
  getLinalg("lapack");
} catch (e) {
  noLapack = (e as Error).message;
  console.warn(`SKIP LAPACK sampling test: ${noLapack}`);
}

for (const impl of ["lapack", "ml-matrix"] as const) {
  Deno.test({
    name: `matrix-normal samples have row covariance U and column covariance V (${impl})`,
    ignore: impl === "lapack" && noLapack !== null,
    fn: async () => {
      const la = getLinalg(impl);
      const f = samplingFactors(layer, prior, la);
      const mean = Float32Array.from({ length: rows * cols }, (_, i) => i - 4);
      const S = 40000, P = rows * cols;
      const post = devicePosterior(0, f);
      const noise = getEngine().noise(5, 0);
      const sum = new Float64Array(P), cross = new Float64Array(P * P);
      const [mw, mb] = [
        tf.tensor2d(mean.slice(0, P - cols), [rows - 1, cols]),
        tf.tensor1d(mean.slice(P - cols)),
      ];
      const drawn = drawLayer(post, mw, mb, noise, S);
      const ws = await getEngine().read(drawn.w), bs = await getEngine().read(drawn.b);
      tf.dispose([drawn.w, drawn.b, mw, mb]);
      disposePosterior(post);
      const w = new Float32Array(P);
      for (let s = 0; s < S; s++) {
        w.set(ws.subarray(s * (P - cols), (s + 1) * (P - cols)));
        w.set(bs.subarray(s * cols, (s + 1) * cols), P - cols);
        for (let a = 0; a < P; a++) {
          const da = w[a] - mean[a];
          sum[a] += da;
          for (let b = 0; b < P; b++) cross[a * P + b] += da * (w[b] - mean[b]);
        }
      }
      let scale = 0;
      for (let i = 0; i < rows; i++) scale = Math.max(scale, U.get(i, i));
      const vmax = Math.max(...Array.from({ length: cols }, (_, j) => V.get(j, j)));
      const tol = 0.04 * scale * vmax;
      for (let a = 0; a < P; a++) {
        assert.ok(Math.abs(sum[a] / S) < 4 * Math.sqrt(scale * vmax / S), "mean");
        for (let b = 0; b < P; b++) {
          const [i, j, i2, j2] = [Math.floor(a / cols), a % cols, Math.floor(b / cols), b % cols];
          const want = U.get(i, i2) * V.get(j, j2);
          const got = cross[a * P + b] / S;
          assert.ok(Math.abs(got - want) < tol, `cov[(${i},${j}),(${i2},${j2})] ${got} vs ${want}`);
        }
      }
      const mv = marginalVariances(f);
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          const want = U.get(i, i) * V.get(j, j);
          assert.ok(Math.abs(mv[i * cols + j] - want) < 1e-5 * want);
        }
      }
    },
  });
}

Deno.test("eigen variances reproduce U and V; the evidence is maximised at the returned τ", () => {
  const e = layerEigen(layer);
  for (
    const [vals, vecs, M, d] of [[e.qValues, e.qVectors, U, rows], [
      e.hValues,
      e.hVectors,
      V,
      cols,
    ]] as const
  ) {
    const v = eigenVariances(vals, prior);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        let s = 0;
        for (let t = 0; t < d; t++) s += vecs[i * d + t] * vecs[j * d + t] * v[t];
        assert.ok(Math.abs(s - M.get(i, j)) < 1e-5, "E diag(v) Eᵀ = (√N F + √τ I)⁻¹");
      }
    }
  }
  const terms = { trainNll: 3, thetaSq: 5 };
  // log det ratio by brute force: P_post = U⁻¹ ⊗ V⁻¹ against τ^P.
  const logDet = (f: Float32Array, d: number) =>
    getLinalg("ml-matrix").cholesky(dampedFactor(f, d, prior), d)
      .filter((_, i) => i % (d + 1) === 0).reduce((s, v) => s + 2 * Math.log(v), 0);
  const ldU = logDet(layer.q, rows), ldV = logDet(layer.h, cols);
  const want = -3 - 0.5 * prior.priorPrecision * 5 -
    0.5 * (cols * ldU + rows * ldV - rows * cols * Math.log(prior.priorPrecision));
  const got = laplaceEvidence([e], prior, terms);
  assert.ok(Math.abs(got - want) < 1e-6 * Math.abs(want), `${got} vs ${want}`);
  const best = maximiseEvidence([e], prior.dataScale, terms);
  for (const f of [0.9, 1.1]) {
    const other = laplaceEvidence(
      [e],
      { ...prior, priorPrecision: best.priorPrecision * f },
      terms,
    );
    assert.ok(other <= best.evidence + 1e-9, "the maximiser is a local maximum");
  }
});

Deno.test("damping checks its settings", () => {
  assert.throws(
    () => dampedFactor(layer.q, rows, { priorPrecision: 0, dataScale: 1 }),
    /τ must be/,
  );
  assert.throws(
    () => dampedFactor(layer.q, rows, { priorPrecision: 1, dataScale: NaN }),
    /N must be/,
  );
});
