/**
 * A lower bound on the memory a training run needs, checked before any
 * allocation: a network too large for the machine is refused with the
 * estimate (instead of tfjs's "Array buffer allocation failed" after the
 * data were loaded).
 *
 * @module
 */
import { CliError } from "../../core/cli.ts";
import type { NetSpec } from "../../core/method.ts";

/** The wasm backend's 32-bit heap: at most 4 GiB. */
export const WASM_HEAP_BYTES = 4 * 1024 ** 3;

/**
 * Parameters of a fully connected network (weights and biases).
 *
 * @example
 * ```ts
 * import { netParams } from "./memory.ts";
 * netParams({ inputDim: 784, hidden: [1200, 1200], outputDim: 10, task: "classification" });
 * // 2_395_210
 * ```
 */
export function netParams(spec: NetSpec): number {
  const widths = [spec.inputDim, ...spec.hidden, spec.outputDim];
  let n = 0;
  for (let i = 1; i < widths.length; i++) n += widths[i - 1] * widths[i] + widths[i];
  return n;
}

/**
 * Bytes a training run needs at least: `copies` float32 vectors of the
 * parameters (weights, gradients, optimizer state; more for methods that
 * keep several) plus the activations of one minibatch (forward and
 * backward).
 *
 * @example
 * ```ts
 * import { trainingBytes } from "./memory.ts";
 * const spec = { inputDim: 784, hidden: [1200, 1200], outputDim: 10, task: "classification" as const };
 * trainingBytes(spec, { copies: 4, batchSize: 128 }) > 38e6; // true
 * ```
 */
export function trainingBytes(
  spec: NetSpec,
  opts: { copies: number; batchSize: number },
): number {
  const units = spec.hidden.reduce((a, b) => a + b, 0) + spec.outputDim;
  return 4 * (netParams(spec) * opts.copies + 3 * opts.batchSize * units);
}

/**
 * Formats a byte count with a binary unit (`1.5 GiB`).
 *
 * @example
 * ```ts
 * import { formatBytes } from "./memory.ts";
 * formatBytes(3 * 1024 ** 3); // "3.0 GiB"
 * ```
 */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let v = bytes, u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 && u > 0 ? v.toFixed(1) : v.toFixed(0)} ${units[u]}`;
}

/**
 * Throws a {@linkcode CliError} when the estimate of {@linkcode trainingBytes}
 * exceeds the machine's memory (or the wasm heap on the wasm backend),
 * stating the network, its parameter count, the estimate and the limit.
 *
 * @example
 * ```ts
 * import { checkTrainingMemory } from "./memory.ts";
 * const spec = { inputDim: 784, hidden: [1200, 1200], outputDim: 10, task: "classification" as const };
 * checkTrainingMemory(spec, { copies: 4, batchSize: 128, backend: "wasm" }); // fits: no error
 * ```
 */
export function checkTrainingMemory(
  spec: NetSpec,
  opts: { copies: number; batchSize: number; backend?: string; flag?: string },
): void {
  const need = trainingBytes(spec, opts);
  let total = Infinity;
  try {
    total = Deno.systemMemoryInfo().total;
  } catch {
    // not permitted: only the backend's limit applies
  }
  const wasm = opts.backend === "wasm";
  const limit = Math.min(total, wasm ? WASM_HEAP_BYTES : Infinity);
  if (need <= limit) return;
  const net = [spec.inputDim, ...spec.hidden, spec.outputDim].join("-");
  const where = wasm && WASM_HEAP_BYTES < total
    ? `the wasm backend's ${formatBytes(WASM_HEAP_BYTES)} heap`
    : `this machine's ${formatBytes(total)} of memory`;
  throw new CliError(
    `${opts.flag ?? "--hidden"}: a ${net} network has ${netParams(spec).toExponential(2)} ` +
      `parameters; training it needs at least ${formatBytes(need)} (${opts.copies} float32 ` +
      `copies of the parameters plus a batch of ${opts.batchSize} activations), more than ` +
      `${where}. Use smaller hidden layers.`,
  );
}
