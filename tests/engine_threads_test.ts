/**
 * The CPU engine's worker pool: the same seed gives the same numbers for 1
 * and 2 threads (noise and kernels, sums included), and repeated steps over
 * the shared heap stay race-free (a stress test against a serial reference).
 */
import assert from "node:assert/strict";
const assertEquals = (a: unknown, b: unknown, msg?: string) => assert.deepEqual(a, b, msg);
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../core/backend.ts";
import { CpuEngine } from "../core/engine/cpu.ts";
import { defineKernel } from "../core/engine/kernel.ts";
import { Layout } from "../core/engine/engine.ts";
import { netLayout } from "../core/mlp.ts";
import { closePool, getPool, Pool } from "../core/engine/pool.ts";

await initBackend({ backend: "wasm", quiet: true });

const K = defineKernel({
  name: "threads_stress",
  inouts: ["p", "m"],
  normals: ["eps"],
  scalars: ["lr"],
  sums: ["sq"],
  body: "m = 0.9 * m + eps; p -= lr * m; sq += p * p;",
});

async function runWith(threads: number, steps: number): Promise<Float32Array[]> {
  closePool();
  Deno.env.set("BNN_THREADS", String(threads));
  assertEquals(getPool().threads, threads);
  const e = new CpuEngine();
  const layout = netLayout({ inputDim: 300, hidden: [400], outputDim: 10, task: "classification" });
  const p = e.vector(layout, 0.5), m = e.vector(layout, 0);
  const noise = e.noise(7, 3);
  const out: Float32Array[] = [];
  for (let s = 0; s < steps; s++) {
    const blk = noise.take(layout, 1);
    const r = e.run(K, layout, { arrays: { p, m }, normals: { eps: blk }, scalars: { lr: 0.01 } });
    blk.release();
    out.push(await e.read(r.sums!));
    r.sums!.dispose();
    const mask = noise.bernoulliTensor([200, 300], 0.5, 2);
    out.push(await e.read(mask));
    mask.dispose();
  }
  out.push(...await Promise.all(p.tensors.map((t) => e.read(t))));
  out.push(Float32Array.from(noise.getState()));
  p.dispose();
  m.dispose();
  return out;
}

Deno.test("CPU engine: 1 and 2 threads give identical results; repeated steps race-free", async () => {
  const one = await runWith(1, 40);
  const two = await runWith(2, 40);
  assertEquals(two.length, one.length);
  for (let i = 0; i < one.length; i++) assertEquals(two[i], one[i], `output ${i}`);
  closePool();
  assertEquals(tf.memory().numTensors >= 0, true);
});

Deno.test("CPU noise: a legacy 4-word state continues the serial stream; bad states fail clearly", () => {
  const e = new CpuEngine();
  const n = e.noise(1, 1);
  n.setState([1, 2, 3, 4]);
  assertEquals(n.getState().length, 4);
  let msg = "";
  try {
    n.setState([1, 2, 3]);
  } catch (err) {
    msg = (err as Error).message;
  }
  assertEquals(msg.includes("CPU noise state"), true);
  closePool();
});

Deno.test("Pool: a pool of 2 runs a noise job like a pool of 1", () => {
  const a = new Float32Array(new SharedArrayBuffer(4 * 100000));
  const b = new Float32Array(new SharedArrayBuffer(4 * 100000));
  const job = (t: Float32Array) => ({
    t: "noise" as const,
    mode: "normal" as const,
    target: [0, 0, t.length] as const,
    key: [5, 6] as const,
    first: 3,
    a: 1,
    b: 0,
  });
  const p1 = new Pool(1), p2 = new Pool(2);
  p1.run(job(a), [a.buffer]);
  p2.run(job(b), [b.buffer]);
  p2.close();
  assertEquals(b, a);
});

Deno.test("training: BBB (GMM prior) and MC dropout runs are bit-identical for 1 and 2 threads", async () => {
  const run = async (threads: number) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./_threads_train.ts", import.meta.url).pathname],
      env: { BNN_THREADS: String(threads) },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, err);
    return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
  };
  const one = await run(1), two = await run(2);
  assertEquals(typeof one.bbb, "string");
  assertEquals(two, one);
});

Deno.test("CPU engine: outputs a kernel writes whole skip clearing; the others start at 0", async () => {
  const e = new CpuEngine();
  const layout = new Layout([{ name: "w", shape: [64, 50] }, { name: "b", shape: [50] }]);
  const k = defineKernel({
    name: "partial_writes",
    inputs: ["x"],
    outputs: ["o", "whole[]", "some[]"],
    body: "o = x; for s in samples { whole[s] = x + 1; if (x > 0.5) { some[s] = x; } }",
  });
  assert.deepEqual([...k.writesAll].sort(), ["o", "whole"]);
  for (let round = 0; round < 3; round++) {
    // Freed blocks full of NaN: the wasm heap hands them out again.
    tf.dispose([tf.fill([3, 64 * 50], NaN), tf.fill([3, 50], NaN), tf.fill([64 * 50], NaN)]);
    const x = e.vector(layout, 0.25);
    const r = e.run(k, layout, { arrays: { x }, samples: 3 });
    for (const name of ["o", "whole", "some"]) {
      for (const t of r.outputs[name]) {
        const v = await e.read(t);
        const want = name === "some" ? [0] : name === "o" ? [0.25] : [1.25];
        assert.deepEqual([...new Set(v)].sort(), want, `${name} (round ${round})`);
      }
    }
    tf.dispose(Object.values(r.outputs).flat());
    x.dispose();
  }
});
