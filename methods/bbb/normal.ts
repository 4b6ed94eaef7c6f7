/**
 * Standard-normal draws and random signs for Bayes by Backprop, from the
 * library's {@linkcode Rng} (xoshiro128** + the 128-layer ziggurat, whose
 * branch-free rectangle test draws a 2.4M-weight sample in ~30 ms).
 *
 * @module
 */
import { Rng } from "../../core/rng.ts";
import { WorkerNoise } from "../sgmcmc/noise.ts";

/** A seeded stream of N(0, 1) draws whose state can be saved and restored. */
export interface NormalSource {
  /** Fills `out[start:end)` with the next N(0, 1) draws. */
  fill(out: Float32Array, start?: number, end?: number): void;
  /** The stream state (4 integers), for checkpoints. */
  getState(): number[];
  /** Restores a state from {@linkcode NormalSource.getState}. */
  setState(state: readonly number[]): void;
}

/**
 * A seeded stream of N(0, 1) draws and random signs with its own
 * xoshiro128** state (seeded from an {@linkcode Rng}), cheap to call on
 * small arrays too. Its state (4 integers) goes into checkpoints.
 *
 * @example
 * ```ts
 * import { Rng } from "@bayes/nn";
 * import { NormalStream } from "@bayes/nn/methods/bbb";
 * const noise = new NormalStream(new Rng(0));
 * const eps = new Float32Array(1000);
 * noise.fill(eps);
 * ```
 */
export class NormalStream implements NormalSource {
  #rng = new Rng(0);

  /** Seeds the stream with four draws from `rng`. */
  constructor(rng: Rng) {
    const st = [0, 1, 2, 3].map(() => rng.nextUint32() | 0);
    if ((st[0] | st[1] | st[2] | st[3]) === 0) st[0] = 1;
    this.#rng.setState(st);
  }

  /** Fills `out[start:end)` with N(0, 1) draws. */
  fill(out: Float32Array, start = 0, end: number = out.length): void {
    this.#rng.fillNormal(start === 0 && end === out.length ? out : out.subarray(start, end));
  }

  /** Fills `out[start:end)` with random signs ±1 (32 per generator step). */
  fillSigns(out: Float32Array, start = 0, end: number = out.length): void {
    this.#rng.fillSigns(out, start, end);
  }

  /** The 4-word state, for checkpoints. */
  getState(): number[] {
    return this.#rng.getState();
  }

  /** Restores a state from {@linkcode NormalStream.getState}. */
  setState(state: readonly number[]): void {
    if (state.length !== 4 || state.some((v) => !Number.isInteger(v))) {
      throw new RangeError(`NormalStream state must be 4 integers, found ${JSON.stringify(state)}`);
    }
    this.#rng.setState(state);
  }
}

/**
 * Fills `out[start:end)` with N(0, 1) draws from `rng` (advancing it). For
 * many small calls prefer a {@linkcode NormalStream}.
 *
 * @example
 * ```ts
 * import { Rng } from "@bayes/nn";
 * import { fillStandardNormal } from "@bayes/nn/methods/bbb";
 * const eps = new Float32Array(1000);
 * fillStandardNormal(new Rng(0), eps);
 * ```
 */
export function fillStandardNormal(
  rng: Rng,
  out: Float32Array,
  start = 0,
  end: number = out.length,
): void {
  rng.fillNormal(start === 0 && end === out.length ? out : out.subarray(start, end));
}

/**
 * Fills `out[start:end)` with random signs (±1) from `rng`, 32 per draw.
 *
 * @example
 * ```ts
 * import { Rng } from "@bayes/nn";
 * import { fillRandomSigns } from "@bayes/nn/methods/bbb";
 * const s = new Float32Array(64);
 * fillRandomSigns(new Rng(0), s);
 * ```
 */
export function fillRandomSigns(
  rng: Rng,
  out: Float32Array,
  start = 0,
  end: number = out.length,
): void {
  rng.fillSigns(out, start, end);
}

/**
 * The draws of a {@linkcode NormalStream} from the same state, made one block
 * ahead on a worker thread: `fill` copies them out in order, so any sequence
 * of `fill` calls returns exactly the inline stream's values (its generator
 * fills arrays element by element, so splitting a fill changes nothing).
 *
 * Drawing a 2.4M-weight sample costs ~30 ms, a large part of a Bayes by
 * Backprop step; with a second core free the worker hides it. The state is
 * known at block boundaries only: {@linkcode AheadNormalStream.getState}
 * throws in mid-block, so callers consume whole blocks (one weight sample)
 * between checkpoints. Call `dispose()` when done: a live worker keeps the
 * process running.
 *
 * @example
 * ```ts
 * import { Rng } from "@bayes/nn";
 * import { AheadNormalStream, NormalStream } from "@bayes/nn/methods/bbb";
 * const state = new NormalStream(new Rng(0)).getState();
 * const ahead = new AheadNormalStream(1000, state);
 * const eps = new Float32Array(1000);
 * ahead.fill(eps); // the same values NormalStream from `state` would give
 * ahead.dispose();
 * ```
 */
export class AheadNormalStream implements NormalSource {
  #src: WorkerNoise;
  #block?: Float32Array;
  #pos = 0;

  /** Starts the worker at a {@linkcode NormalStream} state, drawing `blockSize` at a time. */
  constructor(blockSize: number, state: readonly number[]) {
    if (!Number.isInteger(blockSize) || blockSize < 1) {
      throw new RangeError(`block size must be a positive integer, found ${blockSize}`);
    }
    this.#src = new WorkerNoise(blockSize, state);
  }

  /** Fills `out[start:end)` with the next draws (waits for the worker if needed). */
  fill(out: Float32Array, start = 0, end: number = out.length): void {
    for (let i = start; i < end;) {
      if (!this.#block || this.#pos === this.#block.length) {
        this.#block = this.#src.next();
        this.#pos = 0;
      }
      const k = Math.min(end - i, this.#block.length - this.#pos);
      out.set(this.#block.subarray(this.#pos, this.#pos + k), i);
      this.#pos += k;
      i += k;
    }
  }

  /** The stream state after the draws handed out so far (whole blocks only). */
  getState(): number[] {
    if (this.#block && this.#pos !== this.#block.length) {
      throw new Error(
        `AheadNormalStream: state requested in mid-block (${this.#pos} of ${this.#block.length} draws used)`,
      );
    }
    return this.#src.getState();
  }

  /** Restarts the worker from a state (draws made ahead are discarded). */
  setState(state: readonly number[]): void {
    this.#src.setState(state);
    this.#block = undefined;
    this.#pos = 0;
  }

  /** Stops the worker. */
  dispose(): void {
    this.#src.dispose();
  }
}
