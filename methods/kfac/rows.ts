/**
 * Truncation groups of the curvature pass from the rows of training
 * minibatches.
 *
 * @module
 */

/**
 * Joins consecutive minibatches (their data-set rows) into truncation groups
 * of at least `size` rows (the last may be smaller).
 *
 * @example
 * ```ts
 * import { rebatchRows } from "./rows.ts";
 * rebatchRows([Int32Array.of(3, 1), Int32Array.of(0, 2), Int32Array.of(4)], 3).length; // 2
 * ```
 */
export function rebatchRows(list: readonly Int32Array[], size: number): Int32Array[] {
  const out: Int32Array[] = [];
  let group: Int32Array[] = [];
  let count = 0;
  const flush = () => {
    if (!count) return;
    const g = new Int32Array(count);
    let o = 0;
    for (const b of group) {
      g.set(b, o);
      o += b.length;
    }
    out.push(g);
    group = [];
    count = 0;
  };
  for (const b of list) {
    group.push(b);
    count += b.length;
    if (count >= size) flush();
  }
  flush();
  return out;
}

/**
 * Whether `list` holds every row `0 … n − 1` exactly once.
 *
 * @example
 * ```ts
 * import { coversOnce } from "./rows.ts";
 * coversOnce([Int32Array.of(2, 0), Int32Array.of(1)], 3); // true
 * ```
 */
export function coversOnce(list: readonly Int32Array[], n: number): boolean {
  const seen = new Uint8Array(n);
  let total = 0;
  for (const b of list) {
    for (const r of b) {
      if (!(r >= 0 && r < n) || seen[r]) return false;
      seen[r] = 1;
      total++;
    }
  }
  return total === n;
}
