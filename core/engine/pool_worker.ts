/**
 * A worker of the CPU engine's pool (see `pool.ts`): claims chunks of each
 * posted job and runs them with `pool_exec.ts`.
 *
 * @module
 */
import { parentPort } from "node:worker_threads";
import { type Job, prepare } from "./pool_exec.ts";

const DONE = 0;
const ERROR = 1;

const port = parentPort!;

let ctrl: Int32Array;
let claim: BigInt64Array;

interface JobMessage {
  job: Job;
  buffers: ArrayBufferLike[];
  gen: number;
  n: number;
  sums: Float64Array;
}

function work(m: JobMessage): void {
  const base = BigInt(m.gen) << 32n;
  // Nothing left (a late reader, or a newer job): do not even prepare.
  const first = Atomics.load(claim, 0);
  if (first < base || first - base >= BigInt(m.n)) return;
  const p = prepare(m.job, m.buffers);
  const sums = m.job.t === "kernel" && m.job.nsums ? m.sums : null;
  for (;;) {
    const cur = Atomics.load(claim, 0);
    if (cur < base || cur - base >= BigInt(m.n)) return;
    if (Atomics.compareExchange(claim, 0, cur, cur + 1n) !== cur) continue;
    try {
      p.run(Number(cur - base), sums);
    } catch (e) {
      Atomics.store(ctrl, ERROR, 1);
      port.postMessage({ error: (e as Error)?.stack ?? String(e) });
    }
    if (Atomics.add(ctrl, DONE, 1) + 1 >= m.n) Atomics.notify(ctrl, DONE);
  }
}

port.on("message", (d) => {
  if (d.init) {
    ctrl = d.init.ctrl;
    claim = d.init.claim;
    return;
  }
  work(d as JobMessage);
});
