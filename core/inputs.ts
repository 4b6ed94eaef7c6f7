/**
 * Plain arrays where the prediction helpers take inputs: rows of numbers,
 * flat row-major arrays, `{ data, shape }`, a dataset, or a tensor.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ArrayDataset } from "./data.ts";
import type { Tensor, Tensor2D } from "./tf.ts";

/**
 * Inputs `[N, inputDim]` in any of these forms:
 *
 * - a tensor `[N, inputDim]` (or `[N]` when `inputDim` is 1);
 * - rows: `number[][]` (`N` rows of `inputDim` numbers);
 * - a flat row-major array (`Float32Array`, `Float64Array`, `number[]`) of
 *   `N · inputDim` values;
 * - `{ data, shape }` with shape `[N, inputDim]` (or `[N]` when `inputDim` is 1);
 * - an {@linkcode ArrayDataset} (its inputs).
 *
 * @example
 * ```ts
 * import type { InputsLike } from "@bayes/nn";
 * const rows: InputsLike = [[0.1, 0.2], [0.3, 0.4]];
 * const flat: InputsLike = new Float64Array([0.1, 0.2, 0.3, 0.4]); // with inputDim 2
 * ```
 */
export type InputsLike =
  | Tensor
  | readonly (readonly number[])[]
  | Float32Array
  | Float64Array
  | readonly number[]
  | { data: ArrayLike<number>; shape: readonly number[] }
  | ArrayDataset;

function isTensor(x: unknown): x is Tensor {
  return x instanceof tf.Tensor;
}

function isDataset(x: unknown): x is ArrayDataset {
  const d = x as ArrayDataset;
  return typeof x === "object" && x !== null && d.x instanceof Float32Array &&
    typeof d.n === "number";
}

function fromFlat(data: ArrayLike<number>, inputDim: number, what: string): Tensor2D {
  if (data.length % inputDim !== 0) {
    throw new RangeError(
      `inputs: ${what} has ${data.length} values, not a multiple of the network's ` +
        `${inputDim} input features`,
    );
  }
  const values = data instanceof Float32Array ? data : Float32Array.from(data);
  return tf.tensor2d(values, [data.length / inputDim, inputDim]);
}

/**
 * Inputs as a new `[N, inputDim]` float32 tensor (the caller disposes it; a
 * tensor given is cloned, which shares its data). Shapes that do not fit
 * `inputDim` are a `RangeError` naming both.
 *
 * @example
 * ```ts
 * import { initBackend, toInputs } from "@bayes/nn";
 * await initBackend({ backend: "wasm", quiet: true });
 * const x = toInputs(new Float64Array([-1, 0, 1]), 1); // [3, 1]
 * const y = toInputs([[1, 2], [3, 4]], 2); // [2, 2]
 * console.log(x.shape, y.shape);
 * x.dispose();
 * y.dispose();
 * ```
 */
export function toInputs(x: InputsLike, inputDim: number): Tensor2D {
  if (!Number.isInteger(inputDim) || inputDim < 1) {
    throw new RangeError(`inputs: inputDim must be a positive integer, found ${inputDim}`);
  }
  if (isTensor(x)) {
    if (x.rank === 1 && inputDim === 1) return tf.reshape(x, [-1, 1]).toFloat() as Tensor2D;
    if (x.rank !== 2 || x.shape[1] !== inputDim) {
      throw new RangeError(
        `inputs: a tensor of shape [${x.shape}] does not fit the network's ${inputDim} ` +
          `input features (expected [N, ${inputDim}])`,
      );
    }
    return (x.dtype === "float32" ? tf.clone(x) : x.toFloat()) as Tensor2D;
  }
  if (isDataset(x)) {
    const d = x.x.length / Math.max(x.n, 1);
    if (x.n > 0 && d !== inputDim) {
      throw new RangeError(
        `inputs: the dataset has ${d} features per example, the network expects ${inputDim}`,
      );
    }
    return tf.tensor2d(x.x, [x.n, inputDim]);
  }
  if (Array.isArray(x) && x.length > 0 && Array.isArray(x[0])) {
    const rows = x as readonly (readonly number[])[];
    const out = new Float32Array(rows.length * inputDim);
    rows.forEach((r, i) => {
      if (!Array.isArray(r) || r.length !== inputDim) {
        throw new RangeError(
          `inputs: row ${i} has ${
            Array.isArray(r) ? r.length : "no"
          } values, the network expects ${inputDim}`,
        );
      }
      out.set(r, i * inputDim);
    });
    return tf.tensor2d(out, [rows.length, inputDim]);
  }
  if (Array.isArray(x) || x instanceof Float32Array || x instanceof Float64Array) {
    return fromFlat(x as ArrayLike<number>, inputDim, "the flat array");
  }
  const shaped = x as { data: ArrayLike<number>; shape: readonly number[] };
  if (shaped && shaped.data !== undefined && Array.isArray(shaped.shape)) {
    const s = shaped.shape;
    const fits = (s.length === 2 && s[1] === inputDim) || (s.length === 1 && inputDim === 1);
    const n = s[0];
    if (!fits || shaped.data.length !== n * inputDim) {
      throw new RangeError(
        `inputs: { data (${shaped.data.length} values), shape [${s}] } does not fit the ` +
          `network's ${inputDim} input features (expected shape [N, ${inputDim}])`,
      );
    }
    return fromFlat(shaped.data, inputDim, "data");
  }
  throw new TypeError(
    "inputs: expected a tensor, rows (number[][]), a flat array, { data, shape } or a dataset",
  );
}
