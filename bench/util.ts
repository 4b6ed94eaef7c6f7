/**
 * Shared helpers of the benchmarks: machine description, medians,
 * atomically written result files under `bench/results/`, and what timing on
 * an asynchronous device needs — waiting for the device to finish
 * ({@linkcode settle}) and counting GPU dispatches ({@linkcode countDispatches}).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { writeJsonAtomic } from "../core/atomic.ts";
import type { Engine } from "../core/engine/engine.ts";

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** CPU model, cores, memory, versions and the backend line. */
export async function machineInfo(backendLine: string): Promise<Record<string, unknown>> {
  let cpu = "unknown";
  try {
    const txt = await Deno.readTextFile("/proc/cpuinfo");
    cpu = txt.match(/model name\s*:\s*(.+)/)?.[1] ?? cpu;
  } catch { /* not Linux */ }
  let commit = "";
  try {
    const out = await new Deno.Command("git", {
      args: ["rev-parse", "--short", "HEAD"],
      stderr: "null",
    })
      .output();
    commit = new TextDecoder().decode(out.stdout).trim();
  } catch { /* no git */ }
  return {
    cpu,
    cores: navigator.hardwareConcurrency,
    memoryGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    tfjs: "4.22.0",
    backend: backendLine,
    commit,
    date: new Date().toISOString(),
  };
}

/** Writes `bench/results/<name>-<date>.json` atomically; returns the path. */
export async function writeResult(name: string, data: unknown): Promise<string> {
  const stamp = new Date().toISOString().replace(/[:]/g, "-").replace(/\..+/, "");
  const path = new URL(`./results/${name}-${stamp}.json`, import.meta.url).pathname;
  await writeJsonAtomic(path, data);
  return path;
}

// deno-lint-ignore no-explicit-any
type AnyBackend = any;

/**
 * Waits until the device has finished the work issued so far: reads `t` (a
 * value the last piece of work produced, e.g. the last step's loss) through
 * the engine, and frees it. Without a tensor, on WebGPU, submits tfjs's
 * pending commands and waits for the queue. On the CPU engine work is done
 * when issued, and this returns at once (after the read).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { getEngine } from "../core/engine/current.ts";
 * import { initBackend } from "@bayes/nn";
 * import { settle } from "./util.ts";
 * await initBackend({ backend: "wasm", quiet: true });
 * const t0 = performance.now();
 * await settle(getEngine(), tf.ones([2]));
 * const ms = performance.now() - t0;
 * ```
 */
export async function settle(engine: Engine, t?: tf.Tensor | number): Promise<void> {
  if (t !== undefined && typeof t !== "number") {
    await engine.read(t);
    t.dispose();
    return;
  }
  if (engine.kind !== "webgpu") return;
  const be = tf.backend() as AnyBackend;
  if (be.commandEncoder) {
    be.endComputePassEncoder();
    be.submitQueue();
  }
  await (be.device as GPUDevice | undefined)?.queue.onSubmittedWorkDone();
}

/** Counts GPU compute dispatches from the moment it is made (see {@linkcode countDispatches}). */
export interface DispatchCounter {
  /** Dispatches of tfjs's own kernels so far. */
  tfjs(): number;
  /** Dispatches of the parameter engine's kernels (`WebGpuEngine.dispatches`) so far. */
  engine(): number;
  /** Both. */
  total(): number;
  /** Stops counting (restores the backend). */
  stop(): void;
}

/**
 * A dispatch counter on the WebGPU engine, or `undefined` elsewhere (or,
 * with `reason` set, where tfjs's backend lacks the method counted). tfjs's
 * dispatches are counted by wrapping its backend's `recordAndSubmit` (every
 * tfjs-webgpu program is recorded through it, one dispatch each); the
 * engine's own kernels bypass it and count themselves in `dispatches`.
 * Dispatches per step predict speed on a real GPU, where each costs a few
 * microseconds of launch whatever its size.
 *
 * @example
 * ```ts
 * import { getEngine } from "../core/engine/current.ts";
 * import { initBackend } from "@bayes/nn";
 * import { countDispatches } from "./util.ts";
 * await initBackend({ backend: "wasm", quiet: true });
 * const c = countDispatches(getEngine()); // undefined: the CPU engine does not dispatch
 * ```
 */
export function countDispatches(
  engine: Engine,
  reason: { why?: string } = {},
): DispatchCounter | undefined {
  if (engine.kind !== "webgpu") return undefined;
  const be = tf.backend() as AnyBackend;
  const own = engine as unknown as { dispatches?: number };
  if (typeof be.recordAndSubmit !== "function" || typeof own.dispatches !== "number") {
    reason.why = "this tfjs-webgpu has no recordAndSubmit (or the engine no dispatch count)";
    return undefined;
  }
  const shadowed = Object.prototype.hasOwnProperty.call(be, "recordAndSubmit");
  const original = be.recordAndSubmit;
  let tfjs = 0;
  be.recordAndSubmit = function (this: unknown, ...args: unknown[]) {
    tfjs++;
    return original.apply(this, args);
  };
  const engine0 = own.dispatches;
  return {
    tfjs: () => tfjs,
    engine: () => own.dispatches! - engine0,
    total: () => tfjs + own.dispatches! - engine0,
    stop: () => {
      if (shadowed) be.recordAndSubmit = original;
      else delete be.recordAndSubmit;
    },
  };
}
