// The linearised (GLM) predictive of the KFAC Laplace posterior: its output
// covariance equals J·(U⊗V)·Jᵀ with autodiff Jacobians, and the probit and
// Monte Carlo links behave.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { inverse, Matrix } from "ml-matrix";
import { initBackend } from "../core/backend.ts";
import type { NetSpec } from "../core/method.ts";
import { Rng } from "../core/rng.ts";
import { kronFactors } from "../methods/kfac/curvature.ts";
import {
  gaussianOutputSamples,
  glmCovariance,
  glmProject,
  probitLogProbs,
} from "../methods/kfac/glm.ts";
import { type AugLayer, augment } from "../methods/kfac/host_net.ts";
import { dampedFactor, type LayerEigen, layerEigen } from "../methods/kfac/posterior.ts";

await initBackend({ backend: "wasm", quiet: true });

function forwardTf(ws: tf.Tensor2D[], x: tf.Tensor2D): tf.Tensor2D {
  let a = x;
  ws.forEach((w, l) => {
    const s = tf.matMul(tf.concat([a, tf.ones([a.shape[0], 1])], 1), w);
    a = (l === ws.length - 1 ? s : tf.relu(s)) as tf.Tensor2D;
  });
  return a;
}

Deno.test("GLM output covariance equals Σ_l J_l (U_l ⊗ V_l) J_lᵀ (autodiff Jacobians), full and last-layer", () => {
  const rng = new Rng(12);
  const d = 3, hs = [5, 4], k = 3, n = 4;
  const spec: NetSpec = { inputDim: d, hidden: hs, outputDim: k, task: "classification" };
  const dims = [d, ...hs, k];
  const layers: AugLayer[] = dims.slice(0, -1).map((inD, l) =>
    augment(
      rng.normalArray(inD * dims[l + 1], 0, 0.8),
      rng.normalArray(dims[l + 1], 0, 0.5),
      inD,
      dims[l + 1],
    )
  );
  const x = rng.normalArray(n * d);
  const y = Int32Array.from({ length: n }, (_, i) => i % k);
  const f = kronFactors(spec, layers, [{ x, y, n }], { ggnTol: 0 });
  const prior = { priorPrecision: 3, dataScale: 20 };
  for (const lastOnly of [false, true]) {
    const eigs: (LayerEigen | null)[] = layers.map((_, l) =>
      !lastOnly || l === layers.length - 1 ? layerEigen(f.layers[l]) : null
    );
    const proj = glmProject(layers, eigs, x, n);
    const cov = glmCovariance(proj, eigs, prior);
    const ws = layers.map((ly) => tf.tensor2d(ly.w, [ly.inDim + 1, ly.outDim]));
    for (let i = 0; i < n; i++) {
      const xi = tf.tensor2d(x.subarray(i * d, i * d + d), [1, d]);
      const want = new Float64Array(k * k);
      layers.forEach((ly, l) => {
        if (!eigs[l]) return;
        const rows = ly.inDim + 1, cols = ly.outDim;
        const U = inverse(
          Matrix.from1DArray(rows, rows, Array.from(dampedFactor(f.layers[l].q, rows, prior))),
        );
        const V = inverse(
          Matrix.from1DArray(cols, cols, Array.from(dampedFactor(f.layers[l].h, cols, prior))),
        );
        const J = Array.from(
          { length: k },
          (_, c) =>
            tf.tidy(() =>
              tf.grad((wl: tf.Tensor) =>
                tf.slice(
                  forwardTf(ws.map((w, j) => (j === l ? wl as tf.Tensor2D : w)), xi),
                  [0, c],
                  [1, 1],
                ).sum()
              )(ws[l]).dataSync()
            ),
        );
        for (let c = 0; c < k; c++) {
          for (let c2 = 0; c2 < k; c2++) {
            let s = 0;
            for (let a = 0; a < rows * cols; a++) {
              if (J[c][a] === 0) continue;
              const [r1, q1] = [Math.floor(a / cols), a % cols];
              for (let b = 0; b < rows * cols; b++) {
                const [r2, q2] = [Math.floor(b / cols), b % cols];
                s += J[c][a] * U.get(r1, r2) * V.get(q1, q2) * J[c2][b];
              }
            }
            want[c * k + c2] += s;
          }
        }
      });
      xi.dispose();
      const got = cov.subarray(i * k * k, (i + 1) * k * k);
      const scale = Math.max(...want.map(Math.abs));
      assert.ok(scale > 1e-4, "non-trivial covariance");
      for (let t = 0; t < k * k; t++) {
        assert.ok(
          Math.abs(got[t] - want[t]) < 1e-4 * scale,
          `lastOnly=${lastOnly} example ${i} entry ${t}: ${got[t]} vs ${want[t]}`,
        );
      }
    }
    tf.dispose(ws);
  }
});

Deno.test("probit and Monte Carlo links", () => {
  // Zero variance: probit is the softmax of the mean.
  const out = new Float32Array([1, 2, 0]);
  const lp = probitLogProbs(out, new Float64Array(9), 1, 3);
  const z = Math.log(Math.exp(1) + Math.exp(2) + 1);
  assert.ok(Math.abs(lp[1] - (2 - z)) < 1e-6);
  // Large variance flattens the prediction.
  const cov = new Float64Array(9);
  for (let c = 0; c < 3; c++) cov[c * 4] = 100;
  const flat = probitLogProbs(out, cov, 1, 3);
  assert.ok(flat[1] < lp[1] && flat[2] > lp[2]);
  // Monte Carlo draws have the requested covariance.
  const c2 = new Float64Array([2, 0.6, 0.6, 1]);
  const draws = gaussianOutputSamples(new Float32Array([1, -1]), c2, 1, 2, 20000, new Rng(1));
  let m0 = 0, m1 = 0, s00 = 0, s01 = 0, s11 = 0;
  for (const o of draws) {
    m0 += o[0] / draws.length;
    m1 += o[1] / draws.length;
  }
  for (const o of draws) {
    s00 += (o[0] - m0) ** 2 / draws.length;
    s01 += (o[0] - m0) * (o[1] - m1) / draws.length;
    s11 += (o[1] - m1) ** 2 / draws.length;
  }
  assert.ok(Math.abs(m0 - 1) < 0.05 && Math.abs(m1 + 1) < 0.05);
  assert.ok(Math.abs(s00 - 2) < 0.08 && Math.abs(s01 - 0.6) < 0.05 && Math.abs(s11 - 1) < 0.05);
});
