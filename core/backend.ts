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
import { withSharedHeap } from "./engine/shared_heap.ts";
import { createRequire } from "node:module";
import { type BlasInfo, loadBlas } from "./blas.ts";
import { registerWasmBlasKernels, registerWasmGather, registerWasmIdentity } from "./wasm_blas.ts";

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
  /** The WebGPU adapter's description (webgpu only). */
  adapter?: string;
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

/** Storage buffers one of the engine's kernels may bind (WebGPU's default limit is 8). */
const WEBGPU_STORAGE_BUFFERS = 16;
/** Storage buffers per shader asked for when the adapter has them (8 segments of 8 arrays). */
const WEBGPU_STORAGE_BUFFERS_WANTED = 64;

/**
 * On Linux, asks Deno's WebGPU (wgpu) for its Vulkan backend only, unless the user chose with
 * `DENO_WEBGPU_BACKEND`. By default wgpu also starts its OpenGL backend, which loads libEGL:
 * at process exit libEGL's destructor and a Deno thread's thread-local-storage destructor then
 * free the same EGL thread state, and glibc aborts ("corrupted size vs. prev_size in
 * fastbins", exit status 134) after the program has finished — about one full test-suite run
 * in three here, with a core dump showing exactly those two frees. The tfjs WebGPU backend
 * runs on Vulkan (an NVIDIA GPU, or Mesa's llvmpipe), so nothing is lost. Must run before
 * the first `navigator.gpu.requestAdapter()` (wgpu reads it when it creates its instance).
 * Returns the value the user set, if any.
 */
function preferVulkan(): string | undefined {
  try {
    const chosen = Deno.env.get("DENO_WEBGPU_BACKEND");
    if (chosen === undefined && Deno.build.os === "linux") {
      Deno.env.set("DENO_WEBGPU_BACKEND", "vulkan");
    }
    return chosen;
  } catch {
    return undefined; // no --allow-env: wgpu keeps its default backends
  }
}

async function startWebgpu(): Promise<BackendInfo> {
  // The user's own DENO_WEBGPU_BACKEND, if any (named when no adapter is found).
  const chosen = preferVulkan();
  const gpu = (navigator as { gpu?: GPU }).gpu;
  if (!gpu) {
    throw new BackendError("backend webgpu needs navigator.gpu, which this Deno does not offer");
  }
  // Mesa's Vulkan drivers complain on stderr when XDG_RUNTIME_DIR is unset (as under CI or
  // nohup); compute needs no display, so point it at the temp folder.
  if (!Deno.env.get("XDG_RUNTIME_DIR")) {
    try {
      Deno.env.set("XDG_RUNTIME_DIR", Deno.env.get("TMPDIR") ?? "/tmp");
    } catch { /* no --allow-env: the warning stays */ }
  }
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) {
    const userBackend = chosen !== undefined && chosen !== "vulkan"
      ? ` with DENO_WEBGPU_BACKEND="${chosen}" (unset it, or set it to vulkan, the backend the ` +
        "library asks for on Linux)"
      : "";
    throw new BackendError(
      `backend webgpu: no WebGPU adapter found on this machine${userBackend} (Deno's ` +
        "navigator.gpu needs a Vulkan driver: on Debian/Ubuntu `apt-get install " +
        "mesa-vulkan-drivers` gives the software adapter llvmpipe; for an NVIDIA GPU the " +
        "driver's Vulkan ICD and libvulkan1)",
    );
  }
  const limits = adapter.limits;
  if (limits.maxStorageBuffersPerShaderStage < WEBGPU_STORAGE_BUFFERS) {
    throw new BackendError(
      `backend webgpu: the adapter "${adapter.info?.description || adapter.info?.vendor}" ` +
        `binds at most ${limits.maxStorageBuffersPerShaderStage} storage buffers per shader; ` +
        `the parameter kernels need ${WEBGPU_STORAGE_BUFFERS}`,
    );
  }
  // tfjs requests its device with WebGPU's default limits except a few; the engine's kernels
  // bind more storage buffers, so the device is requested here and given to tfjs's backend.
  const features: GPUFeatureName[] = [];
  if (adapter.features.has("timestamp-query")) features.push("timestamp-query");
  const device = await adapter.requestDevice({
    requiredFeatures: features,
    requiredLimits: {
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      // At least 16; more lets one dispatch update several segments (core/engine/webgpu.ts).
      maxStorageBuffersPerShaderStage: Math.min(
        limits.maxStorageBuffersPerShaderStage,
        WEBGPU_STORAGE_BUFFERS_WANTED,
      ),
    },
  });
  const { WebGPUBackend } = await import("@tensorflow/tfjs-backend-webgpu");
  tf.removeBackend("webgpu");
  tf.registerBackend("webgpu", () => new WebGPUBackend(device, adapter.info), 3);
  if (!(await tf.setBackend("webgpu"))) {
    throw new BackendError("backend webgpu: tfjs's WebGPU backend failed to initialise");
  }
  // An asynchronous read proves the device computes (tfjs's synchronous reads need an
  // OffscreenCanvas, which Deno lacks: the library never reads GPU data synchronously).
  const probe = tf.matMul(tf.ones([64, 64]), tf.ones([64, 64]));
  const v = await probe.data();
  tf.dispose(probe);
  if (v[0] !== 64) {
    throw new BackendError(`backend webgpu: a test matmul read back ${v[0]} instead of 64`);
  }
  const desc = adapter.info?.description || adapter.info?.vendor || "adapter";
  const fallback = adapter.info?.isFallbackAdapter ? ", software fallback" : "";
  return {
    name: "webgpu",
    blas: null,
    adapter: desc,
    line: `backend: webgpu (${desc}${fallback})`,
  };
}

async function startWasm(): Promise<BackendInfo> {
  if (!(await withSharedHeap(() => tf.setBackend("wasm")))) {
    throw new BackendError("backend wasm: tfjs's WebAssembly backend failed to initialise");
  }
  registerWasmGather();
  registerWasmIdentity();
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
