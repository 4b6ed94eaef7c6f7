/**
 * Trains a bootstrap ensemble's members in parallel Deno workers. Each
 * worker runs `fit` on the shared training set (one copy in a
 * SharedArrayBuffer) for its share of the members, with `BNN_THREADS` =
 * cores / workers; after every epoch the main thread gathers the members,
 * evaluates the ensemble, writes the same checkpoint `fit` would, and the
 * history. Members see the same minibatches as under `fit`, so both paths
 * train the same networks, and a run can resume on either.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { BackendError, currentBackend } from "../core/backend.ts";
import { loadBlas } from "../core/blas.ts";
import { getEngine } from "../core/engine/current.ts";
import { evaluate } from "../core/evaluate.ts";
import type { Method, MethodState, Prediction } from "../core/method.ts";
import { readSaved, saveMethod } from "../core/persist.ts";
import { Progress } from "../core/progress.ts";
import type { HostTensor } from "../core/safetensors.ts";
import {
  CHECKPOINT_FILE,
  epochLine,
  type EpochRecord,
  type FitOptions,
  type FitResult,
} from "../core/train.ts";
import type { ArrayDataset } from "../datasets/types.ts";
import type { EnsembleMethod } from "./ensemble.ts";
import type {
  EnsembleWorkerReply,
  EnsembleWorkerRequest,
  MemberPrediction,
} from "./ensemble_worker.ts";

/** Options of {@linkcode trainEnsembleParallel}: `fit`'s plus the worker count. */
export interface ParallelFitOptions extends FitOptions {
  /** Workers (≥ 1; capped at the number of members). */
  workers: number;
  /** BLAS threads per worker (default: max(1, floor(cores / workers))). */
  threadsPerWorker?: number;
}

/**
 * Default worker count for an ensemble of `nNets` members: 1 (train through
 * `fit` in this thread). Measured on a 2-core machine, two workers with one
 * BLAS thread each were slower per epoch than one thread with two BLAS
 * threads (see `bench/ensemble.ts`), so parallel training is opt-in.
 *
 * @example
 * ```ts
 * import { defaultEnsembleWorkers } from "@bayes/nn/methods/ensemble";
 * defaultEnsembleWorkers(10); // 1
 * ```
 */
export function defaultEnsembleWorkers(_nNets: number): number {
  return 1;
}

/** A worker with a queue of its replies. */
class WorkerChannel {
  readonly worker: Worker;
  #queue: EnsembleWorkerReply[] = [];
  #waiting: ((m: EnsembleWorkerReply) => void) | undefined;

  constructor(id: number) {
    this.worker = new Worker(new URL("./ensemble_worker.ts", import.meta.url), {
      type: "module",
      name: `ensemble-worker-${id}`,
    });
    this.worker.onmessage = (e: MessageEvent<EnsembleWorkerReply>) => this.#push(e.data);
    this.worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#push({ type: "error", name: "Error", message: e.message });
    };
  }

  #push(m: EnsembleWorkerReply): void {
    if (this.#waiting) {
      const w = this.#waiting;
      this.#waiting = undefined;
      w(m);
    } else this.#queue.push(m);
  }

  next(): Promise<EnsembleWorkerReply> {
    const m = this.#queue.shift();
    if (m) return Promise.resolve(m);
    return new Promise((res) => (this.#waiting = res));
  }
}

function shared<T extends Float32Array | Int32Array>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const sab = new SharedArrayBuffer(a.byteLength);
  const out = (a instanceof Int32Array ? new Int32Array(sab) : new Float32Array(sab)) as T;
  out.set(a);
  return out;
}

/** A stand-in method whose `predict` returns the members' gathered predictions. */
function predictionsAsMethod(method: EnsembleMethod, preds: MemberPrediction[], n: number): Method {
  const s = preds.length;
  return {
    ...method,
    predict(): Prediction {
      if (method.spec.task === "classification") {
        const c = method.spec.outputDim;
        const data = new Float32Array(s * n * c);
        preds.forEach((p, i) => data.set(p.logProbs!, i * n * c));
        return { task: "classification", logProbs: tf.tensor3d(data, [s, n, c]) };
      }
      const mean = new Float32Array(s * n), logSigma = new Float32Array(s * n);
      preds.forEach((p, i) => {
        mean.set(p.mean!, i * n);
        logSigma.set(p.logSigma!, i * n);
      });
      return {
        task: "regression",
        mean: tf.tensor3d(mean, [s, n, 1]),
        logSigma: tf.tensor3d(logSigma, [s, n, 1]),
      };
    },
  };
}

function memberShare(state: MethodState, ids: number[]): MethodState {
  const tensors: Record<string, HostTensor> = {};
  for (const [k, v] of Object.entries(state.tensors)) {
    const m = k.match(/^m(\d+)\//);
    if (m && ids.includes(Number(m[1]))) tensors[k] = v;
  }
  return { tensors, extra: state.extra };
}

/**
 * Trains `method` (all of its members) in `opts.workers` Deno workers; same
 * options and result as `fit` (checkpoint, resume, per-epoch evaluation and
 * `onEpoch`; not `onStep`, `earlyStopping` or `signal`, which need the
 * steps in this thread), plus the worker count. With one worker it still runs in a
 * worker; call `fit` for in-thread training. CPU engine only (wasm, cpu):
 * on the WebGPU engine it throws a `BackendError` before starting any
 * worker — the GPU trains the members in this thread through `fit`.
 *
 * @example
 * ```ts
 * import { buildEnsemble, trainEnsembleParallel } from "@bayes/nn/methods/ensemble";
 * const ens = buildEnsemble({ inputDim: 784, hidden: [1200, 1200], outputDim: 10, task: "classification" });
 * // const { history } = await trainEnsembleParallel(ens, trainSet, { epochs: 10, batchSize: 128, seed: 0, workers: 2 });
 * ```
 */
export async function trainEnsembleParallel(
  method: EnsembleMethod,
  train: ArrayDataset,
  opts: ParallelFitOptions,
): Promise<FitResult> {
  if (!Number.isInteger(opts.workers) || opts.workers < 1) {
    throw new RangeError(`workers must be a positive integer, found ${opts.workers}`);
  }
  if (!Number.isInteger(opts.epochs) || opts.epochs < 0) {
    throw new RangeError(`epochs must be a non-negative integer, found ${opts.epochs}`);
  }
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) {
    throw new RangeError(`batch size must be a positive integer, found ${opts.batchSize}`);
  }
  if (train.n < 1) throw new RangeError("the training set is empty");
  for (const k of ["onStep", "earlyStopping", "signal"] as const) {
    if (opts[k] !== undefined) {
      throw new RangeError(
        `trainEnsembleParallel does not support \`${k}\` (the members train in workers): ` +
          "train in this thread with fit instead",
      );
    }
  }
  const engine = getEngine();
  if (engine.kind !== "cpu") {
    throw new BackendError(
      `ensemble workers run on the CPU engine only (each worker starts its own tfjs wasm); ` +
        `this process runs the ${engine.kind} engine: train in this thread instead ` +
        "(no --workers, or --workers 1)",
    );
  }
  const cores = navigator.hardwareConcurrency || 1;
  const ids = [...method.memberIds];
  const nWorkers = Math.min(opts.workers, ids.length);
  const threads = opts.threadsPerWorker ?? Math.max(1, Math.floor(cores / nWorkers));
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(`threadsPerWorker must be a positive integer, found ${threads}`);
  }

  const history: EpochRecord[] = [];
  let start = 0;
  let resumeState: MethodState | undefined;
  const ckpt = opts.checkpointDir ? join(opts.checkpointDir, CHECKPOINT_FILE) : undefined;
  if (opts.resume && ckpt && (await Deno.stat(ckpt).then(() => true, () => false))) {
    const { manifest, state } = await readSaved(opts.checkpointDir!, CHECKPOINT_FILE);
    if (manifest.method !== method.name) {
      throw new Error(`${ckpt}: checkpoint is for "${manifest.method}", not "${method.name}"`);
    }
    const size = state.extra.datasetSize;
    if (typeof size === "number" && size !== train.n) {
      throw new RangeError(
        `${ckpt}: the members were trained on ${size} rows, this training set has ${train.n}`,
      );
    }
    start = Number(manifest.info.epoch ?? 0);
    history.push(...((manifest.info.history as EpochRecord[]) ?? []));
    resumeState = state;
  }
  if (start >= opts.epochs) {
    method.init(opts.seed);
    if (resumeState) await method.setState(resumeState);
    return { history, resumedFrom: start };
  }

  const backend = currentBackend();
  const prevEnv = Deno.env.get("BNN_THREADS");
  const data: ArrayDataset = { ...train, x: shared(train.x), y: shared(train.y) };
  const valid = opts.valid && { ...opts.valid, x: shared(opts.valid.x), y: shared(opts.valid.y) };
  const evalSamples = Math.min(
    opts.evalSamples ?? Math.min(method.defaultSamples, 10),
    method.defaultSamples,
  );
  const evalIds = ids.slice(0, evalSamples);
  const shares = Array.from(
    { length: nWorkers },
    (_, w) => ids.filter((_, j) => j % nWorkers === w),
  );
  const channels = shares.map((_, w) => new WorkerChannel(w));
  let last: MethodState | undefined = resumeState;
  const progress = new Progress({ label: "epoch", total: opts.epochs, enabled: opts.progress });
  try {
    channels.forEach((c, w) => {
      const req: EnsembleWorkerRequest = {
        threads,
        backend: backend?.name ?? "wasm",
        spec: method.spec,
        settings: { ...method.settings },
        memberIds: shares[w],
        data,
        valid,
        evalIds: shares[w].filter((id) => evalIds.includes(id)),
        epochs: opts.epochs,
        batchSize: opts.batchSize,
        seed: opts.seed,
        resume: resumeState
          ? { epoch: start, state: memberShare(resumeState, shares[w]) }
          : undefined,
      };
      c.worker.postMessage(req);
    });
    for (let epoch = start; epoch < opts.epochs; epoch++) {
      const replies = await Promise.all(channels.map((c) => c.next()));
      const tensors: Record<string, HostTensor> = {};
      const memberExtra: Record<string, unknown> = {};
      let extra: Record<string, unknown> = {};
      const preds = new Map<number, MemberPrediction>();
      const sums: Record<string, number> = {};
      let seconds = 0;
      for (const [w, r] of replies.entries()) {
        if (r.type === "error") {
          const e = new Error(`ensemble worker ${w}: ${r.message}`);
          e.name = r.name;
          throw e;
        }
        if (r.type !== "epoch" || r.epoch !== epoch + 1) {
          throw new Error(
            `ensemble worker ${w}: expected epoch ${epoch + 1}, got ${JSON.stringify(r.type)}`,
          );
        }
        Object.assign(tensors, r.state.tensors);
        Object.assign(memberExtra, r.state.extra.members as Record<string, unknown>);
        extra = r.state.extra;
        for (const p of r.preds) preds.set(p.id, p);
        seconds = Math.max(seconds, r.record.seconds);
        // Epoch means are means over members: combine them weighted by member counts.
        const weight = shares[w].length / ids.length;
        for (const [k, v] of Object.entries(r.record)) {
          if (typeof v === "number" && !["epoch", "seconds", "samplesPerSec"].includes(k)) {
            sums[k] = (sums[k] ?? 0) + weight * v;
          }
        }
      }
      last = { tensors, extra: { ...extra, members: memberExtra } };
      // Same key order as `fit`'s records (the CSV columns follow it).
      const rec: EpochRecord = {
        epoch: epoch + 1,
        trainLoss: sums.trainLoss,
        seconds,
        samplesPerSec: train.n / seconds,
        ...sums,
      };
      if (opts.valid) {
        const m = await evaluate(
          predictionsAsMethod(method, evalIds.map((id) => preds.get(id)!), opts.valid.n),
          opts.valid,
          { samples: evalIds.length, scale: opts.scale },
        );
        rec.validLogLik = m.logLikMean;
        if (m.errorPct !== undefined) rec.validErrorPct = m.errorPct;
        if (m.rmse !== undefined) rec.validRmse = m.rmse;
      }
      history.push(rec);
      if (opts.checkpointDir) {
        const state = last;
        await saveMethod(
          opts.checkpointDir,
          { ...method, getState: () => Promise.resolve(state) },
          { ...opts.info, epoch: epoch + 1, history },
          CHECKPOINT_FILE,
        );
      }
      progress.done(epochLine(rec, opts.epochs, (opts.epochs - epoch - 1) * seconds));
      await opts.onEpoch?.(rec, method, history);
    }
    for (const [w, c] of channels.entries()) {
      const r = await c.next();
      if (r.type !== "done") {
        throw new Error(
          `ensemble worker ${w}: ${r.type === "error" ? r.message : "did not finish"}`,
        );
      }
    }
    // The members' final weights, set once (the workers held them during training).
    if (last) await method.setState(last);
    else method.init(opts.seed);
  } finally {
    for (const c of channels) c.worker.terminate();
    if (prevEnv === undefined) Deno.env.delete("BNN_THREADS");
    else Deno.env.set("BNN_THREADS", prevEnv);
    // OpenBLAS threads are per process: the workers set theirs, restore ours.
    if (backend?.blas) {
      loadBlas().blas?.lib.symbols.openblas_set_num_threads?.(backend.blas.threads);
    }
  }
  return { history, resumedFrom: start };
}
