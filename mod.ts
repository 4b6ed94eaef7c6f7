/**
 * @bayes/nn — approximate Bayesian inference for neural networks on
 * TensorFlow.js, for Deno.
 *
 * Every inference method has the same shape (build from a network and
 * settings, `init`, `step` on minibatches, `predict` by sampling), so they
 * are swappable and trained by one loop, {@linkcode fit}.
 *
 * @example
 * ```ts
 * import { fit, gpToyData, initBackend } from "@bayes/nn";
 * import { buildMcDropout } from "@bayes/nn/methods/mc_dropout";
 * await initBackend();
 * const { train } = gpToyData({ kind: "hetero", seed: 0 });
 * const m = buildMcDropout({ inputDim: 1, hidden: [200], outputDim: 1, task: "regression" });
 * await fit(m, train, { epochs: 50, batchSize: 128, seed: 0 });
 * ```
 *
 * @module
 */
export * from "./core/mod.ts";
export * from "./datasets/mod.ts";
export * from "./uncertainty/mod.ts";
export * from "./methods/mod.ts";
