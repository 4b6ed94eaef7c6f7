/**
 * One dense layer `relu?(a·w + bias)` as a single fused kernel call, also
 * while a gradient is being recorded.
 *
 * Why by hand: tfjs's `tf.fused.matMul` fuses the bias and the activation
 * only outside gradient recording (with an activation, under a tape it runs
 * a matmul, an add and a relu: three kernels, three passes over the
 * activations), and the backward pass of a fused call is a closure that
 * computes every input's gradient, the data's included. This module calls
 * the backend's `_FusedMatMul` kernel directly and registers that kernel's
 * gradient, one lazy function per input, so the tape computes only the
 * gradients it needs (not the input's, in the first layer, unless something
 * asks for it, as the adversarial-example study does). On the GPU a ReLU
 * layer's gradient through the activation and its bias's gradient come
 * from one program with two outputs (tfjs's programs have one: two
 * dispatches, {@linkcode reluBackward} and {@linkcode sumRows}, which a
 * linear layer's bias still uses).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { getEngine } from "./engine/current.ts";
import type { WebGpuEngine } from "./engine/webgpu.ts";
import { reluBackward, sumRows } from "./fused_kernels.ts";
import { wasmBlasKernelsRegistered } from "./wasm_blas.ts";

const KERNEL = "_FusedMatMul";
let gradientRegistered = false;

/** Sums `t` over the axes along which `shape` was broadcast to `t`'s shape. */
function reduceTo(t: tf.Tensor, shape: readonly number[]): tf.Tensor {
  if (tf.util.arraysEqual(t.shape, [...shape])) return t;
  const axes = tf.backend_util.getReductionAxes([...shape], t.shape);
  return tf.reshape(axes.length ? tf.sum(t, axes) : t, [...shape]);
}

/**
 * On the GPU: `dz = dy where y > 0, else 0` (`[L·n, c]` values) and `db`,
 * its sums over each block of `n` rows (`L·c` values, shaped like the
 * bias), from one program: a thread per column walks its `n` rows, in the
 * order {@linkcode sumRows} adds them.
 */
function reluBiasBackward(
  dy: tf.Tensor,
  y: tf.Tensor,
  biasShape: readonly number[],
): [tf.Tensor, tf.Tensor] {
  const e = getEngine() as WebGpuEngine;
  const c = dy.shape[dy.rank - 1], n = dy.shape[dy.rank - 2];
  const cols = dy.size / n; // L·c
  const code = `
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> dz: array<f32>;
@group(0) @binding(3) var<storage, read_write> db: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let k = gid.x;
  if (k >= ${cols}u) { return; }
  let base = (k / ${c}u) * ${n * c}u + k % ${c}u;
  var s = 0.0;
  for (var r = 0u; r < ${n}u; r = r + 1u) {
    let i = base + r * ${c}u;
    let v = select(0.0, dy[i], y[i] > 0.0);
    dz[i] = v;
    s = s + v;
  }
  db[k] = s;
}`;
  const dz = e.newTensor(dy.shape), db = e.newTensor([cols]);
  e.dispatch(
    e.pipeline(code),
    [dy, y, dz, db].map((t) => ({ buffer: e.buffer(t), owner: t })),
    Math.ceil(cols / 64),
  );
  const shaped = db.reshape([...biasShape]);
  db.dispose();
  return [dz, shaped];
}

/** Registers the gradient of direct `_FusedMatMul` calls (no transposes; relu or linear). */
function registerGradient(): void {
  if (gradientRegistered) return;
  gradientRegistered = true;
  if (tf.getGradient(KERNEL)) return; // a tfjs version that has its own
  tf.registerGradient({
    kernelName: KERNEL,
    inputsToSave: ["a", "b", "bias"],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [a, b, bias, y] = saved;
      const act = (attrs?.activation as string) ?? "linear";
      if (attrs?.transposeA || attrs?.transposeB || (act !== "relu" && act !== "linear")) {
        throw new Error(
          `dense: the recorded _FusedMatMul gradient supports no transposes and relu or ` +
            `linear activations, found ${JSON.stringify(attrs)}`,
        );
      }
      const g = dy as tf.Tensor;
      // The bias's gradient sums dz over the rows it was broadcast along: one kernel on the GPU.
      const perRows = g.rank >= 2 && bias.size * g.shape[g.rank - 2] === g.size &&
        bias.shape[bias.rank - 1] === g.shape[g.rank - 1];
      let dz: tf.Tensor, db: tf.Tensor | undefined;
      if (act === "relu" && perRows && tf.getBackend() === "webgpu") {
        [dz, db] = reluBiasBackward(g, y, bias.shape);
      } else dz = act === "relu" ? reluBackward(g, y) : g;
      return {
        a: () => reduceTo(tf.matMul(dz, b, false, true), a.shape),
        b: () => reduceTo(tf.matMul(a, dz, true, false), b.shape),
        bias: () => db ?? (perRows ? sumRows(dz, bias.shape) : reduceTo(dz, bias.shape)),
      };
    },
  });
}

/**
 * One dense layer `relu?(a·w + bias)` (`a` `[n, in]` or `[S, n, in]`, `w`
 * `[in, out]` or `[S, in, out]`, `bias` broadcast to the output), one fused
 * kernel also under `tf.grad`. The stock wasm kernel (without the BLAS
 * kernels) checks the rank of the bias's storage (a reshaped view of a
 * `[1, n]` tensor fails as "rank 2"), so there the add and relu stay
 * separate ops.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { dense } from "./dense.ts";
 * const w = tf.tensor2d([[1, -1], [2, 0]]);
 * const g = tf.grad((v: tf.Tensor) => tf.sum(dense(tf.ones([3, 2]), v, tf.zeros([2]), true)))(w);
 * // relu(x·w) = [[3, 0], …]: the second column's gradient is 0
 * g.arraySync(); // [[3, 0], [3, 0]]
 * ```
 */
export function dense(a: tf.Tensor, w: tf.Tensor, bias: tf.Tensor, relu: boolean): tf.Tensor {
  if (tf.getBackend() === "wasm" && !wasmBlasKernelsRegistered()) {
    return tf.tidy(() => {
      const z = tf.add(tf.matMul(a as tf.Tensor3D, w as tf.Tensor3D), bias);
      return relu ? tf.relu(z) : z;
    });
  }
  registerGradient();
  return tf.engine().runKernel(KERNEL, { a, b: w, bias }, {
    transposeA: false,
    transposeB: false,
    activation: relu ? "relu" : "linear",
    leakyreluAlpha: 0.2,
  }) as tf.Tensor;
}
