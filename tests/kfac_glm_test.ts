// The linearised (GLM) predictive of the KFAC Laplace posterior: its output
// covariance equals J·(U⊗V)·Jᵀ with autodiff Jacobians, and the probit and
// Monte Carlo links behave.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { inverse, Matrix } from "ml-matrix";
import { initBackend } from "../core/backend.ts";
import { getEngine } from "../core/engine/current.ts";
import type { NetSpec } from "../core/method.ts";
import { Rng } from "../core/rng.ts";
import { kronFactors } from "../methods/kfac/curvature.ts";
import {
  choleskyBatched,
  type DeviceEigen,
  deviceEigen,
  disposeEigen,
  disposeProjection,
  gaussianOutputSamples,
  glmCovariance,
  glmProject,
  glmVariances,
  probitLogProbs,
} from "../methods/kfac/glm.ts";
import { type AugLayer, augment, layerTensors } from "../methods/kfac/host_net.ts";
import { dampedFactor, layerEigen } from "../methods/kfac/posterior.ts";

await initBackend({ backend: "wasm", quiet: true });

function forwardTf(ws: tf.Tensor2D[], x: tf.Tensor2D): tf.Tensor2D {
  let a = x;
  ws.forEach((w, l) => {
    const s = tf.matMul(tf.concat([a, tf.ones([a.shape[0], 1])], 1), w);
    a = (l === ws.length - 1 ? s : tf.relu(s)) as tf.Tensor2D;
  });
  return a;
}

const read = (t: tf.Tensor) => getEngine().read(t);

Deno.test("GLM output covariance equals Σ_l J_l (U_l ⊗ V_l) J_lᵀ (autodiff Jacobians), full and last-layer", async () => {
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
  const f = await kronFactors(spec, layers, [{ x, y, n }], { ggnTol: 0 });
  const prior = { priorPrecision: 3, dataScale: 20 };
  const net = layerTensors(layers);
  const xAll = tf.tensor2d(x, [n, d]);
  for (const lastOnly of [false, true]) {
    const eigs: (DeviceEigen | null)[] = layers.map((_, l) =>
      !lastOnly || l === layers.length - 1 ? deviceEigen(layerEigen(f.layers[l])) : null
    );
    const proj = glmProject(net, eigs, xAll);
    const covT = glmCovariance(proj, eigs, prior);
    const varT = glmVariances(proj, eigs, prior);
    const cov = await read(covT), variances = await read(varT);
    tf.dispose([covT, varT]);
    for (const e of eigs) if (e) disposeEigen(e);
    disposeProjection(proj);
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
      for (let c = 0; c < k; c++) {
        assert.ok(Math.abs(variances[i * k + c] - want[c * k + c]) < 1e-4 * scale, "diagonal");
      }
    }
    tf.dispose(ws);
  }
  tf.dispose([xAll, ...net.w, ...net.b]);
});

Deno.test("probit and Monte Carlo links", async () => {
  // Zero variance: probit is the softmax of the mean.
  const out = tf.tensor2d([[1, 2, 0]]);
  const lp = await read(probitLogProbs(out, tf.zeros([1, 3])));
  const z = Math.log(Math.exp(1) + Math.exp(2) + 1);
  assert.ok(Math.abs(lp[1] - (2 - z)) < 1e-6);
  // Large variance flattens the prediction.
  const flat = await read(probitLogProbs(out, tf.fill([1, 3], 100) as tf.Tensor2D));
  assert.ok(flat[1] < lp[1] && flat[2] > lp[2]);
  // The batched Cholesky factor, and Monte Carlo draws with the requested covariance.
  const c2 = tf.tensor3d([[[2, 0.6], [0.6, 1]], [[4, 2], [2, 3]]]);
  const chol = choleskyBatched(c2);
  const l = await read(chol);
  const want = [Math.SQRT2, 0, 0.6 / Math.SQRT2, Math.sqrt(1 - 0.18), 2, 0, 1, Math.SQRT2];
  for (let i = 0; i < 8; i++) assert.ok(Math.abs(l[i] - want[i]) < 1e-5, `L[${i}] ${l[i]}`);
  const S = 20000;
  const drawsT = gaussianOutputSamples(
    tf.tensor2d([[1, -1], [0, 0]]),
    chol,
    getEngine().noise(1, 0),
    S,
  );
  assert.deepEqual(drawsT.shape, [S, 2, 2]);
  const all = await read(drawsT);
  const draws = Array.from({ length: S }, (_, s) => all.subarray(s * 4, s * 4 + 2));
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
  tf.dispose([out, c2, chol, drawsT]);
  assert.ok(Math.abs(m0 - 1) < 0.05 && Math.abs(m1 + 1) < 0.05);
  assert.ok(Math.abs(s00 - 2) < 0.08 && Math.abs(s01 - 0.6) < 0.05 && Math.abs(s11 - 1) < 0.05);
});
