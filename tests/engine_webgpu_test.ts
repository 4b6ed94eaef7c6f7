// The WebGPU engine against the CPU engine and the Philox reference. Runs on any WebGPU
// adapter (Mesa's llvmpipe in CI); a machine without one fails here, naming what to install.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../core/backend.ts";
import {
  CpuEngine,
  defineKernel,
  type Engine,
  getEngine,
  Layout,
  philoxNormal,
  philoxUniform,
  type RunResult,
} from "../core/engine/mod.ts";
import { philoxKey } from "../core/engine/philox.ts";
import type { WebGpuEngine } from "../core/engine/webgpu.ts";

async function gpu(): Promise<Engine> {
  await initBackend({ backend: "webgpu", quiet: true });
  const e = getEngine();
  assert.equal(e.kind, "webgpu");
  return e;
}

Deno.test("webgpu engine: Philox bits match the reference exactly, normals to float32", async () => {
  const e = await gpu();
  const s = e.noise(7, 3);
  const u = await e.read(s.bernoulliTensor([4096], 2, 1)); // draw 0: all ones (p > 1)
  assert.ok(u.every((v) => v === 1));
  const shape = [300, 7];
  // Draw 1 of the stream: uniforms through a kernel of the language.
  const k = defineKernel({ name: "u", outputs: ["o"], uniforms: ["r"], body: "o = r;" });
  const layout = new Layout([{ name: "t", shape }]);
  const out = e.run(k, layout, { normals: { r: s.take(layout, 1, "uniform") } }).outputs.o[0];
  const got = await e.read(out);
  const key = philoxKey(7, 3);
  for (let i = 0; i < got.length; i++) assert.equal(got[i], philoxUniform(key, 3, 1, i));
  const z = await e.read(s.normalTensor(shape, 2)); // draw 2
  let worst = 0;
  for (let i = 0; i < z.length; i++) {
    worst = Math.max(worst, Math.abs(z[i] - 2 * philoxNormal(key, 3, 2, i)));
  }
  assert.ok(worst < 1e-4, `normals differ from the reference by up to ${worst}`);
  tf.dispose([out]);
});

Deno.test("webgpu engine: normals have mean 0, variance 1, and independent streams", async () => {
  const e = await gpu();
  const n = 1 << 20;
  const a = await e.read(e.noise(1, 0).normalTensor([n]));
  const b = await e.read(e.noise(2, 0).normalTensor([n])); // another seed
  const c = await e.read(e.noise(1, 1).normalTensor([n])); // same seed, another purpose
  const s2 = e.noise(1, 0);
  s2.normalTensor([n]);
  const d = await e.read(s2.normalTensor([n])); // the next draw of the first stream
  const mean = (x: Float32Array) => x.reduce((s, v) => s + v, 0) / x.length;
  const cov = (x: Float32Array, y: Float32Array) => {
    const mx = mean(x), my = mean(y);
    let s = 0;
    for (let i = 0; i < x.length; i++) s += (x[i] - mx) * (y[i] - my);
    return s / x.length;
  };
  const se = 1 / Math.sqrt(n);
  assert.ok(Math.abs(mean(a)) < 5 * se, `mean ${mean(a)}`);
  assert.ok(Math.abs(cov(a, a) - 1) < 5 * Math.SQRT2 * se, `variance ${cov(a, a)}`);
  let tail = 0;
  for (const v of a) if (Math.abs(v) > 3) tail++;
  assert.ok(Math.abs(tail / n - 0.0027) < 0.0005, `P(|z| > 3) = ${tail / n}`);
  for (const [name, y] of [["seed", b], ["purpose", c], ["next draw", d]] as const) {
    assert.ok(Math.abs(cov(a, y)) < 5 * se, `correlation across ${name}: ${cov(a, y)}`);
  }
  // Neighbouring elements of one draw.
  assert.ok(Math.abs(cov(a.subarray(1), a.subarray(0, n - 1))) < 5 * se);
});

const MIX = defineKernel({
  name: "mix",
  inputs: ["g[]", "keep?"],
  inouts: ["mu", "rho"],
  outputs: ["w[]", "v"],
  normals: ["eps[]", "xi"],
  scalars: ["lr", "pv", "c"],
  sums: ["se2", "kl"],
  body: `
    let sd = softplus(rho) + 1e-6;
    var gm = 0;
    var gs = 0;
    for s in samples {
      let e = eps[s];
      w[s] = keep * (mu + sd * e);
      gm += g[s];
      gs += g[s] * e;
      se2 += e * e;
    }
    kl += log(pv) - log(sd) + (sd * sd + mu * mu) / (2 * pv) - 0.5;
    v = select(sd * sd, 0, mu > 0.5) + c * xi;
    mu -= lr * (gm + mu / pv);
    rho -= lr * (gs + sd / pv - 1 / sd) * sigmoid(rho);
  `,
});

const MIX_LAYOUT = new Layout([
  { name: "a", shape: [33, 20] },
  { name: "b", shape: [20] },
  { name: "c", shape: [] },
]);

async function mixRun(
  e: Engine,
  layout = MIX_LAYOUT,
): Promise<Record<string, Float32Array>> {
  const P = layout.total;
  const mu = e.vector(layout, Float32Array.from({ length: P }, (_, i) => Math.sin(i)));
  const rho = e.vector(layout, Float32Array.from({ length: P }, (_, i) => -3 + Math.cos(i)));
  const g = layout.segments.map((s) =>
    tf.tensor(Float32Array.from({ length: 3 * s.size }, (_, i) => Math.cos(i * 0.7)), [
      3,
      ...s.shape,
    ])
  );
  const keep = layout.segments.map((s) =>
    tf.tensor(Float32Array.from({ length: s.size }, (_, i) => (i % 5 === 0 ? 0 : 1)), [...s.shape])
  );
  const noise = e.noise(11, 5);
  const c = tf.scalar(0.25);
  const r: RunResult = e.run(MIX, layout, {
    arrays: { g, keep, mu, rho },
    normals: { eps: noise.take(layout, 3), xi: noise.take(layout) },
    scalars: { lr: 0.05, pv: layout.segments.map((_, i) => [0.01, 0.02, 1][i % 3]), c },
    samples: 3,
  });
  const out: Record<string, Float32Array> = {
    mu: await mu.toHost(),
    rho: await rho.toHost(),
    sums: await e.read(r.sums!),
  };
  for (const [name, ts] of Object.entries(r.outputs)) {
    const parts = await Promise.all(ts.map((t) => e.read(t)));
    out[name] = Float32Array.from(parts.flatMap((p) => Array.from(p)));
  }
  tf.dispose([...g, ...keep, c, ...Object.values(r.outputs).flat(), r.sums!]);
  mu.dispose();
  rho.dispose();
  return out;
}

Deno.test("webgpu engine: a kernel gives the CPU engine's results (same Philox draws)", async () => {
  await initBackend({ backend: "wasm", quiet: true });
  const want = await mixRun(new CpuEngine({ noise: "philox" }));
  const got = await mixRun(await gpu());
  for (const [name, w] of Object.entries(want)) {
    const g = got[name];
    assert.equal(g.length, w.length, name);
    let worst = 0;
    for (let i = 0; i < w.length; i++) {
      worst = Math.max(worst, Math.abs(g[i] - w[i]) / (1e-3 + Math.abs(w[i])));
    }
    assert.ok(worst < 2e-4, `${name}: relative difference up to ${worst}`);
  }
});

Deno.test("webgpu engine: segments share dispatches (8 a dispatch), with the CPU's results", async () => {
  // 11 segments of assorted sizes: one dispatch of 8 and one of 3 (sums in both), then one
  // program adding the workgroups' partial sums.
  const layout = new Layout(
    Array.from({ length: 11 }, (_, i) => ({ name: `s${i}`, shape: [1 + ((i * 397) % 1500)] })),
  );
  await initBackend({ backend: "wasm", quiet: true });
  const want = await mixRun(new CpuEngine({ noise: "philox" }), layout);
  const e = (await gpu()) as WebGpuEngine;
  const before = e.dispatches;
  const got = await mixRun(e, layout);
  assert.equal(e.dispatches - before, 3);
  for (const [name, w] of Object.entries(want)) {
    let worst = 0;
    for (let i = 0; i < w.length; i++) {
      worst = Math.max(worst, Math.abs(got[name][i] - w[i]) / (1e-3 + Math.abs(w[i])));
    }
    assert.ok(worst < 2e-4, `${name}: relative difference up to ${worst}`);
  }
});

Deno.test("webgpu engine: binding one tensor as input and output is a clear error", async () => {
  const e = await gpu();
  const layout = new Layout([{ name: "a", shape: [4] }]);
  const p = e.vector(layout, 1);
  const k = defineKernel({ name: "alias", inputs: ["g"], inouts: ["p"], body: "p += g;" });
  assert.throws(
    () => e.run(k, layout, { arrays: { g: p, p } }),
    /"g" and "p" are the same tensor, and one of them is written/,
  );
  p.dispose();
});

Deno.test("webgpu engine: a program declaring a binding it never uses is a clear error", async () => {
  const e = (await gpu()) as WebGpuEngine;
  const code = (body: string) => `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(1)
fn main() { ${body} }`;
  // Dropped from the "auto" layout, such a binding would make every dispatch fail silently.
  assert.throws(() => e.pipeline(code("out[0] = 1.0;")), /binding\(s\) x that it never uses/);
  assert.ok(e.pipeline(code("out[0] = x[0];")));
});

Deno.test("webgpu engine: a dispatch the device rejects makes the next read throw", async () => {
  const e = await gpu();
  // One segment over the adapter's storage-binding limit (llvmpipe: 128 MiB): the device
  // rejects the dispatch without an exception; the read after it must not return garbage.
  const limit = Number(
    (tf.backend() as unknown as { device: GPUDevice }).device.limits
      .maxStorageBufferBindingSize,
  );
  const n = limit / 4 + 1024;
  if (n > 2 ** 28) return; // a real GPU with huge bindings: nothing to provoke cheaply
  const layout = new Layout([{ name: "big", shape: [n] }]);
  const k = defineKernel({ name: "fill", outputs: ["o"], scalars: ["c"], body: "o = c;" });
  const out = e.run(k, layout, { scalars: { c: 1 } }).outputs.o[0];
  await assert.rejects(() => e.read(out), /reported \d+ error\(s\) before this read/);
  out.dispose();
  const ok = e.run(k, new Layout([{ name: "s", shape: [4] }]), { scalars: { c: 2 } }).outputs.o[0];
  assert.deepEqual(Array.from(await e.read(ok)), [2, 2, 2, 2]); // errors are reported once
  ok.dispose();
});

Deno.test("webgpu engine: a parameter over the adapter's binding limit is refused by name", async () => {
  const e = await gpu();
  const limit = Number(
    (tf.backend() as unknown as { device: GPUDevice }).device.limits
      .maxStorageBufferBindingSize,
  );
  const cols = 1000;
  const rows = Math.floor(limit / 4 / cols) + 1; // one row more than one buffer can bind
  const layout = new Layout([{ name: "l0.b", shape: [cols] }, {
    name: "l0.w",
    shape: [rows, cols],
  }]);
  assert.throws(
    () => e.vector(layout, 0),
    (err: Error) =>
      err.name === "WebGpuDeviceError" && err.message.includes(`l0.w [${rows}×${cols}]`) &&
      err.message.includes("maxStorageBufferBindingSize"),
  );
});
