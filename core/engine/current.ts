/**
 * The engine of the active tfjs backend: WebGPU for `webgpu`, else the CPU
 * engine (`wasm`, `cpu`, and tfjs-node through copies).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { CpuEngine } from "./cpu.ts";
import type { Engine } from "./engine.ts";
import { WebGpuEngine } from "./webgpu.ts";

let current: { backend: unknown; engine: Engine } | undefined;

/**
 * The parameter engine for the active tfjs backend (created once per backend).
 *
 * @example
 * ```ts
 * import { getEngine } from "./current.ts";
 * import { initBackend } from "@bayes/nn";
 * await initBackend({ backend: "wasm", quiet: true });
 * getEngine().kind; // "cpu"
 * ```
 */
export function getEngine(): Engine {
  const backend = tf.backend();
  if (current?.backend !== backend) {
    current = {
      backend,
      engine: tf.getBackend() === "webgpu" ? new WebGpuEngine() : new CpuEngine(),
    };
  }
  return current.engine;
}
