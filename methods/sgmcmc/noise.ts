/**
 * The Gaussian noise an SG-MCMC step injects: one block of `total` N(0, 1)
 * draws per step (all parameter tensors, in order), from a seeded
 * {@linkcode Rng} stream whose state is checkpointed.
 *
 * Drawing 2.4 M normals costs about as much as the network's forward and
 * backward pass, so {@linkcode WorkerNoise} draws the next step's block on a
 * second thread (a Web Worker writing into shared memory, double-buffered)
 * while the current step computes. It yields exactly the same stream as
 * {@linkcode InlineNoise} from the same state: the choice only changes speed.
 *
 * @module
 */
import { Rng } from "../../core/rng.ts";

/**
 * Fills `out` with N(0, 1) draws from `rng` (its `fillNormal`).
 *
 * @example
 * ```ts
 * import { Rng } from "@bayes/nn";
 * import { fillStandardNormal } from "./noise.ts";
 * const xi = new Float32Array(1000);
 * fillStandardNormal(new Rng(1), xi); // same as new Rng(1).fillNormal(xi)
 * ```
 */
export function fillStandardNormal(rng: Rng, out: Float32Array): void {
  rng.fillNormal(out);
}

/** A source of per-step blocks of standard normal draws. */
export interface NoiseSource {
  /** Draws per block. */
  readonly total: number;
  /** The next block (valid until the next call). */
  next(): Float32Array;
  /** State of the stream after the last block returned (resume point). */
  getState(): number[];
  /** Restarts the stream from a state returned by {@linkcode NoiseSource.getState}. */
  setState(state: readonly number[]): void;
  /** Stops any helper thread. */
  dispose(): void;
}

/**
 * Noise drawn on the calling thread.
 *
 * @example
 * ```ts
 * import { Rng } from "@bayes/nn";
 * import { InlineNoise } from "@bayes/nn/methods/sgld";
 * const noise = new InlineNoise(1000, new Rng(1).getState());
 * const xi = noise.next(); // 1000 N(0, 1) draws
 * ```
 */
export class InlineNoise implements NoiseSource {
  /** Draws per block. */
  readonly total: number;
  #rng = new Rng(0);
  #buf: Float32Array;

  /** Creates the source from an {@linkcode Rng} state. */
  constructor(total: number, state: readonly number[]) {
    this.total = total;
    this.#buf = new Float32Array(total);
    this.#rng.setState(state);
  }

  /** The next block. */
  next(): Float32Array {
    fillStandardNormal(this.#rng, this.#buf);
    return this.#buf;
  }

  /** Stream state after the last block. */
  getState(): number[] {
    return this.#rng.getState();
  }

  /** Restarts from a state. */
  setState(state: readonly number[]): void {
    this.#rng.setState(state);
  }

  /** Nothing to stop. */
  dispose(): void {}
}

// Shared header (Int32): [0, 1] slot full flags, [2] stop, [4..7] / [8..11] the stream state
// after each slot's block. Data: two blocks of `total` floats from byte 64.
const HEADER_BYTES = 64;

/**
 * Noise drawn one step ahead on a worker thread. Call `dispose()` when done:
 * a live worker keeps the process running.
 *
 * @example
 * ```ts
 * import { Rng } from "@bayes/nn";
 * import { WorkerNoise } from "@bayes/nn/methods/sgld";
 * const noise = new WorkerNoise(1000, new Rng(1).getState());
 * const xi = noise.next(); // same draws as InlineNoise from the same state
 * noise.dispose();
 * ```
 */
export class WorkerNoise implements NoiseSource {
  /** Draws per block. */
  readonly total: number;
  #worker?: Worker;
  #header!: Int32Array;
  #data!: Float32Array;
  #slot = 0;
  #held = -1;
  #state: number[];

  /** Starts the worker from an {@linkcode Rng} state. */
  constructor(total: number, state: readonly number[]) {
    this.total = total;
    this.#state = [...state];
    this.#start();
  }

  #start(): void {
    const sab = new SharedArrayBuffer(HEADER_BYTES + 8 * this.total);
    this.#header = new Int32Array(sab, 0, HEADER_BYTES / 4);
    this.#data = new Float32Array(sab, HEADER_BYTES, 2 * this.total);
    this.#slot = 0;
    this.#held = -1;
    this.#worker = new Worker(new URL("./noise_worker.ts", import.meta.url).href, {
      type: "module",
    });
    this.#worker.postMessage({ sab, total: this.total, state: this.#state });
  }

  /** The next block (waits for the worker if it is not ready yet). */
  next(): Float32Array {
    if (!this.#worker) throw new Error("noise source was disposed");
    const h = this.#header;
    if (this.#held >= 0) {
      Atomics.store(h, this.#held, 0);
      Atomics.notify(h, this.#held);
    }
    const k = this.#slot;
    let waited = 0;
    while (Atomics.load(h, k) === 0) {
      if (Atomics.wait(h, k, 0, 1000) === "timed-out" && ++waited >= 60) {
        throw new Error("the noise worker did not produce a block within 60 s");
      }
    }
    this.#state = Array.from(h.subarray(4 + 4 * k, 8 + 4 * k));
    this.#held = k;
    this.#slot = k ^ 1;
    return this.#data.subarray(k * this.total, (k + 1) * this.total);
  }

  /** Stream state after the last block returned. */
  getState(): number[] {
    return [...this.#state];
  }

  /** Restarts the worker from a state (blocks drawn ahead are discarded). */
  setState(state: readonly number[]): void {
    this.dispose();
    this.#state = [...state];
    this.#start();
  }

  /** Stops the worker. */
  dispose(): void {
    if (!this.#worker) return;
    Atomics.store(this.#header, 2, 1);
    Atomics.notify(this.#header, 0);
    Atomics.notify(this.#header, 1);
    this.#worker.terminate();
    this.#worker = undefined;
  }
}
