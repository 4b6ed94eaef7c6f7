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
export {
  type Scalar,
  type Tensor,
  type Tensor1D,
  type Tensor2D,
  type Tensor3D,
  tf,
  TFJS_VERSION,
} from "./tf.ts";
export type {
  FinalizeOptions,
  Method,
  MethodState,
  NetSpec,
  Prediction,
  PredictOptions,
  StepInfo,
  StepResult,
  StepScalar,
  Task,
  TensorBatch,
} from "./method.ts";
export type { ArrayDataset } from "./data.ts";
export type { HostTensor } from "./safetensors.ts";
export { SafetensorsError } from "./safetensors.ts";
export { type LayerTensors, NetSpecError } from "./mlp.ts";
export type { PointNet } from "./point_net.ts";
export type { OptimizerName } from "./optim.ts";
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
