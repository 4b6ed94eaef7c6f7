/**
 * Worker entry of {@linkcode trainEnsembleParallel}
 * (`methods/ensemble_parallel.ts`): trains a share of a bootstrap ensemble's
 * members through `fit` on the shared training set and posts the members'
 * state after every epoch. Not meant to be imported; the parallel trainer
 * starts it with `new Worker(…, { type: "module" })`.
 *
 * @module
 */
import { initBackend } from "../core/backend.ts";
import { getEngine } from "../core/engine/current.ts";
import { datasetInputs } from "../core/evaluate.ts";
import { disposePrediction } from "../core/likelihood.ts";
import type { MethodState, NetSpec } from "../core/method.ts";
import { readSaved, saveMethod } from "../core/persist.ts";
import { CHECKPOINT_FILE, type EpochRecord, fit } from "../core/train.ts";
import type { ArrayDataset } from "../datasets/types.ts";
import { buildEnsemble, type EnsembleMethod, type EnsembleSettings } from "./ensemble.ts";

/** What the main thread sends to a worker (one message). */
export interface EnsembleWorkerRequest {
  /** BLAS threads for this worker (`BNN_THREADS`). */
  threads: number;
  /** Backend to start (the main thread's). */
  backend: string;
  /** Network. */
  spec: NetSpec;
  /** Ensemble settings (the full ensemble's). */
  settings: Required<EnsembleSettings>;
  /** Members this worker trains. */
  memberIds: number[];
  /** Training set; `x` and `y` are views on SharedArrayBuffers. */
  data: ArrayDataset;
  /** Epochs in total. */
  epochs: number;
  /** Minibatch size. */
  batchSize: number;
  /** Run seed (as `fit`'s). */
  seed: number;
  /** Validation set (views on SharedArrayBuffers), predicted after each epoch. */
  valid?: ArrayDataset;
  /** Members whose validation predictions the main thread needs. */
  evalIds: number[];
  /**
   * Continue from this state of the worker's members: after `step` steps of
   * epoch `epoch + 1` (0: at its start), with that epoch's partial sums so far.
   */
  resume?: { epoch: number; step?: number; partial?: unknown; state: MethodState };
}

/**
 * A control message from the main thread after the request: `stop` asks the
 * worker to pause after its current step and report it (`at`); `stopAt` lets
 * it train on to that global step (one-based over the run) and stop there.
 */
export type EnsembleWorkerControl = { type: "stop" } | { type: "stopAt"; step: number };

/** One member's validation prediction (host arrays of its `[1, N, ·]` outputs). */
export interface MemberPrediction {
  /** Member index. */
  id: number;
  /** Classification log-probabilities, `N·C` values. */
  logProbs?: Float32Array;
  /** Regression means, `N` values. */
  mean?: Float32Array;
  /** Regression log σ, `N` values. */
  logSigma?: Float32Array;
}

/** What a worker posts back. */
export type EnsembleWorkerReply =
  | {
    type: "epoch";
    epoch: number;
    record: EpochRecord;
    state: MethodState;
    preds: MemberPrediction[];
  }
  | { type: "at"; step: number }
  | {
    type: "stopped";
    /** Epoch index (0-based) of the epoch in progress, and the steps done in it. */
    epoch: number;
    step: number;
    /** The members' state and the epoch's partial sums; absent at an epoch's end. */
    state?: MethodState;
    partial?: unknown;
  }
  | { type: "done" }
  | { type: "error"; name: string; message: string };

interface WorkerScope {
  onmessage:
    | ((e: MessageEvent<EnsembleWorkerRequest | EnsembleWorkerControl>) => void)
    | null;
  postMessage(msg: EnsembleWorkerReply, transfer?: Transferable[]): void;
  close(): void;
}

/** The main thread's stop requests, as this worker sees them. */
class StopControl {
  readonly abort = new AbortController();
  #requested = false;
  #target: number | undefined;
  #wake: (() => void) | undefined;

  onMessage(m: EnsembleWorkerControl): void {
    if (m.type === "stop") this.#requested = true;
    else {
      this.#target = m.step;
      this.#wake?.();
    }
  }

  /**
   * After each step: on a stop request, reports the step and waits for the
   * step all workers stop at; aborts `fit` once there.
   */
  async afterStep(globalStep: number, post: WorkerScope["postMessage"]): Promise<void> {
    if (this.#requested && this.#target === undefined) {
      const target = new Promise<void>((res) => (this.#wake = res));
      post({ type: "at", step: globalStep });
      await target;
    }
    if (this.#target !== undefined && globalStep >= this.#target) this.abort.abort("stop");
  }
}

async function run(
  req: EnsembleWorkerRequest,
  control: StopControl,
  post: WorkerScope["postMessage"],
): Promise<void> {
  // BLAS reads BNN_THREADS when the backend opens it, just below.
  Deno.env.set("BNN_THREADS", String(req.threads));
  await initBackend({ backend: req.backend, quiet: true });
  const method = buildEnsemble(req.spec, req.settings, { memberIds: req.memberIds });
  // A private checkpoint: `fit` resumes from one, and writes one when stopped inside an epoch.
  const dir = await Deno.makeTempDir({ prefix: "bnn-ensemble-worker-" });
  try {
    if (req.resume) {
      const { epoch, step, partial } = req.resume;
      method.init(req.seed);
      await method.setState(req.resume.state);
      await saveMethod(dir, method, { epoch, step, partial, history: [] }, CHECKPOINT_FILE);
    }
    const r = await fit(method, req.data, {
      epochs: req.epochs,
      batchSize: req.batchSize,
      seed: req.seed,
      checkpointDir: dir,
      resume: req.resume !== undefined,
      progress: false,
      signal: control.abort.signal,
      onStep: (s) => control.afterStep(s.globalStep, post),
      onEpoch: async (record) => {
        const state = await method.getState();
        const preds = await predictMembers(method, req.valid, req.evalIds);
        post(
          { type: "epoch", epoch: record.epoch, record, state, preds },
          ownBuffers(state, preds),
        );
      },
    });
    if (r.stopReason === "aborted" && r.stoppedAt) {
      const { epoch, step } = r.stoppedAt;
      const perEpoch = Math.ceil(req.data.n / req.batchSize);
      if (step >= perEpoch) post({ type: "stopped", epoch: epoch - 1, step });
      else {
        // Stopped inside the epoch: `fit` wrote where, with the epoch's sums so far.
        const { manifest, state } = await readSaved(dir, CHECKPOINT_FILE);
        const partial = manifest.info.partial;
        post({ type: "stopped", epoch: epoch - 1, step, state, partial }, ownBuffers(state, []));
      }
    }
  } finally {
    method.dispose();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Buffers a message can transfer: the arrays that own theirs. */
function ownBuffers(state: MethodState, preds: MemberPrediction[]): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const t of Object.values(state.tensors)) {
    const b = t.data.buffer as ArrayBuffer;
    if (t.data.byteLength === b.byteLength) buffers.add(b); // own copies only
  }
  for (const p of preds) {
    for (const a of [p.logProbs, p.mean, p.logSigma]) {
      if (a) buffers.add(a.buffer as ArrayBuffer);
    }
  }
  return [...buffers];
}

async function predictMembers(
  method: EnsembleMethod,
  valid: ArrayDataset | undefined,
  ids: number[],
): Promise<MemberPrediction[]> {
  if (!valid || ids.length === 0) return [];
  const engine = getEngine();
  const x = datasetInputs(valid);
  try {
    const members = method.members();
    const out: MemberPrediction[] = [];
    for (const id of ids) {
      const p = members[method.memberIds.indexOf(id)].predict(x, { samples: 1 });
      try {
        out.push(
          p.task === "classification"
            ? { id, logProbs: await engine.read(p.logProbs) }
            : { id, mean: await engine.read(p.mean), logSigma: await engine.read(p.logSigma) },
        );
      } finally {
        disposePrediction(p);
      }
    }
    return out;
  } finally {
    x.dispose();
  }
}

const scope = globalThis as unknown as WorkerScope;
const control = new StopControl();
scope.onmessage = (e) => {
  if ("type" in e.data) {
    control.onMessage(e.data);
    return;
  }
  run(e.data, control, (m, t) => scope.postMessage(m, t)).then(
    () => {
      scope.postMessage({ type: "done" });
      scope.close();
    },
    (err: Error) => {
      scope.postMessage({ type: "error", name: err.name, message: err.message });
      scope.close();
    },
  );
};
