// Benchmark helpers: waiting for the device (settle), counting WebGPU dispatches (tfjs's
// and the engine's, and the backend restored afterwards), and the methods table's row for
// a method that failed.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../core/backend.ts";
import { getEngine } from "../core/engine/current.ts";
import { Layout } from "../core/engine/engine.ts";
import { defineKernel } from "../core/engine/kernel.ts";
import { table } from "../bench/methods.ts";
import { countDispatches, settle } from "../bench/util.ts";

const SCALE = defineKernel({ name: "bench_test_scale", inouts: ["p"], body: "p = 2 * p;" });

Deno.test("wasm: settle reads and frees; no dispatch counter on the CPU engine", async () => {
  await initBackend({ backend: "wasm", quiet: true });
  const t = tf.ones([3]);
  await settle(getEngine(), t);
  assert.ok(t.isDisposed);
  await settle(getEngine()); // nothing to wait for
  assert.equal(countDispatches(getEngine()), undefined);
});

Deno.test("webgpu: dispatches of tfjs ops and engine kernels are counted, then no more", async () => {
  await initBackend({ backend: "webgpu", quiet: true });
  const engine = getEngine();
  const layout = new Layout([{ name: "a", shape: [4096] }, { name: "b", shape: [64] }]);
  const v = engine.vector(layout, 1);
  const x = tf.fill([4096], 1.5), y = tf.fill([4096], 2);
  await settle(engine); // the fills are recorded (and done) before counting starts
  const proto = Object.getPrototypeOf(tf.backend()).recordAndSubmit;
  const c = countDispatches(engine)!;
  assert.ok(c, "a counter on the WebGPU engine");
  const z = tf.add(x, y); // one tfjs program
  engine.run(SCALE, layout, { arrays: { p: v } }); // one dispatch for both segments
  assert.equal(c.tfjs(), 1);
  assert.equal(c.engine(), 1);
  assert.equal(c.total(), 2);
  await settle(engine, z);
  assert.ok(z.isDisposed);
  c.stop();
  assert.equal((tf.backend() as unknown as Record<string, unknown>).recordAndSubmit, proto);
  const w = tf.add(x, y);
  assert.equal(c.tfjs(), 1, "stopped");
  assert.deepEqual(Array.from(await engine.read(v.tensors[1])).slice(0, 2), [2, 2]);
  tf.dispose([x, y, w]);
  v.dispose();
});

Deno.test("methods table: a failed method is one 'skipped' row with its reason", () => {
  const ok = {
    stepMs: { "100": 12.34, "128": 15 },
    dispatchesPerStep: { "100": 56 },
    hostMs: { "100": 3 },
    predict: { examplesPerSec: 1000, samples: 1, dispatches: 9 },
    peakRssMiB: 300,
  };
  const lines = table([
    { key: "map", label: "MAP", fast: ok },
    { key: "sgld", label: "SGLD", fast: { error: "a | b failed" } },
  ], true).split("\n");
  assert.equal(lines.length, 4);
  assert.match(lines[0], /dispatches\/step b100/);
  assert.match(
    lines[2],
    /^\| MAP \| 12\.3 \| 15\.0 \| 7 \| 56 \| 3\.0 \| 1000 \| 1 \| 9 \| 300 \|$/,
  );
  assert.equal(lines[3], "| SGLD | skipped: a \\| b failed |");
  const wasm = table(
    [{ key: "map", label: "MAP", fast: ok, stock: { stepMs: { "100": 123.4 } } }],
    false,
  );
  assert.match(wasm, /stock wasm ms\/step b100/);
  assert.match(wasm, /\| 123\.4 \| 10\.0× \|/);
});
