/**
 * The posterior samples of an SG-MCMC chain.
 *
 * With a `dir`, every sample is streamed to `<dir>/sample_0007.safetensors`
 * (written atomically) and only the newest `memorySamples` stay in memory;
 * older ones are read back from disk when needed. Without a `dir` all samples
 * stay in memory (small networks, tests) and travel inside the method state.
 * At most `maxSamples` are kept: collecting one more drops the oldest (as the
 * reference's `N_saves`). A dropped sample's file is deleted at the next
 * collection, i.e. after a checkpoint that no longer lists it was written, so
 * resuming from any checkpoint finds every file it lists.
 *
 * @module
 */
import { join } from "node:path";
import { decodeSafetensors, encodeSafetensors, type HostTensor } from "../../core/safetensors.ts";

/** Name and shape of each tensor of a sample. */
export type SampleLayout = { name: string; shape: number[] }[];

/** One weight sample: a Float32Array per parameter name. */
export type WeightSample = Record<string, Float32Array>;

/** Options of {@linkcode SampleStore}. */
export interface SampleStoreOptions {
  /** Tensors of a sample. */
  layout: SampleLayout;
  /** Most samples kept (oldest dropped first). */
  maxSamples: number;
  /** Samples kept in memory when streaming to `dir`. */
  memorySamples: number;
  /** Folder the samples are streamed to; none = memory only. */
  dir?: string;
}

/** What the store records about each sample. */
export interface SampleEntry {
  /** Collection counter (file number). */
  index: number;
  /** Zero-based epoch after which it was taken. */
  epoch: number;
}

/** Raised when a listed sample file is missing or does not match the network. */
export class SampleFileError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "SampleFileError";
  }
}

/** File name of sample number `index`. */
export function sampleFileName(index: number): string {
  return `sample_${String(index).padStart(4, "0")}.safetensors`;
}

/**
 * A bounded, optionally disk-backed list of weight samples.
 *
 * @example
 * ```ts
 * import { SampleStore } from "@bayes/nn/methods/sgld";
 * const store = new SampleStore({
 *   layout: [{ name: "w", shape: [2] }], maxSamples: 100, memorySamples: 10,
 * });
 * await store.add({ w: new Float32Array([1, 2]) }, 0);
 * store.get(0).w; // Float32Array [1, 2]
 * ```
 */
export class SampleStore {
  /** Options in force. */
  readonly opts: SampleStoreOptions;
  #entries: SampleEntry[] = [];
  #memory = new Map<number, WeightSample>();
  #nextIndex = 0;
  #pendingDelete: number[] = [];

  /** Creates an empty store. */
  constructor(opts: SampleStoreOptions) {
    if (!Number.isInteger(opts.maxSamples) || opts.maxSamples < 1) {
      throw new RangeError(`max_samples must be a positive integer, found ${opts.maxSamples}`);
    }
    if (!Number.isInteger(opts.memorySamples) || opts.memorySamples < 0) {
      throw new RangeError(
        `memory_samples must be a non-negative integer, found ${opts.memorySamples}`,
      );
    }
    this.opts = opts;
  }

  /** Number of samples held. */
  get count(): number {
    return this.#entries.length;
  }

  /** The samples' records, oldest first. */
  get entries(): readonly SampleEntry[] {
    return this.#entries;
  }

  /** Path of sample `index`'s file (only with a `dir`). */
  filePath(index: number): string {
    if (!this.opts.dir) throw new Error("this sample store keeps samples in memory only");
    return join(this.opts.dir, sampleFileName(index));
  }

  /** Indices of the samples currently held in memory. */
  get inMemory(): number[] {
    return [...this.#memory.keys()];
  }

  /** Adds a sample (copied by the caller: the store keeps the arrays it gets). */
  async add(sample: WeightSample, epoch: number): Promise<SampleEntry> {
    this.#checkSample(sample, "sample");
    const entry: SampleEntry = { index: this.#nextIndex++, epoch };
    if (this.opts.dir) {
      for (const idx of this.#pendingDelete) {
        await Deno.remove(this.filePath(idx)).catch(() => {});
      }
      this.#pendingDelete = [];
      await Deno.mkdir(this.opts.dir, { recursive: true });
      const path = this.filePath(entry.index);
      const tmp = `${path}.tmp-${Deno.pid}`;
      await Deno.writeFile(tmp, this.#encode(sample, entry));
      await Deno.rename(tmp, path);
    }
    this.#entries.push(entry);
    this.#memory.set(entry.index, sample);
    while (this.#entries.length > this.opts.maxSamples) {
      const old = this.#entries.shift()!;
      this.#memory.delete(old.index);
      if (this.opts.dir) this.#pendingDelete.push(old.index);
    }
    this.#trimMemory();
    return entry;
  }

  /** Sample `i` (0 = oldest held); read from disk when not in memory. */
  get(i: number): WeightSample {
    const e = this.#entries[i];
    if (!e) throw new RangeError(`sample ${i} requested, the store holds ${this.count}`);
    const mem = this.#memory.get(e.index);
    if (mem) return mem;
    return this.#read(e.index);
  }

  /**
   * The store's persistent state: its records, and (memory-only stores) the
   * samples as tensors named `sample/<index>/<param>`.
   */
  toState(): { tensors: Record<string, HostTensor>; extra: Record<string, unknown> } {
    const tensors: Record<string, HostTensor> = {};
    if (!this.opts.dir) {
      for (const e of this.#entries) {
        const s = this.#memory.get(e.index)!;
        for (const { name, shape } of this.opts.layout) {
          tensors[`sample/${e.index}/${name}`] = { data: s[name], shape };
        }
      }
    }
    return {
      tensors,
      extra: {
        entries: this.#entries.map((e) => ({ ...e })),
        nextIndex: this.#nextIndex,
        pendingDelete: [...this.#pendingDelete],
        dir: this.opts.dir ?? null,
      },
    };
  }

  /**
   * Restores a state from {@linkcode SampleStore.toState}. Disk-backed stores
   * check that every listed file exists, and load the newest into memory.
   */
  fromState(tensors: Record<string, HostTensor>, extra: Record<string, unknown>): void {
    const entries = (extra.entries ?? []) as SampleEntry[];
    this.#entries = entries.map((e) => ({ index: Number(e.index), epoch: Number(e.epoch) }));
    this.#nextIndex = Number(extra.nextIndex ?? this.#entries.length);
    this.#pendingDelete = ((extra.pendingDelete ?? []) as number[]).map(Number);
    this.#memory.clear();
    if (!this.opts.dir) {
      for (const e of this.#entries) {
        const s: WeightSample = {};
        for (const { name } of this.opts.layout) {
          const t = tensors[`sample/${e.index}/${name}`];
          if (!t) {
            throw new SampleFileError(
              `state lists sample ${e.index} but has no tensor "sample/${e.index}/${name}"` +
                (extra.dir
                  ? ` (it was saved with its samples in ${extra.dir}: pass sampleDir)`
                  : ""),
            );
          }
          s[name] = t.data;
        }
        this.#checkSample(s, `sample ${e.index}`);
        this.#memory.set(e.index, s);
      }
      return;
    }
    for (const e of this.#entries) {
      try {
        Deno.statSync(this.filePath(e.index));
      } catch {
        throw new SampleFileError(
          `sample file ${this.filePath(e.index)} listed in the saved state is missing` +
            " (if the model folder moved, pass its samples folder as sampleDir)",
        );
      }
    }
    const keep = this.#entries.slice(Math.max(0, this.count - this.opts.memorySamples));
    for (const e of keep) this.#memory.set(e.index, this.#read(e.index));
  }

  /** Forgets all samples (files are left alone). */
  clear(): void {
    this.#entries = [];
    this.#memory.clear();
    this.#nextIndex = 0;
    this.#pendingDelete = [];
  }

  #trimMemory(): void {
    if (!this.opts.dir) return;
    const keep = new Set(
      this.#entries.slice(Math.max(0, this.count - this.opts.memorySamples)).map((e) => e.index),
    );
    for (const idx of [...this.#memory.keys()]) if (!keep.has(idx)) this.#memory.delete(idx);
  }

  #encode(sample: WeightSample, e: SampleEntry): Uint8Array {
    const tensors: Record<string, HostTensor> = {};
    for (const { name, shape } of this.opts.layout) tensors[name] = { data: sample[name], shape };
    return encodeSafetensors(tensors, { index: String(e.index), epoch: String(e.epoch) });
  }

  #read(index: number): WeightSample {
    const path = this.filePath(index);
    let bytes: Uint8Array;
    try {
      bytes = Deno.readFileSync(path);
    } catch (e) {
      throw new SampleFileError(`cannot read sample file ${path}: ${(e as Error).message}`);
    }
    const { tensors } = decodeSafetensors(bytes, path);
    const s: WeightSample = {};
    for (const { name, shape } of this.opts.layout) {
      const t = tensors[name];
      if (!t || t.shape.join(",") !== shape.join(",")) {
        throw new SampleFileError(
          `${path}: tensor "${name}" ${t ? `has shape [${t.shape}]` : "is missing"}, ` +
            `expected [${shape}]`,
        );
      }
      s[name] = t.data;
    }
    return s;
  }

  #checkSample(s: WeightSample, what: string): void {
    for (const { name, shape } of this.opts.layout) {
      const size = shape.reduce((a, b) => a * b, 1);
      if (!s[name] || s[name].length !== size) {
        throw new SampleFileError(
          `${what}: tensor "${name}" needs ${size} values, found ${s[name]?.length ?? "none"}`,
        );
      }
    }
  }
}
