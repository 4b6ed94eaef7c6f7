/**
 * The inner train/validation split of the UCI study's tuning: the rows of
 * one outer training split (never its test rows) shuffled with a seed and
 * cut 80/20.
 *
 * @module
 */
import { Rng } from "../../core/rng.ts";

/**
 * Inner training and validation rows (table row indices, each sorted
 * ascending).
 *
 * @example
 * ```ts
 * import type { InnerSplit } from "./uci_inner_split.ts";
 * const s: InnerSplit = { train: Int32Array.of(0, 2), valid: Int32Array.of(1) };
 * ```
 */
export interface InnerSplit {
  /** Rows the candidates train on. */
  train: Int32Array;
  /** Rows that score the candidates. */
  valid: Int32Array;
}

/**
 * Splits the outer training rows `trainIndices` into inner training and
 * validation rows: a seeded shuffle, then the first `round(trainFraction·n)`
 * rows (at least 1, at most n − 1) train and the rest validate. The two
 * parts are disjoint and together are exactly `trainIndices`; the same seed
 * gives the same split.
 *
 * @example
 * ```ts
 * import { innerSplit } from "./uci_inner_split.ts";
 * const rows = Int32Array.from({ length: 10 }, (_, i) => 100 + i);
 * const { train, valid } = innerSplit(rows, 0);
 * console.log(train.length, valid.length); // 8 2
 * ```
 */
export function innerSplit(
  trainIndices: ArrayLike<number>,
  seed: number,
  trainFraction = 0.8,
): InnerSplit {
  const n = trainIndices.length;
  if (n < 2) {
    throw new RangeError(
      `innerSplit: the training split has ${n} row(s); tuning needs at least 2 ` +
        "(one to train on, one to validate)",
    );
  }
  if (!(trainFraction > 0 && trainFraction < 1)) {
    throw new RangeError(`innerSplit: trainFraction must be in (0, 1), found ${trainFraction}`);
  }
  const perm = new Rng(seed).permutation(n);
  const nTrain = Math.min(n - 1, Math.max(1, Math.round(trainFraction * n)));
  const pick = (from: number, to: number) => {
    const out = new Int32Array(to - from);
    for (let k = from; k < to; k++) out[k - from] = trainIndices[perm[k]];
    return out.sort();
  };
  return { train: pick(0, nTrain), valid: pick(nTrain, n) };
}
