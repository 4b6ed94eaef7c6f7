// The noisy pre-activation (core/fused_kernels.ts noisyAffine: local reparametrisation's and
// Flipout's relu?(mean + g(scale)·noise); one program each way on the GPU, tfjs's ops elsewhere)
// against a host computation in doubles: values and the gradients of all three inputs, with the
// repetitions' broadcast, on the cpu, wasm and webgpu (llvmpipe) backends.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../core/backend.ts";
import { Rng } from "../core/rng.ts";
import { noisyAffine } from "../core/fused_kernels.ts";

type Opts = { sqrt: boolean; relu: boolean };

/** The values and the three gradients of Σ w·out, in doubles on the host. */
function reference(
  mean: Float32Array,
  scale: Float32Array,
  noise: Float32Array,
  w: Float32Array,
  o: Opts,
) {
  const m = mean.length;
  const out = new Float64Array(noise.length), dnoise = new Float64Array(noise.length);
  const dmean = new Float64Array(m), dscale = new Float64Array(m);
  for (let k = 0; k < noise.length; k++) {
    const j = k % m, g = o.sqrt ? Math.sqrt(scale[j]) : scale[j];
    const z = mean[j] + g * noise[k];
    out[k] = o.relu ? Math.max(0, z) : z;
    const dz = o.relu && z <= 0 ? 0 : w[k];
    dmean[j] += dz;
    dscale[j] += dz * noise[k] * (o.sqrt ? 1 / (2 * g) : 1);
    dnoise[k] = dz * g;
  }
  return { out, grads: [dmean, dscale, dnoise] };
}

/** Largest |a − b| over the largest |b| (or 1). */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, s = 1;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / s;
}

const CASES = [
  { shape: [6, 5], reps: 1, sqrt: true, relu: true },
  { shape: [6, 5], reps: 3, sqrt: true, relu: true }, // LRT's first layer: moments shared by 3 draws
  { shape: [4, 7], reps: 1, sqrt: true, relu: false },
  { shape: [2, 4, 3], reps: 1, sqrt: false, relu: true }, // Flipout, k samples at once
  { shape: [5, 3], reps: 2, sqrt: false, relu: false },
];

for (const backend of ["cpu", "wasm", "webgpu"]) {
  Deno.test(`noisyAffine (${backend}): values and the three gradients, repetitions summed`, async () => {
    await initBackend({ backend, quiet: true });
    const rng = new Rng(4);
    for (const c of CASES) {
      const m = c.shape.reduce((a, b) => a * b, 1);
      const mean = tf.tensor(rng.normalArray(m), c.shape);
      // Variances bounded away from 0 (√ has an unbounded slope there); signs or normals as noise.
      const scale = tf.tensor(rng.normalArray(m).map((v) => (c.sqrt ? 0.2 + v * v : v)), c.shape);
      const noiseShape = [c.reps * c.shape[0], ...c.shape.slice(1)];
      const noise = tf.tensor(rng.normalArray(c.reps * m), noiseShape);
      const w = tf.tensor(rng.normalArray(c.reps * m), noiseShape); // a weighted sum: dy varies
      const label = `${JSON.stringify(c)}`;
      const host = await Promise.all(
        [mean, scale, noise, w].map((t) => t.data() as Promise<Float32Array>),
      );
      const want = reference(host[0], host[1], host[2], host[3], c);
      const got = noisyAffine(mean, scale, noise, c);
      assert.deepEqual(got.shape, noiseShape, `${label}: shape`);
      assert.ok(relErr(await got.data(), want.out) <= 1e-6, `${label}: values`);
      const gGot = tf.grads((a: tf.Tensor, b: tf.Tensor, e: tf.Tensor) =>
        tf.sum(tf.mul(noisyAffine(a, b, e, c), w))
      )([mean, scale, noise]);
      for (const [i, name] of ["mean", "scale", "noise"].entries()) {
        assert.deepEqual(
          gGot[i].shape,
          [mean, scale, noise][i].shape,
          `${label}: ${name} gradient's shape`,
        );
        assert.ok(
          relErr(await gGot[i].data(), want.grads[i]) <= 1e-5,
          `${label}: ${name} gradient`,
        );
      }
      tf.dispose([mean, scale, noise, w, got, ...gGot]);
    }
  });
}

Deno.test("noisyAffine: shapes that do not fit, or int32 inputs, are a clear error", async () => {
  await initBackend({ backend: "wasm", quiet: true });
  assert.throws(
    () =>
      noisyAffine(tf.zeros([2, 3]), tf.zeros([3, 2]), tf.zeros([2, 3]), { sqrt: true, relu: true }),
    /mean \[2,3\] and scale \[3,2\] must have one shape whose size divides the noise's \[2,3\]/,
  );
  assert.throws(
    () =>
      noisyAffine(tf.zeros([2, 3]), tf.zeros([2, 3]), tf.zeros([4, 2]), { sqrt: true, relu: true }),
    /size divides the noise's \[4,2\]/,
  );
  assert.throws(
    () =>
      noisyAffine(tf.zeros([2], "int32"), tf.zeros([2]), tf.zeros([2]), {
        sqrt: false,
        relu: false,
      }),
    /must be float32/,
  );
});
