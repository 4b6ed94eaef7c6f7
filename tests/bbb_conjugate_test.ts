// Bayes by Backprop recovers the exact posterior of a 1-D Bayesian linear regression.
//
// With centred inputs the posterior over (w, b) factorises, so the mean-field family contains it
// and the ELBO optimum is the exact conjugate posterior:
//   precision_w = Σx²/σn² + 1/σp²,  mean_w = (Σxy/σn²) / precision_w,
//   precision_b = N/σn² + 1/σp²,    mean_b = (Σy/σn²) / precision_b.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../core/backend.ts";
import { Rng } from "../core/rng.ts";
import { buildBbb } from "../methods/bbb.ts";

for (const backend of ["wasm", "webgpu"]) {
  Deno.test(`BBB on 1-D Bayesian linear regression converges to the conjugate posterior (${backend})`, async () => {
    await initBackend({ backend, quiet: true });
    const N = 20, sn = 0.5, sp = 1;
    const rng = new Rng(3);
    const xs = rng.uniformArray(N, -1, 1);
    const mean = xs.reduce((a, b) => a + b) / N;
    for (let i = 0; i < N; i++) xs[i] -= mean;
    const ys = Float32Array.from(xs, (x) => 0.8 * x + 0.3 + sn * rng.normal());
    const sxx = xs.reduce((a, x) => a + x * x, 0);
    const sxy = xs.reduce((a, x, i) => a + x * ys[i], 0);
    const sy = ys.reduce((a, b) => a + b);
    const precW = sxx / sn ** 2 + 1 / sp ** 2, precB = N / sn ** 2 + 1 / sp ** 2;
    const exact = {
      muW: sxy / sn ** 2 / precW,
      sW: 1 / Math.sqrt(precW),
      muB: sy / sn ** 2 / precB,
      sB: 1 / Math.sqrt(precB),
    };
    const m = buildBbb(
      { inputDim: 1, hidden: [], outputDim: 1, task: "regression", noise: "homoscedastic" },
      { priorSigma: sp, fixedNoise: sn, optimizer: "adam", lr: 0.03, nSamples: 2 },
    );
    m.init(0);
    const x = tf.tensor2d(xs, [N, 1]), y = tf.tensor2d(ys, [N, 1]);
    // One full batch per epoch: loss = Σ NLL + KL.
    const info = { datasetSize: N, epoch: 1, step: 0, batchesPerEpoch: 1, epochs: 1 };
    const steps = 600, from = 400;
    const avg = { muW: 0, sW: 0, muB: 0, sB: 0 };
    for (let i = 0; i < steps; i++) {
      const r = await m.step({ x, y, n: N }, info);
      tf.dispose(Object.values(r).filter((v) => typeof v !== "number") as tf.Tensor[]);
      if (i >= from) {
        // Iterate averaging removes the stochastic-gradient jitter around the optimum.
        const p = await m.posterior();
        avg.muW += p["l0.w"].mu[0] / (steps - from);
        avg.sW += p["l0.w"].sigma[0] / (steps - from);
        avg.muB += p["l0.b"].mu[0] / (steps - from);
        avg.sB += p["l0.b"].sigma[0] / (steps - from);
      }
    }
    for (const k of ["muW", "sW", "muB", "sB"] as const) {
      const rel = Math.abs(avg[k] / exact[k] - 1);
      assert.ok(rel < 0.1, `${k}: BBB ${avg[k].toFixed(4)} vs exact ${exact[k].toFixed(4)}`);
    }
    tf.dispose([x, y]);
    m.dispose();
  });
}
