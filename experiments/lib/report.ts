/**
 * What every study prints and titles the same way: the one "wrote …" line
 * listing the files written, and the quick-budget mark on figures and
 * tables.
 *
 * @module
 */

/**
 * The line a script prints after writing its outputs:
 * `wrote a.csv, b.svg to results/x in 12.3 s` (the time only when given).
 *
 * @example
 * ```ts
 * import { wroteLine } from "./report.ts";
 * wroteLine("results/ood", ["ood.csv", "ood.json"], 4.2);
 * // "wrote ood.csv, ood.json to results/ood in 4.2 s"
 * ```
 */
export function wroteLine(dir: string, files: readonly string[], seconds?: number): string {
  const time = seconds === undefined ? "" : ` in ${seconds.toFixed(1)} s`;
  return `wrote ${files.join(", ")} to ${dir}${time}`;
}

/**
 * Marks quick-budget outputs: `" (quick budget)"`
 * appended to figure and table titles in quick mode, `""` with `--full`.
 *
 * @example
 * ```ts
 * import { budgetMark } from "./report.ts";
 * `Rotated MNIST${budgetMark(false)}`; // "Rotated MNIST (quick budget)"
 * ```
 */
export function budgetMark(full: boolean): string {
  return full ? "" : " (quick budget)";
}
