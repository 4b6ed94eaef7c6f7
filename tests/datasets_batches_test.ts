import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../core/rng.ts";
import {
  type ArrayDataset,
  batches,
  rotateDataset,
  rotateImages,
  subset,
  take,
} from "../datasets/mod.ts";

/** n examples with x row i = [i, i + 0.5, i + 0.25] and label i % 4. */
function toy(n: number): ArrayDataset {
  const x = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) x.set([i, i + 0.5, i + 0.25], i * 3);
  return {
    x,
    y: Int32Array.from({ length: n }, (_, i) => i % 4),
    n,
    xShape: [3],
    yShape: [],
    numClasses: 4,
  };
}

function checkRows(
  ds: ArrayDataset,
  b: { x: Float32Array; y: ArrayLike<number>; indices: Int32Array },
) {
  b.indices.forEach((i, k) => {
    assert.deepEqual(Array.from(b.x.subarray(k * 3, k * 3 + 3)), [i, i + 0.5, i + 0.25]);
    assert.equal(b.y[k], ds.y[i]);
  });
}

Deno.test("batches: stored order without rng, last batch smaller", () => {
  const ds = toy(10);
  const bs = [...batches(ds, { batchSize: 4 })];
  assert.deepEqual(bs.map((b) => b.n), [4, 4, 2]);
  assert.deepEqual(bs.flatMap((b) => Array.from(b.indices)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  for (const b of bs) {
    checkRows(ds, b);
    assert.ok(b.y instanceof Int32Array);
    assert.equal(b.padded, 0);
  }
  // Fresh arrays: changing a batch does not touch the dataset.
  bs[0].x[0] = 99;
  assert.equal(ds.x[0], 0);
});

Deno.test("batches: seeded shuffle visits each example once per epoch, reproducibly", () => {
  const ds = toy(103);
  const epoch = (rng: Rng) => [...batches(ds, { batchSize: 10, rng })];
  const a = epoch(new Rng(7));
  const seen = a.flatMap((b) => Array.from(b.indices));
  assert.deepEqual(seen.slice().sort((p, q) => p - q), Array.from({ length: 103 }, (_, i) => i));
  assert.notDeepEqual(seen, Array.from({ length: 103 }, (_, i) => i));
  for (const b of a) checkRows(ds, b);
  const b = epoch(new Rng(7)).flatMap((b) => Array.from(b.indices));
  assert.deepEqual(seen, b);
  const rng = new Rng(7);
  const e1 = epoch(rng).flatMap((b) => Array.from(b.indices));
  const e2 = epoch(rng).flatMap((b) => Array.from(b.indices));
  assert.notDeepEqual(e1, e2, "a new permutation each epoch");
});

Deno.test("batches: dropLast and fixedLast", () => {
  const ds = toy(10);
  const dropped = [...batches(ds, { batchSize: 4, rng: new Rng(1), dropLast: true })];
  assert.deepEqual(dropped.map((b) => b.n), [4, 4]);
  const fixed = [...batches(ds, { batchSize: 4, rng: new Rng(1), fixedLast: true })];
  assert.deepEqual(fixed.map((b) => b.n), [4, 4, 4]);
  assert.equal(fixed[2].padded, 2);
  // The padding wraps around to the start of this epoch's order.
  assert.deepEqual(
    Array.from(fixed[2].indices.subarray(2)),
    Array.from(fixed[0].indices.subarray(0, 2)),
  );
  for (const b of fixed) checkRows(ds, b);
  // Smaller than one batch: wraps several times.
  const tiny = [...batches(toy(3), { batchSize: 8, fixedLast: true })];
  assert.deepEqual(Array.from(tiny[0].indices), [0, 1, 2, 0, 1, 2, 0, 1]);
});

Deno.test("batches: regression targets with several values per example", () => {
  const ds: ArrayDataset = {
    x: Float32Array.from({ length: 5 }, (_, i) => i),
    y: Float32Array.from({ length: 10 }, (_, i) => i * 10),
    n: 5,
    xShape: [1],
    yShape: [2],
  };
  const [b] = [...batches(ds, { batchSize: 5, rng: new Rng(3) })];
  assert.ok(b.y instanceof Float32Array);
  b.indices.forEach((i, k) => {
    assert.equal(b.x[k], i);
    assert.deepEqual([b.y[2 * k], b.y[2 * k + 1]], [20 * i, 20 * i + 10]);
  });
});

Deno.test("batches: bad options are clear errors", () => {
  const ds = toy(4);
  assert.throws(() => batches(ds, { batchSize: 0 }).next(), /batchSize must be a positive integer/);
  assert.throws(() => batches(ds, { batchSize: 2, shuffle: true }).next(), /shuffle needs an rng/);
  assert.throws(
    () => batches(ds, { batchSize: 2, dropLast: true, fixedLast: true }).next(),
    /at most one of dropLast and fixedLast/,
  );
});

Deno.test("subset copies rows in order; take views the first rows", () => {
  const ds = toy(6);
  const s = subset(ds, [5, 1, 1]);
  assert.equal(s.n, 3);
  assert.deepEqual(Array.from(s.y), [1, 1, 1]);
  assert.deepEqual(Array.from(s.x.subarray(0, 3)), [5, 5.5, 5.25]);
  assert.equal(s.numClasses, 4);
  assert.throws(() => subset(ds, [6]), /index 6 at position 0 is outside 0\.\.5/);
  const t = take(ds, 2);
  assert.equal(t.n, 2);
  assert.equal(t.x.length, 6);
  assert.equal(t.y.length, 2);
  assert.equal(t.x.buffer, ds.x.buffer, "no copy");
  assert.equal(take(ds, 100).n, 6);
});

Deno.test("rotateImages: centre rotation, counter-clockwise, with fill", async () => {
  await tf.setBackend("cpu");
  const n = 2;
  const x = new Float32Array(n * 784);
  x[0 * 28 + 13] = 1; // image 0: pixel at row 0, column 13
  for (let i = 784; i < 2 * 784; i++) x[i] = (i * 7919) % 1000 / 1000; // image 1: noise
  const r90 = await rotateImages(x, n, 90);
  // 90° counter-clockwise about (13.5, 13.5): row 0, col 13 → row 14, col 0.
  assert.equal(r90[14 * 28 + 0], 1);
  assert.equal(r90.subarray(0, 784).reduce((a, b) => a + b, 0), 1);
  // 180° about the exact centre reverses each image.
  const r180 = await rotateImages(x, n, 180);
  const img1 = x.subarray(784);
  assert.deepEqual(Array.from(r180.subarray(784)), Array.from(img1).reverse());
  // Four quarter turns give back the input; the input is not modified.
  let y: Float32Array = x.slice();
  for (let k = 0; k < 4; k++) y = await rotateImages(y, n, 90, { chunk: 1 });
  assert.deepEqual(Array.from(y), Array.from(x));
  // 45°: corners come from outside and get the fill value; the centre stays.
  const ones = new Float32Array(784).fill(1);
  const r45 = await rotateImages(ones, 1, 45, { fill: -0.42 });
  assert.ok(Math.abs(r45[0] - -0.42) < 1e-6);
  assert.equal(r45[14 * 28 + 14], 1);
  await assert.rejects(() => rotateImages(new Float32Array(10), 1, 10), /do not make 1 images/);
});

Deno.test("rotateDataset fills with the dataset's background value", async () => {
  await tf.setBackend("cpu");
  const ds = { ...toy(1), x: new Float32Array(784).fill(2), xShape: [28, 28], background: -1 };
  const r = await rotateDataset(ds, 30);
  assert.ok(Math.abs(r.x[0] - -1) < 1e-6);
  assert.equal(r.x[14 * 28 + 14], 2);
  assert.deepEqual(r.xShape, [28, 28]);
  assert.equal(ds.x[0], 2);
});

Deno.test("rotateImages on wasm fills rotated-in corners with a non-zero background exactly", async () => {
  const { initBackend } = await import("../core/backend.ts");
  const { rotateImages } = await import("../datasets/rotate.ts");
  await initBackend({ backend: "wasm", quiet: true });
  const bg = -0.4242;
  const img = new Float32Array(28 * 28).fill(bg);
  img[14 * 28 + 14] = 2.8; // one bright pixel near the centre
  const r = await rotateImages(img, 1, 45, { fill: bg });
  // Corner pixels come from outside the image: they must be the background.
  for (const i of [0, 27, 27 * 28, 28 * 28 - 1]) {
    if (Math.abs(r[i] - bg) > 1e-6) throw new Error(`corner ${i}: ${r[i]} instead of ${bg}`);
  }
  if (!r.some((v) => v > 2)) throw new Error("the bright pixel was lost");
});
