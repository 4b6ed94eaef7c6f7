/**
 * The training loop, written once for every method: seeded minibatches,
 * progress display, evaluation per epoch, atomic checkpoints, resume, and a
 * clean stop on a non-finite loss that keeps the last good checkpoint.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { batches } from "../datasets/batches.ts";
import type { ArrayDataset } from "../datasets/types.ts";
import { evaluate, type TargetScale } from "./evaluate.ts";
import type { Method, StepInfo, TensorBatch } from "./method.ts";
import { readSaved, saveMethod } from "./persist.ts";
import { formatDuration, Progress } from "./progress.ts";
import { Rng } from "./rng.ts";

/** One row of the training history. */
export interface EpochRecord {
  /** One-based epoch number. */
  epoch: number;
  /** Mean per-example objective over the epoch's steps. */
  trainLoss: number;
  /** Training error % from the steps' own forward passes (classification, when reported). */
  trainErrorPct?: number;
  /** Validation error % (classification). */
  validErrorPct?: number;
  /** Validation RMSE (regression, original units). */
  validRmse?: number;
  /** Validation log-likelihood per example. */
  validLogLik?: number;
  /** Wall-clock seconds of the epoch's training steps. */
  seconds: number;
  /** Training throughput. */
  samplesPerSec: number;
  /** Further per-epoch scalars the method reported (means over steps). */
  [name: string]: number | undefined;
}

/** Options of {@linkcode fit}. */
export interface FitOptions {
  /** Epochs to train (≥ 0). */
  epochs: number;
  /** Minibatch size (≥ 1). */
  batchSize: number;
  /** Seed of initialisation and minibatch order. */
  seed: number;
  /** Evaluated after every epoch when given. */
  valid?: ArrayDataset;
  /** Posterior samples for the per-epoch evaluation (default: the method's, at most 10). */
  evalSamples?: number;
  /** Target standardisation, so regression metrics are in original units. */
  scale?: TargetScale;
  /** Folder for `checkpoint.safetensors`, rewritten atomically after each epoch. */
  checkpointDir?: string;
  /** Continue from the checkpoint in `checkpointDir` when there is one. */
  resume?: boolean;
  /** Show the progress line (default: when stderr is a TTY). */
  progress?: boolean;
  /** Extra info recorded in checkpoints (data normalisation…). */
  info?: Record<string, unknown>;
  /** Called after each epoch's evaluation and checkpoint. */
  onEpoch?: (record: EpochRecord, method: Method, history: EpochRecord[]) => void | Promise<void>;
}

/** What {@linkcode fit} returns. */
export interface FitResult {
  /** One record per epoch trained (including those before a resume). */
  history: EpochRecord[];
  /** Epoch the run resumed from (0 for a fresh run). */
  resumedFrom: number;
}

/** Raised when the loss becomes NaN or infinite. */
export class DivergenceError extends Error {
  /** One-based epoch of the bad step. */
  readonly epoch: number;
  /** One-based step within the epoch. */
  readonly step: number;
  /** Creates the error. */
  constructor(epoch: number, step: number, loss: number, checkpoint?: string) {
    super(
      `loss became ${loss} at epoch ${epoch}, step ${step}; stopped. ` +
        (checkpoint ? `The last good checkpoint is kept at ${checkpoint}. ` : "") +
        "Try a smaller --lr.",
    );
    this.name = "DivergenceError";
    this.epoch = epoch;
    this.step = step;
  }
}

/** Checkpoint file name inside `checkpointDir`. */
export const CHECKPOINT_FILE = "checkpoint.safetensors";

function batchTensors(
  x: Float32Array,
  y: Int32Array | Float32Array,
  n: number,
  indices: Int32Array,
): TensorBatch {
  const d = x.length / n;
  return {
    indices,
    x: tf.tensor2d(x, [n, d]),
    y: y instanceof Int32Array ? tf.tensor1d(y, "int32") : tf.tensor2d(y, [n, y.length / n]),
    n,
  };
}

/**
 * Trains `method` on `train`.
 *
 * @example
 * ```ts
 * import { fit } from "@bayes/nn";
 * import { buildMap } from "@bayes/nn/methods/map";
 * // const m = buildMap(spec); const { history } = await fit(m, trainSet, { epochs: 5, batchSize: 128, seed: 0 });
 * ```
 */
export async function fit(
  method: Method,
  train: ArrayDataset,
  opts: FitOptions,
): Promise<FitResult> {
  if (!Number.isInteger(opts.epochs) || opts.epochs < 0) {
    throw new RangeError(`epochs must be a non-negative integer, found ${opts.epochs}`);
  }
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) {
    throw new RangeError(`batch size must be a positive integer, found ${opts.batchSize}`);
  }
  if (train.n < 1) throw new RangeError("the training set is empty");
  const history: EpochRecord[] = [];
  let start = 0;
  const ckpt = opts.checkpointDir ? join(opts.checkpointDir, CHECKPOINT_FILE) : undefined;
  let resumed = false;
  if (opts.resume && opts.checkpointDir) {
    const exists = await Deno.stat(ckpt!).then(() => true, () => false);
    if (exists) {
      const { manifest, state } = await readSaved(opts.checkpointDir, CHECKPOINT_FILE);
      if (manifest.method !== method.name) {
        throw new Error(`${ckpt}: checkpoint is for "${manifest.method}", not "${method.name}"`);
      }
      method.init(opts.seed);
      await method.setState(state);
      start = Number(manifest.info.epoch ?? 0);
      history.push(...((manifest.info.history as EpochRecord[]) ?? []));
      resumed = true;
    }
  }
  if (!resumed) method.init(opts.seed);

  const batchesPerEpoch = Math.ceil(train.n / opts.batchSize);
  const progress = new Progress({
    label: "step",
    total: batchesPerEpoch,
    enabled: opts.progress,
  });
  for (let epoch = start; epoch < opts.epochs; epoch++) {
    const rng = new Rng(opts.seed).fork(1000 + epoch);
    const t0 = performance.now();
    const sums: Record<string, number> = {};
    let seen = 0, step = 0;
    for (const b of batches(train, { batchSize: opts.batchSize, rng, shuffle: true })) {
      const batch = batchTensors(b.x, b.y, b.n, b.indices);
      const info: StepInfo = {
        datasetSize: train.n,
        epoch,
        step,
        batchesPerEpoch,
        epochs: opts.epochs,
      };
      let r;
      try {
        r = method.step(batch, info);
      } finally {
        batch.x.dispose();
        batch.y.dispose();
      }
      step++;
      if (!Number.isFinite(r.loss)) throw new DivergenceError(epoch + 1, step, r.loss, ckpt);
      for (const [k, v] of Object.entries(r)) sums[k] = (sums[k] ?? 0) + v * b.n;
      seen += b.n;
      const secs = (performance.now() - t0) / 1000;
      const figs: Record<string, number | string> = {
        epoch: `${epoch + 1}/${opts.epochs}`,
        loss: sums.loss / seen,
      };
      if (sums.errors !== undefined) figs.err = (100 * sums.errors) / seen / 1;
      figs["samples/s"] = seen / Math.max(secs, 1e-9);
      progress.update(step, figs);
    }
    const seconds = (performance.now() - t0) / 1000;
    await method.endEpoch?.(epoch, {
      datasetSize: train.n,
      epoch,
      step,
      batchesPerEpoch,
      epochs: opts.epochs,
    });
    const rec: EpochRecord = {
      epoch: epoch + 1,
      trainLoss: sums.loss / seen,
      seconds,
      samplesPerSec: seen / seconds,
    };
    for (const [k, v] of Object.entries(sums)) {
      if (k === "loss") continue;
      if (k === "errors") rec.trainErrorPct = (100 * v) / seen;
      else rec[k] = v / seen;
    }
    if (opts.valid) {
      const samples = opts.evalSamples ?? Math.min(method.defaultSamples, 10);
      const m = evaluate(method, opts.valid, { samples, scale: opts.scale, seed: epoch });
      rec.validLogLik = m.logLikMean;
      if (m.errorPct !== undefined) rec.validErrorPct = m.errorPct;
      if (m.rmse !== undefined) rec.validRmse = m.rmse;
    }
    history.push(rec);
    if (opts.checkpointDir) {
      await saveMethod(
        opts.checkpointDir,
        method,
        { ...opts.info, epoch: epoch + 1, history },
        CHECKPOINT_FILE,
      );
    }
    progress.done(epochLine(rec, opts.epochs, (opts.epochs - epoch - 1) * seconds));
    await opts.onEpoch?.(rec, method, history);
  }
  if (method.finalize) {
    await method.finalize(train, { batchSize: opts.batchSize, progress: opts.progress });
    if (opts.checkpointDir) {
      await saveMethod(
        opts.checkpointDir,
        method,
        { ...opts.info, epoch: opts.epochs, history, finalized: true },
        CHECKPOINT_FILE,
      );
    }
  }
  return { history, resumedFrom: start };
}

/** A one-line summary of an epoch record. */
export function epochLine(r: EpochRecord, epochs: number, etaSeconds?: number): string {
  const parts = [`epoch ${r.epoch}/${epochs}`, `loss ${r.trainLoss.toPrecision(4)}`];
  if (r.trainErrorPct !== undefined) parts.push(`train err ${r.trainErrorPct.toFixed(2)}%`);
  if (r.validErrorPct !== undefined) parts.push(`valid err ${r.validErrorPct.toFixed(2)}%`);
  if (r.validRmse !== undefined) parts.push(`valid rmse ${r.validRmse.toPrecision(4)}`);
  if (r.validLogLik !== undefined) parts.push(`valid ll ${r.validLogLik.toFixed(4)}`);
  parts.push(`${r.samplesPerSec.toFixed(0)} samples/s`, `${r.seconds.toFixed(1)} s`);
  if (etaSeconds !== undefined && etaSeconds > 0) parts.push(`ETA ${formatDuration(etaSeconds)}`);
  return parts.join("  ");
}
