/**
 * Internal: input normalisation and validation shared by the uncertainty functions:
 * prediction tensors or `{ data, shape }` arrays become flat typed arrays with
 * a checked shape, and labels/targets become checked typed arrays.
 *
 * Tensors are read through the structural {@linkcode TensorLike} type, so this
 * module (and the metrics built on it) never loads TensorFlow.js. Only
 * tensors on a CPU backend (`cpu`, `wasm`, `tensorflow`) are read, with
 * `dataSync`; a tensor on a GPU backend (`webgpu`, `webgl`) is refused with a
 * TypeError, since reading it synchronously would stall on the device: read
 * it first with `await readPrediction(pred)` (or `await engine.read(t)`) and
 * pass the `{ data, shape }` arrays.
 *
 * @module
 */

import type { LabelInput, PredictionArray, PredictionInput, TensorLike } from "./types.ts";

/** A validated flat array with its shape (internal). */
export interface FlatArray {
  data: Float32Array | Float64Array;
  shape: number[];
}

function isTensor(x: unknown): x is TensorLike {
  return typeof x === "object" && x !== null &&
    typeof (x as { dataSync?: unknown }).dataSync === "function" &&
    Array.isArray((x as { shape?: unknown }).shape);
}

/** Backends whose tensors live in host memory, where `dataSync` is a copy, not a device wait. */
const HOST_BACKENDS: ReadonlySet<string> = new Set(["cpu", "wasm", "tensorflow"]);

/** The part of TensorFlow.js's global engine (`globalThis._tfengine`) used to find a tensor's backend. */
interface TfEngineLike {
  registry?: Record<string, unknown>;
  state?: { tensorInfo?: { get(dataId: unknown): { backend?: unknown } | undefined } };
}

/**
 * Name of the tfjs backend holding tensor `x` (`"webgpu"`, `"wasm"`, …), found
 * through the engine tfjs keeps on `globalThis`; `undefined` when `x` is not a
 * tfjs tensor (a structural stand-in) or no engine is loaded. Internal helper.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { tensorBackendName } from "./_input.ts";
 * await tf.setBackend("cpu");
 * tensorBackendName(tf.zeros([2])); // "cpu"
 * tensorBackendName({ shape: [2], dataSync: () => [0, 0] }); // undefined
 * ```
 */
export function tensorBackendName(x: TensorLike): string | undefined {
  const engine = (globalThis as { _tfengine?: TfEngineLike })._tfengine;
  const dataId = (x as { dataId?: unknown }).dataId;
  if (!engine?.state?.tensorInfo || dataId === undefined) return undefined;
  const backend = engine.state.tensorInfo.get(dataId)?.backend;
  if (backend === undefined) return undefined;
  for (const [name, b] of Object.entries(engine.registry ?? {})) if (b === backend) return name;
  return undefined;
}

function tensorValues(x: TensorLike, what: string): ArrayLike<number> {
  if (x.dtype === "string" || x.dtype === "complex64") {
    throw new TypeError(`${what}: expected a numeric tensor, found dtype ${x.dtype}`);
  }
  const backend = tensorBackendName(x);
  if (backend !== undefined && !HOST_BACKENDS.has(backend)) {
    throw new TypeError(
      `${what}: the tensor is on the ${backend} backend, which the uncertainty functions do ` +
        `not read synchronously; await readPrediction(pred) (core/evaluate.ts) or ` +
        `getEngine().read(t) first and pass the { data, shape } arrays`,
    );
  }
  return x.dataSync() as ArrayLike<number>;
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/**
 * Reads a tensor or `{ data, shape }` into a flat Float32/Float64 array and
 * checks that its shape is `expected` (a list of dimension names, e.g.
 * `["S", "N", "C"]`). Internal helper.
 */
export function readPredictions(
  x: PredictionInput,
  what: string,
  expected: readonly string[],
  allowedRanks: readonly number[] = [expected.length],
): FlatArray {
  if (x === null || typeof x !== "object") {
    throw new TypeError(
      `${what}: expected a tf.Tensor or { data, shape } of shape [${expected.join(", ")}], ` +
        `found ${x === null ? "null" : typeof x}`,
    );
  }
  let data: Float32Array | Float64Array;
  let shape: number[];
  if (isTensor(x)) {
    if (x.isDisposed) throw new Error(`${what}: the tensor has already been disposed`);
    shape = [...x.shape];
    const d = tensorValues(x, what);
    data = d instanceof Float32Array ? d : Float64Array.from(d);
  } else {
    const arr = x as PredictionArray;
    if (!Array.isArray(arr.shape) || arr.data === undefined) {
      throw new TypeError(
        `${what}: expected a tf.Tensor or { data, shape } of shape [${expected.join(", ")}]`,
      );
    }
    shape = [...arr.shape];
    const d = arr.data;
    data = d instanceof Float32Array || d instanceof Float64Array ? d : Float64Array.from(d);
  }
  if (!allowedRanks.includes(shape.length)) {
    throw new RangeError(
      `${what}: expected rank ${allowedRanks.join(" or ")} with shape [${expected.join(", ")}], ` +
        `found rank ${shape.length} with shape ${fmtShape(shape)}` +
        (shape.length === expected.length - 1 ? ` (add a leading sample axis of size 1?)` : ""),
    );
  }
  for (let i = 0; i < shape.length; i++) {
    if (!Number.isInteger(shape[i]) || shape[i] < 0) {
      throw new RangeError(`${what}: invalid shape ${fmtShape(shape)}`);
    }
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (data.length !== size) {
    throw new RangeError(
      `${what}: data length ${data.length} does not match shape ${fmtShape(shape)} ` +
        `(expected ${size} values)`,
    );
  }
  for (let i = 0; i < Math.min(2, shape.length); i++) {
    if (shape[i] === 0) {
      throw new RangeError(
        `${what}: dimension ${expected[i]} is 0 in shape ${fmtShape(shape)}; need at least one`,
      );
    }
  }
  return { data, shape };
}

/**
 * Reads `n` integer class labels in `[0, numClasses)`. Internal helper.
 */
export function readLabels(labels: LabelInput, n: number, numClasses: number): Int32Array {
  const vals = readVector(labels, "labels", n);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = vals[i];
    if (!Number.isInteger(y)) {
      throw new TypeError(`labels[${i}] = ${y} is not an integer class index`);
    }
    if (y < 0 || y >= numClasses) {
      throw new RangeError(
        `labels[${i}] = ${y} is out of range: predictions have C = ${numClasses} classes, ` +
          `so labels must be in [0, ${numClasses - 1}]`,
      );
    }
    out[i] = y;
  }
  return out;
}

/**
 * Reads a vector of `n` finite numbers given as an array-like or a tensor of
 * shape `[n]` or `[n, 1]`. Internal helper.
 */
export function readVector(x: LabelInput, what: string, n: number): ArrayLike<number> {
  let vals: ArrayLike<number>;
  if (isTensor(x)) {
    if (x.isDisposed) throw new Error(`${what}: the tensor has already been disposed`);
    const shape = x.shape;
    if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) {
      throw new RangeError(
        `${what}: expected shape [${n}] (or [${n}, 1]), found rank ${shape.length} ` +
          `with shape ${fmtShape(shape)}`,
      );
    }
    vals = tensorValues(x, what);
  } else if (x !== null && typeof x === "object" && typeof x.length === "number") {
    vals = x;
  } else {
    throw new TypeError(`${what}: expected an array of numbers or a tf.Tensor, found ${typeof x}`);
  }
  if (vals.length !== n) {
    throw new RangeError(
      `${what}: expected ${n} values (one per example, N = ${n} in the predictions), ` +
        `found ${vals.length}`,
    );
  }
  for (let i = 0; i < n; i++) {
    const v = vals[i];
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new TypeError(`${what}[${i}] = ${String(v)} is not a finite number`);
    }
  }
  return vals;
}

/** Finds the first NaN (or value failing `ok`) to report it clearly. Internal helper. */
export function findBad(
  data: ArrayLike<number>,
  shape: readonly number[],
  ok: (v: number) => boolean,
): string | undefined {
  for (let i = 0; i < data.length; i++) {
    if (!ok(data[i])) {
      const idx: number[] = [];
      let r = i;
      for (let k = shape.length - 1; k >= 0; k--) {
        idx.unshift(r % shape[k]);
        r = Math.floor(r / shape[k]);
      }
      return `[${idx.join(", ")}] = ${data[i]}`;
    }
  }
  return undefined;
}
