import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { BackendError, initBackend, parseBackendName } from "../core/backend.ts";
import { randn } from "../core/tensor_io.ts";
import { Rng } from "../core/rng.ts";

Deno.test("unknown backend name is a clear error listing the choices", async () => {
  assert.throws(
    () => parseBackendName("cuda"),
    /unknown backend "cuda": expected one of auto, tensorflow, webgpu, wasm, cpu/,
  );
  await assert.rejects(() => initBackend({ backend: "tpu", quiet: true }), BackendError);
});

Deno.test("tensorflow backend without tfjs-node installed names what is missing", async () => {
  const prev = Deno.env.get("BNN_TFJS_NODE");
  Deno.env.delete("BNN_TFJS_NODE");
  try {
    await assert.rejects(
      () => initBackend({ backend: "tensorflow", quiet: true }),
      /needs @tensorflow\/tfjs-node-gpu or @tensorflow\/tfjs-node installed/,
    );
  } finally {
    if (prev) Deno.env.set("BNN_TFJS_NODE", prev);
  }
});

Deno.test("wasm backend starts and reports its compute path", async () => {
  const info = await initBackend({ backend: "wasm", quiet: true });
  assert.equal(tf.getBackend(), "wasm");
  assert.match(info.line, /^backend: wasm/);
  if (info.blas) assert.match(info.line, /BLAS|Accelerate/);
  else assert.match(info.line, /stock kernels/);
});

Deno.test("random tensors written on the wasm heap match the host stream", async () => {
  await initBackend({ backend: "wasm", quiet: true });
  const t = randn([3, 4], new Rng(5), 1, 2);
  assert.deepEqual(Array.from(t.dataSync()), Array.from(new Rng(5).normalArray(12, 1, 2)));
  t.dispose();
});
