/**
 * 1-D toy regression data drawn from a Gaussian process with an RBF kernel,
 * with homoscedastic or heteroscedastic noise, and the exact GP posterior as
 * the "ground truth" for comparisons.
 *
 * Defaults: n = 500 inputs uniform on [-4, 4], length-scale 1, signal
 * variance 1, noise std 0.3 (`"homo"`) or 0.3·|x + 2| (`"hetero"`); the true
 * function is drawn jointly at the inputs and on a 200-point grid over the
 * same range.
 *
 * @module
 */

import { CholeskyDecomposition, Matrix } from "ml-matrix";
import { Rng } from "../core/rng.ts";
import { type ArrayDataset, DatasetError } from "./types.ts";

/**
 * RBF kernel hyper-parameters: k(x, x') = signalVar · exp(-(x - x')² / (2 lengthScale²)).
 *
 * @example
 * ```ts
 * import type { RbfKernel } from "@bayes/nn";
 * const k: RbfKernel = { lengthScale: 1, signalVar: 1 };
 * ```
 */
export interface RbfKernel {
  /** Length-scale ℓ (default 1). */
  lengthScale?: number;
  /** Signal variance s² (default 1). */
  signalVar?: number;
}

/**
 * The RBF kernel value for two inputs.
 *
 * @example
 * ```ts
 * import { rbf } from "@bayes/nn";
 * rbf(0, 1); // exp(-0.5) ≈ 0.6065
 * ```
 */
export function rbf(a: number, b: number, kernel: RbfKernel = {}): number {
  const l = kernel.lengthScale ?? 1;
  const s2 = kernel.signalVar ?? 1;
  const t = (a - b) / l;
  return s2 * Math.exp(-0.5 * t * t);
}

function kernelMatrix(a: ArrayLike<number>, b: ArrayLike<number>, kernel: RbfKernel): Matrix {
  const m = new Matrix(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    for (let j = 0; j < b.length; j++) m.set(i, j, rbf(a[i], b[j], kernel));
  }
  return m;
}

/** Cholesky of `m + jitter·I`, raising the jitter until it succeeds. */
function cholesky(m: Matrix, jitter: number, what: string): CholeskyDecomposition {
  const scale = Math.max(1e-300, ...Array.from({ length: m.rows }, (_, i) => m.get(i, i)));
  for (let j = jitter; j <= 1e-3 * scale; j *= 10) {
    const a = m.clone();
    for (let i = 0; i < a.rows; i++) a.set(i, i, a.get(i, i) + j * scale);
    const c = new CholeskyDecomposition(a);
    if (c.isPositiveDefinite()) return c;
  }
  throw new DatasetError(`${what}: the covariance matrix is not positive definite`);
}

/**
 * One draw of a zero-mean GP with RBF kernel at the points `xs` (Cholesky of
 * K + jitter·I with `ml-matrix`). Cost O(m³) for m points.
 *
 * @example
 * ```ts
 * import { gpSample, Rng } from "@bayes/nn";
 * const f = gpSample([-1, 0, 1], new Rng(3));
 * ```
 */
export function gpSample(
  xs: ArrayLike<number>,
  rng: Rng,
  kernel: RbfKernel & { jitter?: number } = {},
): Float64Array {
  const m = xs.length;
  if (m === 0) return new Float64Array(0);
  const chol = cholesky(kernelMatrix(xs, xs, kernel), kernel.jitter ?? 1e-8, "gpSample");
  const L = chol.lowerTriangularMatrix;
  const z = new Float64Array(m);
  rng.fillNormal(z);
  const f = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let j = 0; j <= i; j++) s += L.get(i, j) * z[j];
    f[i] = s;
  }
  return f;
}

/** Noise model of the toy data. */
export type GpNoiseKind = "homo" | "hetero";

/**
 * Noise standard deviation of the toy data at `x`: 0.3 (`"homo"`) or
 * 0.3·|x + 2| (`"hetero"`); `scale` replaces 0.3.
 *
 * @example
 * ```ts
 * import { gpToyNoiseStd } from "@bayes/nn";
 * gpToyNoiseStd(1, "hetero"); // 0.9
 * ```
 */
export function gpToyNoiseStd(x: number, kind: GpNoiseKind, scale = 0.3): number {
  return kind === "hetero" ? scale * Math.abs(x + 2) : scale;
}

/**
 * Options of {@linkcode gpToyData}.
 *
 * @example
 * ```ts
 * import type { GpToyOptions } from "@bayes/nn";
 * const opts: GpToyOptions = { n: 800, kind: "hetero", seed: 7, xRange: [-4, 4] };
 * ```
 */
export interface GpToyOptions extends RbfKernel {
  /** Number of noisy observations (default 500). */
  n?: number;
  /** Noise model (default `"homo"`). */
  kind?: GpNoiseKind;
  /** Seed (default 0). */
  seed?: number;
  /** Inputs drawn uniformly on this interval (default [-4, 4]). */
  xRange?: [number, number];
  /** Noise scale σn (default 0.3; heteroscedastic: σn·|x + 2|). */
  noiseScale?: number;
  /** Points of the evenly spaced grid on which the true function is also returned (default 200). */
  gridSize?: number;
}

/**
 * Toy data: inputs, true function values, noisy targets, per-point noise std,
 * and the true function on a grid.
 *
 * @example
 * ```ts
 * import { gpToyData, type GpToyData } from "@bayes/nn";
 * const data: GpToyData = gpToyData({ kind: "homo", seed: 1 });
 * data.train.xShape; // [1]
 * ```
 */
export interface GpToyData {
  /** The observations as a regression set (`xShape [1]`, `yShape [1]`). */
  train: ArrayDataset;
  /** Inputs (float64). */
  x: Float64Array;
  /** Noisy targets y = f(x) + ε (float64). */
  y: Float64Array;
  /** Noise-free function values at `x`. */
  f: Float64Array;
  /** Noise standard deviation of each observation. */
  noiseStd: Float64Array;
  /** Evenly spaced grid over `xRange`. */
  grid: Float64Array;
  /** True function on the grid. */
  fGrid: Float64Array;
  /** Noise model used. */
  kind: GpNoiseKind;
  /** Kernel used. */
  kernel: Required<RbfKernel>;
  /** Noise scale σn. */
  noiseScale: number;
}

/**
 * Draws 1-D regression data from a GP prior (RBF kernel, length-scale 1, unit
 * signal variance by default): x ~ U(xRange), f ~ GP jointly at x and a grid,
 * y = f(x) + ε with ε ~ N(0, σn²), σn = 0.3 (`"homo"`) or 0.3·|x + 2|
 * (`"hetero"`). Seeded and deterministic. n = 500 takes well under a second;
 * the cost grows as (n + gridSize)³.
 *
 * @example
 * ```ts
 * import { gpPosterior, gpToyData } from "@bayes/nn";
 * const data = gpToyData({ kind: "hetero", seed: 0 });
 * const truth = gpPosterior(data, data.grid, data.noiseStd);
 * ```
 */
export function gpToyData(opts: GpToyOptions = {}): GpToyData {
  const n = opts.n ?? 500;
  const kind = opts.kind ?? "homo";
  const [lo, hi] = opts.xRange ?? [-4, 4];
  const gridSize = opts.gridSize ?? 200;
  const noiseScale = opts.noiseScale ?? 0.3;
  const kernel = { lengthScale: opts.lengthScale ?? 1, signalVar: opts.signalVar ?? 1 };
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`gpToyData: n must be a positive integer, found ${n}`);
  }
  if (!Number.isInteger(gridSize) || gridSize < 0) {
    throw new RangeError(`gpToyData: gridSize must be a non-negative integer, found ${gridSize}`);
  }
  if (!(hi > lo)) throw new RangeError(`gpToyData: xRange [${lo}, ${hi}] is empty`);
  if (kind !== "homo" && kind !== "hetero") {
    throw new RangeError(`gpToyData: kind must be "homo" or "hetero", found "${kind}"`);
  }
  const rng = new Rng(opts.seed ?? 0);
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = lo + (hi - lo) * rng.uniform();
  const grid = new Float64Array(gridSize);
  for (let i = 0; i < gridSize; i++) {
    grid[i] = gridSize === 1 ? (lo + hi) / 2 : lo + ((hi - lo) * i) / (gridSize - 1);
  }
  const all = new Float64Array(n + gridSize);
  all.set(x);
  all.set(grid, n);
  const fAll = gpSample(all, rng.fork(1), kernel);
  const f = fAll.slice(0, n);
  const fGrid = fAll.slice(n);
  const noiseStd = new Float64Array(n);
  const y = new Float64Array(n);
  const eps = new Float64Array(n);
  rng.fork(2).fillNormal(eps);
  for (let i = 0; i < n; i++) {
    noiseStd[i] = gpToyNoiseStd(x[i], kind, noiseScale);
    y[i] = f[i] + noiseStd[i] * eps[i];
  }
  return {
    train: {
      x: Float32Array.from(x),
      y: Float32Array.from(y),
      n,
      xShape: [1],
      yShape: [1],
    },
    x,
    y,
    f,
    noiseStd,
    grid,
    fGrid,
    kind,
    kernel,
    noiseScale,
  };
}

/**
 * Exact GP posterior of the latent function at the points `grid`, given
 * observations `train.x`, `train.y` with Gaussian noise of standard deviation
 * `noiseStd` (one number, or one per observation for heteroscedastic data).
 * Returns the mean and the variance of f; add the noise variance at a point
 * for the predictive variance of y there.
 *
 * @example
 * ```ts
 * import { gpPosterior, gpToyData, gpToyNoiseStd } from "@bayes/nn";
 * const d = gpToyData({ kind: "homo" });
 * const { mean, variance } = gpPosterior(d, d.grid, 0.3);
 * const predVar = variance.map((v, i) => v + gpToyNoiseStd(d.grid[i], "homo") ** 2);
 * ```
 */
export function gpPosterior(
  train: { x: ArrayLike<number>; y: ArrayLike<number> },
  grid: ArrayLike<number>,
  noiseStd: number | ArrayLike<number>,
  kernel: RbfKernel = {},
): { mean: Float64Array; variance: Float64Array } {
  const n = train.x.length;
  if (train.y.length !== n) {
    throw new RangeError(`gpPosterior: ${n} inputs but ${train.y.length} targets`);
  }
  if (typeof noiseStd !== "number" && noiseStd.length !== n) {
    throw new RangeError(`gpPosterior: ${n} inputs but ${noiseStd.length} noise stds`);
  }
  const m = grid.length;
  const s2 = kernel.signalVar ?? 1;
  if (n === 0) {
    return { mean: new Float64Array(m), variance: new Float64Array(m).fill(s2) };
  }
  const K = kernelMatrix(train.x, train.x, kernel);
  for (let i = 0; i < n; i++) {
    const s = typeof noiseStd === "number" ? noiseStd : noiseStd[i];
    K.set(i, i, K.get(i, i) + s * s);
  }
  const chol = cholesky(K, 1e-10, "gpPosterior");
  const Ks = kernelMatrix(train.x, grid, kernel); // n × m
  const alpha = chol.solve(Matrix.columnVector(Array.from(train.y)));
  const V = chol.solve(Ks); // K⁻¹ K*
  const mean = new Float64Array(m);
  const variance = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    let mu = 0;
    let q = 0;
    for (let i = 0; i < n; i++) {
      const k = Ks.get(i, j);
      mu += k * alpha.get(i, 0);
      q += k * V.get(i, j);
    }
    mean[j] = mu;
    variance[j] = Math.max(0, s2 - q);
  }
  return { mean, variance };
}
