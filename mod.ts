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
 * import { fit, gpToyData, initBackend, predictSummary } from "@bayes/nn";
 * import { buildMcDropout } from "@bayes/nn/methods/mc_dropout";
 * await initBackend({ quiet: true });
 * const data = gpToyData({ kind: "hetero", seed: 0 });
 * const m = buildMcDropout({ inputDim: 1, hidden: [50], outputDim: 1, task: "regression" }, {
 *   optimizer: "adam",
 *   lr: 3e-3,
 * });
 * await fit(m, data.train, { epochs: 20, batchSize: 128, seed: 0, progress: false });
 * const s = await predictSummary(m, data.grid, { samples: 50 }); // mean, aleatoric/epistemic variance
 * ```
 *
 * @module
 */
export * from "./core/mod.ts";
export * from "./methods/mod.ts";
export * from "./uncertainty/mod.ts";
export {
  type Batch,
  batches,
  type BatchOptions,
  columnStats,
  type CsvDataset,
  type CsvOptions,
  type DataDirOptions,
  DatasetError,
  type FetchOptions,
  type Fold,
  type GpNoiseKind,
  gpPosterior,
  gpSample,
  type GpToyData,
  gpToyData,
  gpToyNoiseStd,
  type GpToyOptions,
  type ImageDataset,
  kFold,
  loadCsv,
  loadMnist,
  loadUci,
  MNIST_SETS,
  type MnistName,
  type MnistOptions,
  type MnistSetInfo,
  type MnistSplit,
  rbf,
  type RbfKernel,
  rotateDataset,
  rotateImages,
  type RotateOptions,
  standardize,
  type Standardized,
  subset,
  take,
  UCI_DATASETS,
  type UciName,
  type UciOptions,
  type UciSettings,
  type UciSplit,
} from "./datasets/mod.ts";
