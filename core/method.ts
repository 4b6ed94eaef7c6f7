/**
 * The one shape every inference method has (modelled on `posteriors` and
 * BlackJAX): build it from a network description and settings, `init` its
 * state from a seed, `step` it on minibatches, and `predict` by sampling.
 * The training loop (`core/train.ts`) is written once against this shape.
 *
 * @module
 */
import type { HostTensor } from "./safetensors.ts";
import type { ArrayDataset } from "./data.ts";
import type { Tensor, Tensor2D, Tensor3D } from "./tf.ts";

/** Classification (softmax over classes) or regression (Gaussian likelihood). */
export type Task = "classification" | "regression";

/**
 * A fully connected ReLU network: `inputDim → hidden[0] → … → outputDim`.
 *
 * For classification `outputDim` is the number of classes. For regression
 * `outputDim` is 1; `noise: "homoscedastic"` learns one global log σ, and
 * `"heteroscedastic"` adds a second output head for log σ(x).
 */
export interface NetSpec {
  /** Input features per example (784 for flattened MNIST). */
  inputDim: number;
  /** Hidden layer widths (the reference MNIST net: `[1200, 1200]`). */
  hidden: number[];
  /** Classes (classification) or 1 (regression). */
  outputDim: number;
  /** What the network predicts. */
  task: Task;
  /** Regression noise model; default `"heteroscedastic"`. */
  noise?: "homoscedastic" | "heteroscedastic";
}

/** One minibatch as tensors. */
export interface TensorBatch {
  /** Inputs `[n, inputDim]`. */
  x: Tensor2D;
  /** Class labels `[n]` (int32) or regression targets `[n, 1]` (float32). */
  y: Tensor;
  /** Number of examples. */
  n: number;
  /** Dataset row of each example (lets ensembles keep per-member subsets). */
  indices?: Int32Array;
}

/** Where a step sits in training, for methods that scale or schedule by it. */
export interface StepInfo {
  /** Training-set size N (likelihood scaling, KL weighting). */
  datasetSize: number;
  /** Zero-based epoch. */
  epoch: number;
  /** Zero-based step within the epoch. */
  step: number;
  /** Minibatches per epoch. */
  batchesPerEpoch: number;
  /** Total epochs planned. */
  epochs: number;
}

/**
 * A scalar a step reports: a number, or a one-element tensor the training
 * loop reads later, asynchronously (so a GPU never waits for the host).
 * The loop disposes tensors it is given.
 */
export type StepScalar = number | Tensor;

/** Scalars reported by a step; `loss` is what the method minimises (per example). */
export interface StepResult {
  /** The objective value of this step, per example. */
  loss: StepScalar;
  /** Further named scalars (e.g. `nll`, `kl`, `errors` as a fraction of the batch). */
  [name: string]: StepScalar;
}

/** Per-sample predictions. */
export type Prediction =
  | {
    /** Classification. */
    task: "classification";
    /** Class log-probabilities `[S, N, C]`. */
    logProbs: Tensor3D;
  }
  | {
    /** Regression. */
    task: "regression";
    /** Predictive means `[S, N, 1]` (standardised units). */
    mean: Tensor3D;
    /** Predictive log σ `[S, N, 1]` (standardised units). */
    logSigma: Tensor3D;
  };

/** Options of {@linkcode Method.predict}. */
export interface PredictOptions {
  /** Posterior samples S; default the method's `defaultSamples`. */
  samples?: number;
  /** Rows per forward chunk (memory bound); default the engine's. */
  chunk?: number;
  /** Seed of the prediction noise (dropout masks, weight draws). */
  seed?: number;
}

/** Options `fit` passes to {@linkcode Method.finalize}. */
export interface FinalizeOptions {
  /** The training minibatch size. */
  batchSize: number;
  /** Show progress. */
  progress?: boolean;
  /** The last epoch's minibatches do not describe the current weights: use the whole set. */
  fullPass?: boolean;
}

/** Everything needed to resume or reload a method: tensors plus JSON state. */
export interface MethodState {
  /** Named tensors (weights, optimizer moments, posterior samples…). */
  tensors: Record<string, HostTensor>;
  /** Small JSON-serialisable extras (counters, RNG state). */
  extra: Record<string, unknown>;
}

/**
 * An inference method. Implementations live in `methods/`, one per module.
 *
 * @example
 * ```ts
 * import { buildMap } from "@bayes/nn/methods/map";
 * const m = buildMap({ inputDim: 2, hidden: [16], outputDim: 2, task: "classification" });
 * m.init(0);
 * ```
 */
export interface Method {
  /** Registry name, e.g. `map`, `mc_dropout`, `sgld`. */
  readonly name: string;
  /** The network. */
  readonly spec: NetSpec;
  /** Settings after defaults were applied (recorded in the manifest). */
  readonly settings: Readonly<Record<string, unknown>>;
  /** Posterior samples `predict` uses when not told (1 for point estimates). */
  readonly defaultSamples: number;
  /** Creates fresh parameters and optimizer state from a seed. */
  init(seed: number): void;
  /** One update on a minibatch (dispatches the work; scalars may be read later). */
  step(batch: TensorBatch, info: StepInfo): StepResult | Promise<StepResult>;
  /** Called after each epoch (SG-MCMC collects samples here). */
  endEpoch?(epoch: number, info: StepInfo): void | Promise<void>;
  /**
   * Optional: the relative work of one training step in `epoch` (0-based),
   * for the training loop's ETA; a method without it does the same work in
   * every step. Bayes by Backprop returns its weight samples per step, which
   * change with the epoch (`firstEpochSamples`, `samplesAfter`).
   */
  stepWork?(epoch: number): number;
  /**
   * Called by `fit` once after the last epoch with the training set (the
   * Laplace approximation computes its curvature here). `fullPass` is set
   * when training did not end with a complete last epoch at the current
   * weights (early stopping, a restored best state): work that reuses the
   * last epoch's minibatches must pass over the whole set instead.
   */
  finalize?(train: ArrayDataset, opts: FinalizeOptions): Promise<void>;
  /** Per-sample predictions for inputs `x` `[N, inputDim]` (tensors on the backend's device). */
  predict(x: Tensor2D, opts?: PredictOptions): Prediction;
  /**
   * Optional: the prediction of the one network at the posterior mean (Bayes
   * by Backprop: every weight at its μ), as a one-sample
   * {@linkcode Prediction}. The reference's per-epoch "dev" figures are this
   * network's; `fit` evaluates it each epoch with `evalMean`.
   */
  predictMean?(x: Tensor2D, opts?: Pick<PredictOptions, "chunk">): Prediction;
  /** Full state for checkpoints and saving. */
  getState(): Promise<MethodState>;
  /** Restores a state from {@linkcode Method.getState}. */
  setState(state: MethodState): Promise<void>;
  /** Frees tensors. */
  dispose(): void;
  /**
   * Optional (weights study): `k` weight sets drawn from the posterior, as
   * host arrays keyed like the network parameters (`l0.w`, `l0.b`, …).
   * Point estimates return their single weight set `k` times.
   */
  sampleWeights?(k: number, seed?: number): Promise<Record<string, Float32Array>[]>;
  /**
   * Optional (pruning study): a score per weight matrix entry, higher = more
   * important (|μ|/σ for Gaussian posteriors, |w| for point estimates).
   * Keyed by weight name (`l0.w`, …); biases are never pruned.
   */
  pruningScores?(): Promise<Record<string, Float32Array>>;
  /**
   * Optional (pruning study): removes the weights where `keep` is 0 (sets
   * them, and any posterior spread, to exactly zero). Restore with
   * `setState` on a state saved before.
   */
  applyPruningMask?(keep: Record<string, Uint8Array>): void | Promise<void>;
}
