// The Kronecker factors of the KFAC Laplace curvature pass against exact and
// brute-force Hessians / Gauss–Newton blocks.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../core/backend.ts";
import type { NetSpec } from "../core/method.ts";
import { Rng } from "../core/rng.ts";
import { kronFactors, type KronLayerFactors } from "../methods/kfac/curvature.ts";
import { type AugLayer, augment } from "../methods/kfac/host_net.ts";

await initBackend({ backend: "wasm", quiet: true });

function randLayer(rng: Rng, inDim: number, outDim: number, std = 0.7): AugLayer {
  return augment(
    rng.normalArray(inDim * outDim, 0, std),
    rng.normalArray(outDim, 0, std),
    inDim,
    outDim,
  );
}

/** Network outputs from augmented weight tensors (same layout as the host layers). */
function forwardTf(ws: tf.Tensor2D[], x: tf.Tensor2D): tf.Tensor2D {
  let a = x;
  ws.forEach((w, l) => {
    const aug = tf.concat([a, tf.ones([a.shape[0], 1])], 1) as tf.Tensor2D;
    const s = tf.matMul(aug, w);
    a = (l === ws.length - 1 ? s : tf.relu(s)) as tf.Tensor2D;
  });
  return a;
}

/** kron(Q, H) as a dense row-major matrix. */
function kron(f: KronLayerFactors): Float64Array {
  const r = f.inDim + 1, c = f.outDim, p = r * c;
  const out = new Float64Array(p * p);
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < c; j++) {
      for (let i2 = 0; i2 < r; i2++) {
        for (let j2 = 0; j2 < c; j2++) {
          out[(i * c + j) * p + i2 * c + j2] = f.q[i * r + i2] * f.h[j * c + j2];
        }
      }
    }
  }
  return out;
}

const maxAbs = (a: ArrayLike<number>) =>
  Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

/**
 * Brute-force Gauss–Newton block of layer `l`: (1/n) Σ Jᵀ Λ J with J the
 * autodiff Jacobian of the outputs w.r.t. the layer's augmented weights and
 * Λ = diag(p) − ppᵀ.
 */
function bruteGgnBlock(layers: AugLayer[], l: number, x: Float32Array, n: number): Float64Array {
  const d = layers[0].inDim;
  const k = layers[layers.length - 1].outDim;
  const rowsL = layers[l].inDim + 1, cols = layers[l].outDim, P = rowsL * cols;
  const block = new Float64Array(P * P);
  const ws = layers.map((ly) => tf.tensor2d(ly.w, [ly.inDim + 1, ly.outDim]));
  for (let i = 0; i < n; i++) {
    const xi = tf.tensor2d(x.subarray(i * d, i * d + d), [1, d]);
    const f = (wl: tf.Tensor2D) => forwardTf(ws.map((w, j) => (j === l ? wl : w)), xi);
    const out = f(ws[l]);
    const p = tf.softmax(out).dataSync();
    out.dispose();
    const J: Float32Array[] = [];
    for (let c = 0; c < k; c++) {
      const g = tf.grad((wl: tf.Tensor) => tf.slice(f(wl as tf.Tensor2D), [0, c], [1, 1]).sum())(
        ws[l],
      );
      J.push(g.dataSync() as Float32Array);
      g.dispose();
    }
    for (let c = 0; c < k; c++) {
      for (let c2 = 0; c2 < k; c2++) {
        const lam = (c === c2 ? p[c] : 0) - p[c] * p[c2];
        if (lam === 0) continue;
        for (let a = 0; a < P; a++) {
          const ja = J[c][a] * lam / n;
          if (ja === 0) continue;
          for (let b = 0; b < P; b++) block[a * P + b] += ja * J[c2][b];
        }
      }
    }
    xi.dispose();
  }
  tf.dispose(ws);
  return block;
}

Deno.test("one-layer softmax, one example: Q ⊗ H equals the exact Hessian (finite differences of autodiff gradients)", async () => {
  const rng = new Rng(3);
  const d = 3, k = 4;
  const spec: NetSpec = { inputDim: d, hidden: [], outputDim: k, task: "classification" };
  const layer = randLayer(rng, d, k);
  const x = rng.normalArray(d);
  const y = new Int32Array([2]);
  const f = await kronFactors(spec, [layer], [{ x, y, n: 1 }], { ggnTol: 0 });
  const exact = kron(f.layers[0]);

  const P = (d + 1) * k;
  const xt = tf.tensor2d(x, [1, d]);
  const grad = (w: Float32Array) =>
    tf.tidy(() => {
      const g = tf.grad((wt: tf.Tensor) => {
        const out = forwardTf([wt as tf.Tensor2D], xt);
        return tf.neg(tf.sum(tf.mul(tf.oneHot(tf.tensor1d(y, "int32"), k), tf.logSoftmax(out))));
      })(tf.tensor2d(w, [d + 1, k]));
      return g.dataSync() as Float32Array;
    });
  const eps = 1e-2;
  const fd = new Float64Array(P * P);
  for (let p = 0; p < P; p++) {
    const wp = layer.w.slice(), wm = layer.w.slice();
    wp[p] += eps;
    wm[p] -= eps;
    const gp = grad(wp), gm = grad(wm);
    for (let q = 0; q < P; q++) fd[q * P + p] = (gp[q] - gm[q]) / (2 * eps);
  }
  xt.dispose();
  const scale = maxAbs(exact);
  assert.ok(scale > 0.05, `the Hessian should not be trivially small (max ${scale})`);
  assert.ok(
    maxDiff(fd, exact) < 2e-3 * Math.max(1, scale),
    `max |FD − Q⊗H| = ${maxDiff(fd, exact)}`,
  );
  assert.ok(Math.abs(f.trainNll) > 0);
});

Deno.test("two-layer net: H equals the brute-force expected pre-activation Gauss–Newton, Q⊗H the per-layer block for one example", async () => {
  const rng = new Rng(5);
  const d = 3, hdim = 5, k = 3, n = 6;
  const spec: NetSpec = { inputDim: d, hidden: [hdim], outputDim: k, task: "classification" };
  const layers = [randLayer(rng, d, hdim, 0.9), randLayer(rng, hdim, k, 0.9)];
  const x = rng.normalArray(n * d);
  const y = Int32Array.from({ length: n }, (_, i) => i % k);
  const f = await kronFactors(spec, layers, [{ x, y, n }], { ggnTol: 0 });
  assert.equal(f.layers.length, 2);
  for (let l = 0; l < 2; l++) {
    const fl = f.layers[l];
    const rows = fl.inDim + 1, cols = fl.outDim, P = rows * cols;
    const block = bruteGgnBlock(layers, l, x, n);
    // The bias row of W̃ sees ã = 1: its sub-block is exactly E[G] = H.
    const biasBlock = new Float64Array(cols * cols);
    for (let j = 0; j < cols; j++) {
      for (let j2 = 0; j2 < cols; j2++) {
        biasBlock[j * cols + j2] = block[((rows - 1) * cols + j) * P + (rows - 1) * cols + j2];
      }
    }
    assert.ok(maxAbs(fl.h) > 1e-3, `layer ${l}: H should be non-trivial`);
    assert.ok(
      maxDiff(biasBlock, fl.h) < 1e-5,
      `layer ${l}: |H − brute| = ${maxDiff(biasBlock, fl.h)}`,
    );
    // Q is the second moment of the augmented inputs.
    const acts: Float32Array[] = [];
    tf.tidy(() => {
      const xt = tf.tensor2d(x, [n, d]);
      const w0 = tf.tensor2d(layers[0].w, [d + 1, hdim]);
      acts.push(tf.concat([xt, tf.ones([n, 1])], 1).dataSync() as Float32Array);
      const h = forwardTf([w0], xt);
      acts.push(tf.concat([tf.relu(h), tf.ones([n, 1])], 1).dataSync() as Float32Array);
    });
    const q = new Float64Array(rows * rows);
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < rows; a++) {
        for (let b = 0; b < rows; b++) {
          q[a * rows + b] += acts[l][i * rows + a] * acts[l][i * rows + b] / n;
        }
      }
    }
    assert.ok(maxDiff(q, fl.q) < 1e-5, `layer ${l}: |Q − E[ããᵀ]| = ${maxDiff(q, fl.q)}`);
    // The Kronecker product approximates the whole block (KFAC's factorisation).
    const kr = kron(fl);
    let num = 0, den = 0;
    for (let i = 0; i < P * P; i++) {
      num += (kr[i] - block[i]) ** 2;
      den += block[i] ** 2;
    }
    assert.ok(Math.sqrt(num / den) < 0.8, `layer ${l}: relative error ${Math.sqrt(num / den)}`);
  }
  // One example: the factorisation is exact for every layer.
  const f1 = await kronFactors(spec, layers, [{ x: x.subarray(0, d), y: y.subarray(0, 1), n: 1 }], {
    ggnTol: 0,
  });
  for (let l = 0; l < 2; l++) {
    const block = bruteGgnBlock(layers, l, x.subarray(0, d), 1);
    const kr = kron(f1.layers[l]);
    assert.ok(
      maxDiff(kr, block) < 1e-5 * Math.max(1, maxAbs(block)),
      `layer ${l}: ${maxDiff(kr, block)}`,
    );
  }
});

Deno.test("batching, truncation and last-layer mode", async () => {
  const rng = new Rng(8);
  const d = 4, k = 5, n = 40;
  const spec: NetSpec = { inputDim: d, hidden: [6, 7], outputDim: k, task: "classification" };
  const layers = [randLayer(rng, d, 6), randLayer(rng, 6, 7), randLayer(rng, 7, k, 2)];
  const x = rng.normalArray(n * d);
  const y = Int32Array.from({ length: n }, (_, i) => i % k);
  const whole = await kronFactors(spec, layers, [{ x, y, n }], { ggnTol: 0 });
  const ds = { x, y, n, xShape: [d], yShape: [], numClasses: k };
  const batched = await kronFactors(spec, layers, ds, { ggnTol: 0, batchSize: 7 });
  for (let l = 0; l < 3; l++) {
    assert.ok(maxDiff(whole.layers[l].q, batched.layers[l].q) < 1e-5);
    assert.ok(maxDiff(whole.layers[l].h, batched.layers[l].h) < 1e-5);
  }
  assert.ok(Math.abs(whole.trainNll - batched.trainNll) < 1e-3);
  // Dropping at most 5% of the output mass: H shrinks (PSD difference) only a little.
  const cut = await kronFactors(spec, layers, ds, { ggnTol: 0.05, batchSize: 7 });
  assert.ok(cut.ggn.rowsKept < cut.ggn.rowsTotal, "some columns should be dropped");
  assert.ok(cut.ggn.massDropped <= 0.05 * cut.ggn.massTotal + 1e-12);
  for (let l = 0; l < 3; l++) {
    const a = whole.layers[l].h, b = cut.layers[l].h;
    const c = a.length === 49 ? 7 : Math.round(Math.sqrt(a.length));
    let trA = 0, trB = 0;
    for (let i = 0; i < c; i++) {
      trA += a[i * c + i];
      trB += b[i * c + i];
      assert.ok(b[i * c + i] <= a[i * c + i] + 1e-6, "truncated diagonal exceeds the exact one");
    }
    assert.ok(trB >= 0.8 * trA, `layer ${l}: truncated trace ${trB} vs ${trA}`);
  }
  const last = await kronFactors(spec, layers, ds, { ggnTol: 0, lastLayer: true });
  assert.equal(last.layers.length, 1);
  assert.equal(last.layers[0].layer, 2);
  assert.ok(maxDiff(last.layers[0].h, whole.layers[2].h) < 1e-6);
});

Deno.test("Gaussian likelihood: H is 1/σ² (homoscedastic) and diag(1/σ², 2) for the heteroscedastic head", async () => {
  const rng = new Rng(9);
  const d = 3, n = 5;
  const x = rng.normalArray(n * d), y = rng.normalArray(n);
  const homo: NetSpec = {
    inputDim: d,
    hidden: [],
    outputDim: 1,
    task: "regression",
    noise: "homoscedastic",
  };
  const lin = randLayer(rng, d, 1);
  const logNoise = Math.log(0.5);
  const f = await kronFactors(homo, [lin], [{ x, y, n }], { logNoise });
  assert.ok(Math.abs(f.layers[0].h[0] - 4) < 1e-5);
  await assert.rejects(() => kronFactors(homo, [lin], [{ x, y, n }]), /log σ/);
  const het: NetSpec = { inputDim: d, hidden: [], outputDim: 1, task: "regression" };
  const two = randLayer(rng, d, 2, 0.3);
  const g = await kronFactors(het, [two], [{ x, y, n }]);
  let expect = 0;
  for (let i = 0; i < n; i++) {
    let ls = two.w[d * 2 + 1];
    for (let j = 0; j < d; j++) ls += x[i * d + j] * two.w[j * 2 + 1];
    expect += Math.exp(-2 * ls) / n;
  }
  assert.ok(
    Math.abs(g.layers[0].h[0] - expect) < 1e-4 * expect,
    `${g.layers[0].h[0]} vs ${expect}`,
  );
  assert.ok(Math.abs(g.layers[0].h[3] - 2) < 1e-5);
  assert.ok(Math.abs(g.layers[0].h[1]) < 1e-7);
});
