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

// The Marsaglia–Tsang ziggurat tables of core/rng.ts, rebuilt here so that
// `fillStandardNormal` draws exactly the stream of `Rng.fillNormal`.
const ZIG_N = 128, ZIG_R = 3.442619855899, ZIG_V = 9.91256303526217e-3, M1 = 2147483648.0;
const KN = new Int32Array(ZIG_N), WN = new Float64Array(ZIG_N), FN = new Float64Array(ZIG_N);
{
  let dn = ZIG_R, tn = dn;
  const q = ZIG_V / Math.exp(-0.5 * dn * dn);
  KN[0] = Math.floor((dn / q) * M1);
  KN[1] = 0;
  WN[0] = q / M1;
  WN[ZIG_N - 1] = dn / M1;
  FN[0] = 1.0;
  FN[ZIG_N - 1] = Math.exp(-0.5 * dn * dn);
  for (let i = ZIG_N - 2; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(ZIG_V / dn + Math.exp(-0.5 * dn * dn)));
    KN[i + 1] = Math.floor((dn / tn) * M1);
    tn = dn;
    FN[i] = Math.exp(-0.5 * dn * dn);
    WN[i] = dn / M1;
  }
}
const ST = new Int32Array(4);

function nextU32(): number {
  const b = ST[1];
  let r = Math.imul(b, 5);
  r = Math.imul((r << 7) | (r >>> 25), 9);
  const t = b << 9;
  ST[2] ^= ST[0];
  ST[3] ^= ST[1];
  ST[1] ^= ST[2];
  ST[0] ^= ST[3];
  ST[2] ^= t;
  ST[3] = (ST[3] << 11) | (ST[3] >>> 21);
  return r >>> 0;
}

function slowNormal(hz: number): number {
  for (;;) {
    const iz = hz & 127;
    if (Math.abs(hz) < KN[iz]) return hz * WN[iz];
    if (iz === 0) {
      let xx: number, yy: number;
      do {
        xx = -Math.log((nextU32() + 0.5) / 4294967296) / ZIG_R;
        yy = -Math.log((nextU32() + 0.5) / 4294967296);
      } while (yy + yy < xx * xx);
      return hz > 0 ? ZIG_R + xx : -ZIG_R - xx;
    }
    const x = hz * WN[iz];
    const u = nextU32() / 4294967296;
    if (FN[iz] + u * (FN[iz - 1] - FN[iz]) < Math.exp(-0.5 * x * x)) return x;
    hz = nextU32() | 0;
  }
}

/**
 * Fills `out` with N(0, 1) draws: exactly the draws (and the final state) of
 * `rng.fillNormal(out)`, about twice as fast (the sign test is branch-free,
 * so a 50/50 branch is not mispredicted on every other draw).
 *
 * @example
 * ```ts
 * import { Rng } from "@bayes/nn";
 * import { fillStandardNormal } from "@bayes/nn/methods/sgld";
 * const xi = new Float32Array(1000);
 * fillStandardNormal(new Rng(1), xi); // same as new Rng(1).fillNormal(xi)
 * ```
 */
export function fillStandardNormal(rng: Rng, out: Float32Array): void {
  const st = rng.getState();
  let a = st[0] | 0, b = st[1] | 0, c = st[2] | 0, d = st[3] | 0;
  const n = out.length;
  for (let i = 0; i < n; i++) {
    let r = Math.imul(b, 5);
    r = Math.imul((r << 7) | (r >>> 25), 9);
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = (d << 11) | (d >>> 21);
    const iz = r & 127;
    if (Math.abs(r) < KN[iz]) out[i] = r * WN[iz];
    else {
      ST[0] = a;
      ST[1] = b;
      ST[2] = c;
      ST[3] = d;
      out[i] = slowNormal(r);
      a = ST[0];
      b = ST[1];
      c = ST[2];
      d = ST[3];
    }
  }
  rng.setState([a, b, c, d]);
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
