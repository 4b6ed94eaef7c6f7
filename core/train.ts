/**
 * The training loop, written once for every method: the training set kept
 * where the engine computes (uploaded once to a GPU; minibatches gathered
 * there), seeded minibatch order, step scalars read asynchronously (a GPU
 * never waits for the host), progress, evaluation per epoch, atomic
 * checkpoints, resume, and a clean stop on a non-finite loss that keeps the
 * last good checkpoint.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { type ArrayDataset, batchIndices } from "./data.ts";
import { getEngine } from "./engine/current.ts";
import type { Engine, RowStore } from "./engine/engine.ts";
import { evaluate, type TargetScale } from "./evaluate.ts";
import type { Method, StepInfo, StepResult, TensorBatch } from "./method.ts";
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
  /** Progress on stderr (default true): a live line on a TTY, else one line per epoch. */
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

/**
 * A training set held by an engine: rows uploaded once, minibatches gathered
 * where the engine computes.
 *
 * @example
 * ```ts
 * import { deviceData, getEngine, initBackend } from "@bayes/nn";
 * await initBackend({ backend: "wasm", quiet: true });
 * const d = deviceData(getEngine(), { x: new Float32Array(6), y: new Int32Array(3), n: 3, xShape: [2], yShape: [] });
 * const b = d.batch(Int32Array.of(2, 0)); // x [2, 2], y [2]
 * d.dispose();
 * ```
 */
export function deviceData(
  engine: Engine,
  ds: ArrayDataset,
): { batch(indices: Int32Array): TensorBatch; dispose(): void } {
  const xs: RowStore = engine.rows(ds.x, ds.x.length / ds.n);
  const ys: RowStore = engine.rows(ds.y, ds.y.length / ds.n);
  const classification = ds.y instanceof Int32Array;
  return {
    batch(indices: Int32Array): TensorBatch {
      const x = xs.gather(indices) as tf.Tensor2D;
      const y = ys.gather(indices);
      return {
        x,
        y: classification ? y : y.reshape([indices.length, ys.cols]),
        n: indices.length,
        indices,
      };
    },
    dispose() {
      xs.dispose();
      ys.dispose();
    },
  };
}

/**
 * Step scalars as they arrive: numbers at once, tensors read in batches
 * (one stacked tensor, one asynchronous read) — every step on the CPU
 * engine, where reads are free, and about every half second on a GPU.
 */
class StepScalars {
  readonly sums: Record<string, number> = {};
  seen = 0;
  bad?: { step: number; loss: number };
  #queue: { step: number; n: number; r: StepResult }[] = [];
  #inflight?: Promise<void>;
  #lastFlush = performance.now();

  constructor(readonly engine: Engine) {}

  push(step: number, n: number, r: StepResult): void {
    this.#queue.push({ step, n, r });
  }

  /** Starts reading what is queued when it is time (always with `force`). */
  async flush(force = false): Promise<void> {
    const due = this.engine.kind === "cpu" || this.#queue.length >= 256 ||
      performance.now() - this.#lastFlush > 500;
    if (!force && !due) return;
    this.#lastFlush = performance.now();
    await this.#inflight; // one read in flight at a time: a GPU running behind slows the host
    const entries = this.#queue;
    this.#queue = [];
    if (!entries.length) return;
    const tensors: tf.Tensor[] = [];
    for (const e of entries) {
      for (const v of Object.values(e.r)) if (typeof v !== "number") tensors.push(v);
    }
    const stacked = tensors.length
      ? tf.tidy(() => tf.concat(tensors.map((t) => t.reshape([-1]))))
      : undefined;
    tf.dispose(tensors);
    const read = stacked ? this.engine.read(stacked) : Promise.resolve(new Float32Array(0));
    this.#inflight = read.then((values) => {
      stacked?.dispose();
      let j = 0;
      for (const e of entries) {
        for (const [k, v] of Object.entries(e.r)) {
          const x = typeof v === "number" ? v : values[j++];
          if (k === "loss" && !Number.isFinite(x) && !this.bad) {
            this.bad = { step: e.step, loss: x };
          }
          this.sums[k] = (this.sums[k] ?? 0) + x * e.n;
        }
        this.seen += e.n;
      }
    });
    if (this.engine.kind === "cpu" || force) await this.#inflight;
  }

  async drain(): Promise<void> {
    await this.flush(true);
    await this.#inflight;
  }
}

/** Progress over the whole run: the ETA counts every remaining epoch. */
class RunProgress {
  readonly #line: Progress;
  readonly #lines: boolean;
  readonly #total: number;
  readonly #start = performance.now();

  constructor(total: number, enabled?: boolean) {
    const tty = Deno.stderr.isTerminal();
    const wanted = enabled ?? true;
    this.#total = total;
    this.#line = new Progress({ label: "step", total, enabled: wanted && tty });
    this.#lines = wanted && !tty;
  }

  update(done: number, figs: Record<string, number | string>) {
    this.#line.update(done, figs);
  }

  /** Ends an epoch: its summary line with the time left for the run. */
  epoch(rec: EpochRecord, epochs: number, done: number) {
    const elapsed = (performance.now() - this.#start) / 1000;
    const eta = done > 0 ? (elapsed / done) * (this.#total - done) : undefined;
    const line = epochLine(rec, epochs, eta);
    if (this.#lines) console.error(line);
    else this.#line.done(line);
  }
}

/**
 * Trains `method` on `train`.
 *
 * @example
 * ```ts
 * import { fit, gpToyData, initBackend } from "@bayes/nn";
 * import { buildMap } from "@bayes/nn/methods/map";
 * await initBackend({ backend: "wasm", quiet: true });
 * const { train } = gpToyData({ kind: "homo", seed: 0, n: 64 });
 * const m = buildMap({ inputDim: 1, hidden: [16], outputDim: 1, task: "regression" });
 * const { history } = await fit(m, train, { epochs: 2, batchSize: 32, seed: 0, progress: false });
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

  const engine = getEngine();
  const data = deviceData(engine, train);
  const batchesPerEpoch = Math.ceil(train.n / opts.batchSize);
  const progress = new RunProgress((opts.epochs - start) * batchesPerEpoch, opts.progress);
  let doneSteps = 0;
  try {
    for (let epoch = start; epoch < opts.epochs; epoch++) {
      const rng = new Rng(opts.seed).fork(1000 + epoch);
      const t0 = performance.now();
      const scalars = new StepScalars(engine);
      let step = 0;
      for (const indices of batchIndices(train.n, opts.batchSize, rng)) {
        const batch = data.batch(indices);
        const info: StepInfo = {
          datasetSize: train.n,
          epoch,
          step,
          batchesPerEpoch,
          epochs: opts.epochs,
        };
        let r: StepResult;
        try {
          r = await method.step(batch, info);
        } finally {
          batch.x.dispose();
          batch.y.dispose();
        }
        step++;
        doneSteps++;
        scalars.push(step, batch.n, r);
        await scalars.flush();
        if (scalars.bad) {
          throw new DivergenceError(epoch + 1, scalars.bad.step, scalars.bad.loss, ckpt);
        }
        if (scalars.seen) {
          const secs = (performance.now() - t0) / 1000;
          const figs: Record<string, number | string> = {
            epoch: `${epoch + 1}/${opts.epochs}`,
            loss: scalars.sums.loss / scalars.seen,
          };
          if (scalars.sums.errors !== undefined) {
            figs.err = (100 * scalars.sums.errors) / scalars.seen;
          }
          figs["samples/s"] = scalars.seen / Math.max(secs, 1e-9);
          progress.update(doneSteps, figs);
        }
      }
      await scalars.drain();
      if (scalars.bad) {
        throw new DivergenceError(epoch + 1, scalars.bad.step, scalars.bad.loss, ckpt);
      }
      const seconds = (performance.now() - t0) / 1000;
      await method.endEpoch?.(epoch, {
        datasetSize: train.n,
        epoch,
        step,
        batchesPerEpoch,
        epochs: opts.epochs,
      });
      const seen = scalars.seen;
      const rec: EpochRecord = {
        epoch: epoch + 1,
        trainLoss: scalars.sums.loss / seen,
        seconds,
        samplesPerSec: seen / seconds,
      };
      for (const [k, v] of Object.entries(scalars.sums)) {
        if (k === "loss") continue;
        if (k === "errors") rec.trainErrorPct = (100 * v) / seen;
        else rec[k] = v / seen;
      }
      if (opts.valid) {
        const samples = opts.evalSamples ?? Math.min(method.defaultSamples, 10);
        const m = await evaluate(method, opts.valid, { samples, scale: opts.scale, seed: epoch });
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
      progress.epoch(rec, opts.epochs, doneSteps);
      await opts.onEpoch?.(rec, method, history);
    }
  } finally {
    data.dispose();
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
