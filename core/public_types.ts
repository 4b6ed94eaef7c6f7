/**
 * The types every method module's public API refers to (the method
 * interface, networks, data, tensors, training options), re-exported by
 * each method entry point so its documentation is complete on its own.
 *
 * @module
 */
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
export type { LayerTensors } from "./mlp.ts";
export type { PointNet } from "./point_net.ts";
export type { LrScheduleName, OptimizerName } from "./optim.ts";
export type { Scalar, Tensor, Tensor1D, Tensor2D, Tensor3D } from "./tf.ts";
export type { EpochRecord, FitOptions, FitResult, StepReport } from "./train.ts";
export type { EarlyStoppingOptions } from "./early_stopping.ts";
export type { TargetScale } from "./evaluate.ts";
