// Own file: switching the tfjs engine to webgpu must not disturb other tests' backends.
// CI installs Mesa's Vulkan driver, so an adapter (llvmpipe at least) must be found.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../core/backend.ts";

Deno.test("webgpu: starts on the machine's adapter, names it, computes with async reads", async () => {
  const info = await initBackend({ backend: "webgpu", quiet: true });
  assert.equal(info.name, "webgpu");
  assert.ok(info.adapter && info.adapter.length > 0, "the adapter is named");
  assert.match(info.line, /^backend: webgpu \(.+\)$/);
  const a = tf.tensor2d([[1, 2], [3, 4]]);
  assert.deepEqual(Array.from(await tf.matMul(a, a).data()), [7, 10, 15, 22]);
});

// Unless the user chose another wgpu backend (then the library leaves it alone).
const chosen = Deno.env.get("DENO_WEBGPU_BACKEND");

Deno.test({
  name: "webgpu: on Linux wgpu runs Vulkan only, so libEGL (its exit teardown aborts) never loads",
  ignore: Deno.build.os !== "linux" || (chosen !== undefined && chosen !== "vulkan"),
  fn: async () => {
    await initBackend({ backend: "webgpu", quiet: true });
    assert.equal(Deno.env.get("DENO_WEBGPU_BACKEND"), "vulkan");
    const maps = await Deno.readTextFile("/proc/self/maps");
    assert.ok(maps.includes("libvulkan"), "the Vulkan loader is mapped");
    assert.ok(!maps.includes("libEGL"), "libEGL is not mapped");
  },
});

Deno.test("webgpu: a DENO_WEBGPU_BACKEND that finds no adapter is named in the error", async () => {
  const backend = new URL("../core/backend.ts", import.meta.url).href;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { initBackend } from "${backend}";\n` +
      `try { await initBackend({ backend: "webgpu", quiet: true }); console.log("started"); }\n` +
      `catch (e) { console.log(e.name + ": " + e.message); }`,
    ],
    env: { DENO_WEBGPU_BACKEND: "nonsense" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.match(text, /BackendError: backend webgpu: no WebGPU adapter found/, text);
  assert.match(text, /DENO_WEBGPU_BACKEND="nonsense" \(unset it, or set it to vulkan/);
});
