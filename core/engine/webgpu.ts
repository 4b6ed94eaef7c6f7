/**
 * The WebGPU engine: kernels compiled to WGSL and dispatched on the GPU
 * buffers of tfjs-webgpu tensors, in place, recorded into tfjs's own command
 * encoder (so they are ordered with tfjs's kernels and submitted with them);
 * random numbers from Philox computed inside the shaders.
 *
 * tfjs-webgpu's custom-program interface binds inputs read-only and has one
 * output, which cannot express in-place updates of several state buffers
 * (parameters, momenta, Adam moments) in one dispatch; so this engine builds
 * its own pipelines on tfjs's `GPUDevice`. It relies on the backend's
 * fields of tfjs-backend-webgpu 4.22 (`tensorMap`, `commandEncoder`,
 * `computePassEncoder`, `bufferManager`), pinned in `deno.json`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type {
  Engine,
  NoiseBlock,
  NoiseStream,
  RowStore,
  RunArgs,
  RunResult,
  ScalarArg,
} from "./engine.ts";
import { sumRows } from "../fused_kernels.ts";
import { Layout, ParamVec } from "./engine.ts";
import { defineKernel, type Kernel } from "./kernel.ts";
import { compileWgsl, type WgslKernel, WORKGROUP } from "./kernel_wgsl.ts";
import { philoxKey } from "./philox.ts";

// deno-lint-ignore no-explicit-any
type Backend = any;

/** Most workgroups a dispatch launches (threads then stride over the rest). */
const MAX_WORKGROUPS = 4096;
/** Workgroups per segment of a kernel with sums (one partial each). */
const SUM_WORKGROUPS = 256;
/** Buffers a row table may span (binding limit). */
const MAX_SHARDS = 8;
/** Most segments one dispatch covers (each adds a copy of the loop to the shader). */
const MAX_SEGMENTS = 8;
/** Values a batched forward pass may hold per sample chunk (floats). */
const PASS_BUDGET = 64 * 2 ** 20;

/** Raised on a read after the WebGPU device reported errors (results would be wrong). */
export class WebGpuDeviceError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "WebGpuDeviceError";
  }
}

class GpuBlock implements NoiseBlock {
  constructor(
    readonly samples: number,
    readonly kind: "normal" | "uniform",
    readonly size: number,
    readonly key: [number, number],
    readonly tag: number,
    readonly base: number,
  ) {}
  release(): void {}
}

const NORMAL_T = defineKernel({
  name: "normal_tensor",
  outputs: ["o"],
  normals: ["z"],
  scalars: ["sd"],
  body: "o = sd * z;",
});
const SIGN_T = defineKernel({
  name: "sign_tensor",
  outputs: ["o"],
  uniforms: ["u"],
  body: "o = select(-1, 1, u < 0.5);",
});
const BERNOULLI_T = defineKernel({
  name: "bernoulli_tensor",
  outputs: ["o"],
  uniforms: ["u"],
  scalars: ["p", "value"],
  body: "o = select(0, value, u < p);",
});

class GpuNoise implements NoiseStream {
  key: [number, number];
  tag: number;
  #draw = 0;
  constructor(readonly engine: WebGpuEngine, seed: number, purpose: number) {
    this.key = philoxKey(seed, purpose);
    this.tag = purpose >>> 0;
  }
  take(layout: Layout, samples = 1, kind: "normal" | "uniform" = "normal"): NoiseBlock {
    const b = new GpuBlock(samples, kind, layout.total, this.key, this.tag, this.#draw);
    this.#draw += samples;
    return b;
  }
  #tensor(k: Kernel, shape: readonly number[], kind: "normal" | "uniform", scalars = {}) {
    const layout = new Layout([{ name: "t", shape }]);
    const block = this.take(layout, 1, kind);
    const name = kind === "normal" ? "z" : "u";
    return this.engine.run(k, layout, { normals: { [name]: block }, scalars }).outputs.o[0];
  }
  normalTensor(shape: readonly number[], std = 1): tf.Tensor {
    return this.#tensor(NORMAL_T, shape, "normal", { sd: std });
  }
  signTensor(shape: readonly number[]): tf.Tensor {
    return this.#tensor(SIGN_T, shape, "uniform");
  }
  bernoulliTensor(shape: readonly number[], p: number, value: number): tf.Tensor {
    return this.#tensor(BERNOULLI_T, shape, "uniform", { p, value });
  }
  /** `[key0, key1, tag, draw low, draw high]`: the whole stream. */
  getState(): number[] {
    return [...this.key, this.tag, this.#draw % 4294967296, Math.floor(this.#draw / 4294967296)];
  }
  setState(state: readonly number[]): void {
    if (state.length !== 5 || state.some((x) => !Number.isInteger(x) || x < 0 || x > 0xffffffff)) {
      throw new RangeError(
        `GPU noise state must be 5 unsigned 32-bit integers (key, tag, draw counter), found ${
          JSON.stringify(state)
        }`,
      );
    }
    this.key = [state[0], state[1]];
    this.tag = state[2];
    this.#draw = state[3] + state[4] * 4294967296;
  }
}

interface Compiled {
  wgsl: WgslKernel;
  pipeline: GPUComputePipeline;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

/** The WebGPU implementation of {@linkcode Engine}. */

export class WebGpuEngine implements Engine {
  readonly kind = "webgpu" as const;
  readonly label: string;
  /** Whole test sets at once: fewer, larger dispatches. */
  readonly predictRows = 16384;
  readonly #be: Backend;
  readonly #device: GPUDevice;
  readonly #cache = new WeakMap<Kernel, Map<string, Compiled>>();
  readonly #gathers = new Map<number, GPUComputePipeline>();
  readonly #programs = new Map<string, GPUComputePipeline>();
  /** Dispatches recorded by this engine (for benchmarks). */
  dispatches = 0;
  /** Errors the device reported since the last read (validation, out of memory). */
  readonly #errors: string[] = [];

  constructor() {
    this.#be = tf.backend() as Backend;
    this.#device = this.#be.device as GPUDevice;
    // A dispatch that fails validation (a buffer over a binding limit) or runs out of memory
    // raises no exception: it leaves stale or zero values. Every read checks for such errors.
    this.#device.addEventListener("uncapturederror", (e) => {
      this.#errors.push((e as GPUUncapturedErrorEvent).error.message);
    });
    const info = this.#be.adapterInfo ?? {};
    this.label = `webgpu engine on ${info.description || info.vendor || "a WebGPU adapter"}`;
  }

  #compiled(k: Kernel, present: Set<string>, dev: Set<string>, segments: number): Compiled {
    let m = this.#cache.get(k);
    if (!m) this.#cache.set(k, m = new Map());
    const key = [...present].sort().join(",") + "|" + [...dev].sort().join(",") + "|" + segments;
    let c = m.get(key);
    if (!c) {
      const wgsl = compileWgsl(k, present, dev, segments);
      m.set(key, c = { wgsl, pipeline: this.pipeline(wgsl.code) });
    }
    return c;
  }

  /** Segments one dispatch of `k` may cover: the storage buffers it binds stay within the limit. */
  #segmentsPerDispatch(k: Kernel, present: Set<string>, dev: Set<string>): number {
    const perSegment = boundArrays(k, present).length;
    const fixed = dev.size + (k.sums.length ? 1 : 0);
    const limit = Number(this.#device.limits.maxStorageBuffersPerShaderStage);
    const fit = Math.floor((limit - fixed) / Math.max(1, perSegment));
    return Math.max(1, Math.min(MAX_SEGMENTS, fit));
  }

  /** The GPU buffer of a tensor (uploading host values first). */
  buffer(t: tf.TensorInfo): GPUBuffer {
    const be = this.#be;
    be.uploadToGPU(t.dataId);
    return be.tensorMap.get(t.dataId).resource as GPUBuffer;
  }

  /** A new float32 tensor with a GPU buffer (contents undefined until written). */
  newTensor(shape: readonly number[]): tf.Tensor {
    const info = this.#be.makeTensorInfo([...shape], "float32");
    this.#be.uploadToGPU(info.dataId);
    return tf.engine().makeTensorFromTensorInfo(info);
  }

  /**
   * A compute pipeline for WGSL `code` (entry point `main`, bindings in
   * group 0 as the code declares them), compiled once per text: for small
   * programs of the library's own that tfjs's one-output programs cannot
   * express, dispatched with {@linkcode WebGpuEngine.dispatch}.
   */
  pipeline(code: string): GPUComputePipeline {
    let p = this.#programs.get(code);
    if (!p) {
      // WebGPU leaves a binding the shader never uses out of the "auto" layout; binding it then
      // fails validation, which drops the dispatch without an exception (outputs keep old data).
      const declared = [...code.matchAll(/@binding\(\d+\)\s*var(?:<[^>]*>)?\s+(\w+)/g)]
        .map((m) => m[1]);
      const unused = declared.filter((n) =>
        (code.match(new RegExp(`\\b${n}\\b`, "g")) ?? []).length < 2
      );
      if (unused.length) {
        throw new Error(
          `WebGPU program declares binding(s) ${unused.join(", ")} that it never uses`,
        );
      }
      const module = this.#device.createShaderModule({ code });
      p = this.#device.createComputePipeline({
        layout: "auto",
        compute: { module, entryPoint: "main" },
      });
      this.#programs.set(code, p);
    }
    return p;
  }

  /** Records one dispatch into tfjs's command stream. */
  dispatch(
    pipeline: GPUComputePipeline,
    entries: { buffer: GPUBuffer; owner?: tf.TensorInfo }[],
    workgroups: number,
  ): void {
    const be = this.#be;
    for (const e of entries) if (e.owner) be.commandQueueOwnedIds.add(e.owner.dataId);
    const bindGroup = this.#device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: entries.map((e, i) => ({ binding: i, resource: { buffer: e.buffer } })),
    });
    be.ensureCommandEncoderReady();
    if (!be.computePassEncoder) be.computePassEncoder = be.commandEncoder.beginComputePass({});
    be.computePassEncoder.setPipeline(pipeline);
    be.computePassEncoder.setBindGroup(0, bindGroup);
    be.computePassEncoder.dispatchWorkgroups(workgroups);
    this.dispatches++;
    be.dispatchCountInPass++;
    if (be.dispatchCountInPass >= tf.env().getNumber("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE")) {
      be.endComputePassEncoder();
      be.submitQueue();
    }
  }

  /** A uniform buffer holding `words` (released with tfjs's next submit). */
  uniform(words: ArrayBuffer): GPUBuffer {
    const be = this.#be;
    const size = Math.max(16, Math.ceil(words.byteLength / 16) * 16);
    const buf = be.bufferManager.acquireBuffer(
      size,
      GPUBufferUsage.COPY_DST | GPUBufferUsage.UNIFORM,
    ) as GPUBuffer;
    be.queue.writeBuffer(buf, 0, words);
    be.uniformPendingDisposal.push(buf);
    return buf;
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
    const scalars = args.scalars ?? {};
    const present = new Set(
      k.args.filter((a) => a.optional && arrays[a.name] !== undefined).map((a) => a.name),
    );
    const dev = new Set(
      k.scalars.filter((s) =>
        scalars[s] !== undefined && typeof scalars[s] === "object" &&
        !Array.isArray(scalars[s])
      ),
    );
    const perDispatch = this.#segmentsPerDispatch(k, present, dev);
    for (const s of k.scalars) {
      if (scalars[s] === undefined) {
        throw new RangeError(`kernel ${k.spec.name}: missing scalar "${s}"`);
      }
    }
    const outputs: Record<string, tf.Tensor[]> = {};
    for (const a of k.args) {
      if (a.kind !== "output") continue;
      outputs[a.name] = segIdx.map((i) => {
        const shape = layout.segments[i].shape;
        return this.newTensor(a.perSample ? [samples, ...shape] : shape);
      });
    }
    const lists: Record<string, readonly tf.Tensor[]> = {};
    for (const a of boundArrays(k, present)) {
      if (a.name in outputs) continue;
      const v = arrays[a.name];
      if (v === undefined) throw new RangeError(`kernel ${k.spec.name}: missing array "${a.name}"`);
      const ts = v instanceof ParamVec ? v.tensors : v as readonly tf.Tensor[];
      if (ts.length !== layout.segments.length) {
        throw new RangeError(
          `kernel ${k.spec.name}: "${a.name}" has ${ts.length} tensors, the layout ${layout.segments.length} segments`,
        );
      }
      lists[a.name] = ts;
    }
    const blocks = new Map<string, GpuBlock>();
    for (const a of k.args) {
      if (a.kind !== "normal" && a.kind !== "uniform") continue;
      const b = args.normals?.[a.name] as GpuBlock | undefined;
      if (!b) throw new RangeError(`kernel ${k.spec.name}: missing noise block "${a.name}"`);
      if (b.kind !== a.kind) {
        throw new RangeError(
          `kernel ${k.spec.name}: "${a.name}" needs ${a.kind} draws, found ${b.kind}`,
        );
      }
      if (b.size !== layout.total || (a.perSample && b.samples < samples)) {
        throw new RangeError(
          `kernel ${k.spec.name}: noise block "${a.name}" does not cover the run`,
        );
      }
      blocks.set(a.name, b);
    }
    const sumCount = k.sums.length;
    const wgSum = Math.min(
      SUM_WORKGROUPS,
      Math.ceil(Math.max(...segIdx.map((i) => layout.segments[i].size)) / WORKGROUP),
    );
    const partials = sumCount ? this.newTensor([segIdx.length * wgSum * sumCount]) : undefined;
    // Consecutive segments in groups, one dispatch each.
    for (let first = 0; first < segIdx.length; first += perDispatch) {
      const group = segIdx.slice(first, first + perDispatch);
      const { wgsl, pipeline } = this.#compiled(k, present, dev, group.length);
      const wcount = group.map((si) =>
        sumCount ? wgSum : Math.min(MAX_WORKGROUPS, Math.ceil(layout.segments[si].size / WORKGROUP))
      );
      const wstart = wcount.map((_, g) => wcount.slice(0, g).reduce((x, y) => x + y, 0));
      const words = new ArrayBuffer(4 * wgsl.uniforms.length);
      const u32 = new Uint32Array(words), f32 = new Float32Array(words);
      wgsl.uniforms.forEach((f, j) => {
        switch (f.role) {
          case "reps":
            u32[j] = samples;
            break;
          case "n":
            u32[j] = layout.segments[group[f.seg]].size;
            break;
          case "goff":
            u32[j] = layout.segments[group[f.seg]].off;
            break;
          case "pbase":
            u32[j] = (first + f.seg) * wgSum * sumCount;
            break;
          case "wstart":
            u32[j] = wstart[f.seg];
            break;
          case "wcount":
            u32[j] = wcount[f.seg];
            break;
          case "noise": {
            const b = blocks.get(f.arg)!;
            u32[j] = f.field === "k0"
              ? b.key[0]
              : f.field === "k1"
              ? b.key[1]
              : f.field === "tag"
              ? b.tag
              : f.field === "dlo"
              ? b.base % 4294967296
              : Math.floor(b.base / 4294967296);
            break;
          }
          case "scalar":
            f32[j] = scalarValue(scalars[f.arg], group[f.seg], f.arg);
        }
      });
      const entries: {
        buffer: GPUBuffer;
        owner?: tf.TensorInfo;
        write?: boolean;
        name?: string;
      }[] = [{ buffer: this.uniform(words) }];
      group.forEach((si, g) => {
        const seg = layout.segments[si];
        const r = first + g;
        for (const a of wgsl.arrays) {
          const t = a.name in outputs ? outputs[a.name][r] : lists[a.name][si];
          const perSample = k.args.find((x) => x.name === a.name)!.perSample;
          const expected = perSample ? samples * seg.size : seg.size;
          if (t.size !== expected) {
            throw new RangeError(
              `kernel ${k.spec.name}: "${a.name}" segment ${seg.name} has ${t.size} values, expected ${expected}`,
            );
          }
          entries.push({ buffer: this.buffer(t), owner: t, write: a.write, name: a.name });
        }
      });
      for (const s of wgsl.deviceScalars) {
        const t = scalars[s] as tf.Tensor;
        entries.push({ buffer: this.buffer(t), owner: t, name: s });
      }
      if (partials) entries.push({ buffer: this.buffer(partials), owner: partials, write: true });
      checkAliasing(k.spec.name, entries);
      this.dispatch(pipeline, entries, wstart[group.length - 1] + wcount[group.length - 1]);
      // Values tfjs may have cached on the host are stale now.
      for (const e of entries) {
        if (e.write && e.owner) this.#be.tensorMap.get(e.owner.dataId).values = null;
      }
    }
    const res: RunResult = { outputs };
    if (partials) {
      // One program sums each segment's workgroup partials (tfjs's sum transposes first: two).
      res.sums = tf.tidy(() =>
        sumRows(partials.reshape([segIdx.length, wgSum, sumCount]), [segIdx.length, sumCount])
      ) as tf.Tensor2D;
      partials.dispose();
    }
    return res;
  }

  vector(layout: Layout, init: Float32Array | number): ParamVec {
    if (typeof init !== "number" && init.length !== layout.total) {
      throw new RangeError(`vector: ${init.length} values for a layout of ${layout.total}`);
    }
    const limit = Number(this.#device.limits.maxStorageBufferBindingSize);
    const big = layout.segments.find((s) => s.size * 4 > limit);
    if (big) {
      throw new WebGpuDeviceError(
        `parameter ${big.name} [${big.shape.join("×")}] needs ${mib(big.size * 4)} in one ` +
          `buffer; this WebGPU adapter binds at most ${mib(limit)} ` +
          `(maxStorageBufferBindingSize): use narrower layers or a larger GPU`,
      );
    }
    const ts = layout.segments.map((s) => {
      const t = typeof init === "number"
        ? tf.fill([...s.shape], init, "float32")
        : tf.tensor(init.slice(s.off, s.off + s.size), [...s.shape], "float32");
      return tf.keep(t);
    });
    return new ParamVec(this, layout, ts);
  }

  noise(seed: number, purpose: number): NoiseStream {
    return new GpuNoise(this, seed, purpose);
  }

  async read(t: tf.Tensor): Promise<Float32Array> {
    const td = this.#be.tensorMap.get(t.dataId);
    if (td.values != null && td.resource == null) return Float32Array.from(td.values);
    const ab: ArrayBuffer = await this.#be.getBufferData(td.resource);
    if (this.#errors.length) {
      const errors = this.#errors.splice(0);
      throw new WebGpuDeviceError(
        `the WebGPU device reported ${errors.length} error(s) before this read, so the values ` +
          `are not trustworthy (the network or batch may be too large for this adapter); ` +
          `the first: ${errors[0].split("\n")[0]}`,
      );
    }
    if (t.dtype === "int32" || t.dtype === "bool") {
      return Float32Array.from(new Int32Array(ab, 0, t.size));
    }
    return new Float32Array(ab, 0, t.size).slice();
  }

  rows(data: Float32Array | Int32Array, cols: number): RowStore {
    const rows = data.length / cols;
    if (!Number.isInteger(rows) || rows < 1) {
      throw new RangeError(`rows: ${data.length} values do not make rows of ${cols}`);
    }
    const limit = this.#device.limits.maxStorageBufferBindingSize;
    const shardRows = Math.max(1, Math.floor(limit / (4 * cols)));
    const nShards = Math.ceil(rows / shardRows);
    if (nShards > MAX_SHARDS) {
      throw new RangeError(
        `rows: ${rows} rows of ${cols} values (${(data.length * 4 / 2 ** 20).toFixed(0)} MiB) ` +
          `need ${nShards} buffers of at most ${
            (limit / 2 ** 20).toFixed(0)
          } MiB on this adapter; ` +
          `at most ${MAX_SHARDS} are supported`,
      );
    }
    const dtype = data instanceof Int32Array ? "int32" : "float32";
    const shards = Array.from({ length: nShards }, (_, k) => {
      const r = Math.min(shardRows, rows - k * shardRows);
      const part = data.subarray(k * shardRows * cols, (k * shardRows + r) * cols);
      return tf.keep(tf.tensor(part, [r, cols], dtype));
    });
    const pipeline = this.#gatherPipeline(nShards);
    return {
      rows,
      cols,
      gather: (indices: Int32Array): tf.Tensor => {
        const n = indices.length;
        for (let i = 0; i < n; i++) {
          if (!(indices[i] >= 0 && indices[i] < rows)) {
            throw new RangeError(`rows: index ${indices[i]} is outside [0, ${rows})`);
          }
        }
        const idx = tf.tensor1d(indices, "int32");
        const shape = dtype === "int32" && cols === 1 ? [n] : [n, cols];
        const info = this.#be.makeTensorInfo(shape, dtype);
        this.#be.uploadToGPU(info.dataId);
        const out = tf.engine().makeTensorFromTensorInfo(info);
        const words = new Uint32Array([cols, n * cols, shardRows, 0]);
        this.dispatch(pipeline, [
          { buffer: this.uniform(words.buffer) },
          { buffer: this.buffer(out), owner: out },
          { buffer: this.buffer(idx), owner: idx },
          ...shards.map((t) => ({ buffer: this.buffer(t), owner: t })),
        ], Math.min(MAX_WORKGROUPS, Math.ceil((n * cols) / WORKGROUP)));
        idx.dispose();
        return out;
      },
      dispose: () => tf.dispose(shards),
    };
  }

  #gatherPipeline(nShards: number): GPUComputePipeline {
    let p = this.#gathers.get(nShards);
    if (!p) {
      const shardDecl = Array.from(
        { length: nShards },
        (_, k) => `@group(0) @binding(${3 + k}) var<storage, read> s${k}: array<u32>;`,
      ).join("\n");
      const pick = Array.from({ length: nShards }, (_, k) => `if (sh == ${k}u) { v = s${k}[j]; }`)
        .join(" else ");
      const code = `
struct U { cols: u32, total: u32, shardRows: u32, pad: u32 }
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<storage, read> idx: array<i32>;
${shardDecl}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * ${WORKGROUP}u;
  for (var e: u32 = gid.x; e < u.total; e = e + stride) {
    let r = e / u.cols;
    let c = e - r * u.cols;
    let row = u32(idx[r]);
    let sh = row / u.shardRows;
    let j = (row - sh * u.shardRows) * u.cols + c;
    var v = 0u;
    ${pick}
    out[e] = v;
  }
}`;
      p = this.pipeline(code);
      this.#gathers.set(nShards, p);
    }
    return p;
  }

  samplesPerPass(samples: number, valuesPerSample: number): number {
    // Each tensor of a pass (e.g. the [k, rows, width] activations) is bound whole by tfjs's
    // kernels: beyond the device's binding limit a dispatch fails validation and leaves stale
    // or zero values (llvmpipe: 128 MiB, 32 Mi floats), so the budget never exceeds it.
    const binding = Math.floor(Number(this.#device.limits.maxStorageBufferBindingSize) / 4);
    const budget = Math.min(PASS_BUDGET, binding);
    return Math.max(1, Math.min(samples, Math.floor(budget / Math.max(1, valuesPerSample))));
  }
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
  throw new Error(`scalar "${name}" is a device tensor: it is bound, not a uniform`);
}

/** The arrays a dispatch binds for each segment (as `compileWgsl` orders them). */
function boundArrays(k: Kernel, present: ReadonlySet<string>) {
  return k.args.filter((a) =>
    a.kind !== "normal" && a.kind !== "uniform" && (!a.optional || present.has(a.name))
  );
}

function checkAliasing(
  kernel: string,
  entries: { buffer: GPUBuffer; write?: boolean; name?: string }[],
): void {
  for (let i = 0; i < entries.length; i++) {
    for (let j = i + 1; j < entries.length; j++) {
      if (entries[i].buffer === entries[j].buffer && (entries[i].write || entries[j].write)) {
        throw new RangeError(
          `kernel ${kernel}: "${entries[i].name}" and "${entries[j].name}" are the same tensor, ` +
            "and one of them is written",
        );
      }
    }
  }
}
