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
 * asks for it, as the adversarial-example study does). On the GPU the
 * ReLU's and the bias's gradients are one dispatch each
 * ({@linkcode reluBackward}, {@linkcode sumRows}).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
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
      const dz = act === "relu" ? reluBackward(dy as tf.Tensor, y) : dy as tf.Tensor;
      // The bias's gradient sums dz over the rows it was broadcast along: one kernel on the GPU.
      const perRows = dz.rank >= 2 && bias.size * dz.shape[dz.rank - 2] === dz.size &&
        bias.shape[bias.rank - 1] === dz.shape[dz.rank - 1];
      return {
        a: () => reduceTo(tf.matMul(dz, b, false, true), a.shape),
        b: () => reduceTo(tf.matMul(a, dz, true, false), b.shape),
        bias: () => perRows ? sumRows(dz, bias.shape) : reduceTo(dz, bias.shape),
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
