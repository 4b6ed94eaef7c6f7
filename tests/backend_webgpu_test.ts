// Own file: switching the tfjs engine to webgpu must not disturb other tests' backends.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { BackendError, initBackend } from "../core/backend.ts";

Deno.test("webgpu: either works end to end or fails with a clear BackendError", async () => {
  try {
    const info = await initBackend({ backend: "webgpu", quiet: true });
    assert.equal(info.name, "webgpu");
    const a = tf.tensor2d([[1, 2], [3, 4]]);
    assert.deepEqual(Array.from(tf.matMul(a, a).dataSync()), [7, 10, 15, 22]);
  } catch (e) {
    assert.ok(e instanceof BackendError, `not a BackendError: ${e}`);
    assert.match(
      (e as Error).message,
      /backend webgpu|navigator\.gpu|WebGPU adapter/,
    );
  }
});
