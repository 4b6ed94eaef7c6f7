/**
 * The parameter engine: where a method's parameters, optimizer state and
 * noise live, and how per-parameter math runs on them. Methods state their
 * math as kernels (`kernel.ts`) and call {@linkcode Engine.run}; the engine
 * of the active tfjs backend runs them:
 *
 * - the CPU engine (`cpu.ts`): compiled JavaScript loops over the tensors'
 *   own memory (the wasm heap), noise from the library's {@linkcode Rng};
 * - the WebGPU engine (`webgpu.ts`): compiled WGSL shaders on the tensors'
 *   GPU buffers, noise from Philox computed in the shaders.
 *
 * A parameter vector ({@linkcode ParamVec}) is one logical flat vector over
 * a {@linkcode Layout} (the network's weight matrices and biases in order),
 * stored as one tensor per segment, so the forward pass uses the segments
 * directly. Kernels update vectors in place; a vector's tensors are for
 * computing with, never to keep.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { Kernel } from "./kernel.ts";

/** One segment of a layout: a weight matrix, a bias vector, or a scalar. */
export interface Segment {
  /** Name, e.g. `l0.w`, `l0.b`, `log_noise`. */
  readonly name: string;
  /** Tensor shape. */
  readonly shape: readonly number[];
  /** First flat index. */
  readonly off: number;
  /** Number of values. */
  readonly size: number;
}

/**
 * The segments of a flat parameter vector, in order.
 *
 * @example
 * ```ts
 * import { Layout } from "./engine.ts";
 * const l = new Layout([{ name: "w", shape: [2, 3] }, { name: "b", shape: [3] }]);
 * l.total; // 9
 * l.get("b").off; // 6
 * ```
 */
export class Layout {
  /** The segments in order. */
  readonly segments: readonly Segment[];
  /** Total number of values. */
  readonly total: number;

  /** Creates a layout from names and shapes. */
  constructor(parts: readonly { name: string; shape: readonly number[] }[]) {
    let off = 0;
    const segs: Segment[] = [];
    const seen = new Set<string>();
    for (const p of parts) {
      if (seen.has(p.name)) throw new RangeError(`layout: segment "${p.name}" appears twice`);
      seen.add(p.name);
      const size = p.shape.reduce((a, b) => a * b, 1);
      if (!Number.isInteger(size) || size < 1) {
        throw new RangeError(`layout: segment "${p.name}" has shape [${p.shape}] with no values`);
      }
      segs.push({ name: p.name, shape: [...p.shape], off, size });
      off += size;
    }
    this.segments = segs;
    this.total = off;
  }

  /** Index of the segment called `name`; throws naming the known ones. */
  index(name: string): number {
    const i = this.segments.findIndex((s) => s.name === name);
    if (i < 0) {
      throw new RangeError(
        `no segment "${name}" (have ${this.segments.map((s) => s.name).join(", ")})`,
      );
    }
    return i;
  }

  /** The segment called `name`. */
  get(name: string): Segment {
    return this.segments[this.index(name)];
  }
}

/** A stream of random numbers on an engine (its state goes into checkpoints). */
export interface NoiseStream {
  /** The next `samples` draws of one value per parameter of `layout`, for {@linkcode Engine.run}. */
  take(layout: Layout, samples?: number, kind?: "normal" | "uniform"): NoiseBlock;
  /** A tensor of N(0, std²) draws. */
  normalTensor(shape: readonly number[], std?: number): tf.Tensor;
  /** A tensor of random signs ±1. */
  signTensor(shape: readonly number[]): tf.Tensor;
  /** A tensor whose entries are `value` with probability `p`, else 0 (dropout masks). */
  bernoulliTensor(shape: readonly number[], p: number, value: number): tf.Tensor;
  /** The stream state (small integers), for checkpoints. */
  getState(): number[];
  /** Restores a state from {@linkcode NoiseStream.getState} (of the same engine kind). */
  setState(state: readonly number[]): void;
}

/** Draws taken from a {@linkcode NoiseStream}; reused by every kernel it is given to. */
export interface NoiseBlock {
  /** Samples (draws per parameter). */
  readonly samples: number;
  /** Normal or uniform. */
  readonly kind: "normal" | "uniform";
  /** The layout's total size. */
  readonly size: number;
  /** Frees host memory the block holds (CPU); the block must not be used afterwards. */
  release(): void;
}

/** Per-parameter arrays given to a kernel: a vector, or one tensor per segment. */
export type ArrayArg = ParamVec | readonly tf.Tensor[];

/** A scalar: one number, one number per segment, or a one-element tensor on the device. */
export type ScalarArg = number | readonly number[] | tf.Tensor;

/** Arguments of {@linkcode Engine.run}, by the kernel's names. */
export interface RunArgs {
  /** Inputs, in-place vectors and (optionally) nothing for outputs. */
  arrays?: Record<string, ArrayArg | undefined>;
  /** Scalars. */
  scalars?: Record<string, ScalarArg>;
  /** Noise blocks for the kernel's normals. */
  normals?: Record<string, NoiseBlock>;
  /** Samples of the per-sample arrays and loops (default 1). */
  samples?: number;
  /** Run on these segments only (indices into the layout; default all). */
  segments?: readonly number[];
}

/** What {@linkcode Engine.run} returns. */
export interface RunResult {
  /** New tensors of each output, one per segment run (`[samples, …shape]` when per-sample). */
  outputs: Record<string, tf.Tensor[]>;
  /** `[segments run, sums]` when the kernel has sums. */
  sums?: tf.Tensor2D;
}

/** An engine: parameter storage and kernels for one tfjs backend. */
export interface Engine {
  /** `cpu` (wasm / cpu backends) or `webgpu`. */
  readonly kind: "cpu" | "webgpu";
  /** One-line description. */
  readonly label: string;
  /** Rows of inputs a prediction pass takes by default. */
  readonly predictRows: number;
  /** Runs kernel `k` over the segments of `layout`. */
  run(k: Kernel, layout: Layout, args: RunArgs): RunResult;
  /** A new vector over `layout`: host values (flat), or a constant. */
  vector(layout: Layout, init: Float32Array | number): ParamVec;
  /** A seeded random stream; `purpose` separates streams of one seed. */
  noise(seed: number, purpose: number): NoiseStream;
  /** Reads a tensor's values (a copy; never a synchronous GPU read). */
  read(t: tf.Tensor): Promise<Float32Array>;
  /** A table of rows kept where the engine computes (a training set), for minibatches. */
  rows(data: Float32Array | Int32Array, cols: number): RowStore;
  /**
   * How many posterior samples to push through one batched forward pass,
   * given the values one sample needs (CPU: 1, sequential samples keep the
   * working set in cache; GPU: as many as fit a memory budget).
   */
  samplesPerPass(samples: number, valuesPerSample: number): number;
}

/** Rows of a table held by an engine (uploaded once to a GPU). */
export interface RowStore {
  /** Number of rows. */
  readonly rows: number;
  /** Values per row. */
  readonly cols: number;
  /** The rows at `indices` as a tensor `[indices.length, cols]` (int32 data: `[indices.length]` when `cols` is 1). */
  gather(indices: Int32Array): tf.Tensor;
  /** Frees the storage. */
  dispose(): void;
}

/**
 * A flat parameter vector stored as one tensor per segment of its layout.
 * Create with {@linkcode Engine.vector}; update with {@linkcode Engine.run}.
 *
 * @example
 * ```ts
 * import { getEngine } from "./current.ts";
 * import { initBackend } from "@bayes/nn";
 * import { Layout } from "./engine.ts";
 * await initBackend({ backend: "wasm", quiet: true });
 * const v = getEngine().vector(new Layout([{ name: "w", shape: [2] }]), 0.5);
 * await v.toHost(); // Float32Array [0.5, 0.5]
 * v.dispose();
 * ```
 */
export class ParamVec {
  /** The layout. */
  readonly layout: Layout;
  /** The engine that owns the storage. */
  readonly engine: Engine;
  #tensors: tf.Tensor[];

  /** Wraps per-segment tensors (the engine's; use {@linkcode Engine.vector}). */
  constructor(engine: Engine, layout: Layout, tensors: tf.Tensor[]) {
    if (tensors.length !== layout.segments.length) {
      throw new RangeError(
        `vector: ${tensors.length} tensors for ${layout.segments.length} segments`,
      );
    }
    this.engine = engine;
    this.layout = layout;
    this.#tensors = tensors;
  }

  /** The segment tensors, to compute with (valid until the vector is updated or disposed). */
  get tensors(): readonly tf.Tensor[] {
    if (!this.#tensors.length && this.layout.segments.length) {
      throw new Error("vector was disposed");
    }
    return this.#tensors;
  }

  /** The tensor of segment `name`. */
  segment(name: string): tf.Tensor {
    return this.tensors[this.layout.index(name)];
  }

  /** Replaces the storage of segment `i` (engines without in-place access). */
  replace(i: number, t: tf.Tensor): void {
    this.#tensors[i].dispose();
    this.#tensors[i] = t;
  }

  /** All values, flat (async: never a synchronous GPU read). */
  async toHost(): Promise<Float32Array> {
    const out = new Float32Array(this.layout.total);
    const parts = await Promise.all(this.tensors.map((t) => this.engine.read(t)));
    this.layout.segments.forEach((s, i) => out.set(parts[i], s.off));
    return out;
  }

  /** Values by segment name. */
  async toSegments(): Promise<Record<string, Float32Array>> {
    const parts = await Promise.all(this.tensors.map((t) => this.engine.read(t)));
    return Object.fromEntries(this.layout.segments.map((s, i) => [s.name, parts[i]]));
  }

  /** Frees the tensors. */
  dispose(): void {
    for (const t of this.#tensors) t.dispose();
    this.#tensors = [];
  }
}
