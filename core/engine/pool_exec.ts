/**
 * What one thread of the CPU engine does with one chunk of a job: the code
 * shared by the main thread and the pool's workers (`pool.ts`,
 * `pool_worker.ts`). A job is plain data (structured-cloneable): buffers
 * (the wasm heap's SharedArrayBuffer, noise blocks) referenced by index,
 * compiled kernel source, and a fixed chunking that does not depend on the
 * thread count — so every thread count computes the same numbers.
 *
 * Noise: a counter-based stream. Block `j` of {@linkcode NOISE_BLOCK} values
 * is drawn by xoshiro128** (ziggurat normals) seeded from the stream's key
 * and `j` alone, so blocks can be filled on any thread in any order.
 *
 * @module
 */
import { CBLAS, SGEMM_SYMBOL } from "../blas.ts";
import { Rng } from "../rng.ts";
import { makeKernelFn } from "./kernel_js.ts";

/** Values per noise block (part of the noise stream's definition: never change it). */
export const NOISE_BLOCK = 16384;
/** Parameters per kernel chunk (any value gives the same results, except sums' rounding). */
export const KERNEL_CHUNK = 32768;

/** A typed-array window into one of a job's buffers: `[buffer index, byte offset, length]`. */
export type BufRef = readonly [number, number, number];

/** One segment's call of a compiled kernel. */
export interface KernelSeg {
  /** Parameters in the segment. */
  n: number;
  /** Arrays in the kernel's argument order. */
  arrays: BufRef[];
  /** Noise arguments: block data, offset of the segment, per-sample stride. */
  normals: [BufRef, number, number][];
  /** Scalars in the kernel's order. */
  scalars: number[];
}

/** Runs a compiled kernel over chunks `[i0, i1)` of segments. */
export interface KernelJob {
  t: "kernel";
  /** The compiled loop's source (`JsKernel.source`). */
  source: string;
  reps: number;
  segs: KernelSeg[];
  /** Chunks as triples (segment, i0, i1). */
  chunks: number[];
  nsums: number;
}

/** Fills `len` values at a buffer window with blocks `first, first+1, …` of a noise stream. */
export interface NoiseJob {
  t: "noise";
  mode: "normal" | "uniform" | "bernoulli" | "sign";
  target: BufRef;
  key: readonly [number, number];
  /** Counter of the first block. */
  first: number;
  /** normal: std; bernoulli: p. */
  a: number;
  /** bernoulli: the value of a kept unit. */
  b: number;
}

/**
 * Row-major `C = op(A)·op(B)` for each of `batch` products over one buffer
 * (the wasm heap), cut into a grid of `mb × nb` blocks of C that depends on
 * the shape alone ({@linkcode gemmGrid}). Each block is one single-threaded
 * BLAS call, so a block's numbers do not depend on which thread ran it nor
 * on how many threads there are (OpenBLAS's own threading changes its
 * blocking over k, hence the rounding, with the thread count).
 */
export interface GemmJob {
  t: "gemm";
  /** The BLAS library's path (each thread opens it once). */
  lib: string;
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  /** Byte offsets of each product's A, B and C in buffer 0. */
  aOffs: number[];
  bOffs: number[];
  cOffs: number[];
  /** Rows and columns of C per block. */
  mb: number;
  nb: number;
}

/** A unit of parallel work. */
export type Job = KernelJob | NoiseJob | GemmJob;

/** Number of chunks of a job. */
export function chunkCount(job: Job): number {
  if (job.t === "gemm") {
    return job.aOffs.length * Math.ceil(job.m / job.mb) * Math.ceil(job.n / job.nb);
  }
  return job.t === "kernel" ? job.chunks.length / 3 : Math.ceil(job.target[2] / NOISE_BLOCK);
}

/**
 * The block grid of an `m × k` by `k × n` product: one block below ~2M
 * multiply-adds, else up to 16 column blocks (≥ 128 columns, rounded up to a
 * multiple of 16) and up to 8 row blocks (≥ 256 rows). Part of the numbers'
 * definition: the same for every thread count.
 *
 * @example
 * ```ts
 * import { gemmGrid } from "./pool_exec.ts";
 * gemmGrid(100, 1200, 784); // { mb: 100, nb: 144 }
 * ```
 */
export function gemmGrid(m: number, n: number, k: number): { mb: number; nb: number } {
  if (m * n * k < 1 << 21) return { mb: m, nb: n };
  const cols = Math.min(16, Math.max(1, Math.floor(n / 128)));
  const rows = Math.min(8, Math.max(1, Math.floor(m / 256)));
  return { mb: Math.ceil(m / rows), nb: Math.min(n, Math.ceil(n / cols / 16) * 16) };
}

const SGEMM = { cblas_sgemm: SGEMM_SYMBOL } as const;
const sgemmLibs = new Map<string, Deno.DynamicLibrary<typeof SGEMM>>();

function prepareGemm(job: GemmJob, heap: ArrayBufferLike): Prepared {
  let lib = sgemmLibs.get(job.lib);
  if (!lib) sgemmLibs.set(job.lib, lib = Deno.dlopen(job.lib, SGEMM));
  const sgemm = lib.symbols.cblas_sgemm;
  const { m, n, k, mb, nb, transA, transB } = job;
  const lda = transA ? m : k, ldb = transB ? k : n;
  const rowBlocks = Math.ceil(m / mb), colBlocks = Math.ceil(n / nb);
  const f32 = new Float32Array(heap);
  return {
    job,
    run(c) {
      const i = Math.floor(c / (rowBlocks * colBlocks));
      const rc = c - i * rowBlocks * colBlocks;
      const r0 = Math.floor(rc / colBlocks) * mb, c0 = (rc % colBlocks) * nb;
      const rows = Math.min(mb, m - r0), cols = Math.min(nb, n - c0);
      const a = job.aOffs[i] / 4 + (transA ? r0 : r0 * lda);
      const b = job.bOffs[i] / 4 + (transB ? c0 * ldb : c0);
      const o = job.cOffs[i] / 4 + r0 * n + c0;
      sgemm(
        CBLAS.RowMajor,
        transA ? CBLAS.Trans : CBLAS.NoTrans,
        transB ? CBLAS.Trans : CBLAS.NoTrans,
        rows,
        cols,
        k,
        1,
        f32.subarray(a),
        lda,
        f32.subarray(b),
        ldb,
        0,
        f32.subarray(o),
        n,
      );
    },
  };
}

function mix32(z: number): number {
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) | 0;
}

/**
 * The xoshiro128** state of block `j` of the stream with `key` (4 words, never all 0).
 *
 * @example
 * ```ts
 * import { blockState } from "./pool_exec.ts";
 * blockState([1, 2], 0).length; // 4
 * ```
 */
export function blockState(key: readonly [number, number], j: number): number[] {
  const lo = j | 0, hi = Math.floor(j / 4294967296) | 0;
  const a = mix32(key[0] ^ mix32(lo + 0x9e3779b9));
  const b = mix32(key[1] ^ mix32(hi + 0x632be5ab) ^ a);
  const c = mix32(a + 0x85ebca6b ^ mix32(lo ^ key[1]));
  const d = mix32(b + 0x27d4eb2f ^ mix32(hi ^ key[0]));
  return (a | b | c | d) === 0 ? [1, 0, 0, 0] : [a, b, c, d];
}

/** A job made ready to run on one thread (views over its buffers, compiled loop). */
export interface Prepared {
  job: Job;
  run(chunk: number, sums: Float64Array | null): void;
}

const compiledCache = new Map<string, ReturnType<typeof makeKernelFn>>();

function view(buffers: readonly ArrayBufferLike[], r: BufRef): Float32Array {
  return new Float32Array(buffers[r[0]], r[1], r[2]);
}

/**
 * Prepares `job` over `buffers` (the job's buffers, in its index order) for
 * this thread.
 *
 * @example
 * ```ts
 * import { prepare } from "./pool_exec.ts";
 * const buf = new ArrayBuffer(16);
 * prepare({ t: "noise", mode: "uniform", target: [0, 0, 4], key: [1, 2], first: 0, a: 0, b: 0 }, [buf])
 *   .run(0, null); // buf now holds 4 uniforms
 * ```
 */
export function prepare(job: Job, buffers: readonly ArrayBufferLike[]): Prepared {
  if (job.t === "gemm") return prepareGemm(job, buffers[0]);
  if (job.t === "noise") {
    const out = view(buffers, job.target);
    const rng = new Rng(0);
    return {
      job,
      run(c) {
        const sub = out.subarray(c * NOISE_BLOCK, Math.min(out.length, (c + 1) * NOISE_BLOCK));
        rng.setState(blockState(job.key, job.first + c));
        switch (job.mode) {
          case "normal":
            rng.fillNormal(sub, 0, job.a);
            break;
          case "uniform":
            rng.fillUniform(sub);
            break;
          case "sign":
            rng.fillSigns(sub);
            break;
          case "bernoulli": {
            const threshold = job.a * 4294967296, v = job.b;
            for (let i = 0; i < sub.length; i++) sub[i] = rng.nextUint32() < threshold ? v : 0;
            break;
          }
        }
      },
    };
  }
  let fn = compiledCache.get(job.source);
  if (!fn) {
    if (compiledCache.size > 256) compiledCache.clear();
    compiledCache.set(job.source, fn = makeKernelFn(job.source));
  }
  const f = fn;
  const calls = job.segs.map((s) => [
    s.n,
    0,
    0,
    job.reps,
    ...s.arrays.map((r) => view(buffers, r)),
    ...s.normals.flatMap(([r, o, p]) => [view(buffers, r), o, p]),
    ...s.scalars,
  ]);
  const ch = job.chunks;
  return {
    job,
    run(c, sums) {
      const args = calls[ch[3 * c]];
      args[1] = ch[3 * c + 1];
      args[2] = ch[3 * c + 2];
      const r = f(...args);
      if (sums) { for (let s = 0; s < job.nsums; s++) sums[c * job.nsums + s] = r[s]; }
    },
  };
}
