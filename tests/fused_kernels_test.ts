// The fused softmax cross-entropy (core/fused_kernels.ts) against tfjs's composed loss: values and
// gradients on the cpu, wasm and webgpu (llvmpipe in CI) backends.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../core/backend.ts";
import { Rng } from "../core/rng.ts";
import { maxAbsDiff } from "./_tensors.ts";
import {
  affineSum,
  type AffineTerm,
  misclassified,
  misclassifiedTotal,
  reluBackward,
  scaledTotal,
  softmaxNll,
  softmaxNllSum,
  sumRows,
} from "../core/fused_kernels.ts";

function composed(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor {
  const c = logits.shape[logits.rank - 1], n = labels.size;
  const oh = tf.oneHot(labels as tf.Tensor1D, c);
  const lp = tf.logSoftmax(logits.reshape([logits.size / c / n, n, c]));
  return tf.neg(tf.sum(tf.mul(oh, lp), -1)).reshape(logits.shape.slice(0, -1));
}

for (const backend of ["cpu", "wasm", "webgpu"]) {
  Deno.test(`softmaxNll (${backend}): values and logit gradients equal tfjs's composed loss; S draws share labels`, async () => {
    await initBackend({ backend, quiet: true });
    const rng = new Rng(9);
    for (const shape of [[7, 10], [3, 7, 10], [5, 2]]) {
      const n = shape[shape.length - 2], c = shape[shape.length - 1];
      // Large logits too: the row maximum must be subtracted before the exponentials.
      const z = tf.tensor(
        rng.normalArray(shape.reduce((a, b) => a * b, 1)).map((v) => 30 * v),
        shape,
      );
      const y = tf.tensor1d(Array.from({ length: n }, (_, i) => (3 * i + 1) % c), "int32");
      const w = tf.tensor(
        rng.normalArray(shape.slice(0, -1).reduce((a, b) => a * b, 1)),
        shape.slice(0, -1),
      );
      const got = softmaxNll(z, y), want = composed(z, y);
      const label = `[${shape}]`;
      const scale = Math.max(...Array.from(await want.data(), Math.abs), 1);
      assert.ok((await maxAbsDiff(got, want)) <= 1e-5 * scale, `${label}: values`);
      // A weighted sum, so the upstream gradient differs per row.
      const gGot = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(softmaxNll(t, y), w)))(z);
      const gWant = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(composed(t, y), w)))(z);
      assert.ok((await maxAbsDiff(gGot, gWant)) <= 1e-5, `${label}: gradients`);
      tf.dispose([z, y, w, got, want, gGot, gWant]);
    }
  });
}

Deno.test("softmaxNll: labels that do not divide the rows, or are not int32, are a clear error", async () => {
  await initBackend({ backend: "wasm", quiet: true });
  assert.throws(
    () => softmaxNll(tf.zeros([6, 3]), tf.tensor1d([0, 1, 2, 0], "int32")),
    /6 rows of logits \[6,3\] cannot be labelled by 4 labels/,
  );
  assert.throws(() => softmaxNll(tf.zeros([2, 3]), tf.tensor1d([0, 1])), /labels must be int32/);
});

Deno.test("reluBackward and sumRows on webgpu equal tfjs's ops; a shape sumRows cannot give is a clear error", async () => {
  await initBackend({ backend: "webgpu", quiet: true });
  const rng = new Rng(4);
  const x = tf.tensor(rng.normalArray(3 * 7 * 5), [3, 7, 5]);
  const dy = tf.tensor(rng.normalArray(3 * 7 * 5), [3, 7, 5]);
  const cases: [tf.Tensor, tf.Tensor][] = [
    [reluBackward(dy, tf.relu(x)), tf.mul(dy, tf.step(tf.relu(x)))],
    [sumRows(x, [3, 1, 5]), tf.sum(x, 1, true)],
    [sumRows(x.reshape([21, 5]), [5]), tf.sum(x.reshape([21, 5]), 0)],
  ];
  for (const [got, want] of cases) assert.ok((await maxAbsDiff(got, want)) < 1e-5);
  assert.throws(() => sumRows(x, [5]), /\[3,7,5\] summed over its rows cannot give \[5\]/);
  tf.dispose([x, dy, ...cases.flat()]);
});

for (const backend of ["cpu", "wasm", "webgpu"]) {
  Deno.test(`misclassified (${backend}): equals argMax ≠ label, S draws sharing labels`, async () => {
    await initBackend({ backend, quiet: true });
    const rng = new Rng(12);
    for (const shape of [[9, 10], [3, 9, 10]]) {
      const z = tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape);
      const y = tf.tensor1d(Array.from({ length: 9 }, (_, i) => (7 * i) % 10), "int32");
      const got = await misclassified(z, y).data();
      const pred = await tf.argMax(z, -1).data(), labels = await y.data();
      const want = Array.from(pred, (p, r) => (p === labels[r % 9] ? 0 : 1));
      assert.deepEqual(Array.from(got), want, `[${shape}]`);
      assert.ok(want.includes(0) && want.includes(1), "right and wrong rows both occur");
      tf.dispose([z, y]);
    }
  });
}

for (const backend of ["cpu", "wasm", "webgpu"]) {
  Deno.test(`scaledTotal (${backend}): (value + w·Σ parts) / d; a weight that is not finite is a clear error on the GPU`, async () => {
    await initBackend({ backend, quiet: true });
    const value = tf.scalar(7.5), parts = tf.tensor2d([[1.25], [2], [0.75]]);
    const got = scaledTotal(value, parts, 0.5, 100);
    assert.equal(got.rank, 0);
    assert.ok(Math.abs((await got.data())[0] - (7.5 + 0.5 * 4) / 100) < 1e-7);
    const other = scaledTotal(value, parts, 2, 3); // another weight and divisor: another program
    assert.ok(Math.abs((await other.data())[0] - (7.5 + 8) / 3) < 1e-5);
    if (backend === "webgpu") {
      assert.throws(() => scaledTotal(value, parts, NaN, 1), /NaN is not a finite/);
    }
    tf.dispose([value, parts, got, other]);
  });
}

for (const backend of ["cpu", "wasm", "webgpu"]) {
  Deno.test(`affineSum (${backend}): constant + Σ coefficient · column sums, any number of terms`, async () => {
    await initBackend({ backend, quiet: true });
    const rng = new Rng(3);
    const shapes = [[6, 4], [6, 2], [], [3, 2], [5], [2, 1, 2]];
    const ts = shapes.map((sh) => tf.tensor(rng.normalArray(sh.reduce((a, b) => a * b, 1)), sh));
    const coefs = shapes.map((sh) =>
      Array.from({ length: sh.length < 2 ? 1 : sh[sh.length - 1] }, (_, j) => (j % 3) - 0.75)
    );
    const host = await Promise.all(ts.map((t) => t.data()));
    for (const k of [1, 3, 6]) { // 6 terms: the GPU sums the last three as a term of its own
      let want = 0.5;
      for (let i = 0; i < k; i++) {
        const c = coefs[i];
        host[i].forEach((v, j) => (want += c[j % c.length] * v));
      }
      const got = affineSum(ts.slice(0, k).map((t, i) => ({ t, coefs: coefs[i] })), 0.5);
      assert.equal(got.rank, 0);
      const v = (await got.data())[0];
      assert.ok(Math.abs(v - want) < 1e-5 * (1 + Math.abs(want)), `${k} terms: ${v} vs ${want}`);
      got.dispose();
    }
    // A term with all-zero coefficients adds nothing (on the GPU its tensor must not be bound:
    // an unread binding made the whole program's dispatch fail, giving 0), and so does none.
    const c1 = coefs[1];
    let want1 = 0.5;
    host[1].forEach((v, j) => (want1 += c1[j % c1.length] * v));
    const cases: [AffineTerm[], number][] = [
      [[{ t: ts[0], coefs: [0, 0, 0, 0] }, { t: ts[1], coefs: c1 }], want1],
      [[{ t: ts[2], coefs: [0] }], 0.5],
    ];
    for (const [terms, want] of cases) {
      const got = affineSum(terms, 0.5);
      const v = (await got.data())[0];
      assert.ok(
        Math.abs(v - want) < 1e-5 * (1 + Math.abs(want)),
        `zero coefficients: ${v} vs ${want}`,
      );
      got.dispose();
    }
    assert.throws(
      () => affineSum([{ t: ts[0], coefs: [1, 2] }]),
      /\[6,4\] has 4 column\(s\), found 2/,
    );
    assert.throws(() => affineSum([{ t: ts[1], coefs: [1, NaN] }]), /coefficients must be finite/);
    tf.dispose(ts);
  });
}

for (const backend of ["cpu", "wasm", "webgpu"]) {
  Deno.test(`softmaxNllSum and misclassifiedTotal (${backend}): the per-row kernels summed, gradients included`, async () => {
    await initBackend({ backend, quiet: true });
    const rng = new Rng(21);
    for (const shape of [[7, 10], [3, 7, 10]]) {
      const size = shape.reduce((a, b) => a * b, 1);
      const z = tf.tensor(rng.normalArray(size).map((v) => 30 * v), shape);
      const y = tf.tensor1d(Array.from({ length: 7 }, (_, i) => (3 * i + 1) % 10), "int32");
      const label = `[${shape}]`;
      const want = composed(z, y);
      const total = (await tf.sum(want).data())[0];
      const got = (await softmaxNllSum(z, y).data())[0];
      assert.ok(Math.abs(got - total) <= 1e-5 * Math.max(1, Math.abs(total)), `${label}: sum`);
      // Scaled, so the upstream gradient is not 1.
      const gGot = tf.grad((t: tf.Tensor) => tf.mul(softmaxNllSum(t, y), 0.37))(z);
      const gWant = tf.grad((t: tf.Tensor) => tf.mul(tf.sum(composed(t, y)), 0.37))(z);
      assert.ok((await maxAbsDiff(gGot, gWant)) <= 1e-5, `${label}: gradients`);
      const draws = shape.length === 3 ? shape[0] : 1;
      const wrong = Array.from(await misclassified(z, y).data()).reduce((a, b) => a + b, 0);
      const mean = (await misclassifiedTotal(z, y, draws).data())[0];
      assert.ok(Math.abs(mean - wrong / draws) < 1e-6, `${label}: ${mean} vs ${wrong / draws}`);
      tf.dispose([z, y, want, gGot, gWant]);
    }
    const z = tf.zeros([2, 3]), y = tf.tensor1d([0, 1], "int32");
    assert.throws(() => misclassifiedTotal(z, y, 0), /divisor must be a positive number, found 0/);
    assert.throws(() => softmaxNllSum(z, tf.tensor1d([0, 1, 2], "int32")), /cannot be labelled/);
    tf.dispose([z, y]);
  });
}
