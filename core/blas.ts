/**
 * OpenBLAS (or Apple Accelerate) through `Deno.dlopen`: single-precision GEMM
 * and the few LAPACK routines the library needs (Cholesky, triangular
 * inverse, symmetric eigendecomposition).
 *
 * Lookup: `BNN_BLAS` (a path, or `off` to disable), else `libopenblas.so.0`
 * on Linux and Accelerate on macOS. Without `--allow-ffi`, or when the
 * library cannot be opened, {@linkcode loadBlas} returns `null` together with
 * the reason, and callers fall back to the stock kernels.
 *
 * @module
 */

/** Row-major / transpose codes of the CBLAS interface. */
export const CBLAS = { RowMajor: 101, NoTrans: 111, Trans: 112, Upper: 121, Lower: 122 } as const;

/**
 * The FFI signature of `cblas_sgemm` (also opened by the CPU engine's pool threads).
 *
 * @example
 * ```ts
 * import { SGEMM_SYMBOL } from "./blas.ts";
 * SGEMM_SYMBOL.parameters.length; // 14
 * ```
 */
export const SGEMM_SYMBOL = {
  parameters: [
    "i32",
    "i32",
    "i32",
    "i32",
    "i32",
    "i32",
    "f32",
    "buffer",
    "i32",
    "buffer",
    "i32",
    "f32",
    "buffer",
    "i32",
  ],
  result: "void",
} as const;

const SYMBOLS = {
  cblas_sgemm: SGEMM_SYMBOL,
  cblas_dgemm: {
    parameters: [
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "f64",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "f64",
      "buffer",
      "i32",
    ],
    result: "void",
    optional: true,
  },
  // Level-3 routines used by the curvature code (`core/linalg.ts`).
  cblas_ssyrk: {
    parameters: ["i32", "i32", "i32", "i32", "i32", "f32", "buffer", "i32", "f32", "buffer", "i32"],
    result: "void",
    optional: true,
  },
  cblas_strmm: {
    parameters: [
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "f32",
      "buffer",
      "i32",
      "buffer",
      "i32",
    ],
    result: "void",
    optional: true,
  },
  openblas_set_num_threads: { parameters: ["i32"], result: "void", optional: true },
  openblas_get_num_threads: { parameters: [], result: "i32", optional: true },
  openblas_get_config: { parameters: [], result: "pointer", optional: true },
  // LAPACK, Fortran calling convention: every argument by reference.
  dpotrf_: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "void",
    optional: true,
  },
  dtrtri_: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "void",
    optional: true,
  },
  dsyevd_: {
    parameters: [
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "void",
    optional: true,
  },
} as const;

/** The raw library type (every symbol marked optional may be null). */
export type BlasLib = Deno.DynamicLibrary<typeof SYMBOLS>;

/** What was loaded, for the backend line and benchmark reports. */
export interface BlasInfo {
  /** Path or name passed to `dlopen`. */
  path: string;
  /** Human-readable name and version, e.g. `OpenBLAS 0.3.21`. */
  version: string;
  /** Threads the library uses. */
  threads: number;
  /** Whether LAPACK routines were found. */
  lapack: boolean;
}

/** A loaded BLAS: the info plus typed entry points. */
export interface Blas {
  /** Description of the library. */
  info: BlasInfo;
  /**
   * Row-major `C = alpha·op(A)·op(B) + beta·C` on Float32Array views (which
   * may point into the wasm heap: no copy is made).
   */
  sgemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    lda: number,
    b: Float32Array,
    ldb: number,
    beta: number,
    c: Float32Array,
    ldc: number,
  ): void;
  /** Row-major double-precision GEMM (used by the linear-algebra helpers). */
  dgemm:
    | ((
      transA: boolean,
      transB: boolean,
      m: number,
      n: number,
      k: number,
      alpha: number,
      a: Float64Array,
      lda: number,
      b: Float64Array,
      ldb: number,
      beta: number,
      c: Float64Array,
      ldc: number,
    ) => void)
    | null;
  /** The raw library handle (LAPACK symbols may be null when absent). */
  lib: BlasLib;
}

/** Result of {@linkcode loadBlas}: the library, or why there is none. */
export type BlasLoad = { blas: Blas; reason?: undefined } | { blas: null; reason: string };

let cached: BlasLoad | undefined;

function candidates(): string[] {
  const env = Deno.env.get("BNN_BLAS");
  if (env && env !== "off") return [env];
  if (Deno.build.os === "darwin") {
    return [
      "/System/Library/Frameworks/Accelerate.framework/Accelerate",
      "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
      "/usr/local/opt/openblas/lib/libopenblas.dylib",
    ];
  }
  if (Deno.build.os === "windows") return ["libopenblas.dll", "openblas.dll"];
  return ["libopenblas.so.0", "libopenblas.so"];
}

/**
 * Threads of the CPU path: `BNN_THREADS`, else the machine's cores (OpenBLAS
 * and the CPU engine's worker pool both follow it).
 *
 * @example
 * ```ts
 * import { threadCount } from "./blas.ts";
 * threadCount(); // 2 on a 2-core machine without BNN_THREADS
 * ```
 */
export function threadCount(): number {
  const env = Deno.env.get("BNN_THREADS");
  if (env) {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`BNN_THREADS must be a positive integer, found "${env}"`);
    }
    return n;
  }
  return navigator.hardwareConcurrency || 1;
}

/**
 * Opens the BLAS library once per process (cached). Returns `{ blas: null,
 * reason }` when disabled (`BNN_BLAS=off`), not permitted (`--allow-ffi`
 * missing), or not found.
 *
 * @example
 * ```ts
 * import { loadBlas } from "./blas.ts";
 * const { blas, reason } = loadBlas();
 * if (blas) {
 *   const a = new Float32Array([1, 2, 3, 4]), c = new Float32Array(4);
 *   blas.sgemm(false, false, 2, 2, 2, 1, a, 2, a, 2, 0, c, 2); // c = a·a
 * } else console.log(reason);
 * ```
 */
export function loadBlas(): BlasLoad {
  if (cached) return cached;
  if (Deno.env.get("BNN_BLAS") === "off") {
    return (cached = { blas: null, reason: "disabled by BNN_BLAS=off" });
  }
  const perm = Deno.permissions.querySync({ name: "ffi" });
  if (perm.state !== "granted") {
    return (cached = { blas: null, reason: "no --allow-ffi permission" });
  }
  // OpenBLAS starts its own idle thread pool when it loads, sized by this variable (else the
  // cores); it is never used (one thread per call, below), and threads left alive at exit
  // are one more thing racing the process's teardown. Set before the first dlopen.
  try {
    if (Deno.env.get("OPENBLAS_NUM_THREADS") === undefined) {
      Deno.env.set("OPENBLAS_NUM_THREADS", "1");
    }
  } catch { /* no --allow-env: OpenBLAS keeps its default pool */ }
  const errors: string[] = [];
  for (const path of candidates()) {
    let lib: BlasLib;
    try {
      // deno-lint-ignore no-explicit-any
      lib = Deno.dlopen(path, SYMBOLS as any) as unknown as BlasLib;
    } catch (e) {
      errors.push(`${path}: ${(e as Error).message.split("\n")[0]}`);
      continue;
    }
    const threads = threadCount();
    // OpenBLAS itself runs on one thread: the CPU engine's pool spreads
    // products over the threads in blocks fixed by the shape (`wasm_blas.ts`),
    // because OpenBLAS's own threading rounds differently per thread count.
    lib.symbols.openblas_set_num_threads?.(1);
    let version = path.includes("Accelerate") ? "Accelerate" : "BLAS";
    const cfg = lib.symbols.openblas_get_config?.();
    if (cfg) {
      const s = Deno.UnsafePointerView.getCString(cfg);
      const m = s.match(/OpenBLAS\s+([\d.]+)/);
      version = m ? `OpenBLAS ${m[1]}` : s.split(" ").slice(0, 2).join(" ");
    }
    const sym = lib.symbols;
    const blas: Blas = {
      info: { path, version, threads, lapack: sym.dpotrf_ != null },
      lib,
      sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
        sym.cblas_sgemm(
          CBLAS.RowMajor,
          transA ? CBLAS.Trans : CBLAS.NoTrans,
          transB ? CBLAS.Trans : CBLAS.NoTrans,
          m,
          n,
          k,
          alpha,
          a,
          lda,
          b,
          ldb,
          beta,
          c,
          ldc,
        );
      },
      dgemm: sym.cblas_dgemm
        ? (transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) => {
          sym.cblas_dgemm!(
            CBLAS.RowMajor,
            transA ? CBLAS.Trans : CBLAS.NoTrans,
            transB ? CBLAS.Trans : CBLAS.NoTrans,
            m,
            n,
            k,
            alpha,
            a,
            lda,
            b,
            ldb,
            beta,
            c,
            ldc,
          );
        }
        : null,
    };
    return (cached = { blas });
  }
  return (cached = { blas: null, reason: `BLAS library not found (${errors.join("; ")})` });
}
