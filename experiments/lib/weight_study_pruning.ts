/**
 * Global pruning masks for the pruning study: remove the given fraction of
 * all weights (over every layer together) with the lowest scores.
 *
 * @module
 */
import type { Method } from "../../core/method.ts";

/**
 * A pruning mask and how much it removes.
 *
 * @example
 * ```ts
 * import { globalPruner, type PruningMask } from "./weight_study_pruning.ts";
 * const m: PruningMask = globalPruner({ "l0.w": new Float32Array([1, 2]) })(0.5);
 * ```
 */
export interface PruningMask {
  /** 1 = keep, 0 = remove, per weight matrix entry. */
  keep: Record<string, Uint8Array>;
  /** Weights removed. */
  removed: number;
  /** Weights scored. */
  total: number;
}

/**
 * Prepares global pruning of `scores` (higher = more important, e.g. |w| or
 * |μ|/σ): returns a function giving, for a fraction `f`, the mask removing
 * exactly `round(f · total)` weights — those with the lowest scores, ties
 * broken by position — with one global threshold across all layers.
 *
 * @example
 * ```ts
 * import { globalPruner } from "./weight_study_pruning.ts";
 * const prune = globalPruner({ "l0.w": new Float32Array([0.1, 3, 0.2]), "l1.w": new Float32Array([2]) });
 * const m = prune(0.5);
 * Array.from(m.keep["l0.w"]); // [0, 1, 0]
 * ```
 */
export function globalPruner(
  scores: Record<string, Float32Array>,
): (fraction: number) => PruningMask {
  const names = Object.keys(scores);
  let total = 0;
  for (const k of names) {
    const s = scores[k];
    for (let i = 0; i < s.length; i++) {
      if (Number.isNaN(s[i])) throw new RangeError(`pruning score ${i} of ${k} is NaN`);
    }
    total += s.length;
  }
  if (total === 0) throw new RangeError("globalPruner: no weights to score");
  const sorted = new Float32Array(total);
  let off = 0;
  for (const k of names) {
    sorted.set(scores[k], off);
    off += scores[k].length;
  }
  sorted.sort();
  return (fraction: number): PruningMask => {
    if (!(fraction >= 0 && fraction <= 1)) {
      throw new RangeError(`pruning fraction must be in [0, 1], found ${fraction}`);
    }
    const k = Math.round(fraction * total);
    const keep: Record<string, Uint8Array> = {};
    if (k === 0) {
      for (const n of names) keep[n] = new Uint8Array(scores[n].length).fill(1);
      return { keep, removed: 0, total };
    }
    const t = sorted[k - 1];
    // Entries equal to the threshold are removed in order until k are gone.
    let less = 0;
    for (let i = 0; i < k; i++) if (sorted[i] < t) less++;
    let equalBudget = k - less;
    let removed = 0;
    for (const n of names) {
      const s = scores[n];
      const m = new Uint8Array(s.length);
      for (let i = 0; i < s.length; i++) {
        const v = s[i];
        if (v < t || (v === t && equalBudget-- > 0)) removed++;
        else m[i] = 1;
      }
      keep[n] = m;
    }
    return { keep, removed, total };
  };
}

/**
 * One evaluation of a pruning sweep.
 *
 * @example
 * ```ts
 * import type { PruningResult } from "./weight_study_pruning.ts";
 * const r: PruningResult = { fraction: 0.9, removed: 9, total: 10, metrics: { logLikMean: -0.1 } };
 * ```
 */
export interface PruningResult {
  /** Requested fraction. */
  fraction: number;
  /** Weights removed. */
  removed: number;
  /** Weights scored. */
  total: number;
  /** Whatever `evaluate` returned for the pruned method. */
  metrics: PruningMetrics;
}

/**
 * What a pruning sweep's `evaluate` returns (e.g. `core/evaluate.ts`'s `EvalResult`).
 *
 * @example
 * ```ts
 * import type { PruningMetrics } from "./weight_study_pruning.ts";
 * const m: PruningMetrics = { errorPct: 1.7, logLikMean: -0.06 };
 * ```
 */
export interface PruningMetrics {
  /** Test error in percent (classification). */
  errorPct?: number;
  /** Test log-likelihood per example. */
  logLikMean: number;
}

/**
 * Prunes `method` to each fraction in turn (one global threshold on
 * `pruningScores()`), evaluates it (`evaluate` may be async), and restores
 * the original state (`getState`/`setState`) before the next fraction and at
 * the end. `onFraction` is called after each evaluation (progress lines).
 * Returns `undefined` when the method lacks the pruning hooks.
 *
 * @example
 * ```ts
 * import { pruningSweep } from "./weight_study_pruning.ts";
 * import { evaluate } from "../../core/evaluate.ts";
 * // const rs = await pruningSweep(method, [0, 0.9], (m) => evaluate(m, test, { samples: 10 }));
 * ```
 */
export async function pruningSweep(
  method: Method,
  fractions: readonly number[],
  evaluate: (m: Method) => PruningMetrics | Promise<PruningMetrics>,
  onFraction?: (r: PruningResult) => void,
): Promise<PruningResult[] | undefined> {
  if (!method.pruningScores || !method.applyPruningMask) return undefined;
  const saved = await method.getState();
  const prune = globalPruner(await method.pruningScores());
  const out: PruningResult[] = [];
  for (const fraction of fractions) {
    const mask = prune(fraction);
    if (mask.removed > 0) await method.applyPruningMask(mask.keep);
    try {
      const metrics = await evaluate(method);
      out.push({ fraction, removed: mask.removed, total: mask.total, metrics });
      onFraction?.(out[out.length - 1]);
    } finally {
      if (mask.removed > 0) await method.setState(saved);
    }
  }
  return out;
}

/**
 * The score each registered method ranks its weights by in `pruningScores`
 * (lowest removed first), for figure legends and tables; `undefined` for a
 * method not listed.
 *
 * @example
 * ```ts
 * import { pruningRanking } from "./weight_study_pruning.ts";
 * pruningRanking("bbb_gaussian"); // "|μ|/σ"
 * pruningRanking("map"); // "|w|"
 * ```
 */
export function pruningRanking(key: string): string | undefined {
  if (key === "map" || key === "mc_dropout" || key === "ensemble") return "|w|";
  if (key.startsWith("bbb")) return "|μ|/σ";
  if (key === "kfac_laplace") return "|w_MAP|/σ";
  if (key === "sgld" || key === "psgld" || key === "sghmc") return "|sample mean|";
  return undefined;
}
