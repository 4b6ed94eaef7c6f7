// The device pieces under KFAC Laplace: BLAS structured products and the row-copy gather on
// wasm, truncation groups and passes of the curvature pass, the automatic pass over the last
// epoch's rows, and pruned weight draws.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../core/backend.ts";
import { batchIndices } from "../core/data.ts";
import { getEngine } from "../core/engine/current.ts";
import { hasBlasGemm } from "../core/linalg.ts";
import type { NetSpec } from "../core/method.ts";
import { Rng } from "../core/rng.ts";
import { fit } from "../core/train.ts";
import { markTriangular } from "../core/wasm_blas.ts";
import type { ArrayDataset } from "../datasets/types.ts";
import { kronFactors } from "../methods/kfac/curvature.ts";
import { augment } from "../methods/kfac/host_net.ts";
import { samplingFactors } from "../methods/kfac/posterior.ts";
import { devicePosterior, disposePosterior, drawLayer } from "../methods/kfac/sampler.ts";
import { buildKfacLaplace } from "../methods/kfac_laplace.ts";
import { rebatchRows } from "../methods/kfac/rows.ts";

await initBackend({ backend: "wasm", quiet: true });
const read = (t: tf.Tensor) => getEngine().read(t);

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

/** Row-major product of host matrices (`op` applied per flag). */
function hostMatMul(
  a: Float32Array,
  [ar, ac]: number[],
  b: Float32Array,
  [br, bc]: number[],
  ta = false,
  tb = false,
): Float64Array {
  const m = ta ? ac : ar, k = ta ? ar : ac, n = tb ? br : bc;
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) {
        s += (ta ? a[t * ac + i] : a[i * ac + t]) * (tb ? b[j * bc + t] : b[t * bc + j]);
      }
      out[i * n + j] = s;
    }
  }
  return out;
}

Deno.test("wasm: marked triangular products are the triangle's (strmm), Gram matrices are symmetric (ssyrk)", async () => {
  const rng = new Rng(3);
  const n = 7, c = 5;
  const full = rng.normalArray(n * n);
  const tri = (upper: boolean) =>
    full.map((v, i) => {
      const row = Math.floor(i / n), col = i % n;
      return (upper ? col >= row : col <= row) ? v : 0;
    });
  const other = rng.normalArray(3 * n * c);
  for (const upper of [true, false]) {
    for (const trans of [false, true]) {
      // The marked tensor carries the full matrix: BLAS reads only the marked triangle.
      const t = tf.tensor2d(full, [n, n]);
      markTriangular(t, upper);
      const want = tri(upper);
      const left = tf.matMul(t, tf.tensor3d(other, [3, n, c]), trans, false);
      const right = tf.matMul(tf.tensor3d(other, [3, c, n]), t, false, trans);
      const l = await read(left), r = await read(right);
      for (let s = 0; s < 3; s++) {
        const bl = other.subarray(s * n * c, (s + 1) * n * c);
        const refL = hostMatMul(want, [n, n], bl, [n, c], trans, false);
        const refR = hostMatMul(bl, [c, n], want, [n, n], false, trans);
        if (hasBlasGemm()) {
          assert.ok(maxDiff(l.subarray(s * n * c, (s + 1) * n * c), refL) < 1e-4, "left");
          assert.ok(maxDiff(r.subarray(s * n * c, (s + 1) * n * c), refR) < 1e-4, "right");
        }
      }
      tf.dispose([t, left, right]);
    }
  }
  assert.throws(() => markTriangular(tf.zeros([2, 3]), true), /square matrix/);
  // Gram matrices, wider than one 64-column tile of the mirrored triangle.
  const [r, w] = [9, 150];
  const a = tf.tensor2d(rng.normalArray(r * w), [r, w]);
  const gram = await read(tf.matMul(a, a, true, false));
  const outer = await read(tf.matMul(a, a, false, true));
  const ah = await read(a);
  assert.ok(maxDiff(gram, hostMatMul(ah, [r, w], ah, [r, w], true, false)) < 1e-4);
  assert.ok(maxDiff(outer, hostMatMul(ah, [r, w], ah, [r, w], false, true)) < 1e-4);
  for (let i = 0; i < w; i++) {
    for (let j = 0; j < w; j++) assert.equal(gram[i * w + j], gram[j * w + i]);
  }
  a.dispose();
});

Deno.test("wasm: gather copies rows (float32 and int32, any axis) and names a bad index", async () => {
  const x = tf.tensor3d(Array.from({ length: 24 }, (_, i) => i), [2, 3, 4]);
  const idx = tf.tensor1d([2, 0, 2], "int32");
  assert.deepEqual(
    Array.from(await read(tf.gather(x, idx, 1))),
    [8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11, 20, 21, 22, 23, 12, 13, 14, 15, 20, 21, 22, 23],
  );
  assert.deepEqual(Array.from(await read(tf.gather(x, idx, 2))).slice(0, 6), [2, 0, 2, 6, 4, 6]);
  const xi = tf.tensor2d([[1, 2], [3, 4]], [2, 2], "int32");
  assert.deepEqual(Array.from(await read(tf.gather(xi, tf.tensor1d([1, 1, 0], "int32")))), [
    3,
    4,
    3,
    4,
    1,
    2,
  ]);
  assert.throws(() => tf.gather(xi, tf.tensor1d([2], "int32")), /index value 2/);
});

function randLayer(rng: Rng, inDim: number, outDim: number, std = 0.7) {
  return augment(
    rng.normalArray(inDim * outDim, 0, std),
    rng.normalArray(outDim, 0, std),
    inDim,
    outDim,
  );
}

Deno.test("curvature: passes of one or many groups agree; given groups set the truncation", async () => {
  const rng = new Rng(11);
  const d = 4, k = 5, n = 60;
  const spec: NetSpec = { inputDim: d, hidden: [6], outputDim: k, task: "classification" };
  const layers = [randLayer(rng, d, 6), randLayer(rng, 6, k, 2)];
  const x = rng.normalArray(n * d);
  const y = Int32Array.from({ length: n }, (_, i) => i % k);
  const ds: ArrayDataset = { x, y, n, xShape: [d], yShape: [], numClasses: k };
  const opts = { ggnTol: 0.05, batchSize: 8 };
  const one = await kronFactors(spec, layers, ds, { ...opts, rowsPerPass: 8 });
  const many = await kronFactors(spec, layers, ds, { ...opts, rowsPerPass: 1000 });
  assert.equal(one.ggn.rowsKept, many.ggn.rowsKept);
  assert.ok(one.ggn.rowsKept < one.ggn.rowsTotal);
  // Kept columns back-propagated a few at a time: the same sums.
  const blocks = await kronFactors(spec, layers, ds, { ...opts, backRows: 3 });
  for (let l = 0; l < 2; l++) assert.ok(maxDiff(blocks.layers[l].h, many.layers[l].h) < 1e-6);
  for (let l = 0; l < 2; l++) {
    assert.ok(maxDiff(one.layers[l].q, many.layers[l].q) < 1e-6);
    assert.ok(maxDiff(one.layers[l].h, many.layers[l].h) < 1e-6);
  }
  // The same groups given explicitly, and as host batches: the same factors.
  const groups = Array.from(
    { length: 8 },
    (_, g) => Int32Array.from({ length: Math.min(8, n - 8 * g) }, (_, i) => 8 * g + i),
  );
  const given = await kronFactors(spec, layers, ds, { ggnTol: 0.05, groups });
  assert.equal(given.ggn.rowsKept, one.ggn.rowsKept);
  assert.ok(maxDiff(given.layers[1].h, one.layers[1].h) < 1e-6);
  // Other groups: another truncation; exact (tol 0) factors do not depend on the groups.
  const shuffled = [new Rng(2).permutation(n)];
  const exactA = await kronFactors(spec, layers, ds, { ggnTol: 0, groups: shuffled });
  const exactB = await kronFactors(spec, layers, ds, { ggnTol: 0, batchSize: 7 });
  assert.ok(maxDiff(exactA.layers[0].h, exactB.layers[0].h) < 1e-5);
  assert.ok(Math.abs(exactA.trainNll - exactB.trainNll) < 1e-3);
  await assert.rejects(
    () => kronFactors(spec, layers, ds, { groups: [Int32Array.of(0, n)] }),
    /outside the data set/,
  );
});

Deno.test("rebatchRows joins minibatches into groups of at least the size", () => {
  const g = rebatchRows([Int32Array.of(3, 1), Int32Array.of(0, 2), Int32Array.of(4)], 3);
  assert.deepEqual(g.map((r) => Array.from(r)), [[3, 1, 0, 2], [4]]);
});

Deno.test("fit's automatic pass runs over the last epoch's rows, grouped like the base method", async () => {
  const spec: NetSpec = { inputDim: 3, hidden: [8], outputDim: 3, task: "classification" };
  const rng = new Rng(4);
  const n = 90;
  const x = rng.normalArray(n * 3);
  const y = Int32Array.from({ length: n }, (_, i) => (x[3 * i] > 0 ? 1 : 0) + (i % 2));
  const ds: ArrayDataset = { x, y, n, xShape: [3], yShape: [], numClasses: 3 };
  const m = buildKfacLaplace(spec, { ggnTol: 0.05, curvatureBatchSize: 40, samples: 4 });
  await fit(m, ds, { epochs: 2, batchSize: 16, seed: 7, progress: false });
  const auto = m.factors()!;
  const rows = [...batchIndices(n, 16, new Rng(7).fork(1000 + 1))];
  const groups = rebatchRows(rows, 40);
  assert.deepEqual(groups.map((g) => g.length), [48, 42]);
  const want = await kronFactors(spec, m.map.layers(), ds, { ggnTol: 0.05, groups });
  assert.equal(auto.ggn.rowsKept, want.ggn.rowsKept);
  for (let l = 0; l < 2; l++) {
    assert.deepEqual(auto.layers[l].q, want.layers[l].q);
    assert.deepEqual(auto.layers[l].h, want.layers[l].h);
  }
  m.dispose();
});

Deno.test("pruned draws: masked weights are exactly +0, biases and kept weights vary", async () => {
  const rng = new Rng(6);
  const layer = {
    layer: 0,
    inDim: 3,
    outDim: 2,
    q: Float32Array.from({ length: 16 }, (_, i) => (i % 5 === 0 ? 1 : 0)),
    h: Float32Array.of(1, 0, 0, 1),
  };
  const f = samplingFactors(layer, { priorPrecision: 1, dataScale: 1 });
  const mask = Uint8Array.of(1, 0, 0, 1, 1, 0);
  const p = devicePosterior(0, f, mask);
  const w = tf.tensor2d(rng.normalArray(6), [3, 2]), b = tf.tensor1d([1, 2]);
  const draws = drawLayer(p, w, b, getEngine().noise(1, 0), 4);
  const ws = await read(draws.w), bs = await read(draws.b);
  for (let s = 0; s < 4; s++) {
    for (let i = 0; i < 6; i++) {
      if (!mask[i]) assert.ok(Object.is(ws[s * 6 + i], 0), `draw ${s} weight ${i}`);
    }
  }
  assert.ok(ws[0] !== ws[6] && bs[0] !== bs[2], "draws differ");
  tf.dispose([w, b, draws.w, draws.b]);
  disposePosterior(p);
});
