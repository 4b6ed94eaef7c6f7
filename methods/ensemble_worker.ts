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
import { saveMethod } from "../core/persist.ts";
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
  /** Continue after `epoch` from this state of the worker's members. */
  resume?: { epoch: number; state: MethodState };
}

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
  | { type: "done" }
  | { type: "error"; name: string; message: string };

interface WorkerScope {
  onmessage: ((e: MessageEvent<EnsembleWorkerRequest>) => void) | null;
  postMessage(msg: EnsembleWorkerReply, transfer?: Transferable[]): void;
  close(): void;
}

async function run(req: EnsembleWorkerRequest, post: WorkerScope["postMessage"]): Promise<void> {
  // BLAS reads BNN_THREADS when the backend opens it, just below.
  Deno.env.set("BNN_THREADS", String(req.threads));
  await initBackend({ backend: req.backend, quiet: true });
  const method = buildEnsemble(req.spec, req.settings, { memberIds: req.memberIds });
  let dir: string | undefined;
  try {
    if (req.resume) {
      // `fit` resumes from a checkpoint file: write this worker's share to a private one.
      dir = await Deno.makeTempDir({ prefix: "bnn-ensemble-worker-" });
      method.init(req.seed);
      await method.setState(req.resume.state);
      await saveMethod(dir, method, { epoch: req.resume.epoch, history: [] }, CHECKPOINT_FILE);
    }
    await fit(method, req.data, {
      epochs: req.epochs,
      batchSize: req.batchSize,
      seed: req.seed,
      checkpointDir: dir,
      resume: dir !== undefined,
      progress: false,
      onEpoch: async (record) => {
        const state = await method.getState();
        const preds = await predictMembers(method, req.valid, req.evalIds);
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
        post({ type: "epoch", epoch: record.epoch, record, state, preds }, [...buffers]);
      },
    });
  } finally {
    method.dispose();
    if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
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
scope.onmessage = (e) => {
  scope.onmessage = null;
  run(e.data, (m, t) => scope.postMessage(m, t)).then(
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
