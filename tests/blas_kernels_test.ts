// BLAS-backed matmul kernels on the wasm backend equal the stock wasm kernels.
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "node:assert/strict";
import { loadBlas } from "../core/blas.ts";
import { registerWasmBlasKernels, registerWasmIdentity } from "../core/wasm_blas.ts";
import { Rng } from "../core/rng.ts";

await tf.setBackend("wasm");
await tf.ready();
const { blas, reason } = loadBlas();
if (!blas) console.warn(`SKIP blas kernel tests: ${reason}`);

const rng = new Rng(11);
function rand(shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(rng.normalArray(n), shape);
}

interface Case {
  a: number[];
  b: number[];
  ta: boolean;
  tb: boolean;
  bias?: number[];
  act?: "relu" | "linear" | "sigmoid" | "elu" | "relu6" | "leakyrelu";
}

const cases: Case[] = [];
for (const ta of [false, true]) {
  for (const tb of [false, true]) {
    const m = 7, k = 13, n = 5;
    cases.push({ a: ta ? [k, m] : [m, k], b: tb ? [n, k] : [k, n], ta, tb });
    cases.push({ a: ta ? [3, k, m] : [3, m, k], b: tb ? [3, n, k] : [3, k, n], ta, tb });
    cases.push({ a: ta ? [3, k, m] : [3, m, k], b: tb ? [1, n, k] : [1, k, n], ta, tb });
    cases.push({ a: ta ? [1, k, m] : [1, m, k], b: tb ? [4, n, k] : [4, k, n], ta, tb });
    cases.push({ a: ta ? [2, 3, k, m] : [2, 3, m, k], b: tb ? [3, n, k] : [3, k, n], ta, tb });
    cases.push({
      a: ta ? [k, m] : [m, k],
      b: tb ? [n, k] : [k, n],
      ta,
      tb,
      bias: [n],
      act: "relu",
    });
  }
}
cases.push({ a: [64, 100], b: [100, 33], ta: false, tb: false, bias: [33], act: "sigmoid" });
cases.push({ a: [2, 6, 8], b: [8, 4], ta: false, tb: false, bias: [4], act: "elu" });
cases.push({ a: [6, 8], b: [8, 4], ta: false, tb: false, bias: [6, 4], act: "relu6" });
cases.push({ a: [6, 8], b: [8, 4], ta: false, tb: false, bias: [1], act: "leakyrelu" });

function maxRelErr(x: Float32Array | Int32Array | Uint8Array, y: typeof x): number {
  let m = 0;
  let scale = 1e-6;
  for (let i = 0; i < y.length; i++) scale = Math.max(scale, Math.abs(y[i]));
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]) / scale);
  return m;
}

// Compute every reference result with the stock kernels first.
const inputs = cases.map((c) => ({
  a: rand(c.a),
  b: rand(c.b),
  bias: c.bias ? rand(c.bias) : undefined,
}));
const run = (c: Case, i: number) =>
  c.bias || c.act
    ? tf.fused.matMul({
      a: inputs[i].a,
      b: inputs[i].b,
      transposeA: c.ta,
      transposeB: c.tb,
      bias: inputs[i].bias,
      activation: c.act,
    })
    : tf.matMul(inputs[i].a, inputs[i].b, c.ta, c.tb);
// Reference: stock wasm kernels, unfused (the stock fused kernel mishandles
// transposeB with a bias, so matmul + add + activation is the trustworthy form).
const stock = cases.map((c, i) =>
  tf.tidy(() => {
    let y = tf.matMul(inputs[i].a, inputs[i].b, c.ta, c.tb);
    if (inputs[i].bias) y = tf.add(y, inputs[i].bias!);
    if (c.act === "relu") y = tf.relu(y);
    if (c.act === "relu6") y = tf.relu6(y);
    if (c.act === "sigmoid") y = tf.sigmoid(y);
    if (c.act === "elu") y = tf.elu(y);
    if (c.act === "leakyrelu") y = tf.leakyRelu(y, 0.2);
    return y;
  })
);
const stockData = stock.map((t) => ({ shape: t.shape, data: t.dataSync().slice() }));
if (blas) registerWasmBlasKernels(blas);

Deno.test({
  name: "BLAS matmul equals stock wasm for every transpose pair, batch and fused case",
  ignore: !blas,
  fn() {
    cases.forEach((c, i) => {
      const got = run(c, i);
      const label = `a[${c.a}] b[${c.b}] ta=${c.ta} tb=${c.tb} bias=${c.bias} act=${c.act}`;
      assert.deepEqual(got.shape, stockData[i].shape, label);
      const err = maxRelErr(got.dataSync() as Float32Array, stockData[i].data as Float32Array);
      assert.ok(err <= 1e-4, `${label}: relative error ${err}`);
      got.dispose();
    });
  },
});

Deno.test({
  name: "BLAS matmul: mismatched inner dimensions are a clear error",
  ignore: !blas,
  fn() {
    assert.throws(
      () => tf.matMul(tf.ones([2, 3]), tf.ones([4, 2])),
      /inner shapes \(3\) and \(4\)/,
    );
  },
});

Deno.test({
  name: "gradients of a small MLP through the BLAS kernels equal finite differences",
  ignore: !blas,
  fn() {
    const r = new Rng(3);
    const x = tf.tensor2d(r.normalArray(5 * 4), [5, 4]);
    const w1 = tf.variable(tf.tensor2d(r.normalArray(4 * 6), [4, 6]));
    const b1 = tf.variable(tf.tensor1d(r.normalArray(6)));
    const w2 = tf.variable(tf.tensor2d(r.normalArray(6 * 3), [6, 3]));
    const labels = tf.oneHot(tf.tensor1d([0, 2, 1, 1, 0], "int32"), 3);
    const f = () =>
      tf.tidy(() => {
        const h = tf.fused.matMul({ a: x, b: w1, bias: b1, activation: "relu" });
        const out = tf.matMul(h, w2);
        return tf.neg(tf.sum(tf.mul(labels, tf.logSoftmax(out)))) as tf.Scalar;
      });
    const { grads } = tf.variableGrads(f, [w1, b1, w2]);
    // Step small enough that no pre-activation crosses the ReLU kink.
    const z = tf.add(tf.matMul(x, w1), b1).dataSync();
    const minAbsZ = Math.min(...Array.from(z, Math.abs));
    const xMax = Math.max(1, ...Array.from(x.dataSync(), Math.abs));
    const h = Math.min(1e-2, minAbsZ / (4 * xMax));
    for (const v of [w1, b1, w2] as tf.Variable[]) {
      const g = grads[v.name].dataSync();
      const vals = v.dataSync().slice();
      for (const idx of [0, 3, vals.length - 1]) {
        const plus = vals.slice();
        plus[idx] += h;
        v.assign(tf.tensor(plus, v.shape));
        const fp = f().dataSync()[0];
        const minus = vals.slice();
        minus[idx] -= h;
        v.assign(tf.tensor(minus, v.shape));
        const fm = f().dataSync()[0];
        v.assign(tf.tensor(vals, v.shape));
        const fd = (fp - fm) / (2 * h);
        assert.ok(
          Math.abs(fd - g[idx]) <= 1e-2 * Math.max(1, Math.abs(fd)) + 2e-5 / h,
          `${v.name}[${idx}]: autodiff ${g[idx]} vs finite difference ${fd}`,
        );
      }
    }
  },
});

Deno.test("wasm Identity shares the input's heap block: tf.clone allocates nothing, and either tensor outlives the other", () => {
  registerWasmIdentity();
  const a = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
  const before = tf.memory().numDataBuffers;
  const b = tf.clone(a);
  assert.equal(tf.memory().numDataBuffers, before, "a clone must not allocate a new block");
  // deno-lint-ignore no-explicit-any
  const map = (tf.backend() as any).dataIdMap;
  assert.equal(map.get(b.dataId).memoryOffset, map.get(a.dataId).memoryOffset);
  a.dispose();
  assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3, 4, 5, 6]);
  b.dispose();
  assert.equal(tf.memory().numDataBuffers, before - 1, "the block is freed with its last tensor");
  // The saved-for-backward clones: gradients through a tape are unchanged.
  const x = tf.tensor1d([0.5, -1, 2]);
  const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), v)))(x);
  assert.deepEqual(Array.from(g.dataSync()), [1, 0, 4]);
  tf.dispose([x, g]);
  // Strings keep the stock kernel.
  const s = tf.clone(tf.tensor1d(["x", "y"], "string"));
  assert.deepEqual(s.dataSync(), ["x", "y"]);
});
