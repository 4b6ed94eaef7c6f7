/**
 * Routes the tfjs `wasm` backend's `BatchMatMul` and `_FusedMatMul` kernels to
 * BLAS `sgemm`, reading operands straight from the wasm heap and writing the
 * result into a freshly allocated heap tensor (zero copy).
 *
 * Why by hand: the stock wasm kernels run single-threaded XNNPACK code at
 * 13–18 GFLOP/s, and at 1.3–1.6 GFLOP/s whenever an operand is transposed —
 * which is every backward pass. OpenBLAS reaches ~100 GFLOP/s on the same
 * shapes. No package offers this bridge.
 *
 * Products with structure BLAS can exploit go to the matching routine: the
 * Gram matrix `AᵀA` / `A·Aᵀ` of one tensor to `ssyrk`, a product with a
 * matrix marked triangular ({@linkcode markTriangular}) to `strmm`. Also here:
 * a row-copy `GatherV2` ({@linkcode registerWasmGather}) and a sharing
 * `Identity` ({@linkcode registerWasmIdentity}).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Blas } from "./blas.ts";
import { getPool } from "./engine/pool.ts";
import { gemmGrid, type GemmJob } from "./engine/pool_exec.ts";

// deno-lint-ignore no-explicit-any
type WasmBackend = any;

function prod(shape: readonly number[], from = 0, to = shape.length): number {
  let p = 1;
  for (let i = from; i < to; i++) p *= shape[i];
  return p;
}

/** Broadcasts two batch shapes (numpy rules); throws on mismatch. */
function broadcastShapes(a: number[], b: number[], what: string): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${what}: batch dimensions [${a}] and [${b}] cannot be broadcast together`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Offset (in batch units) into an operand with batch shape `s` for output batch index `idx`. */
function batchOffset(idx: number, outBatch: number[], s: number[]): number {
  let off = 0;
  let stride = 1;
  for (let i = outBatch.length - 1; i >= 0; i--) {
    const d = outBatch[i];
    const coord = idx % d;
    idx = (idx - coord) / d;
    const j = s.length - outBatch.length + i;
    if (j >= 0) {
      const sd = s[j];
      if (sd !== 1) off += coord * stride;
      stride *= sd;
    }
  }
  return off;
}

interface MatMulPlan {
  outShape: number[];
  batch: number;
  m: number;
  n: number;
  k: number;
}

function plan(
  aShape: number[],
  bShape: number[],
  transA: boolean,
  transB: boolean,
  what: string,
): MatMulPlan {
  if (aShape.length < 2 || bShape.length < 2) {
    throw new Error(`${what}: inputs must be at least rank 2, found [${aShape}] and [${bShape}]`);
  }
  const ra = aShape.length, rb = bShape.length;
  const m = transA ? aShape[ra - 1] : aShape[ra - 2];
  const k = transA ? aShape[ra - 2] : aShape[ra - 1];
  const kb = transB ? bShape[rb - 1] : bShape[rb - 2];
  const n = transB ? bShape[rb - 2] : bShape[rb - 1];
  if (k !== kb) {
    throw new Error(
      `${what}: inner shapes (${k}) and (${kb}) of tensors with shapes [${aShape}] and ` +
        `[${bShape}] and transposeA=${transA} and transposeB=${transB} must match.`,
    );
  }
  const outBatch = broadcastShapes(aShape.slice(0, -2), bShape.slice(0, -2), what);
  return { outShape: [...outBatch, m, n], batch: prod(outBatch), m, n, k };
}

function gemmBatched(
  blas: Blas,
  heap: ArrayBuffer,
  aOff: number,
  aShape: number[],
  bOff: number,
  bShape: number[],
  cOff: number,
  p: MatMulPlan,
  transA: boolean,
  transB: boolean,
): void {
  const { m, n, k, batch } = p;
  const aBatch = aShape.slice(0, -2), bBatch = bShape.slice(0, -2);
  const sizeA = m * k, sizeB = k * n, sizeC = m * n;
  const bBatchSize = prod(bBatch);
  const aBatchSize = prod(aBatch);
  let job: GemmJob;
  if (bBatchSize === 1 && !transA && aBatchSize === batch) {
    // Fold the batch of A into its rows: one big GEMM.
    job = gemmJob(blas, transA, transB, batch * m, n, k, [aOff], [bOff], [cOff]);
  } else {
    const outBatch = p.outShape.slice(0, -2);
    const aOffs: number[] = [], bOffs: number[] = [], cOffs: number[] = [];
    for (let i = 0; i < batch; i++) {
      const ia = aBatchSize === batch && aBatch.length === outBatch.length
        ? i
        : batchOffset(i, outBatch, aBatch);
      const ib = bBatchSize === batch && bBatch.length === outBatch.length
        ? i
        : batchOffset(i, outBatch, bBatch);
      aOffs.push(aOff + 4 * ia * sizeA);
      bOffs.push(bOff + 4 * ib * sizeB);
      cOffs.push(cOff + 4 * i * sizeC);
    }
    job = gemmJob(blas, transA, transB, m, n, k, aOffs, bOffs, cOffs);
  }
  // Blocks fixed by the shape, each one single-threaded BLAS call, spread over
  // the engine's threads: the same numbers for every thread count.
  getPool().run(job, [heap]);
}

function gemmJob(
  blas: Blas,
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  aOffs: number[],
  bOffs: number[],
  cOffs: number[],
): GemmJob {
  const { mb, nb } = gemmGrid(m, n, k);
  return { t: "gemm", lib: blas.info.path, transA, transB, m, n, k, aOffs, bOffs, cOffs, mb, nb };
}

/** Square matrices known to be triangular, by tensor data id (see {@linkcode markTriangular}). */
const triangles = new WeakMap<object, { upper: boolean; n: number }>();

/**
 * Marks a square matrix (`[n, n]`, or `[1, n, n]`) whose other triangle is
 * exactly zero, so that products with it on the `wasm` backend run as BLAS
 * `strmm` (half the work of a general product). A hint only: any backend
 * computes the same product without it. Reshapes share the mark (they share
 * the data), transposes do not.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { markTriangular } from "./wasm_blas.ts";
 * const a = tf.tensor2d([[1, 2], [0, 3]]);
 * markTriangular(a, true);
 * tf.matMul(a, tf.ones([2, 4])); // strmm on wasm + BLAS
 * ```
 */
export function markTriangular(t: tf.Tensor, upper: boolean): void {
  const n = t.shape[t.rank - 1];
  if (t.rank < 2 || t.shape[t.rank - 2] !== n || t.size !== n * n) {
    throw new RangeError(`markTriangular: expected a square matrix, found shape [${t.shape}]`);
  }
  triangles.set(t.dataId, { upper, n });
}

function triangleOf(t: tf.TensorInfo): { upper: boolean; n: number } | null {
  const tri = triangles.get(t.dataId);
  if (!tri) return null;
  const r = t.shape.length;
  if (t.shape[r - 1] !== tri.n || t.shape[r - 2] !== tri.n || prod(t.shape) !== tri.n * tri.n) {
    return null;
  }
  return tri;
}

const CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112;
const CBLAS_UPPER = 121, CBLAS_LOWER = 122, CBLAS_LEFT = 141, CBLAS_RIGHT = 142;
const CBLAS_NON_UNIT = 131;

/** Copies the upper triangle of a row-major `m×m` matrix onto the lower, in cache-sized tiles. */
function mirrorUpper(c: Float32Array, m: number): void {
  const T = 64;
  for (let bi = 0; bi < m; bi += T) {
    const iEnd = Math.min(m, bi + T);
    for (let bj = bi; bj < m; bj += T) {
      const jEnd = Math.min(m, bj + T);
      for (let j = bj; j < jEnd; j++) {
        const row = j * m;
        for (let i = bi; i < Math.min(iEnd, j); i++) c[row + i] = c[i * m + j];
      }
    }
  }
}

/**
 * Products with structure BLAS can exploit, written into `cOff`; returns
 * false when there is none: the Gram matrix `AᵀA` / `A·Aᵀ` of one tensor
 * (`ssyrk`, then the lower triangle mirrored) and a product with a matrix
 * marked triangular (`strmm` on a copy of the other operand).
 */
function structuredProduct(
  blas: Blas,
  heap: ArrayBuffer,
  a: tf.TensorInfo,
  aOff: number,
  b: tf.TensorInfo,
  bOff: number,
  cOff: number,
  p: MatMulPlan,
  transA: boolean,
  transB: boolean,
): boolean {
  const sym = blas.lib.symbols;
  const { m, n, k, batch } = p;
  const sameShape = a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
  if (
    a.dataId === b.dataId && sameShape && a.shape.length === 2 && transA !== transB &&
    sym.cblas_ssyrk
  ) {
    const c = new Float32Array(heap, cOff, m * m);
    const A = new Float32Array(heap, aOff, m * k);
    // AᵀA: A is [k, m]; A·Aᵀ: A is [m, k].
    sym.cblas_ssyrk(
      CBLAS_ROW_MAJOR,
      CBLAS_UPPER,
      transA ? CBLAS_TRANS : CBLAS_NO_TRANS,
      m,
      k,
      1,
      A,
      transA ? m : k,
      0,
      c,
      m,
    );
    mirrorUpper(c, m);
    return true;
  }
  const trmm = sym.cblas_strmm;
  if (!trmm) return false;
  const ta = triangleOf(a), tb = triangleOf(b);
  const aBatch = prod(a.shape, 0, a.shape.length - 2);
  const bBatch = prod(b.shape, 0, b.shape.length - 2);
  if (ta && !tb && !transB && aBatch === 1 && bBatch === batch) {
    // op(T)·B for each B of the batch.
    const size = batch * m * n;
    new Float32Array(heap, cOff, size).set(new Float32Array(heap, bOff, size));
    const T = new Float32Array(heap, aOff, m * m);
    for (let i = 0; i < batch; i++) {
      trmm(
        CBLAS_ROW_MAJOR,
        CBLAS_LEFT,
        ta.upper ? CBLAS_UPPER : CBLAS_LOWER,
        transA ? CBLAS_TRANS : CBLAS_NO_TRANS,
        CBLAS_NON_UNIT,
        m,
        n,
        1,
        T,
        m,
        new Float32Array(heap, cOff + 4 * i * m * n, m * n),
        n,
      );
    }
    return true;
  }
  if (tb && !ta && !transA && bBatch === 1 && aBatch === batch) {
    // A·op(T): the batch of A folds into its rows.
    const size = batch * m * n;
    new Float32Array(heap, cOff, size).set(new Float32Array(heap, aOff, size));
    trmm(
      CBLAS_ROW_MAJOR,
      CBLAS_RIGHT,
      tb.upper ? CBLAS_UPPER : CBLAS_LOWER,
      transB ? CBLAS_TRANS : CBLAS_NO_TRANS,
      CBLAS_NON_UNIT,
      batch * m,
      n,
      1,
      new Float32Array(heap, bOff, n * n),
      n,
      new Float32Array(heap, cOff, size),
      n,
    );
    return true;
  }
  return false;
}

/** Adds `bias` (broadcast to `outShape`) in place. */
function addBroadcast(c: Float32Array, outShape: number[], bias: Float32Array, bShape: number[]) {
  const total = c.length;
  const last = outShape[outShape.length - 1];
  if (bias.length === 1) {
    const v = bias[0];
    for (let i = 0; i < total; i++) c[i] += v;
  } else if (bias.length === last && bShape[bShape.length - 1] === last) {
    for (let r = 0; r < total; r += last) {
      for (let j = 0; j < last; j++) c[r + j] += bias[j];
    }
  } else if (bias.length === total) {
    for (let i = 0; i < total; i++) c[i] += bias[i];
  } else {
    // General numpy broadcasting (rare): map every output index.
    const r = outShape.length;
    const strides = new Array<number>(r).fill(0);
    let s = 1;
    for (let i = bShape.length - 1; i >= 0; i--) {
      const oi = r - bShape.length + i;
      strides[oi] = bShape[i] === 1 ? 0 : s;
      s *= bShape[i];
    }
    for (let flat = 0; flat < total; flat++) {
      let rem = flat, off = 0;
      for (let d = r - 1; d >= 0; d--) {
        const coord = rem % outShape[d];
        rem = (rem - coord) / outShape[d];
        off += coord * strides[d];
      }
      c[flat] += bias[off];
    }
  }
}

function applyActivation(
  c: Float32Array,
  activation: string,
  alpha: number,
  prelu: Float32Array | null,
  outShape: number[],
  preluShape: number[],
): void {
  const n = c.length;
  switch (activation) {
    case "linear":
    case undefined:
      return;
    case "relu":
      // Branchless and exact ((v + |v|)/2 is v or 0): activation signs are random, and a
      // mispredicted branch per value made this loop ~5× slower than the product's memory pass.
      for (let i = 0; i < n; i++) {
        const v = c[i];
        c[i] = (v + Math.abs(v)) * 0.5;
      }
      return;
    case "relu6":
      for (let i = 0; i < n; i++) c[i] = c[i] < 0 ? 0 : c[i] > 6 ? 6 : c[i];
      return;
    case "elu":
      for (let i = 0; i < n; i++) if (c[i] < 0) c[i] = Math.expm1(c[i]);
      return;
    case "sigmoid":
      for (let i = 0; i < n; i++) c[i] = 1 / (1 + Math.exp(-c[i]));
      return;
    case "leakyrelu":
      for (let i = 0; i < n; i++) if (c[i] < 0) c[i] *= alpha;
      return;
    case "prelu": {
      // slope broadcast like a bias: build the slope field then apply.
      const slope = new Float32Array(n);
      addBroadcast(slope, outShape, prelu!, preluShape);
      for (let i = 0; i < n; i++) if (c[i] < 0) c[i] *= slope[i];
      return;
    }
    default:
      throw new Error(`_FusedMatMul: unsupported activation "${activation}"`);
  }
}

let registered = false;

/**
 * Whether {@link registerWasmBlasKernels} has replaced the wasm matmul kernels
 * (which, unlike the stock ones, accept a batched bias).
 *
 * @example
 * ```ts
 * import { wasmBlasKernelsRegistered } from "./wasm_blas.ts";
 * wasmBlasKernelsRegistered(); // false until registered
 * ```
 */
export function wasmBlasKernelsRegistered(): boolean {
  return registered;
}

/**
 * Swaps the `wasm` backend's kernel `name` for `kernelFunc`, which gets the
 * stock kernel's function to fall back on. Throws when the backend is not
 * registered (no stock kernel to replace).
 */
function replaceWasmKernel(
  name: string,
  kernelFunc: (args: KernelArgs, stock: tf.KernelFunc) => ReturnType<tf.KernelFunc>,
): void {
  const stock = tf.getKernel(name, "wasm");
  if (!stock) {
    throw new Error(
      "the tfjs wasm backend is not registered: import @tensorflow/tfjs-backend-wasm",
    );
  }
  tf.unregisterKernel(name, "wasm");
  tf.registerKernel({
    kernelName: name,
    backendName: "wasm",
    setupFunc: stock.setupFunc,
    kernelFunc: (args) => kernelFunc(args, stock.kernelFunc),
  });
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

/**
 * Replaces the `wasm` backend's `BatchMatMul` and `_FusedMatMul` kernels with
 * BLAS-backed ones. Idempotent. Non-float32 inputs go to the stock kernels.
 *
 * @example
 * ```ts
 * import { initBackend } from "@bayes/nn";
 * import { loadBlas } from "./blas.ts";
 * import { registerWasmBlasKernels } from "./wasm_blas.ts";
 * await initBackend({ backend: "wasm", quiet: true }); // which already does this
 * const { blas } = loadBlas();
 * if (blas) registerWasmBlasKernels(blas);
 * ```
 */
export function registerWasmBlasKernels(blas: Blas): void {
  if (registered) return;
  replaceWasmKernel("BatchMatMul", (args, stockBmm) => {
    const { inputs, attrs } = args;
    const backend = args.backend as WasmBackend;
    const a = inputs.a as tf.TensorInfo, b = inputs.b as tf.TensorInfo;
    if (a.dtype !== "float32" || b.dtype !== "float32") return stockBmm(args);
    const transA = Boolean(attrs?.transposeA), transB = Boolean(attrs?.transposeB);
    const p = plan(a.shape, b.shape, transA, transB, "matMul");
    const out = backend.makeOutput(p.outShape, "float32");
    if (p.batch * p.m * p.n === 0) return out;
    const heap = backend.wasm.HEAPU8.buffer as ArrayBuffer;
    const map = backend.dataIdMap;
    const aOff = map.get(a.dataId).memoryOffset, bOff = map.get(b.dataId).memoryOffset;
    const cOff = map.get(out.dataId).memoryOffset;
    if (!structuredProduct(blas, heap, a, aOff, b, bOff, cOff, p, transA, transB)) {
      gemmBatched(blas, heap, aOff, a.shape, bOff, b.shape, cOff, p, transA, transB);
    }
    return out;
  });

  replaceWasmKernel("_FusedMatMul", (args, stockFused) => {
    const { inputs, attrs } = args;
    const backend = args.backend as WasmBackend;
    const a = inputs.a as tf.TensorInfo, b = inputs.b as tf.TensorInfo;
    const bias = inputs.bias as tf.TensorInfo | undefined;
    const preluW = inputs.preluActivationWeights as tf.TensorInfo | undefined;
    if (a.dtype !== "float32" || b.dtype !== "float32") return stockFused(args);
    const transA = Boolean(attrs?.transposeA), transB = Boolean(attrs?.transposeB);
    const p = plan(a.shape, b.shape, transA, transB, "fused matMul");
    const out = backend.makeOutput(p.outShape, "float32");
    const total = p.batch * p.m * p.n;
    if (total === 0) return out;
    const heap = backend.wasm.HEAPU8.buffer as ArrayBuffer;
    const map = backend.dataIdMap;
    const cOff = map.get(out.dataId).memoryOffset;
    const aOff = map.get(a.dataId).memoryOffset, bOff = map.get(b.dataId).memoryOffset;
    if (!structuredProduct(blas, heap, a, aOff, b, bOff, cOff, p, transA, transB)) {
      gemmBatched(blas, heap, aOff, a.shape, bOff, b.shape, cOff, p, transA, transB);
    }
    const c = new Float32Array(heap, cOff, total);
    if (bias) {
      const bv = new Float32Array(heap, map.get(bias.dataId).memoryOffset, prod(bias.shape));
      addBroadcast(c, p.outShape, bv, bias.shape);
    }
    const act = (attrs?.activation as string) ?? "linear";
    const pw = preluW
      ? new Float32Array(heap, map.get(preluW.dataId).memoryOffset, prod(preluW.shape))
      : null;
    applyActivation(
      c,
      act,
      (attrs?.leakyreluAlpha as number) ?? 0.2,
      pw,
      p.outShape,
      preluW?.shape ?? [],
    );
    return out;
  });
  registered = true;
}

let gatherRegistered = false;

/**
 * Replaces the `wasm` backend's `GatherV2` kernel for float32 / int32 data
 * (no `batchDims`) with row copies out of the wasm heap: the stock kernel
 * computes every element's source by stride arithmetic (~30 ns per value,
 * ~0.5 s for 10⁴ rows of 1200 values), a row copy moves whole slices.
 * Idempotent; other dtypes go to the stock kernel.
 *
 * @example
 * ```ts
 * import { initBackend, tf } from "@bayes/nn";
 * import { registerWasmGather } from "./wasm_blas.ts";
 * await initBackend({ backend: "wasm", quiet: true }); // which already does this
 * registerWasmGather();
 * tf.gather(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor1d([1, 1, 0], "int32")); // [[3,4],[3,4],[1,2]]
 * ```
 */
export function registerWasmGather(): void {
  if (gatherRegistered) return;
  replaceWasmKernel("GatherV2", (args, stock) => {
    const { inputs, attrs } = args;
    const backend = args.backend as WasmBackend;
    const x = inputs.x as tf.TensorInfo, indices = inputs.indices as tf.TensorInfo;
    const batchDims = Number(attrs?.batchDims ?? 0);
    if (
      batchDims !== 0 || (x.dtype !== "float32" && x.dtype !== "int32") ||
      indices.dtype !== "int32"
    ) {
      return stock(args);
    }
    const rank = x.shape.length;
    const rawAxis = Number(attrs?.axis ?? 0);
    const axis = rawAxis < 0 ? rawAxis + rank : rawAxis;
    const outer = prod(x.shape, 0, axis), dim = x.shape[axis];
    const inner = prod(x.shape, axis + 1);
    const count = prod(indices.shape);
    const outShape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
    const out = backend.makeOutput(outShape, x.dtype);
    if (outer * count * inner === 0) return out;
    const heap = backend.wasm.HEAPU8.buffer as ArrayBuffer;
    const map = backend.dataIdMap;
    const idx = new Int32Array(heap, map.get(indices.dataId).memoryOffset, count);
    for (let i = 0; i < count; i++) {
      if (!(idx[i] >= 0 && idx[i] < dim)) {
        backend.disposeData(out.dataId);
        throw new Error(`GatherV2: the index value ${idx[i]} is not in [0, ${dim - 1}]`);
      }
    }
    // 4-byte values: copies within one view of the whole heap (no view per row).
    const all = new Int32Array(heap);
    const src = map.get(x.dataId).memoryOffset / 4, dst = map.get(out.dataId).memoryOffset / 4;
    for (let a = 0; a < outer; a++) {
      for (let i = 0; i < count; i++) {
        const from = src + (a * dim + idx[i]) * inner, to = dst + (a * count + i) * inner;
        if (inner < 16) { for (let j = 0; j < inner; j++) all[to + j] = all[from + j]; }
        else all.copyWithin(to, from, from + inner);
      }
    }
    return out;
  });
  gatherRegistered = true;
}

let identityRegistered = false;

/**
 * Replaces the `wasm` backend's `Identity` kernel with one that shares the
 * input's storage (one more reference to the same heap block) instead of
 * copying it, as tfjs's `cpu` and `webgpu` backends already do. tfjs calls
 * `Identity` to keep every tensor a gradient needs (`tf.clone` inside
 * `valueAndGrads`): on the stock kernel one MAP step of the 784-1200-1200-10
 * network copied 26 tensors, weights included — about 2.4 ms of
 * single-threaded copying a step on this machine. Tensors are immutable in
 * tfjs, so a shared block is only visible to code that writes storage in
 * place: the parameter engines, which already see shared blocks (`Reshape`
 * shares on every backend, `Identity` on `cpu` and `webgpu`). Idempotent;
 * `string` tensors go to the stock kernel.
 *
 * @example
 * ```ts
 * import { initBackend, tf } from "@bayes/nn";
 * import { registerWasmIdentity } from "./wasm_blas.ts";
 * await initBackend({ backend: "wasm", quiet: true }); // which already does this
 * registerWasmIdentity();
 * const a = tf.tensor1d([1, 2, 3]);
 * const b = tf.clone(a); // same values; no copy on the wasm heap
 * ```
 */
export function registerWasmIdentity(): void {
  if (identityRegistered) return;
  replaceWasmKernel("Identity", (args, stock) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === "string") return stock(args);
    (args.backend as WasmBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  });
  identityRegistered = true;
}
