// core/linalg.ts: LAPACK (OpenBLAS) decompositions against ml-matrix, the
// ml-matrix fallback on its own, and the single-precision products.
import assert from "node:assert/strict";
import { Matrix } from "ml-matrix";
import { loadBlas } from "../core/blas.ts";
import {
  getLinalg,
  type Linalg,
  LinalgError,
  sgemm,
  ssyrk,
  strmm,
  symmetrizeUpper,
} from "../core/linalg.ts";
import { Rng } from "../core/rng.ts";

const lapackReason = (() => {
  const { blas, reason } = loadBlas();
  if (!blas) return reason;
  return blas.info.lapack ? null : `${blas.info.version} has no LAPACK`;
})();
if (lapackReason) console.warn(`SKIP LAPACK linalg tests: ${lapackReason}`);

function randomSpd(n: number, rng: Rng, jitter = 1): Float64Array {
  const x = Matrix.from1DArray(n, n, Array.from(rng.normalArray(n * n)));
  const a = x.transpose().mmul(x).add(Matrix.eye(n, n).mul(jitter));
  return Float64Array.from(a.to1DArray());
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

function checkImpl(la: Linalg, n: number, seed: number): void {
  const rng = new Rng(seed);
  const a = randomSpd(n, rng);
  const l = la.cholesky(a, n);
  for (let i = 0; i < n; i++) {
    assert.ok(l[i * n + i] > 0, "positive diagonal");
    for (let j = i + 1; j < n; j++) assert.equal(l[i * n + j], 0, "lower triangular");
  }
  const scale = Math.max(...a.map(Math.abs));
  assert.ok(maxDiff(la.matmul(l, l, n, n, n, false, true), a) < 1e-10 * scale, "L·Lᵀ = A");
  const li = la.invertLower(l, n);
  const id = la.matmul(li, l, n, n, n);
  const eye = new Float64Array(n * n);
  for (let i = 0; i < n; i++) eye[i * n + i] = 1;
  assert.ok(maxDiff(id, eye) < 1e-10, "L⁻¹·L = I");
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) assert.equal(li[i * n + j], 0);
  const { values, vectors } = la.eigh(a, n);
  for (let i = 1; i < n; i++) assert.ok(values[i] >= values[i - 1], "ascending eigenvalues");
  const av = la.matmul(a, vectors, n, n, n);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      assert.ok(Math.abs(av[r * n + c] - values[c] * vectors[r * n + c]) < 1e-9 * scale);
    }
  }
  assert.ok(maxDiff(la.matmul(vectors, vectors, n, n, n, true, false), eye) < 1e-10, "VᵀV = I");
}

Deno.test("ml-matrix fallback: Cholesky, triangular inverse and eigendecomposition are correct", () => {
  const la = getLinalg("ml-matrix");
  assert.equal(la.impl, "ml-matrix");
  for (const [n, seed] of [[1, 1], [4, 2], [30, 3]]) checkImpl(la, n, seed);
});

Deno.test({
  name: "LAPACK (OpenBLAS dpotrf/dtrtri/dsyevd) is correct and agrees with ml-matrix",
  ignore: lapackReason !== null,
  fn() {
    const la = getLinalg("lapack");
    const ml = getLinalg("ml-matrix");
    assert.equal(la.impl, "lapack");
    assert.equal(getLinalg().impl, "lapack");
    for (const [n, seed] of [[1, 4], [5, 5], [64, 6]]) {
      checkImpl(la, n, seed);
      const a = randomSpd(n, new Rng(seed + 100));
      const l1 = la.cholesky(a, n), l2 = ml.cholesky(a, n);
      assert.ok(maxDiff(l1, l2) < 1e-10 * Math.max(...l2.map(Math.abs)));
      assert.ok(maxDiff(la.invertLower(l1, n), ml.invertLower(l2, n)) < 1e-9);
      const e1 = la.eigh(a, n), e2 = ml.eigh(a, n);
      assert.ok(maxDiff(e1.values, e2.values) < 1e-9 * Math.max(...e2.values.map(Math.abs)));
      assert.ok(maxDiff(la.matmul(a, a, n, n, n, true), ml.matmul(a, a, n, n, n, true)) < 1e-8);
    }
  },
});

Deno.test("not positive definite, bad sizes: clear errors from both implementations", () => {
  const impls = [getLinalg("ml-matrix"), ...(lapackReason ? [] : [getLinalg("lapack")])];
  for (const la of impls) {
    assert.throws(() => la.cholesky(new Float64Array([1, 2, 2, 1]), 2), (e: Error) => {
      assert.ok(e instanceof LinalgError);
      assert.match(e.message, /not positive definite/);
      return true;
    });
    assert.throws(() => la.cholesky(new Float64Array(3), 2), /expected 2×2 = 4 values, found 3/);
    assert.throws(() => la.invertLower(new Float64Array([1, 0, 0, 0]), 2), /singular/);
  }
});

Deno.test("sgemm and ssyrk match a naive product", () => {
  const rng = new Rng(7);
  const m = 5, k = 7, n = 3;
  const a = rng.normalArray(k * m), b = rng.normalArray(n * k);
  const c = rng.normalArray(m * n);
  const want = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a[t * m + i] * b[j * k + t];
      want[i * n + j] = 2 * s + 0.5 * c[i * n + j];
    }
  }
  sgemm(true, true, m, n, k, 2, a, m, b, k, 0.5, c, n);
  assert.ok(maxDiff(c, want) < 1e-4);
  const g = new Float32Array(m * m).fill(1);
  ssyrk(m, k, 1, a, 1, g);
  symmetrizeUpper(g, m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      let s = 1;
      for (let t = 0; t < k; t++) s += a[t * m + i] * a[t * m + j];
      assert.ok(Math.abs(g[i * m + j] - s) < 1e-4, `aᵀa[${i},${j}]`);
    }
  }
});

Deno.test("strmm multiplies by the triangle only, from either side", () => {
  const rng = new Rng(8);
  const m = 4, n = 3;
  for (const side of ["left", "right"] as const) {
    for (const upper of [true, false]) {
      const d = side === "left" ? m : n;
      const t = rng.normalArray(d * d); // both triangles filled: only one may be used
      const b = rng.normalArray(m * n);
      const want = new Float64Array(m * n);
      const tri = (i: number, j: number) => (upper ? j >= i : j <= i) ? t[i * d + j] : 0;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          if (side === "left") { for (let q = 0; q < m; q++) s += tri(i, q) * b[q * n + j]; }
          else for (let q = 0; q < n; q++) s += b[i * n + q] * tri(q, j);
          want[i * n + j] = s;
        }
      }
      strmm(side, upper, m, n, t, b);
      assert.ok(maxDiff(b, want) < 1e-5, `${side} ${upper ? "upper" : "lower"}`);
    }
  }
});
