/**
 * The fast gradient sign method (FGSM, Goodfellow et al. 2015) against a
 * Bayesian predictive: the sign of the input gradient of
 * `−log p̄(y|x) = −log (1/S) Σ_s p_s(y|x)`, the negative log-likelihood of
 * the label under the method's S-sample predictive distribution, and the
 * perturbed inputs `clip(x + ε/σ · sign ∇x)` for ε in [0, 1] pixel units.
 *
 * The gradient is taken with `tf.grad` through `method.predict` (tensor ops
 * only, so it is differentiable in x for every method built on
 * `predictInChunks`). For a method whose `predict` is not differentiable in
 * x, the same gradient is computed from S weight sets of its
 * `sampleWeights` hook and the shared forward pass (at most
 * {@linkcode MAX_FALLBACK_SAMPLES} sets, all held as tensors at once).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { getEngine } from "../../core/engine/current.ts";
import type { Method } from "../../core/method.ts";
import { layerShapes, type LayerTensors, mlpForward } from "../../core/mlp.ts";

/**
 * How the input gradient was obtained.
 *
 * @example
 * ```ts
 * import type { GradientSource } from "./classification_study_fgsm.ts";
 * const s: GradientSource = "predict";
 * ```
 */
export type GradientSource = "predict" | "sampleWeights";

/**
 * Result of {@linkcode fgsmDirection}.
 *
 * @example
 * ```ts
 * import type { FgsmDirection } from "./classification_study_fgsm.ts";
 * const moved = (d: FgsmDirection) => d.sign.filter((v) => v !== 0).length;
 * ```
 */
export interface FgsmDirection {
  /** `sign(∇x −log p̄(y|x))` per input value (−1, 0 or 1). */
  sign: Float32Array;
  /** `predict`: through the method's predict; `sampleWeights`: from sampled weight sets. */
  source: GradientSource;
  /** Posterior samples the gradient used. */
  samples: number;
}

/**
 * Most weight sets the `sampleWeights` fallback holds at once.
 *
 * @example
 * ```ts
 * import { MAX_FALLBACK_SAMPLES } from "./classification_study_fgsm.ts";
 * MAX_FALLBACK_SAMPLES; // 20
 * ```
 */
export const MAX_FALLBACK_SAMPLES: number = 20;

/**
 * Options of {@linkcode fgsmDirection}.
 *
 * @example
 * ```ts
 * import type { FgsmOptions } from "./classification_study_fgsm.ts";
 * const opts: FgsmOptions = { samples: 20, seed: 3 };
 * ```
 */
export interface FgsmOptions {
  /** Posterior samples S in the predictive. */
  samples: number;
  /** Seed of the prediction noise (dropout masks, weight draws). */
  seed: number;
  /** Rows per gradient evaluation (default `max(1, ⌊4000 / S⌋)`, at most 1000). */
  rowsPerChunk?: number;
  /**
   * Weight sets for the `sampleWeights` route (default `samples`; at most
   * {@linkcode MAX_FALLBACK_SAMPLES}). Set it when `samples` is 1 only because
   * the method's predictive is deterministic (e.g. a probit GLM predictive).
   */
  fallbackSamples?: number;
  /** Skip `predict` and use the `sampleWeights` path (tests). */
  forceSampleWeights?: boolean;
}

/** `−Σ_n log p̄(y_n|x_n)` from per-sample log-probabilities `[S, n, C]`. */
function mixtureNll(logProbs: tf.Tensor3D, y: tf.Tensor1D): tf.Scalar {
  const S = logProbs.shape[0];
  const lp = tf.sub(tf.logSumExp(logProbs, 0), Math.log(S));
  return tf.neg(tf.sum(tf.mul(tf.oneHot(y, logProbs.shape[2]), lp)));
}

/** The input gradient through `predict`, and the samples predict actually drew. */
function predictGradient(
  method: Method,
  x: tf.Tensor2D,
  y: tf.Tensor1D,
  samples: number,
  seed: number,
): { grad: tf.Tensor; samples: number } {
  let drawn = samples;
  const grad = tf.grad((xx: tf.Tensor) => {
    const p = method.predict(xx as tf.Tensor2D, { samples, seed, chunk: x.shape[0] });
    if (p.task !== "classification") {
      throw new TypeError(`${method.name}: FGSM needs a classifier`);
    }
    drawn = p.logProbs.shape[0];
    return mixtureNll(p.logProbs, y);
  })(x);
  return { grad, samples: drawn };
}

async function weightSetTensors(
  method: Method,
  samples: number,
  seed: number,
): Promise<LayerTensors[]> {
  if (!method.sampleWeights) {
    throw new TypeError(
      `${method.name}: predict is not differentiable in its inputs and the method has no ` +
        `sampleWeights hook, so FGSM cannot compute an input gradient`,
    );
  }
  const shapes = new Map(layerShapes(method.spec).map((p) => [p.name, p.shape]));
  const nLayers = method.spec.hidden.length + 1;
  return (await method.sampleWeights(samples, seed)).map((set) => {
    const w: tf.Tensor2D[] = [];
    const b: tf.Tensor1D[] = [];
    for (let i = 0; i < nLayers; i++) {
      const ws = shapes.get(`l${i}.w`)!;
      const wd = set[`l${i}.w`], bd = set[`l${i}.b`];
      if (!wd || !bd || wd.length !== ws[0] * ws[1] || bd.length !== ws[1]) {
        throw new RangeError(
          `${method.name}: sampleWeights returned no l${i}.w [${ws}] / l${i}.b [${ws[1]}] ` +
            `(found ${wd?.length} / ${bd?.length} values)`,
        );
      }
      w.push(tf.tensor2d(wd, ws as [number, number]));
      b.push(tf.tensor1d(bd));
    }
    return { w, b };
  });
}

function sampledWeightsGradient(sets: LayerTensors[], x: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor {
  return tf.grad((xx: tf.Tensor) => {
    const lp = sets.map((l) => tf.logSoftmax(mlpForward(l, xx as tf.Tensor2D)));
    return mixtureNll(tf.stack(lp) as tf.Tensor3D, y);
  })(x);
}

/**
 * Sign of the input gradient of the predictive NLL of labels `y` at inputs
 * `x` (`n` rows, row-major), computed in row chunks; each chunk's gradient
 * is read asynchronously (no synchronous GPU read).
 *
 * @example
 * ```ts
 * import { buildMap } from "../../methods/map.ts";
 * import { fgsmDirection } from "./classification_study_fgsm.ts";
 * const m = buildMap({ inputDim: 4, hidden: [8], outputDim: 3, task: "classification" });
 * m.init(0);
 * const d = await fgsmDirection(m, new Float32Array(8), new Int32Array([0, 2]), {
 *   samples: 1,
 *   seed: 0,
 * });
 * d.sign.length; // 8
 * ```
 */
export async function fgsmDirection(
  method: Method,
  x: Float32Array,
  y: Int32Array,
  opts: FgsmOptions,
): Promise<FgsmDirection> {
  const n = y.length;
  const d = method.spec.inputDim;
  if (x.length !== n * d) {
    throw new RangeError(`fgsmDirection: ${x.length} input values for ${n} labels × ${d}`);
  }
  let samples = opts.samples;
  const rows = Math.max(1, opts.rowsPerChunk ?? Math.min(1000, Math.floor(4000 / samples)));
  const sign = new Float32Array(n * d);
  let source: GradientSource = opts.forceSampleWeights ? "sampleWeights" : "predict";
  let sets: LayerTensors[] | undefined;
  try {
    for (let start = 0; start < n; start += rows) {
      const m = Math.min(rows, n - start);
      const xt = tf.tensor2d(x.subarray(start * d, (start + m) * d), [m, d]);
      const yt = tf.tensor1d(y.subarray(start, start + m), "int32");
      try {
        let g: tf.Tensor | undefined;
        if (source === "predict") {
          try {
            const r = predictGradient(method, xt, yt, opts.samples, opts.seed + start);
            g = r.grad;
            samples = r.samples;
          } catch (e) {
            // tfjs: "Cannot compute gradient of y=f(x) with respect to x…", or a gradient tfjs
            // gets wrong ("Error in gradient for op BatchMatMul…": a batch-broadcast matmul,
            // as in a forward over stacked weight samples, returns an unreduced gradient).
            const notDifferentiable = /cannot compute gradient|error in gradient for op/i.test(
              (e as Error).message,
            );
            if (start > 0 || !notDifferentiable) throw e;
            // Not differentiable through predict: switch to sampled weights.
            source = "sampleWeights";
          }
        }
        if (!g) {
          if (!sets) {
            samples = Math.min(opts.fallbackSamples ?? opts.samples, MAX_FALLBACK_SAMPLES);
            sets = await weightSetTensors(method, samples, opts.seed);
          }
          g = sampledWeightsGradient(sets, xt, yt);
        }
        let gd: Float32Array;
        try {
          gd = await getEngine().read(g);
        } finally {
          g.dispose();
        }
        for (let i = 0; i < gd.length; i++) sign[start * d + i] = Math.sign(gd[i]);
      } finally {
        xt.dispose();
        yt.dispose();
      }
    }
  } finally {
    if (sets) { for (const s of sets) tf.dispose([...s.w, ...s.b]); }
  }
  return { sign, source, samples };
}

/**
 * FGSM inputs `clip(x + ε/σ · sign, lo, hi)` for normalised inputs: `ε` is in
 * [0, 1] pixel units, `norm` the input normalisation (pixels `(p − mean)/std`),
 * and the result stays within the normalised images of pixels 0 and 1.
 *
 * @example
 * ```ts
 * import { fgsmPerturb } from "./classification_study_fgsm.ts";
 * fgsmPerturb(new Float32Array([0]), new Float32Array([1]), 0.1, { mean: 0, std: 1 }); // [0.1]
 * ```
 */
export function fgsmPerturb(
  x: Float32Array,
  sign: Float32Array,
  epsilon: number,
  norm: { mean: number; std: number } | null,
): Float32Array {
  if (x.length !== sign.length) {
    throw new RangeError(`fgsmPerturb: ${x.length} inputs but ${sign.length} signs`);
  }
  if (!(epsilon >= 0)) throw new RangeError(`fgsmPerturb: ε must be ≥ 0, found ${epsilon}`);
  const mean = norm?.mean ?? 0, std = norm?.std ?? 1;
  const lo = (0 - mean) / std, hi = (1 - mean) / std;
  const step = epsilon / std;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i] + step * sign[i];
    out[i] = v < lo ? lo : v > hi ? hi : v;
  }
  return out;
}
