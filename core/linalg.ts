/**
 * Dense linear algebra on host arrays: Cholesky factorisation, triangular
 * inverse and symmetric eigendecomposition in double precision (LAPACK's
 * `dpotrf`, `dtrtri`, `dsyevd` from the OpenBLAS that `core/blas.ts` loads,
 * with `ml-matrix` as the fallback when BLAS or LAPACK is unavailable), plus
 * single-precision products (`sgemm`, `ssyrk`; fallback: plain loops).
 *
 * Matrices are row-major typed arrays. LAPACK works column-major; a
 * symmetric input is the same in both orders, and the routines below map the
 * triangles so that every result is row-major too.
 *
 * @module
 */
import { CholeskyDecomposition, EigenvalueDecomposition, inverse, Matrix } from "ml-matrix";
import { CBLAS, loadBlas } from "./blas.ts";

/** Which implementation does the double-precision work. */
export type LinalgImpl = "lapack" | "ml-matrix";

/** Raised for a matrix the routine cannot handle (not positive definite, singular, bad size). */
export class LinalgError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "LinalgError";
  }
}

/** Eigenvalues in ascending order and the matching orthonormal eigenvectors. */
export interface SymmetricEigen {
  /** Eigenvalues, ascending. */
  values: Float64Array;
  /** Row-major `n×n`; column `k` is the eigenvector of `values[k]` (`A = V·diag·Vᵀ`). */
  vectors: Float64Array;
}

/**
 * Double-precision decompositions of one implementation.
 *
 * @example
 * ```ts
 * import { getLinalg } from "./linalg.ts";
 * const la = getLinalg();
 * const l = la.cholesky(new Float64Array([4, 2, 2, 3]), 2); // [2, 0, 1, √2]
 * ```
 */
export interface Linalg {
  /** `lapack` (OpenBLAS through FFI) or `ml-matrix` (pure JavaScript). */
  readonly impl: LinalgImpl;
  /** Lower Cholesky factor `L` (`A = L·Lᵀ`) of a symmetric positive definite `n×n` matrix. */
  cholesky(a: Float64Array, n: number): Float64Array;
  /** Inverse of a lower-triangular `n×n` matrix (lower triangular). */
  invertLower(l: Float64Array, n: number): Float64Array;
  /** Eigendecomposition of a symmetric `n×n` matrix. */
  eigh(a: Float64Array, n: number): SymmetricEigen;
  /** `op(A)·op(B)` for row-major `A` (`m×k` after op) and `B` (`k×n` after op). */
  matmul(
    a: Float64Array,
    b: Float64Array,
    m: number,
    k: number,
    n: number,
    transA?: boolean,
    transB?: boolean,
  ): Float64Array;
}

function checkSquare(what: string, a: ArrayLike<number>, n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new LinalgError(`${what}: size must be a positive integer, found ${n}`);
  }
  if (a.length !== n * n) {
    throw new LinalgError(`${what}: expected ${n}×${n} = ${n * n} values, found ${a.length}`);
  }
}

function zeroUpper(a: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) a.fill(0, i * n + i + 1, i * n + n);
}

function transposeSquare(a: Float64Array, n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = a[i * n + j];
  return t;
}

function notPd(what: string, info: number, n: number): LinalgError {
  return new LinalgError(
    `${what}: the ${n}×${n} matrix is not positive definite (leading minor ${info} is not ` +
      `positive); add damping or check the input for NaN`,
  );
}

const CH = (c: string) => new Uint8Array([c.charCodeAt(0)]);
const I32 = (v: number) => new Int32Array([v]);

function lapackLinalg(): Linalg | null {
  const { blas } = loadBlas();
  const sym = blas?.lib.symbols;
  if (!blas || !sym?.dpotrf_ || !sym.dtrtri_ || !sym.dsyevd_) return null;
  const { dpotrf_, dtrtri_, dsyevd_ } = sym;
  return {
    impl: "lapack",
    cholesky(a, n) {
      checkSquare("cholesky", a, n);
      const out = Float64Array.from(a);
      const info = I32(0);
      // Column-major upper U (A = UᵀU) is the row-major lower L = Uᵀ.
      dpotrf_(CH("U"), I32(n), out, I32(n), info);
      if (info[0] > 0) throw notPd("cholesky", info[0], n);
      if (info[0] < 0) throw new LinalgError(`cholesky: dpotrf argument ${-info[0]} invalid`);
      zeroUpper(out, n);
      return out;
    },
    invertLower(l, n) {
      checkSquare("invertLower", l, n);
      const out = Float64Array.from(l);
      zeroUpper(out, n);
      const info = I32(0);
      // Row-major lower L is column-major upper Lᵀ; its inverse read row-major is L⁻¹.
      dtrtri_(CH("U"), CH("N"), I32(n), out, I32(n), info);
      if (info[0] > 0) {
        throw new LinalgError(`invertLower: diagonal entry ${info[0]} is zero (singular)`);
      }
      if (info[0] < 0) throw new LinalgError(`invertLower: dtrtri argument ${-info[0]} invalid`);
      return out;
    },
    eigh(a, n) {
      checkSquare("eigh", a, n);
      const v = Float64Array.from(a);
      const w = new Float64Array(n);
      const info = I32(0);
      const work = new Float64Array(1), iwork = new Int32Array(1);
      dsyevd_(CH("V"), CH("L"), I32(n), v, I32(n), w, work, I32(-1), iwork, I32(-1), info);
      const lwork = Math.max(1, Math.ceil(work[0])), liwork = Math.max(1, iwork[0]);
      const work2 = new Float64Array(lwork), iwork2 = new Int32Array(liwork);
      dsyevd_(CH("V"), CH("L"), I32(n), v, I32(n), w, work2, I32(lwork), iwork2, I32(liwork), info);
      if (info[0] !== 0) {
        throw new LinalgError(`eigh: dsyevd failed to converge (info ${info[0]}) on ${n}×${n}`);
      }
      // Column-major columns are eigenvectors: row-major rows; transpose to columns.
      return { values: w, vectors: transposeSquare(v, n) };
    },
    matmul(a, b, m, k, n, transA = false, transB = false) {
      const c = new Float64Array(m * n);
      if (!blas.dgemm) return mlMatrix.matmul(a, b, m, k, n, transA, transB);
      blas.dgemm(transA, transB, m, n, k, 1, a, transA ? m : k, b, transB ? k : n, 0, c, n);
      return c;
    },
  };
}

const toMatrix = (a: Float64Array, rows: number, cols: number) =>
  Matrix.from1DArray(rows, cols, a as unknown as number[]);
const fromMatrix = (m: Matrix) => Float64Array.from(m.to1DArray());

/** The `ml-matrix` implementation (always available, slower). */
const mlMatrix: Linalg = {
  impl: "ml-matrix",
  cholesky(a, n) {
    checkSquare("cholesky", a, n);
    // Like LAPACK, read one triangle (the lower): exact symmetry is required below.
    const sym = Float64Array.from(a);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) sym[i * n + j] = sym[j * n + i];
    const d = new CholeskyDecomposition(toMatrix(sym, n, n));
    if (!d.isPositiveDefinite()) {
      throw new LinalgError(
        `cholesky: the ${n}×${n} matrix is not positive definite; add damping or check the ` +
          `input for NaN`,
      );
    }
    return fromMatrix(d.lowerTriangularMatrix);
  },
  invertLower(l, n) {
    checkSquare("invertLower", l, n);
    for (let i = 0; i < n; i++) {
      if (l[i * n + i] === 0) {
        throw new LinalgError(`invertLower: diagonal entry ${i + 1} is zero (singular)`);
      }
    }
    const low = Float64Array.from(l);
    zeroUpper(low, n);
    const out = fromMatrix(inverse(toMatrix(low, n, n)));
    zeroUpper(out, n);
    return out;
  },
  eigh(a, n) {
    checkSquare("eigh", a, n);
    const d = new EigenvalueDecomposition(toMatrix(a, n, n), { assumeSymmetric: true });
    const vals = d.realEigenvalues;
    const vecs = d.eigenvectorMatrix;
    const order = vals.map((_, i) => i).sort((i, j) => vals[i] - vals[j]);
    const values = new Float64Array(n), vectors = new Float64Array(n * n);
    order.forEach((src, k) => {
      values[k] = vals[src];
      for (let r = 0; r < n; r++) vectors[r * n + k] = vecs.get(r, src);
    });
    return { values, vectors };
  },
  matmul(a, b, m, k, n, transA = false, transB = false) {
    let am = toMatrix(a, transA ? k : m, transA ? m : k);
    let bm = toMatrix(b, transB ? n : k, transB ? k : n);
    if (transA) am = am.transpose();
    if (transB) bm = bm.transpose();
    return fromMatrix(am.mmul(bm));
  },
};

let lapackCache: Linalg | null | undefined;

/**
 * The linear-algebra implementation: LAPACK when OpenBLAS is loaded with its
 * LAPACK symbols (and `BNN_BLAS` is not `off`), else `ml-matrix`. Asking for
 * `lapack` when it is unavailable is an error naming why.
 *
 * @example
 * ```ts
 * import { getLinalg } from "./linalg.ts";
 * console.log(getLinalg().impl); // "lapack" or "ml-matrix"
 * const fallback = getLinalg("ml-matrix");
 * ```
 */
export function getLinalg(impl: "auto" | LinalgImpl = "auto"): Linalg {
  if (impl === "ml-matrix") return mlMatrix;
  if (lapackCache === undefined) lapackCache = lapackLinalg();
  if (lapackCache) return lapackCache;
  if (impl === "lapack") {
    const { blas, reason } = loadBlas();
    throw new LinalgError(
      `LAPACK is unavailable: ${
        blas ? `${blas.info.version} has no dpotrf/dtrtri/dsyevd` : reason
      }`,
    );
  }
  return mlMatrix;
}

// ---------------------------------------------------------------------------
// Single precision products (the curvature accumulation and weight sampling).

function extraSymbols() {
  return loadBlas().blas?.lib.symbols ?? null;
}

/** Whether single-precision products run on BLAS (`true`) or on plain loops (`false`). */
export function hasBlasGemm(): boolean {
  return loadBlas().blas !== null;
}

/**
 * Plain loops for machines without BLAS (these products are small host-side ones; reading a
 * tfjs result back synchronously would not work on a GPU backend).
 */
function loopGemm(
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
): void {
  const row = new Float64Array(n);
  for (let r = 0; r < m; r++) {
    row.fill(0);
    for (let p = 0; p < k; p++) {
      const av = transA ? a[p * lda + r] : a[r * lda + p];
      if (av === 0) continue;
      if (transB) { for (let j = 0; j < n; j++) row[j] += av * b[j * ldb + p]; }
      else {
        const o = p * ldb;
        for (let j = 0; j < n; j++) row[j] += av * b[o + j];
      }
    }
    for (let j = 0; j < n; j++) {
      const i = r * ldc + j;
      c[i] = alpha * row[j] + (beta === 0 ? 0 : beta * c[i]);
    }
  }
}

/**
 * Row-major `C = alpha·op(A)·op(B) + beta·C` in single precision, on BLAS
 * when loaded, else with plain loops.
 *
 * @example
 * ```ts
 * import { sgemm } from "./linalg.ts";
 * const a = new Float32Array([1, 2, 3, 4]), c = new Float32Array(4);
 * sgemm(false, true, 2, 2, 2, 1, a, 2, a, 2, 0, c, 2); // c = a·aᵀ = [5, 11, 11, 25]
 * ```
 */
export function sgemm(
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
): void {
  if (m === 0 || n === 0) return;
  const { blas } = loadBlas();
  if (k === 0) {
    for (let r = 0; r < m; r++) {
      for (let j = 0; j < n; j++) c[r * ldc + j] = beta === 0 ? 0 : beta * c[r * ldc + j];
    }
    return;
  }
  if (blas) blas.sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else loopGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/**
 * Symmetric rank-k update `C = alpha·AᵀA + beta·C` for row-major `A` (`k×n`)
 * and `C` (`n×n`). Only the upper triangle of `C` is guaranteed to be
 * updated (BLAS `ssyrk`); call {@linkcode symmetrizeUpper} when done.
 *
 * @example
 * ```ts
 * import { ssyrk, symmetrizeUpper } from "./linalg.ts";
 * const a = new Float32Array([1, 2, 3, 4]), c = new Float32Array(4);
 * ssyrk(2, 2, 1, a, 0, c);
 * symmetrizeUpper(c, 2); // c = aᵀa = [10, 14, 14, 20]
 * ```
 */
export function ssyrk(
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  beta: number,
  c: Float32Array,
): void {
  if (n === 0 || k === 0) return;
  const syrk = extraSymbols()?.cblas_ssyrk;
  if (syrk) syrk(CBLAS.RowMajor, CBLAS.Upper, CBLAS.Trans, n, k, alpha, a, n, beta, c, n);
  else sgemm(true, false, n, n, k, alpha, a, n, a, n, beta, c, n);
}

/** Copies the upper triangle of a row-major `n×n` matrix onto its lower triangle. */
export function symmetrizeUpper(c: Float32Array | Float64Array, n: number): void {
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) c[j * n + i] = c[i * n + j];
}

/**
 * In-place triangular product: `B = T·B` (`side: "left"`, `T` is `m×m`) or
 * `B = B·T` (`side: "right"`, `T` is `n×n`), for row-major `B` (`m×n`) and a
 * triangular `T` (`upper` or lower; the other triangle is ignored). BLAS
 * `strmm` (half the work of a general product), else a general product.
 *
 * @example
 * ```ts
 * import { strmm } from "./linalg.ts";
 * const t = new Float32Array([1, 2, 0, 3]); // upper [[1, 2], [0, 3]]
 * const b = new Float32Array([1, 1]); // column vector
 * strmm("left", true, 2, 1, t, b); // b = [3, 3]
 * ```
 */
export function strmm(
  side: "left" | "right",
  upper: boolean,
  m: number,
  n: number,
  t: Float32Array,
  b: Float32Array,
): void {
  if (m === 0 || n === 0) return;
  const d = side === "left" ? m : n;
  const trmm = extraSymbols()?.cblas_strmm;
  if (trmm) {
    trmm(
      CBLAS.RowMajor,
      side === "left" ? 141 : 142,
      upper ? CBLAS.Upper : CBLAS.Lower,
      CBLAS.NoTrans,
      131,
      m,
      n,
      1,
      t,
      d,
      b,
      n,
    );
    return;
  }
  const tri = new Float32Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = upper ? i : 0; j < (upper ? d : i + 1); j++) tri[i * d + j] = t[i * d + j];
  }
  const src = b.slice(0, m * n);
  if (side === "left") sgemm(false, false, m, n, m, 1, tri, d, src, n, 0, b, n);
  else sgemm(false, false, m, n, n, 1, src, n, tri, d, 0, b, n);
}
