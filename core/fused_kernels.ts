/**
 * The library's fused tfjs kernels: the classification loss
 * ({@linkcode softmaxNll}: per-example softmax cross-entropy
 * `log Σⱼ exp zⱼ − z_y`, and {@linkcode softmaxNllSum}, its sum; one kernel
 * forward and one backward on the `cpu`, `wasm` and `webgpu` backends), and
 * on the GPU two pieces of a dense layer's backward pass
 * ({@linkcode reluBackward}, {@linkcode sumRows}, which also sums the
 * parameter engine's partial sums), a noisy layer's output
 * ({@linkcode noisyAffine}: local reparametrisation, Flipout), the error count
 * ({@linkcode misclassified}, {@linkcode misclassifiedTotal}) and a step's
 * loss from its terms ({@linkcode scaledTotal}, {@linkcode affineSum}).
 *
 * Why by hand: tfjs composes the loss from ten kernels (max, subtract, exp,
 * sum, log, subtract for the log-softmax; one-hot, multiply, sum, negate)
 * and its gradient from about six more; a ReLU's gradient from two (step,
 * multiply), a bias's from two (transpose, sum), the error count from three
 * (argMax, notEqual, sum). On a GPU each kernel is
 * a dispatch whose launch costs the host ~0.1 ms, more than the arithmetic
 * of a minibatch's 10-class loss, so these were most of a training step's
 * dispatches. Each kernel here is one pass (one dispatch on the GPU),
 * computed as tfjs computes it (the loss subtracts the row maximum before
 * the exponentials).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

const NLL = "BnnSoftmaxNll";
const NLL_SUM = "BnnSoftmaxNllSum";
const NLL_GRAD = "BnnSoftmaxNllGrad";

// deno-lint-ignore no-explicit-any
type AnyBackend = any;
type Views = { z: Float32Array; y: Int32Array; dy?: Float32Array };

/** Rows, classes and label count of a call to `what`, checked. */
function dims(
  logits: tf.TensorInfo,
  labels: tf.TensorInfo,
  what = "softmaxNll",
): [number, number, number] {
  const c = logits.shape[logits.shape.length - 1] ?? 0;
  const size = tf.util.sizeFromShape(logits.shape);
  const rows = c > 0 ? size / c : 0;
  const nLabels = tf.util.sizeFromShape(labels.shape);
  if (labels.dtype !== "int32") {
    throw new TypeError(`${what}: labels must be int32, found ${labels.dtype}`);
  }
  if (c < 1 || nLabels < 1 || rows % nLabels !== 0) {
    throw new RangeError(
      `${what}: ${rows} rows of logits [${logits.shape}] cannot be labelled by ` +
        `${nLabels} labels (rows must be a multiple of the labels)`,
    );
  }
  return [rows, c, nLabels];
}

/** log Σⱼ exp zⱼ of row `r` and its maximum. */
function rowLse(z: Float32Array, r: number, c: number): [number, number] {
  let m = -Infinity;
  for (let j = 0; j < c; j++) m = Math.max(m, z[r * c + j]);
  let s = 0;
  for (let j = 0; j < c; j++) s += Math.exp(z[r * c + j] - m);
  return [Math.log(s) + m, m];
}

function nllHost(v: Views, out: Float32Array, rows: number, c: number, nLabels: number): void {
  for (let r = 0; r < rows; r++) {
    const y = v.y[r % nLabels];
    const zy = y >= 0 && y < c ? v.z[r * c + y] : 0; // tfjs's one-hot of a bad label is all 0
    out[r] = rowLse(v.z, r, c)[0] - zy;
  }
}

function nllSumHost(
  v: Views,
  out: Float32Array,
  rows: number,
  c: number,
  nLabels: number,
): void {
  const each = new Float32Array(rows);
  nllHost(v, each, rows, c, nLabels);
  let s = 0;
  for (let r = 0; r < rows; r++) s += each[r];
  out[0] = s;
}

function gradHost(v: Views, out: Float32Array, rows: number, c: number, nLabels: number): void {
  for (let r = 0; r < rows; r++) {
    const y = v.y[r % nLabels];
    const lse = rowLse(v.z, r, c)[0], d = v.dy![v.dy!.length === 1 ? 0 : r];
    for (let j = 0; j < c; j++) {
      out[r * c + j] = d * (Math.exp(v.z[r * c + j] - lse) - (j === y ? 1 : 0));
    }
  }
}

/** A kernel function for the CPU backends from a host loop. */
function hostKernel(
  run: typeof nllHost,
  outShape: (logits: tf.TensorInfo) => number[],
  backendName: "cpu" | "wasm",
): tf.KernelFunc {
  return ({ inputs, backend }) => {
    const be = backend as AnyBackend;
    const logits = inputs.logits as tf.TensorInfo, labels = inputs.labels as tf.TensorInfo;
    const dy = inputs.dy as tf.TensorInfo | undefined;
    const [rows, c, nLabels] = dims(logits, labels);
    const shape = outShape(logits);
    if (backendName === "wasm") {
      // Allocate first: allocating can move the wasm heap, invalidating views.
      const out = be.makeOutput(shape, "float32");
      const view = (t: tf.TensorInfo) => be.typedArrayFromHeap(t);
      run({ z: view(logits), y: view(labels), dy: dy && view(dy) }, view(out), rows, c, nLabels);
      return out;
    }
    const vals = (t: tf.TensorInfo) => be.data.get(t.dataId).values;
    const out = new Float32Array(tf.util.sizeFromShape(shape));
    run({ z: vals(logits), y: vals(labels), dy: dy && vals(dy) }, out, rows, c, nLabels);
    return be.makeTensorInfo(shape, "float32", out);
  };
}

/**
 * Runs a WGSL body once per output value on tfjs-webgpu's `backend` (a
 * kernel function's), the inputs bound as flat arrays named `names`: one
 * dispatch. `key` must change whenever `body` does (it keys the shader cache).
 * Only the inputs the body reads (`name[…]`) are bound: WebGPU leaves a
 * binding the shader never reads out of the pipeline's layout, and binding
 * it anyway fails validation, which drops the dispatch without an exception
 * (the output keeps whatever its buffer held).
 */
function runFlat(
  backend: unknown,
  key: string,
  names: readonly string[],
  inputs: readonly tf.TensorInfo[],
  outputShape: readonly number[],
  body: string,
): tf.TensorInfo {
  const read = names.map((n) => new RegExp(`\\b${n}\\[`).test(body));
  names = names.filter((_, i) => read[i]);
  inputs = inputs.filter((_, i) => read[i]);
  const size = tf.util.sizeFromShape([...outputShape]);
  const program = {
    variableNames: [...names],
    outputShape: [...outputShape],
    shaderKey: `bnn_${key}`,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [Math.max(1, Math.ceil(size / 64)), 1, 1],
    workgroupSize: [64, 1, 1],
    size: true,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {${body}
        }
      }`,
  };
  return (backend as AnyBackend).runWebGPUProgram(program, [...inputs], "float32");
}

/**
 * Registers the WebGPU kernel `name` as one flat program over the inputs
 * `names` (in that order); `make` gives the program's cache key, output
 * shape and WGSL body for the call's inputs and attributes.
 */
function registerFlat(
  name: string,
  names: readonly string[],
  make: (
    ins: tf.TensorInfo[],
    attrs: tf.NamedAttrMap,
  ) => { key: string; shape: readonly number[]; body: string },
): void {
  tf.registerKernel({
    kernelName: name,
    backendName: "webgpu",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const ins = names.map((n) => inputs[n] as tf.TensorInfo);
      const { key, shape, body } = make(ins, attrs ?? {});
      return runFlat(backend, key, names, ins, shape, body);
    },
  });
}

/** The loss kernels' GPU programs: one invocation per output value. */
function lossProgram(kind: "nll" | "sum" | "grad") {
  return ([logits, labels, dy]: tf.TensorInfo[]) => {
    const [, c, nLabels] = dims(logits, labels);
    const lse = `
          var m = -3.40282347e38;
          for (var j = 0; j < ${c}; j++) { m = max(m, logits[base + j]); }
          var s = 0.0;
          for (var j = 0; j < ${c}; j++) { s = s + exp(logits[base + j] - m); }
          let lse = log(s) + m;
          let y = labels[row % ${nLabels}];`;
    if (kind === "sum") {
      // One invocation adds the rows (a minibatch's: a few hundred rows of C logits).
      const rows = tf.util.sizeFromShape(logits.shape) / c;
      return {
        key: `softmax_nll_sum_${c}_${nLabels}_${rows}`,
        shape: [],
        body: `
          var total = 0.0;
          for (var row = 0; row < ${rows}; row++) {
            let base = row * ${c};${lse.replaceAll("\n          ", "\n            ")}
            var zy = 0.0;
            if (y >= 0 && y < ${c}) { zy = logits[base + y]; }
            total = total + (lse - zy);
          }
          setOutputAtIndex(index, total);`,
      };
    }
    if (kind === "nll") {
      return {
        key: `softmax_nll_${c}_${nLabels}`,
        shape: logits.shape.slice(0, -1),
        body: `
          let row = index;
          let base = row * ${c};${lse}
          var zy = 0.0;
          if (y >= 0 && y < ${c}) { zy = logits[base + y]; }
          setOutputAtIndex(index, lse - zy);`,
      };
    }
    const one = tf.util.sizeFromShape(dy.shape) === 1; // the gradient of a sum: one dy for all
    return {
      key: `softmax_grad_${c}_${nLabels}_${one}`,
      shape: logits.shape,
      body: `
          let row = index / ${c};
          let col = index % ${c};
          let base = row * ${c};${lse}
          let hot = select(0.0, 1.0, col == y);
          setOutputAtIndex(index, dy[${
        one ? "0" : "row"
      }] * (exp(logits[base + col] - lse) - hot));`,
    };
  };
}

let registered = false;

/** Registers both kernels on the three backends and the loss's gradient (idempotent). */
function register(): void {
  if (registered) return;
  registered = true;
  const rowsOf = (t: tf.TensorInfo) => t.shape.slice(0, -1);
  const same = (t: tf.TensorInfo) => [...t.shape];
  for (const b of ["cpu", "wasm"] as const) {
    tf.registerKernel({
      kernelName: NLL,
      backendName: b,
      kernelFunc: hostKernel(nllHost, rowsOf, b),
    });
    tf.registerKernel({
      kernelName: NLL_GRAD,
      backendName: b,
      kernelFunc: hostKernel(gradHost, same, b),
    });
    tf.registerKernel({
      kernelName: NLL_SUM,
      backendName: b,
      kernelFunc: hostKernel(nllSumHost, () => [], b),
    });
  }
  registerFlat(NLL, ["logits", "labels"], lossProgram("nll"));
  registerFlat(NLL_SUM, ["logits", "labels"], lossProgram("sum"));
  registerFlat(NLL_GRAD, ["logits", "labels", "dy"], lossProgram("grad"));
  // Per example or summed, the gradient is one kernel (the sum's dy is one number for all rows).
  for (const kernelName of [NLL, NLL_SUM]) {
    tf.registerGradient({
      kernelName,
      inputsToSave: ["logits", "labels"],
      gradFunc: (dy, saved) => {
        const [logits, labels] = saved;
        return {
          logits: () =>
            tf.engine().runKernel(NLL_GRAD, { logits, labels, dy: dy as tf.Tensor }) as tf.Tensor,
          labels: () => tf.zerosLike(labels),
        };
      },
    });
  }
}

/** Whether the active backend has the fused kernels (others compose the loss from tfjs ops). */
function supported(): boolean {
  const b = tf.getBackend();
  return b === "cpu" || b === "wasm" || b === "webgpu";
}

/**
 * Per-example softmax cross-entropy: `logits` `[…, C]`, int32 `labels` whose
 * count divides the rows (row `r` takes label `r mod count`, so `[S, n, C]`
 * logits of S weight draws share `[n]` labels), result `[…]` (the logits'
 * shape without its last axis). Differentiable in the logits. One kernel
 * forward and one backward on the `cpu`, `wasm` and `webgpu` backends;
 * tfjs's own ops elsewhere.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { softmaxNll } from "./fused_kernels.ts";
 * softmaxNll(tf.tensor2d([[0, 0], [2, 0]]), tf.tensor1d([1, 0], "int32")).arraySync();
 * // [log 2, log(1 + e⁻²)] ≈ [0.693, 0.127]
 * ```
 */
export function softmaxNll(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor {
  dims(logits, labels);
  if (!supported()) {
    return tf.tidy(() => {
      const c = logits.shape[logits.rank - 1];
      const rows = logits.size / c, n = labels.size;
      const oh = tf.oneHot(labels.reshape([-1]) as tf.Tensor1D, c);
      const lp = tf.logSoftmax(logits.reshape([rows / n, n, c]));
      return tf.neg(tf.sum(tf.mul(oh, lp), -1)).reshape(logits.shape.slice(0, -1));
    });
  }
  register();
  return tf.engine().runKernel(NLL, { logits, labels }) as tf.Tensor;
}

/**
 * {@linkcode softmaxNll} summed over every row: a minibatch's data term, one
 * kernel forward and one backward (the per-example loss, its sum and the
 * sum's broadcast gradient: four on a GPU). Same labels rule and backends.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { softmaxNllSum } from "./fused_kernels.ts";
 * softmaxNllSum(tf.tensor2d([[0, 0], [2, 0]]), tf.tensor1d([1, 0], "int32")).arraySync();
 * // log 2 + log(1 + e⁻²) ≈ 0.820
 * ```
 */
export function softmaxNllSum(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  dims(logits, labels, "softmaxNllSum");
  if (!supported()) return tf.tidy(() => tf.sum(softmaxNll(logits, labels)));
  register();
  return tf.engine().runKernel(NLL_SUM, { logits, labels }) as tf.Scalar;
}

const RELU_GRAD = "BnnReluGrad";
const SUM_ROWS = "BnnSumRows";
let denseRegistered = false;

function registerDenseKernels(): void {
  if (denseRegistered) return;
  denseRegistered = true;
  registerFlat(RELU_GRAD, ["dy", "y"], ([dy]) => ({
    key: "relu_grad",
    shape: dy.shape,
    body: "setOutputAtIndex(index, select(0.0, dy[index], y[index] > 0.0));",
  }));
  registerFlat(SUM_ROWS, ["x"], ([x]) => {
    const n = x.shape[x.shape.length - 2], c = x.shape[x.shape.length - 1];
    return {
      key: `sum_rows_${n}_${c}`,
      shape: [...x.shape.slice(0, -2), c],
      body: `
          let l = index / ${c};
          let j = index % ${c};
          var s = 0.0;
          for (var r = 0; r < ${n}; r++) { s = s + x[(l * ${n} + r) * ${c} + j]; }
          setOutputAtIndex(index, s);`,
    };
  });
}

/**
 * The gradient through a ReLU from its output: `dy` where `y > 0`, else 0
 * (`y` and `dy` of one shape). One dispatch on the GPU; `dy · step(y)` with
 * tfjs's ops elsewhere.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { reluBackward } from "./fused_kernels.ts";
 * reluBackward(tf.tensor1d([5, 6, 7]), tf.tensor1d([0, 2, 0.5])).arraySync(); // [0, 6, 7]
 * ```
 */
export function reluBackward(dy: tf.Tensor, y: tf.Tensor): tf.Tensor {
  if (tf.getBackend() !== "webgpu") return tf.mul(dy, tf.step(y));
  registerDenseKernels();
  return tf.engine().runKernel(RELU_GRAD, { dy, y }) as tf.Tensor;
}

/**
 * Sums `x` (`[…, n, c]`) over its rows (the second-to-last axis) and gives
 * the result `shape`, which must hold `x.size / n` values (e.g. `[c]` for
 * `[n, c]`, `[S, 1, c]` for `[S, n, c]`): a bias's gradient. One dispatch on
 * the GPU (tfjs's sum there transposes first: two); `tf.sum` elsewhere.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { sumRows } from "./fused_kernels.ts";
 * sumRows(tf.tensor2d([[1, 2], [3, 4], [5, 6]]), [2]).arraySync(); // [9, 12]
 * ```
 */
export function sumRows(x: tf.Tensor, shape: readonly number[]): tf.Tensor {
  const n = x.shape[x.rank - 2];
  if (x.rank < 2 || tf.util.sizeFromShape([...shape]) * n !== x.size) {
    throw new RangeError(`sumRows: [${x.shape}] summed over its rows cannot give [${shape}]`);
  }
  if (tf.getBackend() !== "webgpu") return tf.tidy(() => tf.sum(x, -2).reshape([...shape]));
  registerDenseKernels();
  return tf.tidy(() => (tf.engine().runKernel(SUM_ROWS, { x }) as tf.Tensor).reshape([...shape]));
}

const WRONG = "BnnMisclassified";
let wrongRegistered = false;

/**
 * 1 for each row of `logits` (`[…, C]`) whose first largest logit is not
 * its label, else 0 (labels as in {@linkcode softmaxNll}: row `r` takes
 * label `r mod count`); float32, the logits' shape without its last axis.
 * One dispatch on the GPU; tfjs's argMax and notEqual elsewhere.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { misclassified } from "./fused_kernels.ts";
 * misclassified(tf.tensor2d([[0, 1], [1, 0]]), tf.tensor1d([1, 1], "int32")).arraySync(); // [0, 1]
 * ```
 */
export function misclassified(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor {
  const [rows, c, nLabels] = dims(logits, labels, "misclassified");
  if (tf.getBackend() !== "webgpu") {
    return tf.tidy(() => {
      const pred = tf.argMax(logits.reshape([rows / nLabels, nLabels, c]), -1);
      const wrong = tf.notEqual(pred, labels.reshape([1, nLabels]));
      return tf.cast(wrong, "float32").reshape(logits.shape.slice(0, -1));
    });
  }
  if (!wrongRegistered) {
    wrongRegistered = true;
    registerFlat(WRONG, ["logits", "labels"], ([z, y]) => {
      const [, k, n] = dims(z, y, "misclassified");
      return {
        key: `misclassified_${k}_${n}`,
        shape: z.shape.slice(0, -1),
        body: `
          let base = index * ${k};
          var best = 0;
          for (var j = 1; j < ${k}; j++) {
            if (logits[base + j] > logits[base + best]) { best = j; }
          }
          setOutputAtIndex(index, select(0.0, 1.0, best != labels[index % ${n}]));`,
      };
    });
  }
  return tf.engine().runKernel(WRONG, { logits, labels }) as tf.Tensor;
}

const WRONG_TOTAL = "BnnMisclassifiedTotal";
let wrongTotalRegistered = false;

/**
 * The number of {@linkcode misclassified} rows divided by `divisor` (e.g.
 * the S weight draws of `[S, n, C]` logits: the mean count per draw), as a
 * scalar. One dispatch on the GPU (three with the per-row kernel's sum and
 * the division); tfjs's ops elsewhere.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { misclassifiedTotal } from "./fused_kernels.ts";
 * misclassifiedTotal(tf.tensor2d([[0, 1], [1, 0]]), tf.tensor1d([1, 1], "int32"), 1).arraySync(); // 1
 * ```
 */
export function misclassifiedTotal(
  logits: tf.Tensor,
  labels: tf.Tensor,
  divisor: number,
): tf.Scalar {
  dims(logits, labels, "misclassifiedTotal");
  if (!(divisor > 0 && Number.isFinite(divisor))) {
    throw new RangeError(`misclassifiedTotal: divisor must be a positive number, found ${divisor}`);
  }
  if (tf.getBackend() !== "webgpu") {
    return tf.tidy(() => tf.div(tf.sum(misclassified(logits, labels)), divisor) as tf.Scalar);
  }
  if (!wrongTotalRegistered) {
    wrongTotalRegistered = true;
    registerFlat(WRONG_TOTAL, ["logits", "labels"], ([z, y], attrs) => {
      const [r, k, n] = dims(z, y, "misclassifiedTotal");
      const d = f32(attrs.divisor as number);
      // One invocation counts the rows (a minibatch's: a few hundred).
      return {
        key: `misclassified_total_${r}_${k}_${n}_${d}`,
        shape: [],
        body: `
          var wrong = 0.0;
          for (var row = 0; row < ${r}; row++) {
            let base = row * ${k};
            var best = 0;
            for (var j = 1; j < ${k}; j++) {
              if (logits[base + j] > logits[base + best]) { best = j; }
            }
            wrong = wrong + select(0.0, 1.0, best != labels[row % ${n}]);
          }
          setOutputAtIndex(index, wrong / ${d});`,
      };
    });
  }
  return tf.engine().runKernel(WRONG_TOTAL, { logits, labels }, { divisor }) as tf.Scalar;
}

const SCALED_TOTAL = "BnnScaledTotal";
let totalRegistered = false;

/** A number as a WGSL f32 literal. */
function f32(x: number): string {
  if (!Number.isFinite(x)) throw new RangeError(`scaledTotal: ${x} is not a finite number`);
  return x.toExponential();
}

/**
 * `(value + weight · Σ parts) / divisor` as a scalar: a training step's
 * loss per example from the summed data term and the engine's penalty sums.
 * One dispatch on the GPU (tfjs's sum, multiply, add and divide: four);
 * those ops elsewhere.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { scaledTotal } from "./fused_kernels.ts";
 * scaledTotal(tf.scalar(10), tf.tensor2d([[1], [3]]), 0.5, 4).arraySync(); // (10 + 2) / 4 = 3
 * ```
 */
export function scaledTotal(
  value: tf.Tensor,
  parts: tf.Tensor,
  weight: number,
  divisor: number,
): tf.Scalar {
  if (tf.getBackend() !== "webgpu") {
    return tf.tidy(() => tf.div(tf.add(value, tf.mul(weight, tf.sum(parts))), divisor));
  }
  if (!totalRegistered) {
    totalRegistered = true;
    registerFlat(SCALED_TOTAL, ["value", "parts"], ([, p], attrs) => {
      const count = tf.util.sizeFromShape(p.shape);
      const w = f32(attrs.weight as number), d = f32(attrs.divisor as number);
      return {
        key: `scaled_total_${count}_${w}_${d}`,
        shape: [],
        body: `
          var s = 0.0;
          for (var i = 0; i < ${count}; i++) { s = s + parts[i]; }
          setOutputAtIndex(index, (value[0] + ${w} * s) / ${d});`,
      };
    });
  }
  return tf.engine().runKernel(SCALED_TOTAL, { value, parts }, { weight, divisor }) as tf.Scalar;
}

/** One term of {@linkcode affineSum}: a tensor of `coefs.length` columns (its last axis). */
export interface AffineTerm {
  /** Values: a scalar or vector is one column; otherwise rows × the last axis. */
  t: tf.Tensor;
  /** A coefficient per column. */
  coefs: readonly number[];
}

const AFFINE_MAX_TERMS = 4;
const affineRegistered = new Set<number>();

/** Columns of a term (its last axis; one for a scalar or vector). */
function affineCols(t: tf.TensorInfo): number {
  return t.shape.length < 2 ? 1 : t.shape[t.shape.length - 1];
}

/**
 * `constant + Σ_terms Σ_rows Σ_j coefs[j] · t[row, j]`: a scalar from small
 * tensors of sums — e.g. a Bayes-by-Backprop step's loss, KL and mean σ
 * from the parameter engine's per-segment sums, whose formulas are affine
 * in them. One dispatch on the GPU for up to four terms (tfjs: a slice,
 * sum, multiply and add per column, about twenty dispatches for a step's
 * figures); on the other backends, whose reads are synchronous, on the host.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { affineSum } from "./fused_kernels.ts";
 * const sums = tf.tensor2d([[1, 2], [3, 4]]); // two rows of two columns
 * affineSum([{ t: sums, coefs: [1, -0.5] }, { t: tf.scalar(10), coefs: [0.1] }], 2).arraySync();
 * // 2 + (1 + 3) − 0.5·(2 + 4) + 0.1·10 = 4
 * ```
 */
export function affineSum(terms: readonly AffineTerm[], constant = 0): tf.Scalar {
  for (const { t, coefs } of terms) {
    if (coefs.length !== affineCols(t)) {
      throw new RangeError(
        `affineSum: a term of shape [${t.shape}] has ${affineCols(t)} column(s), ` +
          `found ${coefs.length} coefficient(s)`,
      );
    }
    if (!coefs.every(Number.isFinite)) {
      throw new RangeError(`affineSum: coefficients must be finite, found [${coefs}]`);
    }
  }
  if (!Number.isFinite(constant)) {
    throw new RangeError(`affineSum: the constant must be finite, found ${constant}`);
  }
  if (tf.getBackend() !== "webgpu") {
    // The values are on the host (or a synchronous read away): add them up there, in doubles.
    let total = constant;
    for (const { t, coefs } of terms) {
      const v = t.dataSync(), cols = coefs.length;
      for (let i = 0; i < v.length; i++) total += coefs[i % cols] * v[i];
    }
    return tf.scalar(total);
  }
  if (terms.length > AFFINE_MAX_TERMS) {
    // The rest first, as one more term.
    const rest = affineSum(terms.slice(AFFINE_MAX_TERMS - 1));
    try {
      return affineSum(
        [...terms.slice(0, AFFINE_MAX_TERMS - 1), { t: rest, coefs: [1] }],
        constant,
      );
    } finally {
      rest.dispose();
    }
  }
  const k = terms.length;
  const names = Array.from({ length: k }, (_, i) => `p${i}`);
  const kernel = `BnnAffineSum${k}`;
  if (!affineRegistered.has(k)) {
    affineRegistered.add(k);
    registerFlat(kernel, names, (ins, attrs) => {
      const coefs = attrs.coefs as number[][];
      const c = f32(attrs.constant as number);
      const loops = ins.map((t, i) => {
        const cols = affineCols(t);
        const rows = tf.util.sizeFromShape(t.shape) / cols;
        const adds = coefs[i].map((w, j) =>
          w === 0 ? "" : ` + ${f32(w)} * p${i}[r * ${cols} + ${j}]`
        )
          .join("");
        return adds ? `for (var r = 0; r < ${rows}; r++) { s = s${adds}; }` : "";
      });
      return {
        key: `affine_sum_${c}_${
          ins.map((t, i) => `${t.shape.join("x")}:${coefs[i].map(f32).join(",")}`).join("_")
        }`,
        shape: [],
        body: `
          var s = ${c};
          ${loops.join("\n          ")}
          setOutputAtIndex(index, s);`,
      };
    });
  }
  return tf.engine().runKernel(
    kernel,
    Object.fromEntries(terms.map(({ t }, i) => [`p${i}`, t])),
    { coefs: terms.map(({ coefs }) => [...coefs]), constant } as unknown as tf.NamedAttrMap,
  ) as tf.Scalar;
}

const NOISY = "BnnNoisyAffine";
const NOISY_GRAD = "BnnNoisyAffineGrad";
let noisyRegistered = false;

type NoisyAttrs = { sqrt: boolean; relu: boolean };

/** `[m, reps]` of a call: `mean` and `scale` of one shape, `noise` `reps` times their size. */
function noisyDims(mean: tf.TensorInfo, scale: tf.TensorInfo, noise: tf.TensorInfo): [
  number,
  number,
] {
  const m = tf.util.sizeFromShape(mean.shape), size = tf.util.sizeFromShape(noise.shape);
  if (!tf.util.arraysEqual(mean.shape, scale.shape) || m < 1 || size % m !== 0) {
    throw new RangeError(
      `noisyAffine: mean [${mean.shape}] and scale [${scale.shape}] must have one shape whose ` +
        `size divides the noise's [${noise.shape}]`,
    );
  }
  if ([mean, scale, noise].some((t) => t.dtype !== "float32")) {
    throw new TypeError("noisyAffine: mean, scale and noise must be float32");
  }
  return [m, size / m];
}

function registerNoisy(): void {
  if (noisyRegistered) return;
  noisyRegistered = true;
  registerFlat(NOISY, ["mean", "scale", "noise"], ([mean, scale, noise], attrs) => {
    const [m] = noisyDims(mean, scale, noise);
    const { sqrt, relu } = attrs as unknown as NoisyAttrs;
    return {
      key: `noisy_affine_${m}_${sqrt}_${relu}`,
      shape: noise.shape,
      body: `
          let j = index % ${m};
          let z = mean[j] + ${sqrt ? "sqrt(scale[j])" : "scale[j]"} * noise[index];
          setOutputAtIndex(index, ${relu ? "select(z, 0.0, z < 0.0)" : "z"});`,
    };
  });
  // The gradient: two programs (tfjs's programs have one output), each summing over the reps.
  tf.registerKernel({
    kernelName: NOISY_GRAD,
    backendName: "webgpu",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { dy, y, noise, scale } = inputs as Record<string, tf.TensorInfo>;
      const [m, reps] = noisyDims(scale, scale, noise);
      const { sqrt, relu } = attrs as unknown as NoisyAttrs;
      const dz = relu ? "select(0.0, dy[k], y[k] > 0.0)" : "dy[k]";
      const loop = (term: string) => `
          var s = 0.0;
          for (var r = 0; r < ${reps}; r++) {
            let k = r * ${m} + index;
            s = s + ${term};
          }`;
      const names = ["dy", "y", "noise", "scale"], ins = [dy, y, noise, scale];
      const key = `${m}_${reps}_${sqrt}_${relu}`;
      return [
        runFlat(
          backend,
          `noisy_dmean_${key}`,
          names,
          ins,
          scale.shape,
          `${loop(dz)}
          setOutputAtIndex(index, s);`,
        ),
        runFlat(
          backend,
          `noisy_dscale_${key}`,
          names,
          ins,
          scale.shape,
          `${loop(`${dz} * noise[k]`)}
          setOutputAtIndex(index, ${sqrt ? "s / (2.0 * sqrt(scale[index]))" : "s"});`,
        ),
      ];
    },
  });
  tf.registerGradient({
    kernelName: NOISY,
    inputsToSave: ["mean", "scale", "noise"],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [mean, scale, noise, y] = saved;
      const a = attrs as unknown as NoisyAttrs;
      // Both gradients from one kernel call, made here (a lazy function's tensors would be
      // disposed by the tidy around it before the other asked for them).
      const [dm, ds] = tf.engine().runKernel(
        NOISY_GRAD,
        { dy: dy as tf.Tensor, y, noise, scale },
        attrs,
      ) as tf.Tensor[];
      return {
        mean: () => dm.reshape(mean.shape),
        scale: () => ds,
        noise: () =>
          tf.tidy(() => {
            const dz = a.relu ? tf.mul(dy as tf.Tensor, tf.step(y)) : (dy as tf.Tensor);
            const g = a.sqrt ? tf.sqrt(scale) : scale;
            return tf.mul(dz.reshape([-1, g.size]), g.reshape([1, g.size])).reshape(noise.shape);
          }),
      };
    },
  });
}

/**
 * `relu?(mean + g(scale) · noise)` with `g` the square root (`sqrt: true`)
 * or the identity, `noise` `reps` copies of `mean`'s shape stacked (its
 * element `k` takes `mean` and `scale` at `k mod m`, `m` their size; the
 * output has `noise`'s shape): a layer's pre-activation drawn by local
 * reparametrisation (`sqrt`: mean, variance and N(0, 1) draws, the first
 * layer's moments shared by `reps` weight samples) or a Flipout layer's
 * output (the mean path, the perturbation, the output signs).
 * Differentiable in all three (the mean's and scale's gradients summed over
 * the repetitions). On the GPU one dispatch forward and two back (tfjs's
 * ops: sqrt, multiply, add and relu, and about ten back); tfjs's ops on the
 * other backends (on `wasm` its SIMD kernels beat one JavaScript loop: a
 * fused loop made the CPU's LRT step 9% slower).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { noisyAffine } from "./fused_kernels.ts";
 * const out = noisyAffine(tf.tensor1d([1, -1]), tf.tensor1d([4, 9]), tf.tensor1d([0.5, 0.5, -1, 1]), {
 *   sqrt: true,
 *   relu: true,
 * });
 * out.arraySync(); // [relu(1 + 2·0.5), relu(−1 + 3·0.5), relu(1 − 2), relu(−1 + 3)] = [2, 0.5, 0, 2]
 * ```
 */
export function noisyAffine(
  mean: tf.Tensor,
  scale: tf.Tensor,
  noise: tf.Tensor,
  opts: { sqrt: boolean; relu: boolean },
): tf.Tensor {
  const [m, reps] = noisyDims(mean, scale, noise);
  if (tf.getBackend() === "webgpu") {
    registerNoisy();
    const attrs = { sqrt: opts.sqrt, relu: opts.relu };
    return tf.engine().runKernel(NOISY, { mean, scale, noise }, attrs) as tf.Tensor;
  }
  // On the CPU backends tfjs's ops are faster than one JavaScript loop (wasm: XNNPACK's SIMD).
  return tf.tidy(() => {
    const g = opts.sqrt ? tf.sqrt(scale) : scale;
    const z = tf.add(mean.reshape([1, m]), tf.mul(g.reshape([1, m]), noise.reshape([reps, m])));
    return (opts.relu ? tf.relu(z) : z).reshape(noise.shape);
  });
}
