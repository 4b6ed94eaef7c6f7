/**
 * Gradient clipping at mean + k·std of recent gradient norms (the
 * reference's SGHMC MNIST script: `maxGrad` from the last 1000 norms below
 * the threshold), without reading the device in a step.
 *
 * The reference, at step t: when its buffer holds more than 1000 norms,
 * maxGrad = mean + k·std of the buffer and the oldest is dropped; the step's
 * norm ‖N/n·g‖ gives the coefficient min(1, maxGrad/(norm + 1e-6)); the norm
 * joins the buffer when it is below maxGrad. Reading each norm back to the
 * host before the update would stall a GPU every step, so here:
 *
 * - the norm and the coefficient are computed on the device (a sums kernel,
 *   then a few scalar ops) and the coefficient enters the update kernel as a
 *   one-element device tensor; the threshold is a host number;
 * - the norms are read back in blocks of {@linkcode CLIP_BLOCK} steps (one
 *   asynchronous read per block) and harvested with a fixed lag: at steps
 *   t ≡ 0 (mod {@linkcode CLIP_BLOCK}), the norms of steps s < t − CLIP_BLOCK
 *   join the buffer (each judged against the threshold of its own step, as
 *   the reference does), the buffer keeps its newest 1001, and when it holds
 *   1001 the threshold is recomputed from them and the oldest is dropped.
 *
 * So the threshold of step t is the reference's, computed from the norms of
 * steps up to 17–32 steps earlier and updated every 16 steps. The lag only
 * depends on step numbers, never on timing, so a run is reproducible and a
 * resumed run identical: the norms not yet harvested are part of the saved
 * state. Clipping starts once 1001 norms are known (the reference: after its
 * 1001st step), i.e. at most 32 steps later than in the reference.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Engine } from "../../core/engine/engine.ts";

/** Norms the threshold is computed from (the reference's 1000, plus the one it drops). */
export const CLIP_WINDOW = 1000;
/** Steps per asynchronous read of the norms; also the harvest lag. */
export const CLIP_BLOCK = 16;
/** The threshold before the window is full (the reference's initial `maxGrad`). */
export const NO_CLIP = 1e20;

interface Pending {
  /** Global step. */
  t: number;
  /** Threshold in force at that step. */
  max: number;
  /** The norm, on the device until read. */
  norm?: tf.Tensor;
  /** The read of the block holding it (index into the block's values). */
  read?: { values: Promise<Float32Array>; index: number };
  /** The value once read. */
  value?: number;
}

/** The saved state of a {@linkcode ClipWindow}. */
export interface ClipState {
  /** Accepted norms, oldest first. */
  gradBuf: number[];
  /** The threshold now. */
  maxGrad: number;
  /** Norms of steps not yet harvested: `[step, threshold, norm]`. */
  pending: [number, number, number][];
}

/**
 * The window of recent gradient norms and the clipping threshold (see the
 * module doc).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { getEngine } from "../../core/engine/current.ts";
 * import { initBackend } from "@bayes/nn";
 * import { ClipWindow } from "./clip.ts";
 * await initBackend({ backend: "wasm", quiet: true });
 * const w = new ClipWindow(getEngine(), 20);
 * await w.begin(0);
 * w.record(0, tf.scalar(3)); // the norm of step 0, judged against w.maxGrad
 * w.dispose();
 * ```
 */
export class ClipWindow {
  /** Accepted norms, oldest first. */
  gradBuf: number[] = [];
  /** The threshold in force. */
  maxGrad = NO_CLIP;
  #pending: Pending[] = [];

  /** A window for clipping at mean + `stdMul`·std. */
  constructor(readonly engine: Engine, readonly stdMul: number) {}

  /** Whether clipping is active (the window was full once). */
  get active(): boolean {
    return this.maxGrad < NO_CLIP;
  }

  /**
   * Start of step `t`: at block boundaries, harvests the norms that are due
   * (awaits their read, normally finished long ago) and updates the threshold.
   */
  async begin(t: number): Promise<void> {
    if (t % CLIP_BLOCK !== 0) return;
    const due = this.#pending.filter((p) => p.t < t - CLIP_BLOCK);
    if (!due.length) return;
    if (due.some((p) => p.norm)) this.#send();
    for (const p of due) {
      if (p.read) {
        p.value = (await p.read.values)[p.read.index];
        p.read = undefined;
      }
    }
    this.#pending = this.#pending.filter((p) => p.t >= t - CLIP_BLOCK);
    due.sort((a, b) => a.t - b.t);
    for (const p of due) if (p.value! < p.max) this.gradBuf.push(p.value!);
    if (this.gradBuf.length > CLIP_WINDOW + 1) {
      this.gradBuf.splice(0, this.gradBuf.length - (CLIP_WINDOW + 1));
    }
    if (this.gradBuf.length > CLIP_WINDOW) {
      const b = this.gradBuf;
      const mean = b.reduce((a, x) => a + x, 0) / b.length;
      const v = b.reduce((a, x) => a + (x - mean) ** 2, 0) / b.length;
      this.maxGrad = mean + this.stdMul * Math.sqrt(v);
      b.shift();
    }
  }

  /**
   * The clipping coefficient min(1, maxGrad/(norm + 1e-6)) of a norm, as a
   * one-element device tensor, or 1 while the window is not full.
   */
  coefficient(norm: tf.Tensor): tf.Tensor | number {
    if (!this.active) return 1;
    return tf.tidy(() => tf.minimum(1, tf.div(this.maxGrad, tf.add(norm, 1e-6))).reshape([1]));
  }

  /** Records the norm of step `t` (the window takes ownership of the tensor). */
  record(t: number, norm: tf.Tensor): void {
    this.#pending.push({ t, max: this.maxGrad, norm });
    if ((t + 1) % CLIP_BLOCK === 0) this.#send();
  }

  /** Starts one read of every norm still on the device. */
  #send(): void {
    const open = this.#pending.filter((p) => p.norm);
    if (!open.length) return;
    const stacked = tf.tidy(() => tf.concat(open.map((p) => p.norm!.reshape([1]))));
    const values = this.engine.read(stacked).finally(() => stacked.dispose());
    open.forEach((p, index) => {
      p.norm!.dispose();
      p.norm = undefined;
      p.read = { values, index };
    });
  }

  /** The state, with every pending norm read (async). */
  async getState(): Promise<ClipState> {
    this.#send();
    const pending: [number, number, number][] = [];
    for (const p of this.#pending) {
      if (p.read) {
        p.value = (await p.read.values)[p.read.index];
        p.read = undefined;
      }
      pending.push([p.t, p.max, p.value!]);
    }
    return { gradBuf: [...this.gradBuf], maxGrad: this.maxGrad, pending };
  }

  /** Restores {@linkcode ClipWindow.getState} (an older state without `pending` has none). */
  setState(s: Partial<ClipState>): void {
    this.dispose();
    this.gradBuf = (s.gradBuf ?? []).map(Number);
    this.maxGrad = Number(s.maxGrad ?? NO_CLIP);
    // JSON writes a non-finite norm as null: it stays non-finite (never accepted).
    this.#pending = (s.pending ?? []).map(([t, max, value]) => ({
      t: Number(t),
      max: Number(max),
      value: value === null ? NaN : Number(value),
    }));
  }

  /** Frees the norms still on the device and forgets everything. */
  dispose(): void {
    for (const p of this.#pending) p.norm?.dispose();
    this.#pending = [];
    this.gradBuf = [];
    this.maxGrad = NO_CLIP;
  }
}
