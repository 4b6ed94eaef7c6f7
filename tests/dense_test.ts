// The dense layer's recorded gradient (core/dense.ts) equals tfjs's own autograd
// of the unfused layer, on the wasm (BLAS), cpu and webgpu (llvmpipe in CI) backends.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../core/backend.ts";
import { dense } from "../core/dense.ts";
import { Rng } from "../core/rng.ts";
import { maxAbsDiff } from "./_tensors.ts";

function unfused(a: tf.Tensor, w: tf.Tensor, bias: tf.Tensor, relu: boolean): tf.Tensor {
  // tfjs's BatchMatMul gradient cannot broadcast a batch of 1: tile it (tile's gradient sums back).
  const S = w.rank === 3 ? w.shape[0] : 1;
  const a3 = a.rank === 3 && a.shape[0] === 1 && S > 1 ? tf.tile(a, [S, 1, 1]) : a;
  const z = tf.add(tf.matMul(a3 as tf.Tensor3D, w as tf.Tensor3D), bias);
  return relu ? tf.relu(z) : z;
}

const cases: { label: string; a: number[]; w: number[]; bias: number[] }[] = [
  { label: "rank 2", a: [7, 5], w: [5, 4], bias: [4] },
  { label: "S weight draws, shared input", a: [1, 7, 5], w: [3, 5, 4], bias: [3, 1, 4] },
  { label: "S weight draws, own inputs", a: [3, 7, 5], w: [3, 5, 4], bias: [3, 1, 4] },
];

for (const backend of ["wasm", "cpu", "webgpu"]) {
  Deno.test(`dense (${backend}): value and gradients of every input equal the unfused layer's, relu and linear`, async () => {
    await initBackend({ backend, quiet: true });
    const rng = new Rng(5);
    const t = (shape: readonly number[]) =>
      tf.tensor(rng.normalArray(shape.reduce((p, d) => p * d, 1)), [...shape]);
    for (const c of cases) {
      for (const relu of [true, false]) {
        const a = t(c.a), w = t(c.w), bias = t(c.bias);
        const y = dense(a, w, bias, relu);
        const up = t(y.shape); // an upstream gradient that is not all ones
        const loss = (f: typeof dense) => (x: tf.Tensor, v: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(f(x, v, b, relu), up)) as tf.Scalar;
        const got = tf.grads(loss(dense))([a, w, bias]);
        const want = tf.grads(loss(unfused))([a, w, bias]);
        const label = `${c.label}, ${relu ? "relu" : "linear"}`;
        const ref = unfused(a, w, bias, relu);
        assert.ok((await maxAbsDiff(y, ref)) < 1e-5, `${label}: values differ`);
        for (const [i, name] of ["a", "w", "bias"].entries()) {
          const d = await maxAbsDiff(got[i], want[i]);
          assert.ok(d < 1e-4, `${label}: d${name} differs by ${d}`);
        }
        tf.dispose([a, w, bias, y, up, ref, ...got, ...want]);
      }
    }
  });
}
