/**
 * The CPU engine's thread pool: `BNN_THREADS − 1` module workers plus the
 * calling thread run a job's chunks (`pool_exec.ts`) over shared memory —
 * the wasm heap (a SharedArrayBuffer when tfjs runs its threaded build, see
 * `shared_heap.ts`) and the noise blocks.
 *
 * Protocol: the job is posted to every worker; chunks are claimed through one
 * 64-bit word `(job generation << 32) | next chunk` by compare-and-swap, so a
 * worker that reads a job late can never claim a chunk of a newer one. The
 * caller claims chunks too and then blocks (`Atomics.wait`) until the done
 * counter reaches the chunk count. Which thread runs a chunk never changes its
 * result: the results are the same for every thread count.
 *
 * @module
 */
import { Worker } from "node:worker_threads";
import { threadCount } from "../blas.ts";
import { chunkCount, type Job, prepare } from "./pool_exec.ts";

const DONE = 0;
const ERROR = 1;

/** Fewer chunks than this run on the calling thread alone (posting costs ~50 µs). */
const MIN_PARALLEL_CHUNKS = 2;

/** The pool of one process (see {@linkcode getPool}). */
export class Pool {
  /** Threads in all, the caller included. */
  readonly threads: number;
  #workers: Worker[] = [];
  #ctrl = new Int32Array(new SharedArrayBuffer(8));
  #claim = new BigInt64Array(new SharedArrayBuffer(8));
  #sums = new Float64Array(new SharedArrayBuffer(8 * 1024));
  #gen = 0;
  #failed: string | null = null;

  /** Starts `threads − 1` workers. */
  constructor(threads: number) {
    this.threads = threads;
    for (let i = 1; i < threads; i++) {
      // node:worker_threads rather than the web Worker: `unref()` lets a
      // process whose pool sits idle exit (a web Worker keeps it alive).
      const w = new Worker(new URL("./pool_worker.ts", import.meta.url));
      w.unref();
      w.on("error", (e: Error) => {
        this.#failed = `CPU engine worker failed: ${e.message}`;
      });
      w.on("message", (m: { error?: string }) => {
        if (m?.error) this.#failed = `CPU engine worker failed: ${m.error}`;
      });
      w.postMessage({ init: { ctrl: this.#ctrl, claim: this.#claim } });
      this.#workers.push(w);
    }
  }

  /**
   * Runs every chunk of `job` over `buffers`; returns the chunks' sums (for
   * kernel jobs with sums: `chunks × nsums`, in chunk order), else null.
   * Buffers that are not SharedArrayBuffers keep the job on this thread.
   */
  run(job: Job, buffers: readonly ArrayBufferLike[]): Float64Array | null {
    const n = chunkCount(job);
    const nsums = job.t === "kernel" ? job.nsums : 0;
    if (n * nsums > this.#sums.length) {
      this.#sums = new Float64Array(new SharedArrayBuffer(8 * n * nsums * 2));
    }
    const sums = nsums ? this.#sums : null;
    const p = prepare(job, buffers);
    const shared = buffers.every((b) => b instanceof SharedArrayBuffer);
    if (this.#workers.length === 0 || n < MIN_PARALLEL_CHUNKS || !shared) {
      for (let c = 0; c < n; c++) p.run(c, sums);
      return sums ? sums.slice(0, n * nsums) : null;
    }
    if (this.#failed) throw new Error(this.#failed);
    const gen = ++this.#gen & 0x7fffffff;
    Atomics.store(this.#ctrl, DONE, 0);
    Atomics.store(this.#ctrl, ERROR, 0);
    Atomics.store(this.#claim, 0, BigInt(gen) << 32n);
    const msg = { job, buffers, gen, n, sums: this.#sums };
    for (const w of this.#workers) w.postMessage(msg);
    const base = BigInt(gen) << 32n;
    let error: unknown;
    for (;;) {
      const cur = Atomics.load(this.#claim, 0);
      const next = Number(cur - base);
      if (next >= n || error !== undefined) break;
      if (Atomics.compareExchange(this.#claim, 0, cur, cur + 1n) !== cur) continue;
      try {
        p.run(next, sums);
      } catch (e) {
        error = e;
      }
      Atomics.add(this.#ctrl, DONE, 1);
    }
    for (;;) {
      const d = Atomics.load(this.#ctrl, DONE);
      if (d >= n || (error !== undefined && d >= Number(Atomics.load(this.#claim, 0) - base))) {
        break;
      }
      // A timeout only to notice a worker that died holding a chunk.
      Atomics.wait(this.#ctrl, DONE, d, 1000);
      if (this.#failed) throw new Error(this.#failed);
    }
    // Every claimed chunk is finished here: no thread touches the buffers any more.
    if (error !== undefined) throw error;
    if (Atomics.load(this.#ctrl, ERROR)) {
      throw new Error(this.#failed ?? "CPU engine worker failed on a chunk (see stderr)");
    }
    return sums ? sums.slice(0, n * nsums) : null;
  }

  /** Stops the workers (the pool then runs everything on the calling thread). */
  close(): void {
    for (const w of this.#workers) w.terminate();
    this.#workers = [];
  }
}

let pool: Pool | undefined;

/**
 * The process's pool, sized by `BNN_THREADS` (default: the machine's cores);
 * created on first use.
 *
 * @example
 * ```ts
 * import { getPool } from "./pool.ts";
 * getPool().threads; // e.g. 2
 * ```
 */
export function getPool(): Pool {
  if (!pool) {
    let n: number;
    try {
      n = threadCount();
    } catch (e) {
      if (e instanceof RangeError) throw e;
      n = navigator.hardwareConcurrency || 1; // no --allow-env
    }
    pool = new Pool(n);
    // Stop the workers when the program ends rather than leave live threads to the
    // process's exit (its native teardown runs while they would still be running).
    const p = pool;
    globalThis.addEventListener?.("unload", () => p.close());
  }
  return pool;
}

/**
 * Stops the pool's workers (a later {@linkcode getPool} starts new ones, with
 * the then current `BNN_THREADS`). Tests call it so no worker outlives them.
 *
 * @example
 * ```ts
 * import { closePool } from "./pool.ts";
 * closePool();
 * ```
 */
export function closePool(): void {
  pool?.close();
  pool = undefined;
}
