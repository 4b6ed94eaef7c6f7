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
import type { Method, MethodState, NetSpec, StepInfo, StepResult, TensorBatch } from "./method.ts";
import { EarlyStopper, type EarlyStoppingOptions } from "./early_stopping.ts";
import { readSaved, saveMethod, saveState } from "./persist.ts";
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
  /** The posterior-mean network's validation error % (with `evalMean`). */
  meanErrorPct?: number;
  /** The posterior-mean network's validation RMSE (with `evalMean`). */
  meanRmse?: number;
  /** The posterior-mean network's validation log-likelihood per example (with `evalMean`). */
  meanLogLik?: number;
  /** Wall-clock seconds of the epoch's training steps. */
  seconds: number;
  /** Training throughput. */
  samplesPerSec: number;
  /** Further per-epoch scalars the method reported (means over steps). */
  [name: string]: number | undefined;
}

/** A training step's scalars, as {@linkcode FitOptions.onStep} receives them. */
export interface StepReport {
  /** One-based epoch. */
  epoch: number;
  /** One-based step within the epoch. */
  step: number;
  /** One-based step over the whole run (steps before a resume included). */
  globalStep: number;
  /** Examples in the minibatch. */
  n: number;
  /**
   * The step's scalars as numbers: `loss` (per example), `errors` (fraction
   * of the batch misclassified) when the method reports it, and any others.
   */
  scalars: Record<string, number>;
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
  /**
   * Also evaluate the posterior-mean network (`Method.predictMean`) on
   * `valid` after every epoch, into `meanErrorPct` / `meanRmse` and
   * `meanLogLik` (what the reference's notebooks log as "dev" error).
   */
  evalMean?: boolean;
  /** Target standardisation, so regression metrics are in original units. */
  scale?: TargetScale;
  /**
   * Folder for `checkpoint.safetensors`, rewritten atomically after each
   * epoch (and when training is aborted).
   */
  checkpointDir?: string;
  /** Continue from the checkpoint in `checkpointDir` when there is one. */
  resume?: boolean;
  /** Progress on stderr (default true): a live line on a TTY, else one line per epoch. */
  progress?: boolean;
  /** Extra info recorded in checkpoints (data normalisation…). */
  info?: Record<string, unknown>;
  /** Called after each epoch's evaluation and checkpoint. */
  onEpoch?: (record: EpochRecord, method: Method, history: EpochRecord[]) => void | Promise<void>;
  /**
   * Called with every step's scalars, in step order. They are read
   * asynchronously: on the CPU after each step, on a GPU in batches (about
   * every half second), so calls may come a few steps after the step.
   */
  onStep?: (report: StepReport) => void | Promise<void>;
  /**
   * Stop when the monitored epoch metric (default `validLogLik`, which needs
   * `valid`) has not improved for `patience` epochs, and put the best
   * epoch's state back (`restoreBest`, default true). See
   * {@linkcode EarlyStoppingOptions}.
   */
  earlyStopping?: EarlyStoppingOptions;
  /**
   * Stops training cleanly after the current step: the scalars read so far
   * are kept, a checkpoint is written when `checkpointDir` is set (a
   * `resume` continues at the next step, exactly as if never stopped), and
   * `fit` returns normally with `stopReason: "aborted"` (it does not throw).
   * The method keeps its current state: no best state is restored and
   * `finalize` (KFAC Laplace's curvature pass) does not run.
   */
  signal?: AbortSignal;
}

/** What {@linkcode fit} returns. */
export interface FitResult {
  /** One record per complete epoch trained (including those before a resume). */
  history: EpochRecord[];
  /** Epoch the run resumed from (0 for a fresh run). */
  resumedFrom: number;
  /** Why training ended before `epochs`: early stopping or the abort signal; absent otherwise. */
  stopReason?: "early_stopping" | "aborted";
  /** Where an aborted run stopped: one-based epoch and the steps done in it. */
  stoppedAt?: { epoch: number; step: number };
  /**
   * With early stopping: the best epoch (one-based) and its monitored value,
   * and whether the method's state was put back to it.
   */
  best?: { epoch: number; value: number; restored: boolean };
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
 * import { deviceData } from "./train.ts";
 * import { getEngine } from "./engine/current.ts";
 * import { initBackend } from "@bayes/nn";
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

/** Scalar sums of a partly trained epoch (saved in checkpoints). */
interface PartialEpoch {
  sums: Record<string, number>;
  seen: number;
  seconds: number;
}

/**
 * Step scalars as they arrive: numbers at once, tensors read in batches
 * (one stacked tensor, one asynchronous read) — every step on the CPU
 * engine, where reads are free, and about every half second on a GPU.
 */
class StepScalars {
  sums: Record<string, number> = {};
  seen = 0;
  bad?: { step: number; loss: number };
  /** Reports read but not yet handed to `onStep` (only collected when wanted). */
  readonly reports: StepReport[] | undefined;
  #queue: { step: number; n: number; r: StepResult }[] = [];
  #inflight?: Promise<void>;
  #lastFlush = performance.now();

  constructor(
    readonly engine: Engine,
    readonly epoch: number,
    readonly firstGlobal: number,
    wantReports: boolean,
    partial?: PartialEpoch,
  ) {
    this.reports = wantReports ? [] : undefined;
    if (partial) {
      this.sums = { ...partial.sums };
      this.seen = partial.seen;
    }
  }

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
        const scalars: Record<string, number> = {};
        for (const [k, v] of Object.entries(e.r)) {
          const x = typeof v === "number" ? v : values[j++];
          if (k === "loss" && !Number.isFinite(x) && !this.bad) {
            this.bad = { step: e.step, loss: x };
          }
          this.sums[k] = (this.sums[k] ?? 0) + x * e.n;
          scalars[k] = x;
        }
        this.seen += e.n;
        this.reports?.push({
          epoch: this.epoch,
          step: e.step,
          globalStep: this.firstGlobal + e.step,
          n: e.n,
          scalars,
        });
      }
    });
    if (this.engine.kind === "cpu" || force) await this.#inflight;
  }

  async drain(): Promise<void> {
    await this.flush(true);
    await this.#inflight;
  }

  /** Raises a {@linkcode DivergenceError} when a loss read so far was not finite. */
  throwIfBad(checkpoint?: string): void {
    if (this.bad) throw new DivergenceError(this.epoch, this.bad.step, this.bad.loss, checkpoint);
  }

  /** Hands the reports read so far to `onStep`, in order. */
  async deliver(onStep?: (r: StepReport) => void | Promise<void>): Promise<void> {
    if (!onStep || !this.reports?.length) return;
    const ready = this.reports.splice(0);
    for (const r of ready) await onStep(r);
  }
}

/** Epochs whose pace the ETA is taken from (per work level). */
const ETA_WINDOW = 5;

/** Median of a non-empty list. */
function median(v: readonly number[]): number {
  const sorted = [...v].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Seconds left for a run, as `[low, high]`. `paces` holds, per work level
 * of a step (1 for most methods; Bayes by Backprop's weight samples per
 * step, which change with the epoch: `Method.stepWork`), the recent epochs'
 * seconds per step at that level; `left` the steps still to run at each
 * level. A measured level runs at its median pace: the median, rather than
 * the mean since the start, keeps one slow epoch (a suspended laptop, a
 * paused process, a shared machine) from inflating the estimate for the
 * rest of the run. An unmeasured level, once two levels are measured, runs at
 * the line `a + b·work` fitted to their medians (least squares; where that line
 * is not positive, in proportion to the nearest level). With one measured level
 * `w₀` at pace `p₀` nothing says how much of a step is its work: an unmeasured
 * level `w` runs somewhere between `p₀` (fixed costs dominate) and `p₀·w/w₀`
 * (the work does), and `low`, `high` are those two ends. Undefined before any
 * measured epoch.
 *
 * @example
 * ```ts
 * import { workEta } from "./train.ts";
 * // 1 sample per step measured at 0.06 s a step; 100 steps left at 1, 300 at 3 samples.
 * workEta(new Map([[1, [0.06, 0.06]]]), [{ work: 1, steps: 100 }, { work: 3, steps: 300 }]);
 * // ≈ [24, 60]: 6 s + 300 steps at 0.06 (low) or 0.18 s (high)
 * // Both levels measured: one figure.
 * workEta(new Map([[1, [0.06]], [3, [0.16]]]), [{ work: 3, steps: 300 }]); // ≈ [48, 48]
 * ```
 */
export function workEta(
  paces: ReadonlyMap<number, readonly number[]>,
  left: readonly { work: number; steps: number }[],
): [number, number] | undefined {
  const levels = [...paces].filter(([, v]) => v.length > 0).map(([w, v]) => [w, median(v)]);
  if (levels.length === 0) return undefined;
  let a = 0, b = 0;
  if (levels.length >= 2) {
    const mw = levels.reduce((t, [w]) => t + w, 0) / levels.length;
    const mp = levels.reduce((t, [, p]) => t + p, 0) / levels.length;
    const sww = levels.reduce((t, [w]) => t + (w - mw) ** 2, 0);
    b = sww > 0 ? levels.reduce((t, [w, p]) => t + (w - mw) * (p - mp), 0) / sww : 0;
    a = mp - b * mw;
  }
  let low = 0, high = 0;
  for (const { work, steps } of left) {
    if (steps <= 0) continue;
    const known = levels.find(([w]) => w === work);
    if (known) {
      low += known[1] * steps;
      high += known[1] * steps;
      continue;
    }
    const [w0, p0] = levels.reduce((n, l) => Math.abs(l[0] - work) < Math.abs(n[0] - work) ? l : n);
    const scaled = w0 > 0 ? (p0 * work) / w0 : p0;
    if (levels.length >= 2) {
      const line = a + b * work;
      const p = line > 0 ? line : scaled;
      low += p * steps;
      high += p * steps;
    } else {
      low += Math.min(p0, scaled) * steps;
      high += Math.max(p0, scaled) * steps;
    }
  }
  return [low, high];
}

/**
 * Progress over the whole run: the ETA counts every remaining epoch, each
 * at the pace of its step work (see {@linkcode workEta}).
 */
class RunProgress {
  readonly #line: Progress;
  readonly #lines: boolean;
  readonly #total: number;
  readonly #work: (epoch: number) => number;
  readonly #perEpoch: number;
  readonly #paces = new Map<number, number[]>();
  #mark = performance.now();
  #markDone = 0;

  /**
   * `total` steps to run, `perEpoch` steps in a whole epoch, `work` the
   * relative work of a step in an epoch (0-based).
   */
  constructor(
    total: number,
    enabled: boolean | undefined,
    perEpoch: number,
    work: (epoch: number) => number,
  ) {
    const tty = Deno.stderr.isTerminal();
    const wanted = enabled ?? true;
    this.#total = total;
    this.#perEpoch = perEpoch;
    this.#work = work;
    this.#line = new Progress({ label: "step", total, enabled: wanted && tty });
    this.#lines = wanted && !tty;
  }

  update(done: number, figs: Record<string, number | string>) {
    this.#line.update(done, figs);
  }

  /** Ends an epoch: its summary line with the time left for the run. */
  epoch(rec: EpochRecord, epochs: number, done: number) {
    const now = performance.now();
    if (done > this.#markDone) {
      const level = this.#work(rec.epoch - 1);
      const paces = this.#paces.get(level) ?? [];
      paces.push((now - this.#mark) / 1000 / (done - this.#markDone));
      if (paces.length > ETA_WINDOW) paces.shift();
      this.#paces.set(level, paces);
    }
    [this.#mark, this.#markDone] = [now, done];
    // The steps left, epoch by epoch from the next one (the last may be cut short).
    const left: { work: number; steps: number }[] = [];
    let rest = this.#total - done;
    for (let e = rec.epoch; rest > 0 && e < epochs; e++) {
      const steps = Math.min(this.#perEpoch, rest);
      left.push({ work: this.#work(e), steps });
      rest -= steps;
    }
    const eta = workEta(this.#paces, left);
    const line = epochLine(rec, epochs, eta?.[0], eta?.[1]);
    if (this.#lines) console.error(line);
    else this.#line.done(line);
  }
}

/** File of the best early-stopping state inside `checkpointDir`. */
export const BEST_FILE = "best.safetensors";

function checkFitOptions(method: Method, train: ArrayDataset, opts: FitOptions): void {
  if (!Number.isInteger(opts.epochs) || opts.epochs < 0) {
    throw new RangeError(`epochs must be a non-negative integer, found ${opts.epochs}`);
  }
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) {
    throw new RangeError(`batch size must be a positive integer, found ${opts.batchSize}`);
  }
  if (train.n < 1) throw new RangeError("the training set is empty");
  checkDataset(method.spec, train, "training set");
  if (opts.valid) checkDataset(method.spec, opts.valid, "validation set");
  if (opts.evalMean && !opts.valid) throw new RangeError("evalMean needs a validation set (valid)");
  if (opts.evalMean && !method.predictMean) {
    throw new RangeError(`evalMean: ${method.name} has no posterior-mean network (predictMean)`);
  }
}

/**
 * The data must fit the network: `x` holds `n × inputDim` values, class
 * labels are an `Int32Array` of `n` indices in `0..outputDim−1`, regression
 * targets a `Float32Array` of `n × outputDim` values. Checked here so that a
 * mismatch names the field instead of failing deep inside tfjs.
 */
function checkDataset(spec: NetSpec, ds: ArrayDataset, what: string): void {
  const d = ds.xShape.reduce((a, b) => a * b, 1);
  if (d !== spec.inputDim) {
    throw new RangeError(
      `${what}: xShape [${ds.xShape}] has ${d} values per example, but the network's ` +
        `inputDim is ${spec.inputDim}`,
    );
  }
  if (!(ds.x instanceof Float32Array) || ds.x.length !== ds.n * d) {
    throw new RangeError(
      `${what}: x should be a Float32Array of n × ${d} = ${ds.n * d} values, found ` +
        `${ds.x?.constructor?.name ?? typeof ds.x} of ${ds.x?.length} values`,
    );
  }
  if (spec.task === "classification") {
    if (!(ds.y instanceof Int32Array) || ds.y.length !== ds.n) {
      throw new TypeError(
        `${what}: class labels y should be an Int32Array of ${ds.n} class indices, found ` +
          `${ds.y?.constructor?.name ?? typeof ds.y} of ${ds.y?.length} values`,
      );
    }
    for (let i = 0; i < ds.n; i++) {
      const c = ds.y[i];
      if (c < 0 || c >= spec.outputDim) {
        throw new RangeError(
          `${what}: label ${c} of example ${i} is outside the network's classes ` +
            `0..${spec.outputDim - 1}`,
        );
      }
    }
  } else if (!(ds.y instanceof Float32Array) || ds.y.length !== ds.n * spec.outputDim) {
    throw new TypeError(
      `${what}: regression targets y should be a Float32Array of n × ${spec.outputDim} = ` +
        `${ds.n * spec.outputDim} values, found ${ds.y?.constructor?.name ?? typeof ds.y} of ` +
        `${ds.y?.length} values`,
    );
  }
}

/**
 * Lets the event loop run about every 100 ms of training. On the CPU engines a
 * step waits only on promises that are already resolved, so without this an
 * epoch never gives timers, I/O or signal listeners (Ctrl-C, an abort from a
 * timer) a turn until it ends. The turn is a message through a
 * `MessageChannel` (about 0.03 ms here), not `setTimeout(0)`, which the
 * runtime clamps to milliseconds.
 */
class EventLoopTurn {
  #last = performance.now();
  #channel?: MessageChannel;
  #wake?: () => void;
  async yield(): Promise<void> {
    if (performance.now() - this.#last < 100) return;
    if (!this.#channel) {
      this.#channel = new MessageChannel();
      this.#channel.port1.onmessage = () => this.#wake?.();
    }
    const port = this.#channel.port2;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      port.postMessage(null);
    });
    this.#last = performance.now();
  }
  /** Closes the channel (an open port would keep the process alive). */
  close(): void {
    this.#channel?.port1.close();
    this.#channel?.port2.close();
    this.#channel = undefined;
  }
}

/** Where a run starts: fresh, or from the checkpoint in `checkpointDir`. */
interface RunStart {
  epoch: number;
  step: number;
  partial?: PartialEpoch;
  history: EpochRecord[];
  stopped?: "early_stopping";
  early?: unknown;
}

async function startRun(method: Method, opts: FitOptions, ckpt?: string): Promise<RunStart> {
  if (opts.resume && opts.checkpointDir && ckpt) {
    const exists = await Deno.stat(ckpt).then(() => true, () => false);
    if (exists) {
      const { manifest, state } = await readSaved(opts.checkpointDir, CHECKPOINT_FILE);
      if (manifest.method !== method.name) {
        throw new Error(`${ckpt}: checkpoint is for "${manifest.method}", not "${method.name}"`);
      }
      method.init(opts.seed);
      await method.setState(state);
      const info = manifest.info;
      const step = Number(info.step ?? 0);
      return {
        epoch: Number(info.epoch ?? 0),
        step: Number.isInteger(step) && step > 0 ? step : 0,
        partial: info.partial as PartialEpoch | undefined,
        history: [...((info.history as EpochRecord[]) ?? [])],
        stopped: info.stopReason === "early_stopping" ? "early_stopping" : undefined,
        early: info.earlyStopping,
      };
    }
  }
  method.init(opts.seed);
  return { epoch: 0, step: 0, history: [] };
}

/**
 * Trains `method` on `train`: seeded minibatches for `opts.epochs` epochs,
 * with optional per-epoch validation, checkpoints and resume, a per-step
 * callback (`onStep`), early stopping and an abort signal.
 *
 * @example
 * ```ts
 * import { fit, gpToyData, initBackend } from "@bayes/nn";
 * import { buildMap } from "@bayes/nn/methods/map";
 * await initBackend({ backend: "wasm", quiet: true });
 * const { train } = gpToyData({ kind: "homo", seed: 0, n: 64 });
 * const m = buildMap({ inputDim: 1, hidden: [16], outputDim: 1, task: "regression" });
 * const losses: number[] = [];
 * const { history } = await fit(m, train, {
 *   epochs: 2,
 *   batchSize: 32,
 *   seed: 0,
 *   progress: false,
 *   onStep: (r) => {
 *     losses.push(r.scalars.loss);
 *   },
 * });
 * console.log(history.length, losses.length); // 2 4
 * ```
 */
export async function fit(
  method: Method,
  train: ArrayDataset,
  opts: FitOptions,
): Promise<FitResult> {
  checkFitOptions(method, train, opts);
  const early = opts.earlyStopping
    ? new EarlyStopper(opts.earlyStopping, opts.valid !== undefined)
    : undefined;
  const ckpt = opts.checkpointDir ? join(opts.checkpointDir, CHECKPOINT_FILE) : undefined;
  const run = await startRun(method, opts, ckpt);
  const history = run.history;
  const start = run.epoch;
  let bestState: MethodState | undefined;
  if (early) {
    early.restore(run.early);
    if (early.restoreBest && early.state.bestEpoch > 0 && opts.checkpointDir) {
      const file = join(opts.checkpointDir, BEST_FILE);
      if (await Deno.stat(file).then(() => true, () => false)) {
        bestState = (await readSaved(opts.checkpointDir, BEST_FILE)).state;
      }
    }
  }
  const result: FitResult = { history, resumedFrom: start };
  if (run.stopped) result.stopReason = run.stopped;

  const engine = getEngine();
  const batchesPerEpoch = Math.ceil(train.n / opts.batchSize);
  const info = (epoch: number, step: number): StepInfo => ({
    datasetSize: train.n,
    epoch,
    step,
    batchesPerEpoch,
    epochs: opts.epochs,
  });
  const save = (extra: Record<string, unknown>) =>
    saveMethod(opts.checkpointDir!, method, {
      ...opts.info,
      history,
      ...(early ? { earlyStopping: early.state } : {}),
      ...extra,
    }, CHECKPOINT_FILE);
  const lastEpoch = run.stopped ? start : opts.epochs;
  const progress = new RunProgress(
    Math.max(0, (lastEpoch - start) * batchesPerEpoch - run.step),
    opts.progress,
    batchesPerEpoch,
    (epoch) => method.stepWork?.(epoch) ?? 1,
  );
  let doneSteps = 0;
  let trained = false;
  const turn = new EventLoopTurn();
  const data = deviceData(engine, train);
  try {
    for (let epoch = start; epoch < lastEpoch; epoch++) {
      if (opts.signal?.aborted) {
        result.stopReason = "aborted";
        result.stoppedAt = { epoch: epoch + 1, step: epoch === start ? run.step : 0 };
        return result;
      }
      const rng = new Rng(opts.seed).fork(1000 + epoch);
      const skip = epoch === start ? run.step : 0;
      const partial = skip > 0 ? run.partial : undefined;
      const t0 = performance.now() - 1000 * (partial?.seconds ?? 0);
      const scalars = new StepScalars(
        engine,
        epoch + 1,
        epoch * batchesPerEpoch,
        opts.onStep !== undefined,
        partial,
      );
      let step = 0;
      for (const indices of batchIndices(train.n, opts.batchSize, rng)) {
        if (step < skip) {
          step++;
          continue;
        }
        const batch = data.batch(indices);
        let r: StepResult;
        try {
          r = await method.step(batch, info(epoch, step));
        } finally {
          batch.x.dispose();
          batch.y.dispose();
        }
        step++;
        doneSteps++;
        trained = true;
        scalars.push(step, batch.n, r);
        await scalars.flush();
        await turn.yield();
        scalars.throwIfBad(ckpt);
        await scalars.deliver(opts.onStep);
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
        if (opts.signal?.aborted && step < batchesPerEpoch) {
          // Stop inside the epoch: what was read is kept; the checkpoint resumes at the next step.
          await scalars.drain();
          scalars.throwIfBad(ckpt);
          await scalars.deliver(opts.onStep);
          if (opts.checkpointDir) {
            const seconds = (performance.now() - t0) / 1000;
            await save({
              epoch,
              step,
              partial: { sums: scalars.sums, seen: scalars.seen, seconds },
            });
          }
          result.stopReason = "aborted";
          result.stoppedAt = { epoch: epoch + 1, step };
          return result;
        }
      }
      await scalars.drain();
      scalars.throwIfBad(ckpt);
      await scalars.deliver(opts.onStep);
      const seconds = (performance.now() - t0) / 1000;
      await method.endEpoch?.(epoch, info(epoch, step));
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
        if (opts.evalMean) {
          const a = await evaluate(method, opts.valid, { mean: true, scale: opts.scale });
          rec.meanLogLik = a.logLikMean;
          if (a.errorPct !== undefined) rec.meanErrorPct = a.errorPct;
          if (a.rmse !== undefined) rec.meanRmse = a.rmse;
        }
      }
      history.push(rec);
      if (early?.update(epoch + 1, rec) && early.restoreBest) {
        bestState = await method.getState();
        if (opts.checkpointDir) {
          await saveState(opts.checkpointDir, method, bestState, { epoch: epoch + 1 }, BEST_FILE);
        }
      }
      if (early?.state.stopped) result.stopReason = "early_stopping";
      if (opts.checkpointDir) {
        await save({
          epoch: epoch + 1,
          ...(early?.state.stopped ? { stopReason: "early_stopping" } : {}),
        });
      }
      progress.epoch(rec, opts.epochs, doneSteps);
      await opts.onEpoch?.(rec, method, history);
      if (opts.signal?.aborted) {
        result.stopReason = "aborted";
        result.stoppedAt = { epoch: epoch + 1, step };
        return result;
      }
      if (early?.state.stopped) break;
    }
  } finally {
    turn.close();
    data.dispose();
  }
  let restored = false;
  if (early && early.state.bestEpoch > 0) {
    const lastTrained = history.at(-1)?.epoch ?? 0;
    if (trained && early.restoreBest && bestState && early.state.bestEpoch !== lastTrained) {
      await method.setState(bestState);
      restored = true;
      if (opts.checkpointDir) {
        await save({
          epoch: lastTrained,
          restoredEpoch: early.state.bestEpoch,
          ...(result.stopReason ? { stopReason: result.stopReason } : {}),
        });
      }
    }
    result.best = { epoch: early.state.bestEpoch, value: early.state.bestValue, restored };
  }
  if (method.finalize) {
    const fullPass = trained && (restored || result.stopReason === "early_stopping");
    await method.finalize(train, {
      batchSize: opts.batchSize,
      progress: opts.progress,
      ...(fullPass ? { fullPass } : {}),
    });
    if (opts.checkpointDir) {
      await save({
        epoch: history.at(-1)?.epoch ?? opts.epochs,
        finalized: true,
        ...(result.stopReason ? { stopReason: result.stopReason } : {}),
      });
    }
  }
  return result;
}

/**
 * A one-line summary of an epoch record, ending with the time left
 * (`ETA 12m30s`, or a range `ETA 49m03s–2h11m` when `etaHigh` is above
 * `etaSeconds`: see {@linkcode workEta}).
 */
export function epochLine(
  r: EpochRecord,
  epochs: number,
  etaSeconds?: number,
  etaHigh?: number,
): string {
  const parts = [`epoch ${r.epoch}/${epochs}`, `loss ${r.trainLoss.toPrecision(4)}`];
  if (r.trainErrorPct !== undefined) parts.push(`train err ${r.trainErrorPct.toFixed(2)}%`);
  if (r.validErrorPct !== undefined) parts.push(`valid err ${r.validErrorPct.toFixed(2)}%`);
  if (r.validRmse !== undefined) parts.push(`valid rmse ${r.validRmse.toPrecision(4)}`);
  if (r.validLogLik !== undefined) parts.push(`valid ll ${r.validLogLik.toFixed(4)}`);
  if (r.meanErrorPct !== undefined) parts.push(`mean-net err ${r.meanErrorPct.toFixed(2)}%`);
  if (r.meanRmse !== undefined) parts.push(`mean-net rmse ${r.meanRmse.toPrecision(4)}`);
  if (r.meanLogLik !== undefined) parts.push(`mean-net ll ${r.meanLogLik.toFixed(4)}`);
  parts.push(`${r.samplesPerSec.toFixed(0)} samples/s`, `${r.seconds.toFixed(1)} s`);
  if (etaSeconds !== undefined && etaSeconds > 0) {
    const range = etaHigh !== undefined && etaHigh > 1.01 * etaSeconds;
    parts.push(
      `ETA ${formatDuration(etaSeconds)}` + (range ? `–${formatDuration(etaHigh)}` : ""),
    );
  }
  return parts.join("  ");
}
