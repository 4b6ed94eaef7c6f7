// Test helpers for comparing tensors on any backend.
import type * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";

/**
 * Largest absolute difference between two tensors of one shape, read
 * asynchronously (WebGPU cannot read synchronously in Deno).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { maxAbsDiff } from "./_tensors.ts";
 * await maxAbsDiff(tf.tensor1d([1, 2]), tf.tensor1d([1, 2.5])); // 0.5
 * ```
 */
export async function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  assert.deepEqual(a.shape, b.shape);
  const [x, y] = await Promise.all([a.data(), b.data()]);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}
