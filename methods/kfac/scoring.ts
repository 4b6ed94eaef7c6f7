/**
 * Log-likelihood of held-out data under a sampled prediction, for tuning.
 *
 * @module
 */
import type { Prediction } from "../../core/method.ts";

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/**
 * Mean over examples of `log (1/S) Σ_s p(y | x, θ_s)` for a
 * {@linkcode Prediction} (regression targets in the model's standardised units).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { meanLogLik } from "./scoring.ts";
 * const logProbs = tf.log(tf.tensor3d([[[0.5, 0.5]]])) as tf.Tensor3D;
 * meanLogLik({ task: "classification", logProbs }, new Int32Array([0])); // log ½
 * ```
 */
export function meanLogLik(pred: Prediction, y: Int32Array | Float32Array): number {
  if (pred.task === "classification") {
    const [S, N, C] = pred.logProbs.shape;
    if (y.length !== N) throw new RangeError(`scoring: ${y.length} labels for ${N} predictions`);
    const lp = pred.logProbs.dataSync();
    let total = 0;
    for (let n = 0; n < N; n++) {
      let max = -Infinity;
      for (let s = 0; s < S; s++) max = Math.max(max, lp[(s * N + n) * C + y[n]]);
      let sum = 0;
      for (let s = 0; s < S; s++) sum += Math.exp(lp[(s * N + n) * C + y[n]] - max);
      total += max + Math.log(sum / S);
    }
    return total / N;
  }
  const [S, N] = pred.mean.shape;
  if (y.length !== N) throw new RangeError(`scoring: ${y.length} targets for ${N} predictions`);
  const mu = pred.mean.dataSync(), ls = pred.logSigma.dataSync();
  let total = 0;
  const v = new Float64Array(S);
  for (let n = 0; n < N; n++) {
    let max = -Infinity;
    for (let s = 0; s < S; s++) {
      const z = (y[n] - mu[s * N + n]) * Math.exp(-ls[s * N + n]);
      v[s] = -ls[s * N + n] - 0.5 * z * z - HALF_LOG_2PI;
      max = Math.max(max, v[s]);
    }
    let sum = 0;
    for (let s = 0; s < S; s++) sum += Math.exp(v[s] - max);
    total += max + Math.log(sum / S);
  }
  return total / N;
}
