/**
 * Compute backend selection: `auto | tensorflow | webgpu | wasm | cpu`.
 *
 * - `auto`: `@tensorflow/tfjs-node-gpu` or `@tensorflow/tfjs-node` when the
 *   user has installed one (found in a `node_modules` folder from the current
 *   directory upwards, or at `BNN_TFJS_NODE`), otherwise `wasm`.
 * - `wasm`: tfjs's WebAssembly kernels with matmuls routed to OpenBLAS
 *   (see `core/wasm_blas.ts`) when the library and `--allow-ffi` are there.
 * - `webgpu`: tfjs's WebGPU backend on Deno's `navigator.gpu`.
 * - `cpu`: the pure-JS reference backend (slow; for debugging).
 *
 * Asking explicitly for a backend that cannot start is an error naming what is
 * missing, never a silent fallback.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
// Side-effect import: registers the "wasm" backend with the tfjs engine.
import "@tensorflow/tfjs-backend-wasm";
import { createRequire } from "node:module";
import { type BlasInfo, loadBlas } from "./blas.ts";
import { registerWasmBlasKernels } from "./wasm_blas.ts";

/** The backend names accepted by `--backend` and `BNN_BACKEND`. */
export const BACKEND_NAMES = ["auto", "tensorflow", "webgpu", "wasm", "cpu"] as const;
/** One of {@linkcode BACKEND_NAMES}. */
export type BackendName = typeof BACKEND_NAMES[number];

/** Raised when a backend is unknown or cannot start. */
export class BackendError extends Error {
  /** Creates the error with a message naming what is missing. */
  constructor(message: string) {
    super(message);
    this.name = "BackendError";
  }
}

/** What {@linkcode initBackend} set up. */
export interface BackendInfo {
  /** tfjs backend name actually active (`wasm`, `cpu`, `tensorflow`, `webgpu`). */
  name: string;
  /** BLAS used for matmuls on `wasm`, or null. */
  blas: BlasInfo | null;
  /** Why BLAS is not used, when it is not (wasm only). */
  blasReason?: string;
  /** One-line description, e.g. `backend: wasm + OpenBLAS 0.3.21 (2 threads)`. */
  line: string;
}

/** Options of {@linkcode initBackend}. */
export interface BackendOptions {
  /** Backend to use; default `BNN_BACKEND` or `auto`. */
  backend?: string;
  /** Do not print the backend line (default: print it once to stderr). */
  quiet?: boolean;
}

let current: BackendInfo | undefined;

/** Parses a backend name, throwing a {@linkcode BackendError} for unknown ones. */
export function parseBackendName(name: string): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(name)) return name as BackendName;
  throw new BackendError(
    `unknown backend "${name}": expected one of ${BACKEND_NAMES.join(", ")}`,
  );
}

function findTfjsNode(): string | null {
  const explicit = Deno.env.get("BNN_TFJS_NODE");
  if (explicit) return explicit;
  let dir = Deno.cwd();
  for (;;) {
    for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
      try {
        Deno.statSync(`${dir}/node_modules/${pkg}/package.json`);
        return `${dir}/node_modules/${pkg}`;
      } catch { /* not here */ }
    }
    const parent = dir.replace(/\/[^/]*$/, "");
    if (parent === dir || parent === "") return null;
    dir = parent;
  }
}

async function startTensorflow(explicit: boolean): Promise<BackendInfo | null> {
  const path = findTfjsNode();
  if (!path) {
    if (!explicit) return null;
    throw new BackendError(
      "backend tensorflow needs @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node installed " +
        "in a node_modules folder (e.g. `npm i @tensorflow/tfjs-node` next to your project), " +
        "or BNN_TFJS_NODE set to its folder; none was found",
    );
  }
  try {
    const require = createRequire(`${Deno.cwd()}/`);
    require(path);
  } catch (e) {
    if (!explicit) return null;
    throw new BackendError(`could not load ${path}: ${(e as Error).message}`);
  }
  if (!(await tf.setBackend("tensorflow"))) {
    if (!explicit) return null;
    throw new BackendError(`${path} loaded but the "tensorflow" backend did not start`);
  }
  return { name: "tensorflow", blas: null, line: `backend: tensorflow (${path})` };
}

async function startWebgpu(): Promise<BackendInfo> {
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) {
    throw new BackendError("backend webgpu needs navigator.gpu, which this Deno does not offer");
  }
  // deno-lint-ignore no-explicit-any
  const adapter = await gpu.requestAdapter() as any;
  if (!adapter) throw new BackendError("backend webgpu: no WebGPU adapter found on this machine");
  await import("@tensorflow/tfjs-backend-webgpu");
  if (!(await tf.setBackend("webgpu"))) {
    throw new BackendError("backend webgpu: tfjs's WebGPU backend failed to initialise");
  }
  // tfjs reads GPU data synchronously (dataSync) through an OffscreenCanvas,
  // which Deno lacks; the training loop and metrics read synchronously.
  try {
    // Large enough that tfjs does not forward the op to the CPU.
    const v = tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])).dataSync());
    if (v[0] !== 64) throw new Error(`read back ${v[0]} instead of 64`);
  } catch (e) {
    await tf.setBackend("cpu").catch(() => false);
    throw new BackendError(
      "backend webgpu started, but tfjs cannot read GPU data synchronously in this runtime " +
        `(${(e as Error).message.split("\n")[0]}); the training loop needs synchronous reads. ` +
        "Use --backend wasm (CPU + BLAS) or install @tensorflow/tfjs-node-gpu (--backend tensorflow)",
    );
  }
  const desc = adapter.info?.description || adapter.info?.vendor || "adapter";
  const fallback = adapter.info?.isFallbackAdapter ? ", software fallback" : "";
  return { name: "webgpu", blas: null, line: `backend: webgpu (${desc}${fallback})` };
}

async function startWasm(): Promise<BackendInfo> {
  if (!(await tf.setBackend("wasm"))) {
    throw new BackendError("backend wasm: tfjs's WebAssembly backend failed to initialise");
  }
  const { blas, reason } = loadBlas();
  if (blas) {
    registerWasmBlasKernels(blas);
    return {
      name: "wasm",
      blas: blas.info,
      line: `backend: wasm + ${blas.info.version} (${blas.info.threads} thread${
        blas.info.threads === 1 ? "" : "s"
      })`,
    };
  }
  return {
    name: "wasm",
    blas: null,
    blasReason: reason,
    line: `backend: wasm, stock kernels (no BLAS: ${reason}; matmuls will be slow)`,
  };
}

/**
 * Starts the requested backend (once per process; later calls with the same
 * name return the same info) and prints one line naming the compute path.
 *
 * @example
 * ```ts
 * import { initBackend } from "@bayes/nn";
 * const info = await initBackend({ backend: "wasm", quiet: true });
 * console.log(info.line); // "backend: wasm + OpenBLAS 0.3.21 (2 threads)"
 * ```
 */
export async function initBackend(opts: BackendOptions = {}): Promise<BackendInfo> {
  const requested = parseBackendName(opts.backend ?? Deno.env.get("BNN_BACKEND") ?? "auto");
  if (current && (requested === "auto" || requested === current.name)) return current;
  let info: BackendInfo | null = null;
  switch (requested) {
    case "auto":
      info = (await startTensorflow(false)) ?? (await startWasm());
      break;
    case "tensorflow":
      info = await startTensorflow(true);
      break;
    case "webgpu":
      info = await startWebgpu();
      break;
    case "wasm":
      info = await startWasm();
      break;
    case "cpu":
      if (!(await tf.setBackend("cpu"))) throw new BackendError("backend cpu failed to start");
      {
        // The cpu backend prints a banner recommending tfjs-node on its first
        // write when IS_NODE is set (it is under Deno); the choice was explicit.
        const wasNode = tf.env().getBool("IS_NODE");
        tf.env().set("IS_NODE", false);
        tf.tensor([0]).dispose();
        tf.env().set("IS_NODE", wasNode);
      }
      info = { name: "cpu", blas: null, line: "backend: cpu (pure JavaScript, slow)" };
      break;
  }
  await tf.ready();
  current = info!;
  if (!opts.quiet) console.error(current.line);
  return current;
}

/** The info of the backend started by {@linkcode initBackend}, if any. */
export function currentBackend(): BackendInfo | undefined {
  return current;
}
