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
  EnsembleWorkerControl,
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

/** A worker's reply other than an error (which {@linkcode workerReply} throws). */
type Reply = Exclude<EnsembleWorkerReply, { type: "error" }>;
type EpochReply = Reply & { type: "epoch" };

/** An epoch's sums so far, as `fit` writes them into a checkpoint made inside an epoch. */
interface PartialSums {
  sums: Record<string, number>;
  seen: number;
  seconds: number;
}

function workerReply(w: number, r: EnsembleWorkerReply): Reply {
  if (r.type === "error") {
    const e = new Error(`ensemble worker ${w}: ${r.message}`);
    e.name = r.name;
    throw e;
  }
  return r;
}

function unexpected(w: number, r: Reply, waitingFor: string): Error {
  const what = r.type === "epoch" ? `epoch ${r.epoch}` : `"${r.type}"`;
  return new Error(`ensemble worker ${w}: expected ${waitingFor}, got ${what}`);
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
 * options and result as `fit` (checkpoint, resume, per-epoch evaluation,
 * `onEpoch`, and `signal`: on abort every worker pauses after its current
 * step, all train on to the furthest of those steps and stop there, and the
 * checkpoint resumes at the next step, on either path; not `onStep` or
 * `earlyStopping`, which need the steps in this thread), plus the worker
 * count. With one worker it still runs in a
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
  for (const k of ["onStep", "earlyStopping"] as const) {
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
  let start = 0, startStep = 0;
  let startPartial: PartialSums | undefined;
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
    // A checkpoint written inside an epoch (by `fit` or by this trainer when stopped).
    const step = Number(manifest.info.step ?? 0);
    if (Number.isInteger(step) && step > 0) {
      startStep = step;
      startPartial = manifest.info.partial as PartialSums | undefined;
    }
    history.push(...((manifest.info.history as EpochRecord[]) ?? []));
    resumeState = state;
  }
  if (start >= opts.epochs || opts.signal?.aborted) {
    method.init(opts.seed);
    if (resumeState) await method.setState(resumeState);
    const r: FitResult = { history, resumedFrom: start };
    if (start < opts.epochs) {
      r.stopReason = "aborted";
      r.stoppedAt = { epoch: start + 1, step: startStep };
    }
    return r;
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
  // Epoch means are means over members: a worker's figures count by its share of them.
  const weights = shares.map((sh) => sh.length / ids.length);
  const perEpoch = Math.ceil(train.n / opts.batchSize);
  const channels = shares.map((_, w) => new WorkerChannel(w));
  let last: MethodState | undefined = resumeState;
  // One line per epoch, on a terminal or not (the steps run in the workers: no live line).
  const progress = opts.progress ?? true;
  const result: FitResult = { history, resumedFrom: start };
  const requestStop = () => {
    for (const c of channels) {
      c.worker.postMessage({ type: "stop" } satisfies EnsembleWorkerControl);
    }
  };
  opts.signal?.addEventListener("abort", requestStop, { once: true });

  /** The members' gathered state from the workers' replies. */
  const gather = (states: MethodState[]): MethodState => {
    const tensors: Record<string, HostTensor> = {};
    const memberExtra: Record<string, unknown> = {};
    for (const st of states) {
      Object.assign(tensors, st.tensors);
      Object.assign(memberExtra, st.extra.members as Record<string, unknown>);
    }
    return { tensors, extra: { ...states.at(-1)!.extra, members: memberExtra } };
  };

  /** Evaluates, records and checkpoints epoch `epoch + 1` from every worker's reply. */
  const finishEpoch = async (epoch: number, replies: EpochReply[]): Promise<void> => {
    const preds = new Map<number, MemberPrediction>();
    const sums: Record<string, number> = {};
    let seconds = 0;
    for (const [w, r] of replies.entries()) {
      for (const p of r.preds) preds.set(p.id, p);
      seconds = Math.max(seconds, r.record.seconds);
      for (const [k, v] of Object.entries(r.record)) {
        if (typeof v === "number" && !["epoch", "seconds", "samplesPerSec"].includes(k)) {
          sums[k] = (sums[k] ?? 0) + weights[w] * v;
        }
      }
    }
    last = gather(replies.map((r) => r.state));
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
    if (opts.checkpointDir) await save(last, { epoch: epoch + 1 });
    if (progress) console.error(epochLine(rec, opts.epochs, (opts.epochs - epoch - 1) * seconds));
    await opts.onEpoch?.(rec, method, history);
  };

  const save = (state: MethodState, info: Record<string, unknown>) =>
    saveMethod(
      opts.checkpointDir!,
      { ...method, getState: () => Promise.resolve(state) },
      { ...opts.info, ...info, history },
      CHECKPOINT_FILE,
    );

  /**
   * After a stop request: every worker pauses after its current step and
   * reports it; all train on to the furthest of those steps and stop there,
   * so the members stop at one place. Finishes the epochs completed on the
   * way and writes the checkpoint of the epoch in progress.
   */
  const stopAll = async (epoch: number, first: Reply[]): Promise<void> => {
    const queued: EpochReply[][] = shares.map(() => []);
    const at: number[] = [];
    const done: boolean[] = [];
    // Until each worker pauses (or has finished every epoch).
    for (const [w, c] of channels.entries()) {
      let r = first[w];
      for (;;) {
        if (r.type === "epoch") queued[w].push(r);
        else if (r.type === "at") {
          at[w] = r.step;
          break;
        } else if (r.type === "done") {
          at[w] = opts.epochs * perEpoch;
          done[w] = true;
          break;
        } else throw unexpected(w, r, "a step");
        r = workerReply(w, await c.next());
      }
    }
    const target = Math.max(...at);
    const stopped: (Reply & { type: "stopped" })[] = [];
    for (const [w, c] of channels.entries()) {
      if (done[w]) continue;
      c.worker.postMessage({ type: "stopAt", step: target } satisfies EnsembleWorkerControl);
      for (;;) {
        const r = workerReply(w, await c.next());
        if (r.type === "epoch") queued[w].push(r);
        else if (r.type === "stopped") {
          stopped[w] = r;
          break;
        } else if (r.type === "done") break;
        else throw unexpected(w, r, "the stop");
      }
    }
    const epochsDone = Math.floor(target / perEpoch);
    for (let e = epoch; e < epochsDone; e++) {
      await finishEpoch(
        e,
        queued.map((q, w) => {
          const r = q.find((x) => x.epoch === e + 1);
          if (!r) throw new Error(`ensemble worker ${w}: no state after epoch ${e + 1}`);
          return r;
        }),
      );
    }
    const step = target - epochsDone * perEpoch;
    result.stopReason = "aborted";
    result.stoppedAt = step > 0
      ? { epoch: epochsDone + 1, step }
      : { epoch: epochsDone, step: perEpoch };
    if (step === 0) return;
    // Inside an epoch: the checkpoint `fit` would write there (state, steps done, sums so far).
    const parts = stopped.map((r) => r.partial as PartialSums);
    const sums: Record<string, number> = {};
    for (const [w, p] of parts.entries()) {
      for (const [k, v] of Object.entries(p.sums)) sums[k] = (sums[k] ?? 0) + weights[w] * v;
    }
    const partial: PartialSums = {
      sums,
      seen: parts[0].seen,
      seconds: Math.max(...parts.map((p) => p.seconds)),
    };
    last = gather(stopped.map((r) => r.state!));
    if (opts.checkpointDir) await save(last, { epoch: epochsDone, step, partial });
  };

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
          ? {
            epoch: start,
            step: startStep,
            // Each worker starts from the members' mean sums so far: the weighted
            // mean over workers of (these + its own) is then the epoch's mean.
            partial: startPartial,
            state: memberShare(resumeState, shares[w]),
          }
          : undefined,
      };
      c.worker.postMessage(req);
    });
    for (let epoch = start; epoch < opts.epochs; epoch++) {
      const replies = await Promise.all(
        channels.map(async (c, w) => workerReply(w, await c.next())),
      );
      if (replies.some((r) => r.type !== "epoch")) {
        await stopAll(epoch, replies);
        break;
      }
      for (const [w, r] of (replies as EpochReply[]).entries()) {
        if (r.epoch !== epoch + 1) throw unexpected(w, r, `epoch ${epoch + 1}`);
      }
      await finishEpoch(epoch, replies as EpochReply[]);
    }
    if (!result.stopReason) {
      for (const [w, c] of channels.entries()) {
        const r = workerReply(w, await c.next());
        if (r.type !== "done") throw unexpected(w, r, "the end");
      }
    }
    // The members' final weights, set once (the workers held them during training).
    if (last) await method.setState(last);
    else method.init(opts.seed);
  } finally {
    opts.signal?.removeEventListener("abort", requestStop);
    for (const c of channels) c.worker.terminate();
    if (prevEnv === undefined) Deno.env.delete("BNN_THREADS");
    else Deno.env.set("BNN_THREADS", prevEnv);
    // OpenBLAS threads are per process: the workers set theirs, restore ours.
    if (backend?.blas) {
      loadBlas().blas?.lib.symbols.openblas_set_num_threads?.(backend.blas.threads);
    }
  }
  return result;
}
