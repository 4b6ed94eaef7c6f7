/**
 * Log-likelihood of held-out data under a sampled prediction, for tuning:
 * reduced on the device, read asynchronously.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { getEngine } from "../../core/engine/current.ts";
import { predictionScores } from "../../core/evaluate.ts";
import type { Prediction } from "../../core/method.ts";

/**
 * `Σ_n log (1/S) Σ_s p(y_n | x_n, θ_s)` of a {@linkcode Prediction} as a
 * device scalar (labels `[N]` int32, or regression targets `[N]` in the
 * model's standardised units).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { logLikSum } from "./scoring.ts";
 * const logProbs = tf.log(tf.tensor3d([[[0.5, 0.5]]])) as tf.Tensor3D;
 * logLikSum({ task: "classification", logProbs }, tf.tensor1d([0], "int32")); // log ½
 * ```
 */
export function logLikSum(pred: Prediction, y: tf.Tensor): tf.Scalar {
  const n = pred.task === "classification" ? pred.logProbs.shape[1] : pred.mean.shape[1];
  if (y.size !== n) throw new RangeError(`scoring: ${y.size} targets for ${n} predictions`);
  return tf.tidy(() => tf.slice(predictionScores(pred, y), [0], [1]).reshape([]) as tf.Scalar);
}

/**
 * Mean over examples of `log (1/S) Σ_s p(y | x, θ_s)` (one asynchronous read).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { meanLogLik } from "./scoring.ts";
 * const logProbs = tf.log(tf.tensor3d([[[0.5, 0.5]]])) as tf.Tensor3D;
 * await meanLogLik({ task: "classification", logProbs }, new Int32Array([0])); // log ½
 * ```
 */
export async function meanLogLik(pred: Prediction, y: Int32Array | Float32Array): Promise<number> {
  const yt = y instanceof Int32Array ? tf.tensor1d(y, "int32") : tf.tensor1d(y);
  const s = logLikSum(pred, yt);
  yt.dispose();
  const [v] = await getEngine().read(s);
  s.dispose();
  return v / y.length;
}
