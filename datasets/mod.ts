/**
 * Data sets shared by every method and experiment: MNIST-style image sets
 * (IDX reader, lookup, verified downloads, preprocessing, rotation), the UCI
 * regression benchmarks with their fixed splits, k-fold splits, users' CSV
 * files, GP toy data, and minibatch iteration over the common
 * {@linkcode ArrayDataset} type.
 *
 * @example
 * ```ts
 * import { batches, loadMnist, Rng } from "@bayes/nn";
 * const train = await loadMnist("mnist", "train");
 * for (const b of batches(train, { batchSize: 128, rng: new Rng(0) })) {
 *   // ...
 * }
 * ```
 *
 * @module
 */

export { type ArrayDataset, DatasetError, shapeSize } from "./types.ts";
export { Rng } from "../core/rng.ts";
export {
  encodeIdx,
  gunzip,
  type IdxArray,
  type IdxData,
  type IdxDtype,
  parseIdx,
  readIdx,
} from "./idx.ts";
export {
  type DataDir,
  type DataDirOptions,
  type DataDirSource,
  readEnv,
  resolveDataDirs,
  userCacheDir,
} from "./dirs.ts";
export { downloadFile, type DownloadOptions, type DownloadResult } from "./download.ts";
export {
  checkLocalChecksum,
  ensureFiles,
  type FetchOptions,
  type FileSet,
  type RemoteFile,
  type ResolvedFile,
} from "./files.ts";
export {
  type ImageDataset,
  loadMnist,
  MNIST_SETS,
  type MnistName,
  type MnistOptions,
  type MnistSetInfo,
  type MnistSplit,
} from "./mnist.ts";
export { type Batch, batches, type BatchOptions } from "./batches.ts";
export { subset, take } from "./subset.ts";
export { rotateDataset, rotateImages, type RotateOptions } from "./rotate.ts";
export { type NumericTable, parseIndexList, parseNumberList, parseNumericTable } from "./table.ts";
export { columnStats, standardize, type Standardized } from "./standardize.ts";
export { type Fold, kFold } from "./kfold.ts";
export {
  loadUci,
  loadUciTable,
  splitUci,
  UCI_BASE_URL,
  UCI_DATASETS,
  type UciName,
  type UciOptions,
  type UciSettings,
  type UciSplit,
  type UciTable,
} from "./uci.ts";
export { type CsvDataset, type CsvOptions, loadCsv } from "./csv.ts";
export {
  type GpNoiseKind,
  gpPosterior,
  gpSample,
  type GpToyData,
  gpToyData,
  gpToyNoiseStd,
  type GpToyOptions,
  rbf,
  type RbfKernel,
} from "./gp_toy.ts";
