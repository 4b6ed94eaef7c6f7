/**
 * The public core: compute backend, the TensorFlow.js to pair with, the
 * method interface and its types, training (`fit`), prediction summaries,
 * evaluation, and saving/loading. Internals (BLAS, the parameter engine and
 * its kernel language, the CLI flag parser, file locks…) are not exported
 * here; the repository's own scripts import them by relative path.
 *
 * @module
 */
export {
  BACKEND_NAMES,
  BackendError,
  type BackendInfo,
  type BackendName,
  type BackendOptions,
  currentBackend,
  initBackend,
} from "./backend.ts";
export type { BlasInfo } from "./blas.ts";
export { tf, TFJS_VERSION } from "./tf.ts";
// The types every method entry point also re-exports: one list, in public_types.ts.
export type * from "./public_types.ts";
export { SafetensorsError } from "./safetensors.ts";
export { NetSpecError } from "./mlp.ts";
export { Rng } from "./rng.ts";
export {
  BEST_FILE,
  CHECKPOINT_FILE,
  DivergenceError,
  type EpochRecord,
  fit,
  type FitOptions,
  type FitResult,
  type StepReport,
} from "./train.ts";
export type { EarlyStoppingOptions } from "./early_stopping.ts";
export {
  type EvalResult,
  evaluate,
  type HostPrediction,
  predictDataset,
  readPrediction,
  type TargetScale,
} from "./evaluate.ts";
export { disposePrediction } from "./likelihood.ts";
export { type InputsLike, toInputs } from "./inputs.ts";
export {
  type ClassificationSummary,
  predictHost,
  type PredictiveSummary,
  predictSummary,
  type RegressionSummary,
  type SummaryOptions,
} from "./predictive.ts";
export {
  LIBRARY_VERSION,
  loadMethod,
  type Manifest,
  ModelFileError,
  readSaved,
  saveMethod,
  saveState,
  WEIGHTS_FILE,
} from "./persist.ts";
