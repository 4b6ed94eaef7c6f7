/**
 * Starts tfjs's `wasm` backend on its threaded-SIMD build with one tfjs
 * thread, so that the wasm heap is a SharedArrayBuffer the CPU engine's
 * worker pool (`pool.ts`) can run kernels on in place.
 *
 * Why a shim: under Deno the threaded build's emscripten glue takes the
 * Node path and creates its pthread pool (8 workers, at start) with
 * `worker_threads` from a blob URL, which Deno refuses (ERR_WORKER_PATH).
 * tfjs is told to use one thread (XNNPACK then spawns no pthread), so the
 * pool's workers are never asked to run anything: stand-ins that only
 * acknowledge loading are enough. Matmuls go to OpenBLAS and tfjs's
 * elementwise kernels are single-threaded in either build; the engine's own
 * kernels and noise are what the workers parallelise.
 *
 * @module
 */
import wt from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { setThreadsCount } from "@tensorflow/tfjs-backend-wasm";

/** A pthread worker that acknowledges loading and refuses to run a thread. */
class StandInWorker {
  onmessage: ((e: { data: unknown }) => void) | null = null;
  #handlers: ((d: unknown) => void)[] = [];
  on(event: string, f: (d: unknown) => void): this {
    if (event === "message") this.#handlers.push(f);
    return this;
  }
  postMessage(m: { cmd?: string }): void {
    if (m?.cmd === "load") {
      queueMicrotask(() => {
        const d = { cmd: "loaded" };
        for (const f of this.#handlers) f(d);
        this.onmessage?.({ data: d });
      });
    } else if (m?.cmd === "run") {
      throw new Error(
        "tfjs wasm asked for a pthread: the shared-heap build runs tfjs on one thread " +
          "(set BNN_WASM_SHARED=off to use the stock build)",
      );
    }
  }
  ref(): void {}
  unref(): void {}
  terminate(): void {}
}

/**
 * Whether the shared-heap build will be used: SharedArrayBuffer and wasm
 * threads available, and not disabled by `BNN_WASM_SHARED=off`.
 *
 * @example
 * ```ts
 * import { sharedHeapWanted } from "./shared_heap.ts";
 * sharedHeapWanted(); // true under Deno unless BNN_WASM_SHARED=off
 * ```
 */
export function sharedHeapWanted(): boolean {
  let env: string | undefined;
  try {
    env = Deno.env.get("BNN_WASM_SHARED");
  } catch { /* no --allow-env */ }
  return env !== "off" && typeof SharedArrayBuffer === "function";
}

/**
 * Runs `start` (which sets the `wasm` backend) with the threaded build
 * selected and emscripten's pthread workers stood in for; restores the
 * globals afterwards. Without {@linkcode sharedHeapWanted} it only runs `start`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { withSharedHeap } from "./shared_heap.ts";
 * await withSharedHeap(() => tf.setBackend("wasm"));
 * ```
 */
export async function withSharedHeap<T>(start: () => Promise<T>): Promise<T> {
  if (!sharedHeapWanted()) return await start();
  const mod = wt as unknown as { Worker: unknown };
  const g = globalThis as unknown as { Worker: unknown };
  const [nodeWorker, globalWorker] = [mod.Worker, g.Worker];
  mod.Worker = StandInWorker;
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
  setThreadsCount(1);
  try {
    return await start();
  } finally {
    mod.Worker = nodeWorker;
    g.Worker = globalWorker;
  }
}

/**
 * True when the active backend's heap is shared memory.
 *
 * @example
 * ```ts
 * import { heapIsShared } from "./shared_heap.ts";
 * heapIsShared(); // true on the shared-heap wasm build
 * ```
 */
export function heapIsShared(): boolean {
  if (tf.getBackend() !== "wasm") return false;
  // deno-lint-ignore no-explicit-any
  const be = tf.backend() as any;
  return be.wasm?.HEAPU8?.buffer instanceof SharedArrayBuffer;
}
