/**
 * Matrix-normal weight samples on the device. A layer's posterior
 * `MN(W̃_MAP, U, V)` over the augmented matrix `W̃ = [W; b]` (bias row last)
 * is held as its triangular square roots, uploaded once per prior setting:
 * `A` (`A Aᵀ = U`, lower, from `posterior.ts`) split into its weight block
 * `A_w` (`[in, in]`, lower), the bias row `a_b` (`[1, in]`) and corner
 * `a_bb`, and `Bᵀ` (`B Bᵀ = V`, lower). A batch of `k` draws, with
 * `E_w ~ N(0, I)` `[k, in, out]` and `e_b` `[k, 1, out]` from an engine noise
 * stream, is
 *
 *     W = W_MAP + (A_w·E_w)·Bᵀ
 *     b = b_MAP + (a_b·E_w + a_bb·e_b)·Bᵀ
 *
 * — the rows of `A·[E_w; e_b]·Bᵀ`, so `[W; b]` has row covariance `U` and
 * column covariance `V`, without slicing a joint draw. Batched `matMul`s (on
 * the CPU backend the triangular factors are marked, so BLAS runs them as
 * `strmm`: half the work of a general product). Pruned weights are exactly 0.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { NoiseStream } from "../../core/engine/engine.ts";
import { markTriangular } from "../../core/wasm_blas.ts";
import type { SamplingFactors } from "./posterior.ts";

/** One layer's matrix-normal square roots on the device. */
export interface DeviceLayerPosterior {
  /** Layer index in the network. */
  layer: number;
  /** Inputs of the layer. */
  inDim: number;
  /** Outputs. */
  outDim: number;
  /** `A_w`, lower triangular `[inDim, inDim]`. */
  aw: tf.Tensor2D;
  /** `a_b`, the bias row of `A` left of the diagonal, `[1, inDim]`. */
  ab: tf.Tensor2D;
  /** `a_bb`, the last diagonal entry of `A`. */
  abb: number;
  /** `Bᵀ`, lower triangular `[outDim, outDim]`. */
  bt: tf.Tensor2D;
  /** Where the weights are kept (bool `[inDim, outDim]`); absent: all. */
  keep?: tf.Tensor2D;
}

/**
 * Uploads a layer's square-root factors with an optional pruning mask
 * (`[inDim·outDim]` host values, 0 = pruned).
 *
 * @example
 * ```ts
 * import { devicePosterior } from "./sampler.ts";
 * const f = { rows: 2, cols: 1, a: new Float32Array([1, 0, 0, 1]), bt: new Float32Array([1]) };
 * const p = devicePosterior(0, f);
 * ```
 */
export function devicePosterior(
  layer: number,
  f: SamplingFactors,
  mask?: Uint8Array,
): DeviceLayerPosterior {
  const { rows, cols, a } = f;
  const inDim = rows - 1;
  const aw = new Float32Array(inDim * inDim);
  for (let i = 0; i < inDim; i++) aw.set(a.subarray(i * rows, i * rows + inDim), i * inDim);
  const p: DeviceLayerPosterior = {
    layer,
    inDim,
    outDim: cols,
    aw: tf.tensor2d(aw, [inDim, inDim]),
    ab: tf.tensor2d(a.slice(inDim * rows, inDim * rows + inDim), [1, inDim]),
    abb: a[rows * rows - 1],
    bt: tf.tensor2d(f.bt, [cols, cols]),
  };
  markTriangular(p.aw, false);
  markTriangular(p.bt, false);
  if (mask) {
    if (mask.length !== inDim * cols) {
      throw new RangeError(
        `layer ${layer}: mask has ${mask.length} entries, expected ${inDim * cols}`,
      );
    }
    p.keep = tf.tensor2d(mask.map((v) => (v ? 1 : 0)), [inDim, cols], "bool");
  }
  return p;
}

/**
 * Frees a posterior's tensors.
 *
 * @example
 * ```ts
 * import { devicePosterior, disposePosterior } from "./sampler.ts";
 * const f = { rows: 2, cols: 1, a: new Float32Array([1, 0, 0, 1]), bt: new Float32Array([1]) };
 * disposePosterior(devicePosterior(0, f));
 * ```
 */
export function disposePosterior(p: DeviceLayerPosterior): void {
  tf.dispose([p.aw, p.ab, p.bt, ...(p.keep ? [p.keep] : [])]);
}

/**
 * `count` draws of a layer around its MAP weight `w` (`[inDim, outDim]`) and
 * bias `b` (`[outDim]`): weights `[count, inDim, outDim]`, biases
 * `[count, outDim]`, the noise taken from `noise` (weights', then biases').
 *
 * @example
 * ```ts
 * // const { w, b } = drawLayer(posterior, net.w[0], net.b[0], getEngine().noise(seed, 3), 10);
 * ```
 */
export function drawLayer(
  p: DeviceLayerPosterior,
  w: tf.Tensor,
  b: tf.Tensor,
  noise: NoiseStream,
  count: number,
): { w: tf.Tensor3D; b: tf.Tensor2D } {
  return tf.tidy(() => {
    const { inDim, outDim } = p;
    const ew = noise.normalTensor([count, inDim, outDim]);
    const eb = noise.normalTensor([count, 1, outDim]);
    let ws: tf.Tensor = tf.add(tf.matMul(tf.matMul(p.aw, ew), p.bt), w);
    if (p.keep) ws = tf.where(tf.broadcastTo(p.keep, ws.shape), ws, tf.zerosLike(ws));
    const rowB = tf.add(tf.matMul(p.ab, ew), tf.mul(eb, p.abb));
    const bs = tf.add(tf.matMul(rowB, p.bt).reshape([count, outDim]), b.reshape([1, outDim]));
    return { w: ws as tf.Tensor3D, b: bs as tf.Tensor2D };
  });
}
