/**
 * The network as host arrays with the bias folded into the weights (one
 * extra input fixed at 1), and a BLAS forward pass that keeps every layer's
 * augmented input — what the curvature pass and the linearised predictive
 * need.
 *
 * @module
 */
import { sgemm } from "../../core/linalg.ts";

/**
 * One layer, `s = [a, 1]·W̃`: `w` is row-major `[inDim + 1, outDim]`, the
 * weight matrix `[inDim, outDim]` followed by the bias row.
 */
export interface AugLayer {
  /** Inputs (without the appended 1). */
  inDim: number;
  /** Outputs. */
  outDim: number;
  /** Row-major `[inDim + 1, outDim]`: weights then bias. */
  w: Float32Array;
}

/**
 * Joins a weight `[in, out]` and a bias `[out]` into an augmented layer.
 *
 * @example
 * ```ts
 * import { augment } from "./host_net.ts";
 * const l = augment(new Float32Array([1, 2, 3, 4]), new Float32Array([5, 6]), 2, 2);
 * l.w; // [1, 2, 3, 4, 5, 6]
 * ```
 */
export function augment(w: Float32Array, b: Float32Array, inDim: number, outDim: number): AugLayer {
  if (w.length !== inDim * outDim || b.length !== outDim) {
    throw new RangeError(
      `layer ${inDim}→${outDim}: weight has ${w.length} values (expected ${inDim * outDim}), ` +
        `bias ${b.length} (expected ${outDim})`,
    );
  }
  const aug = new Float32Array((inDim + 1) * outDim);
  aug.set(w);
  aug.set(b, inDim * outDim);
  return { inDim, outDim, w: aug };
}

/**
 * Splits an augmented layer matrix back into weight and bias (copies).
 *
 * @example
 * ```ts
 * import { splitAugmented } from "./host_net.ts";
 * splitAugmented(new Float32Array([1, 2, 3, 4, 5, 6]), 2, 2); // { w: [1,2,3,4], b: [5,6] }
 * ```
 */
export function splitAugmented(
  aug: Float32Array,
  inDim: number,
  outDim: number,
): { w: Float32Array; b: Float32Array } {
  return { w: aug.slice(0, inDim * outDim), b: aug.slice(inDim * outDim) };
}

/** What {@linkcode hostForward} returns. */
export interface HostActivations {
  /** Examples. */
  n: number;
  /** Per layer, its augmented input `[n, inDim + 1]` (last column 1). */
  inputs: Float32Array[];
  /** Raw network outputs `[n, outDim of the last layer]`. */
  out: Float32Array;
}

/**
 * Forward pass of a ReLU MLP on host arrays (BLAS `sgemm` per layer),
 * keeping each layer's augmented input. The ReLU derivative of hidden unit
 * `j` of layer `l` is `inputs[l + 1][i, j] > 0`.
 *
 * @example
 * ```ts
 * import { augment, hostForward } from "./host_net.ts";
 * const l = augment(new Float32Array([1, -1]), new Float32Array([0, 0]), 1, 2);
 * hostForward([l], new Float32Array([2]), 1).out; // [2, -2]
 * ```
 */
export function hostForward(layers: AugLayer[], x: Float32Array, n: number): HostActivations {
  const inputs: Float32Array[] = [];
  const d0 = layers[0].inDim;
  if (x.length !== n * d0) {
    throw new RangeError(`forward: inputs have ${x.length} values, expected ${n}×${d0}`);
  }
  let a = new Float32Array(n * (d0 + 1));
  for (let i = 0; i < n; i++) {
    a.set(x.subarray(i * d0, i * d0 + d0), i * (d0 + 1));
    a[i * (d0 + 1) + d0] = 1;
  }
  for (let l = 0; l < layers.length; l++) {
    const { inDim, outDim, w } = layers[l];
    inputs.push(a);
    const s = new Float32Array(n * outDim);
    sgemm(false, false, n, outDim, inDim + 1, 1, a, inDim + 1, w, outDim, 0, s, outDim);
    if (l === layers.length - 1) return { n, inputs, out: s };
    const next = new Float32Array(n * (outDim + 1));
    for (let i = 0; i < n; i++) {
      const so = i * outDim, no = i * (outDim + 1);
      for (let j = 0; j < outDim; j++) {
        const v = s[so + j];
        next[no + j] = v > 0 ? v : 0;
      }
      next[no + outDim] = 1;
    }
    a = next;
  }
  throw new RangeError("forward: the network has no layers");
}
