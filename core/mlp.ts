/**
 * Fully connected ReLU networks as plain tensors: parameter shapes, the
 * reference initialisation, and the forward pass (fused matmul + bias + ReLU,
 * which the wasm backend sends to BLAS).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { NetSpec } from "./method.ts";
import type { Rng } from "./rng.ts";
import type { HostTensor } from "./safetensors.ts";
import type { Tensor1D, Tensor2D } from "./tf.ts";
import { Layout } from "./engine/engine.ts";
import { dense } from "./dense.ts";

/** Name and shape of one parameter tensor. */
export interface ParamShape {
  /** `l{i}.w`, `l{i}.b`, or `log_noise`. */
  name: string;
  /** `[in, out]` for weights, `[out]` for biases, `[]` for the noise scale. */
  shape: number[];
}

/** Raised for an inconsistent network description. */
export class NetSpecError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "NetSpecError";
  }
}

/** Checks a {@linkcode NetSpec}, throwing a {@linkcode NetSpecError} naming the bad field. */
export function validateSpec(spec: NetSpec): void {
  const posInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
  if (!posInt(spec.inputDim)) {
    throw new NetSpecError(`inputDim must be a positive integer, found ${spec.inputDim}`);
  }
  if (!posInt(spec.outputDim)) {
    throw new NetSpecError(`outputDim must be a positive integer, found ${spec.outputDim}`);
  }
  if (!Array.isArray(spec.hidden) || !spec.hidden.every(posInt)) {
    throw new NetSpecError(
      `hidden must be a list of positive integers, found ${JSON.stringify(spec.hidden)}`,
    );
  }
  if (spec.task !== "classification" && spec.task !== "regression") {
    throw new NetSpecError(`task must be "classification" or "regression", found "${spec.task}"`);
  }
  if (spec.task === "classification" && spec.outputDim < 2) {
    throw new NetSpecError(`classification needs outputDim ≥ 2 classes, found ${spec.outputDim}`);
  }
  if (spec.task === "regression" && spec.outputDim !== 1) {
    throw new NetSpecError(`regression supports outputDim 1, found ${spec.outputDim}`);
  }
  if (spec.noise && spec.noise !== "homoscedastic" && spec.noise !== "heteroscedastic") {
    throw new NetSpecError(
      `noise must be "homoscedastic" or "heteroscedastic", found "${spec.noise}"`,
    );
  }
}

/** Number of raw network outputs (2 for heteroscedastic regression: mean and log σ). */
export function rawOutputs(spec: NetSpec): number {
  return spec.task === "regression" && (spec.noise ?? "heteroscedastic") === "heteroscedastic"
    ? 2
    : spec.outputDim;
}

/** Whether the spec has a learnt global log σ (homoscedastic regression). */
export function hasGlobalNoise(spec: NetSpec): boolean {
  return spec.task === "regression" && spec.noise === "homoscedastic";
}

/**
 * The layer parameter shapes of a network (weights `[in, out]`, biases `[out]`).
 *
 * @example
 * ```ts
 * import { layerShapes } from "./mlp.ts";
 * layerShapes({ inputDim: 784, hidden: [1200, 1200], outputDim: 10, task: "classification" });
 * // [{ name: "l0.w", shape: [784, 1200] }, { name: "l0.b", shape: [1200] }, ...]
 * ```
 */
export function layerShapes(spec: NetSpec): ParamShape[] {
  validateSpec(spec);
  const dims = [spec.inputDim, ...spec.hidden, rawOutputs(spec)];
  const out: ParamShape[] = [];
  for (let i = 0; i + 1 < dims.length; i++) {
    out.push({ name: `l${i}.w`, shape: [dims[i], dims[i + 1]] });
    out.push({ name: `l${i}.b`, shape: [dims[i + 1]] });
  }
  return out;
}

/** Total number of network weights and biases. */
export function countParams(spec: NetSpec): number {
  return layerShapes(spec).reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
}

/**
 * PyTorch's default `nn.Linear` initialisation, U(−1/√fan_in, 1/√fan_in)
 * for weights and biases (what the reference network uses), as host arrays.
 *
 * @example
 * ```ts
 * import { initLayers } from "./mlp.ts";
 * import { Rng } from "@bayes/nn";
 * const p = initLayers({ inputDim: 4, hidden: [8], outputDim: 3, task: "classification" }, new Rng(1));
 * ```
 */
export function initLayers(spec: NetSpec, rng: Rng): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const p of layerShapes(spec)) {
    const fanIn = p.name.endsWith(".w") ? p.shape[0] : layerFanIn(spec, p.name);
    const bound = 1 / Math.sqrt(fanIn);
    const size = p.shape.reduce((a, b) => a * b, 1);
    out[p.name] = { data: rng.uniformArray(size, -bound, bound), shape: p.shape };
  }
  return out;
}

function layerFanIn(spec: NetSpec, biasName: string): number {
  const i = Number(biasName.slice(1, biasName.indexOf(".")));
  return [spec.inputDim, ...spec.hidden][i];
}

/** Weights and biases of each layer as tensors. */
export interface LayerTensors {
  /** `[in, out]` weight per layer. */
  w: Tensor2D[];
  /** `[out]` bias per layer. */
  b: Tensor1D[];
}

/**
 * Forward pass: hidden layers are `relu(h·W + b)` (one fused op), the last
 * layer is linear. `hidden` transforms each hidden activation (e.g. dropout).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { mlpForward } from "./mlp.ts";
 * const out = mlpForward({ w: [tf.ones([2, 3]), tf.ones([3, 1])], b: [tf.zeros([3]), tf.zeros([1])] },
 *   tf.ones([5, 2]));
 * ```
 */
export function mlpForward(
  p: LayerTensors,
  x: tf.Tensor2D,
  hidden?: (h: tf.Tensor2D, layer: number) => tf.Tensor2D,
): tf.Tensor2D {
  let h = x;
  const L = p.w.length;
  for (let i = 0; i < L; i++) {
    const last = i === L - 1;
    h = dense(h, p.w[i], p.b[i], !last) as tf.Tensor2D;
    if (!last && hidden) h = hidden(h, i);
  }
  return h;
}

/**
 * The layout of a network's parameters as one flat vector: `l0.w, l0.b, l1.w,
 * …`, then `log_noise` (the learnt global log σ of homoscedastic regression)
 * when `withNoise` and the network has one.
 *
 * @example
 * ```ts
 * import { netLayout } from "./mlp.ts";
 * netLayout({ inputDim: 2, hidden: [3], outputDim: 2, task: "classification" }).total; // 17
 * ```
 */
export function netLayout(spec: NetSpec, withNoise = true): Layout {
  const parts: { name: string; shape: number[] }[] = layerShapes(spec);
  if (withNoise && hasGlobalNoise(spec)) parts.push({ name: "log_noise", shape: [] });
  return new Layout(parts);
}

/**
 * Initial values over `layout` (PyTorch's default `nn.Linear` initialisation
 * for the layers, log σ = log 0.5 for `log_noise`), flat.
 *
 * @example
 * ```ts
 * import { initFlat, netLayout } from "./mlp.ts";
 * import { Rng } from "@bayes/nn";
 * const spec = { inputDim: 2, hidden: [3], outputDim: 2, task: "classification" as const };
 * const values = initFlat(spec, netLayout(spec), new Rng(0));
 * ```
 */
export function initFlat(spec: NetSpec, layout: Layout, rng: Rng): Float32Array {
  const layers = initLayers(spec, rng);
  const out = new Float32Array(layout.total);
  for (const s of layout.segments) {
    if (s.name === "log_noise") out[s.off] = Math.log(0.5);
    else out.set(layers[s.name].data, s.off);
  }
  return out;
}

/**
 * Forward pass with the layer tensors given in layout order (`l0.w, l0.b,
 * …`; a trailing `log_noise` is ignored). Weights of rank 2 give outputs
 * `[n, out]`; weights with a leading samples dimension (`[S, in, out]`,
 * biases `[S, out]`) push all S weight samples through at once and give
 * `[S, n, out]` (`x` is `[n, in]`, shared, or `[S, n, in]`). `hidden`
 * transforms each hidden activation (dropout).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { forwardLayers } from "./mlp.ts";
 * const out = forwardLayers([tf.ones([3, 2, 4]), tf.zeros([3, 4]), tf.ones([3, 4, 1]), tf.zeros([3, 1])],
 *   tf.ones([5, 2]) as tf.Tensor2D); // [3, 5, 1]
 * ```
 */
export function forwardLayers(
  ws: readonly tf.Tensor[],
  x: tf.Tensor,
  hidden?: (h: tf.Tensor, layer: number) => tf.Tensor,
): tf.Tensor {
  const L = Math.floor(ws.length / 2);
  if (ws[0].rank === 2) {
    return mlpForward(
      {
        w: Array.from({ length: L }, (_, i) => ws[2 * i] as tf.Tensor2D),
        b: Array.from({ length: L }, (_, i) => ws[2 * i + 1] as tf.Tensor1D),
      },
      x as tf.Tensor2D,
      hidden as ((h: tf.Tensor2D, layer: number) => tf.Tensor2D) | undefined,
    );
  }
  const S = ws[0].shape[0];
  if (S === 1 && !hidden && (x.rank === 2 || x.shape[0] === 1)) {
    // One draw: the plain rank-2 network (one GEMM per layer, rank-1 biases).
    return tf.tidy(() => {
      const out = forwardLayers(
        ws.map((w) => w.reshape(w.shape.slice(1))),
        x.rank === 2 ? x : x.reshape(x.shape.slice(1)),
      );
      return out.reshape([1, ...out.shape]);
    });
  }
  let h = x.rank === 2 ? x.reshape([1, ...x.shape]) : x;
  for (let i = 0; i < L; i++) {
    const last = i === L - 1;
    const b = ws[2 * i + 1];
    h = dense(h, ws[2 * i], b.reshape([S, 1, b.shape[b.rank - 1]]), !last);
    if (!last && hidden) h = hidden(h, i);
  }
  return h;
}
