/**
 * The CPU engine: kernels compiled to JavaScript loops that read and write
 * the tensors' own memory (the wasm heap on the `wasm` backend, the typed
 * arrays of the `cpu` backend) — no copies, no tfjs elementwise ops — and
 * noise from the library's xoshiro128** / ziggurat {@linkcode Rng}.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../rng.ts";
import type {
  ArrayArg,
  Engine,
  Layout,
  NoiseBlock,
  NoiseStream,
  RowStore,
  RunArgs,
  RunResult,
  ScalarArg,
} from "./engine.ts";
import { ParamVec } from "./engine.ts";
import type { Kernel } from "./kernel.ts";
import { compileJs, type JsKernel } from "./kernel_js.ts";
import { philoxKey, philoxNormal, philoxUniform } from "./philox.ts";
import { getPool } from "./pool.ts";
import {
  type BufRef,
  KERNEL_CHUNK,
  type KernelSeg,
  NOISE_BLOCK,
  type NoiseJob,
} from "./pool_exec.ts";

// deno-lint-ignore no-explicit-any
type AnyBackend = any;

/** Writable view of a float32 tensor's storage, or null when the backend has none. */
function storage(t: tf.TensorInfo): Float32Array | null {
  const be = tf.backend() as AnyBackend;
  const name = tf.getBackend();
  if (t.dtype !== "float32") return null;
  if (name === "wasm") return be.typedArrayFromHeap(t) as Float32Array;
  if (name === "cpu") {
    const v = be.data.get(t.dataId)?.values;
    return v instanceof Float32Array ? v : null;
  }
  return null;
}

/**
 * A new float32 tensor whose storage `fill` writes (zero copy where the
 * backend allows); without `fill`, zeros — or, with `cleared: false` (a
 * kernel output it writes whole), whatever the wasm heap held there.
 */
function newTensor(
  shape: readonly number[],
  fill?: (v: Float32Array) => void,
  cleared = true,
): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  if (tf.getBackend() === "wasm" && size > 0) {
    const be = tf.backend() as AnyBackend;
    const info = be.makeOutput([...shape], "float32");
    if (fill) fill(be.typedArrayFromHeap(info));
    // Clearing 2.4M floats costs about as much as a simple kernel's pass over them.
    else if (cleared) be.typedArrayFromHeap(info).fill(0);
    return tf.engine().makeTensorFromTensorInfo(info);
  }
  const v = new Float32Array(size);
  fill?.(v);
  return tf.tensor(v, [...shape], "float32");
}

class CpuBlock implements NoiseBlock {
  constructor(
    readonly samples: number,
    readonly kind: "normal" | "uniform",
    readonly size: number,
    public data: Float32Array | null,
    readonly pool: Float32Array[],
  ) {}
  release(): void {
    if (this.data) this.pool.push(this.data);
    this.data = null;
  }
}

/**
 * The GPU engine's Philox stream computed on the CPU (slow; tests compare the
 * two engines with it).
 */
class PhiloxCpuNoise implements NoiseStream {
  key: [number, number];
  tag: number;
  #draw = 0;
  #pool: Float32Array[] = [];
  constructor(seed: number, purpose: number) {
    this.key = philoxKey(seed, purpose);
    this.tag = purpose >>> 0;
  }
  take(layout: Layout, samples = 1, kind: "normal" | "uniform" = "normal"): NoiseBlock {
    const P = layout.total;
    const data = new Float32Array(samples * P);
    const f = kind === "normal" ? philoxNormal : philoxUniform;
    for (let s = 0; s < samples; s++) {
      for (let i = 0; i < P; i++) data[s * P + i] = f(this.key, this.tag, this.#draw + s, i);
    }
    this.#draw += samples;
    return new CpuBlock(samples, kind, P, data, this.#pool);
  }
  #tensor(shape: readonly number[], map: (u: number) => number, kind: "normal" | "uniform") {
    const layout = { total: shape.reduce((a, b) => a * b, 1) } as Layout;
    const b = this.take(layout, 1, kind) as CpuBlock;
    return newTensor(shape, (v) => v.set(b.data!.map(map)));
  }
  normalTensor(shape: readonly number[], std = 1): tf.Tensor {
    return this.#tensor(shape, (z) => std * z, "normal");
  }
  signTensor(shape: readonly number[]): tf.Tensor {
    return this.#tensor(shape, (u) => (u < 0.5 ? 1 : -1), "uniform");
  }
  bernoulliTensor(shape: readonly number[], p: number, value: number): tf.Tensor {
    return this.#tensor(shape, (u) => (u < p ? value : 0), "uniform");
  }
  /** `[key0, key1, tag, draw low, draw high]`: the whole stream. */
  getState(): number[] {
    return [...this.key, this.tag, this.#draw % 4294967296, Math.floor(this.#draw / 4294967296)];
  }
  setState(state: readonly number[]): void {
    this.key = [state[0], state[1]];
    this.tag = state[2];
    this.#draw = state[3] + state[4] * 4294967296;
  }
}

/** First word of a block stream's state (`getState`), telling it from a legacy one. */
const BLOCK_STATE_TAG = 0x424c4b31;

/**
 * The CPU noise stream: counter-based blocks of {@linkcode NOISE_BLOCK} draws
 * (see `pool_exec.ts`), filled by the worker pool; the same values for every
 * thread count. A state of 4 integers (a checkpoint written before the
 * blocks) continues that run's serial xoshiro128** stream, bitwise as before.
 */
class CpuNoise implements NoiseStream {
  #key: [number, number];
  #next = 0;
  #legacy: Rng | null = null;
  #pool: Float32Array[] = [];
  constructor(seed: number, purpose: number) {
    const r = new Rng(seed).fork(0x6e6f6973 + purpose);
    this.#key = [r.nextUint32() | 0, r.nextUint32() | 0];
  }
  /** Fills `out` from the next blocks (or the legacy stream). */
  #fill(out: Float32Array, mode: NoiseJob["mode"], a = 0, b = 0): void {
    const lg = this.#legacy;
    if (lg) {
      if (mode === "normal") lg.fillNormal(out, 0, a);
      else if (mode === "uniform") lg.fillUniform(out);
      else if (mode === "sign") lg.fillSigns(out);
      else {
        const threshold = a * 4294967296;
        for (let i = 0; i < out.length; i++) out[i] = lg.nextUint32() < threshold ? b : 0;
      }
      return;
    }
    if (out.length === 0) return;
    const job: NoiseJob = {
      t: "noise",
      mode,
      target: [0, out.byteOffset, out.length],
      key: this.#key,
      first: this.#next,
      a,
      b,
    };
    this.#next += Math.ceil(out.length / NOISE_BLOCK);
    getPool().run(job, [out.buffer]);
  }
  take(layout: Layout, samples = 1, kind: "normal" | "uniform" = "normal"): NoiseBlock {
    const n = samples * layout.total;
    const i = this.#pool.findIndex((b) => b.length === n);
    const data = i >= 0 ? this.#pool.splice(i, 1)[0] : sharedFloats(n);
    this.#fill(data, kind, 1);
    return new CpuBlock(samples, kind, layout.total, data, this.#pool);
  }
  normalTensor(shape: readonly number[], std = 1): tf.Tensor {
    return newTensor(shape, (v) => this.#fill(v, "normal", std));
  }
  signTensor(shape: readonly number[]): tf.Tensor {
    return newTensor(shape, (v) => this.#fill(v, "sign"));
  }
  bernoulliTensor(shape: readonly number[], p: number, value: number): tf.Tensor {
    return newTensor(shape, (v) => this.#fill(v, "bernoulli", p, value));
  }
  /** `[tag, key0, key1, block low, block high]`; a legacy stream: its 4 xoshiro words. */
  getState(): number[] {
    if (this.#legacy) return this.#legacy.getState();
    return [
      BLOCK_STATE_TAG,
      ...this.#key,
      this.#next % 4294967296,
      Math.floor(this.#next / 4294967296),
    ];
  }
  setState(state: readonly number[]): void {
    if (state.some((x) => !Number.isInteger(x))) {
      throw new RangeError(`CPU noise state must be integers, found ${JSON.stringify(state)}`);
    }
    if (state.length === 4) {
      // A checkpoint of the single-threaded serial stream: continue it exactly.
      this.#legacy ??= new Rng(0);
      this.#legacy.setState(state);
      return;
    }
    if (state.length !== 5 || state[0] !== BLOCK_STATE_TAG) {
      throw new RangeError(
        `CPU noise state must be [${BLOCK_STATE_TAG}, key0, key1, block low, block high] ` +
          `(or 4 integers of a legacy serial stream), found ${JSON.stringify(state)}`,
      );
    }
    this.#legacy = null;
    this.#key = [state[1] | 0, state[2] | 0];
    this.#next = state[3] + state[4] * 4294967296;
  }
}

/** A Float32Array over shared memory where the platform has it (the pool's workers can fill it). */
function sharedFloats(n: number): Float32Array {
  return typeof SharedArrayBuffer === "function"
    ? new Float32Array(new SharedArrayBuffer(4 * Math.max(n, 1)), 0, n)
    : new Float32Array(n);
}

const compiled = new WeakMap<Kernel, Map<string, JsKernel>>();

function compiledFor(k: Kernel, present: Set<string>, samples: number): JsKernel {
  let m = compiled.get(k);
  if (!m) compiled.set(k, m = new Map());
  // Few samples: a variant with the sample loops unrolled (much faster in V8).
  const unroll = k.usesSamples && samples <= 4 ? samples : undefined;
  const key = [...present].sort().join(",") + "|" + (unroll ?? "");
  let c = m.get(key);
  if (!c) m.set(key, c = compileJs(k, present, { samples: unroll }));
  return c;
}

function tensorsOf(a: ArrayArg): readonly tf.Tensor[] {
  return a instanceof ParamVec ? a.tensors : a;
}

function scalarValue(v: ScalarArg, seg: number, name: string): number {
  if (typeof v === "number") return v;
  if (Array.isArray(v)) {
    const x = (v as readonly number[])[seg];
    if (typeof x !== "number") {
      throw new RangeError(`scalar "${name}" has no value for segment ${seg}`);
    }
    return x;
  }
  const view = storage(v as tf.Tensor);
  if (!view) return (v as tf.Tensor).dataSync()[0];
  return view[0];
}

/** The CPU implementation of {@linkcode Engine}. */
export class CpuEngine implements Engine {
  readonly kind = "cpu" as const;
  readonly label: string;
  /** Row chunks small enough that a layer's activations stay in cache. */
  readonly predictRows = 2000;
  readonly #philox: boolean;

  /**
   * Creates the engine for the active backend. `noise: "philox"` draws the
   * WebGPU engine's random numbers instead of the fast ziggurat (slow: for
   * comparing the engines).
   */
  constructor(opts: { noise?: "rng" | "philox" } = {}) {
    this.label = `cpu engine on tfjs ${tf.getBackend()}`;
    this.#philox = opts.noise === "philox";
  }

  run(k: Kernel, layout: Layout, args: RunArgs): RunResult {
    const samples = args.samples ?? 1;
    if (!Number.isInteger(samples) || samples < 1) {
      throw new RangeError(
        `kernel ${k.spec.name}: samples must be an integer ≥ 1, found ${samples}`,
      );
    }
    const segIdx = args.segments ?? layout.segments.map((_, i) => i);
    const arrays = args.arrays ?? {};
    const present = new Set(
      k.args.filter((a) => a.optional && arrays[a.name] !== undefined).map((a) => a.name),
    );
    const c = compiledFor(k, present, samples);
    // Allocate every output first: allocating can move the wasm heap, invalidating views.
    const outputs: Record<string, tf.Tensor[]> = {};
    for (const a of k.args) {
      if (a.kind !== "output") continue;
      outputs[a.name] = segIdx.map((i) => {
        const shape = layout.segments[i].shape;
        return newTensor(
          a.perSample ? [samples, ...shape] : shape,
          undefined,
          !k.writesAll.has(a.name),
        );
      });
    }
    const lists: Record<string, readonly tf.Tensor[]> = {};
    for (const name of c.arrays) {
      const spec = k.args.find((a) => a.name === name)!;
      if (spec.kind === "output") continue;
      const a = arrays[name];
      if (a === undefined) throw new RangeError(`kernel ${k.spec.name}: missing array "${name}"`);
      const ts = tensorsOf(a);
      if (ts.length !== layout.segments.length) {
        throw new RangeError(
          `kernel ${k.spec.name}: "${name}" has ${ts.length} tensors, the layout ${layout.segments.length} segments`,
        );
      }
      lists[name] = ts;
    }
    const blocks: CpuBlock[] = c.normals.map((name) => {
      const b = args.normals?.[name] as CpuBlock | undefined;
      if (!b) throw new RangeError(`kernel ${k.spec.name}: missing noise block "${name}"`);
      if (!b.data) throw new Error(`kernel ${k.spec.name}: noise block "${name}" was released`);
      if (b.size !== layout.total) {
        throw new RangeError(
          `kernel ${k.spec.name}: noise block "${name}" covers ${b.size} values, the layout ${layout.total}`,
        );
      }
      const spec = k.args.find((x) => x.name === name)!;
      if (spec.kind !== b.kind) {
        throw new RangeError(
          `kernel ${k.spec.name}: "${name}" needs ${spec.kind} draws, found ${b.kind}`,
        );
      }
      const perSample = spec.perSample;
      if (perSample ? b.samples < samples : b.samples < 1) {
        throw new RangeError(`kernel ${k.spec.name}: noise block "${name}" has too few samples`);
      }
      return b;
    });
    const scalars = args.scalars ?? {};
    for (const s of c.scalars) {
      if (scalars[s] === undefined) {
        throw new RangeError(`kernel ${k.spec.name}: missing scalar "${s}"`);
      }
    }
    const fallback: { name: string; seg: number; values: Float32Array }[] = [];
    const buffers: ArrayBufferLike[] = [];
    const ref = (v: Float32Array): BufRef => {
      let b = buffers.indexOf(v.buffer);
      if (b < 0) b = buffers.push(v.buffer) - 1;
      return [b, v.byteOffset, v.length];
    };
    const segs: KernelSeg[] = [];
    const chunks: number[] = [];
    segIdx.forEach((si, r) => {
      const seg = layout.segments[si];
      const call: KernelSeg = { n: seg.size, arrays: [], normals: [], scalars: [] };
      for (const name of c.arrays) {
        const t = name in outputs ? outputs[name][r] : lists[name][si];
        const expected = k.args.find((a) => a.name === name)!.perSample
          ? samples * seg.size
          : seg.size;
        if (t.size !== expected) {
          throw new RangeError(
            `kernel ${k.spec.name}: "${name}" segment ${seg.name} has ${t.size} values, expected ${expected}`,
          );
        }
        let view = storage(t);
        if (!view) {
          view = Float32Array.from(t.dataSync() as Float32Array);
          fallback.push({ name, seg: si, values: view });
        }
        call.arrays.push(ref(view));
      }
      for (const b of blocks) call.normals.push([ref(b.data!), seg.off, layout.total]);
      for (const s of c.scalars) call.scalars.push(scalarValue(scalars[s], si, s));
      segs.push(call);
      for (let i0 = 0; i0 < seg.size; i0 += KERNEL_CHUNK) {
        chunks.push(r, i0, Math.min(seg.size, i0 + KERNEL_CHUNK));
      }
    });
    const nsums = k.sums.length;
    const chunkSums = getPool().run(
      { t: "kernel", source: c.source, reps: samples, segs, chunks, nsums },
      buffers,
    );
    // Sums: each segment's chunk sums added in chunk order (the same for every thread count).
    const sums = new Float64Array(segIdx.length * nsums);
    if (chunkSums) {
      for (let ch = 0; ch < chunks.length / 3; ch++) {
        const r = chunks[3 * ch];
        for (let q = 0; q < nsums; q++) sums[r * nsums + q] += chunkSums[ch * nsums + q];
      }
    }
    // Backends without writable storage (e.g. tfjs-node): write results back as new tensors.
    for (const f of fallback) {
      const spec = k.args.find((a) => a.name === f.name)!;
      if (spec.kind === "input") continue;
      const a = arrays[f.name];
      if (spec.kind === "inout" && !(a instanceof ParamVec)) {
        throw new Error(
          `kernel ${k.spec.name}: "${f.name}" must be a ParamVec on backend ${tf.getBackend()}`,
        );
      }
      const shape = layout.segments[f.seg].shape;
      if (spec.kind === "inout") (a as ParamVec).replace(f.seg, tf.tensor(f.values, [...shape]));
    }
    const res: RunResult = { outputs };
    if (nsums) res.sums = tf.tensor2d(Float32Array.from(sums), [segIdx.length, nsums]);
    return res;
  }

  vector(layout: Layout, init: Float32Array | number): ParamVec {
    if (typeof init !== "number" && init.length !== layout.total) {
      throw new RangeError(`vector: ${init.length} values for a layout of ${layout.total}`);
    }
    const ts = layout.segments.map((s) =>
      tf.keep(newTensor(s.shape, (v) => {
        if (typeof init === "number") v.fill(init);
        else v.set(init.subarray(s.off, s.off + s.size));
      }))
    );
    return new ParamVec(this, layout, ts);
  }

  noise(seed: number, purpose: number): NoiseStream {
    return this.#philox ? new PhiloxCpuNoise(seed, purpose) : new CpuNoise(seed, purpose);
  }

  read(t: tf.Tensor): Promise<Float32Array> {
    const view = storage(t);
    if (view) return Promise.resolve(view.slice());
    return Promise.resolve(Float32Array.from(t.dataSync() as ArrayLike<number>));
  }

  rows(data: Float32Array | Int32Array, cols: number): RowStore {
    const rows = data.length / cols;
    if (!Number.isInteger(rows)) {
      throw new RangeError(`rows: ${data.length} values do not make rows of ${cols}`);
    }
    return {
      rows,
      cols,
      gather(indices: Int32Array): tf.Tensor {
        const n = indices.length;
        if (data instanceof Int32Array) {
          const out = new Int32Array(n * cols);
          for (let r = 0; r < n; r++) {
            out.set(data.subarray(indices[r] * cols, (indices[r] + 1) * cols), r * cols);
          }
          return cols === 1 ? tf.tensor1d(out, "int32") : tf.tensor2d(out, [n, cols], "int32");
        }
        return newTensor([n, cols], (v) => {
          for (let r = 0; r < n; r++) {
            const i = indices[r];
            v.set(data.subarray(i * cols, (i + 1) * cols), r * cols);
          }
        });
      },
      dispose() {},
    };
  }

  samplesPerPass(_samples: number, _valuesPerSample: number): number {
    return 1;
  }
}
