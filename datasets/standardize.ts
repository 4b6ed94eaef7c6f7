/**
 * Standardisation of regression data with training-set statistics.
 *
 * @module
 */

import { type ArrayDataset, DatasetError, shapeSize } from "./types.ts";

/**
 * Per-column mean and standard deviation (population std, like `np.std`);
 * a zero std is replaced by 1 so constant columns stay finite.
 *
 * @example
 * ```ts
 * import { columnStats } from "@bayes/nn";
 * const { mean, std } = columnStats(new Float64Array([1, 10, 3, 10]), 2, 2);
 * // mean [2, 10], std [1, 1] (the second column is constant: std 0 → 1)
 * ```
 */
export function columnStats(
  values: ArrayLike<number>,
  rows: number,
  cols: number,
): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(cols);
  const std = new Float64Array(cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) mean[j] += values[i * cols + j];
  for (let j = 0; j < cols; j++) mean[j] /= Math.max(rows, 1);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const t = values[i * cols + j] - mean[j];
      std[j] += t * t;
    }
  }
  for (let j = 0; j < cols; j++) {
    const s = Math.sqrt(std[j] / Math.max(rows, 1));
    std[j] = s > 0 && Number.isFinite(s) ? s : 1;
  }
  return { mean, std };
}

/**
 * Training and test sets standardised with the training set's statistics.
 *
 * @example
 * ```ts
 * import { type ArrayDataset, standardize, type Standardized } from "@bayes/nn";
 * const train: ArrayDataset = {
 *   x: Float32Array.of(1, 2, 3, 4),
 *   y: Float32Array.of(10, 20, 30, 40),
 *   n: 4,
 *   xShape: [1],
 *   yShape: [1],
 * };
 * const s: Standardized = standardize(train);
 * ```
 */
export interface Standardized {
  /** Standardised training set. */
  train: ArrayDataset;
  /** Standardised test set (when given). */
  test?: ArrayDataset;
  /** Feature means of the training set. */
  xMean: Float64Array;
  /** Feature stds of the training set (0 replaced by 1). */
  xStd: Float64Array;
  /** Target means of the training set (one per target column). */
  yMean: Float64Array;
  /** Target stds of the training set (0 replaced by 1). */
  yStd: Float64Array;
}

function apply(
  ds: ArrayDataset,
  xMean: Float64Array,
  xStd: Float64Array,
  yMean: Float64Array,
  yStd: Float64Array,
): ArrayDataset {
  const dx = xMean.length;
  const dy = yMean.length;
  const x = new Float32Array(ds.n * dx);
  const y = new Float32Array(ds.n * dy);
  for (let i = 0; i < ds.n; i++) {
    for (let j = 0; j < dx; j++) x[i * dx + j] = (ds.x[i * dx + j] - xMean[j]) / xStd[j];
    for (let j = 0; j < dy; j++) y[i * dy + j] = (ds.y[i * dy + j] - yMean[j]) / yStd[j];
  }
  return { ...ds, x, y, xShape: ds.xShape.slice(), yShape: ds.yShape.slice() };
}

/**
 * Standardises features and targets of a regression set (and optionally a
 * test set) with the training set's per-column mean and std (zero std → 1).
 * Predictions map back to original units as `yStd * pred + yMean`.
 *
 * @example
 * ```ts
 * import { loadCsv, standardize } from "@bayes/nn";
 * const path = `${await Deno.makeTempDir()}/houses.csv`;
 * await Deno.writeTextFile(path, "rooms,area,price\n3,70,210\n4,95,280\n2,50,150\n");
 * const ds = await loadCsv(path, { features: ["rooms", "area"], target: "price" });
 * const { train, yMean, yStd } = standardize(ds); // yMean 213.3…
 * ```
 */
export function standardize(train: ArrayDataset, test?: ArrayDataset): Standardized {
  if (train.y instanceof Int32Array) {
    throw new DatasetError("standardize: the dataset has class labels, not regression targets");
  }
  const dx = shapeSize(train.xShape);
  const dy = shapeSize(train.yShape);
  if (test && (shapeSize(test.xShape) !== dx || shapeSize(test.yShape) !== dy)) {
    throw new DatasetError(
      `standardize: test set shapes [${test.xShape}]/[${test.yShape}] differ from ` +
        `training set shapes [${train.xShape}]/[${train.yShape}]`,
    );
  }
  const xs = columnStats(train.x, train.n, dx);
  const ys = columnStats(train.y, train.n, dy);
  return {
    train: apply(train, xs.mean, xs.std, ys.mean, ys.std),
    test: test ? apply(test, xs.mean, xs.std, ys.mean, ys.std) : undefined,
    xMean: xs.mean,
    xStd: xs.std,
    yMean: ys.mean,
    yStd: ys.std,
  };
}
