/**
 * Summaries of the UCI study's rows: mean, sample standard deviation and
 * standard error of the mean (s.e. = std / √n, n − 1 in the std) over folds
 * or splits per protocol, data set and method. Rows marked `diverged` are
 * never averaged in; they are counted in a `diverged` column and named in a
 * note under the Markdown tables.
 *
 * @module
 */
import { aggregate, formatMarkdown, type FormatOptions } from "../../uncertainty/tables.ts";

/**
 * Standard error of the mean of `values`: the sample standard deviation
 * (n − 1 denominator) divided by √n; `NaN` for fewer than two values.
 *
 * @example
 * ```ts
 * import { standardError } from "./uci_summary.ts";
 * standardError([1, 2, 3, 4]); // √(5/3) / 2 ≈ 0.6455
 * ```
 */
export function standardError(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return NaN;
  return sampleStd(values) / Math.sqrt(n);
}

/**
 * Sample standard deviation (n − 1 denominator); `NaN` for fewer than two values.
 *
 * @example
 * ```ts
 * import { sampleStd } from "./uci_summary.ts";
 * sampleStd([1, 2, 3, 4]); // √(5/3) ≈ 1.291
 * ```
 */
export function sampleStd(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return NaN;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  return Math.sqrt(values.reduce((s, v) => s + (v - mean) * (v - mean), 0) / (n - 1));
}

type Row = Readonly<Record<string, unknown>>;

/**
 * Whether a row is marked diverged (`true`, or `"true"` as read back from CSV).
 *
 * @example
 * ```ts
 * import { isDiverged } from "./uci_summary.ts";
 * isDiverged({ diverged: true }); // true
 * isDiverged({ test_rmse: 1 }); // false
 * ```
 */
export function isDiverged(row: Row): boolean {
  return row.diverged === true || row.diverged === "true";
}

/** A row's count in column `k` (0 when absent, e.g. rows of older CSVs). */
function count(row: Row, k: string): number {
  const v = Number(row[k] ?? 0);
  return Number.isFinite(v) ? v : 0;
}

const GROUP = ["protocol", "dataset", "method"] as const;

/**
 * One summary row per protocol, data set and method (in order of first
 * appearance): `n` (rows averaged), `diverged` (rows left out), then for
 * each metric `<m>_mean`, `<m>_std` (sample std), `<m>_sem` (standard
 * error) and `<m>_n` (finite values used). Diverged rows are left out of
 * every statistic.
 *
 * @example
 * ```ts
 * import { uciSummaryRows } from "./uci_summary.ts";
 * const rows = [1, 2, 3, 4].map((v, fold) => ({
 *   protocol: "splits", dataset: "yacht", method: "MAP", fold, test_rmse: v, diverged: false,
 * }));
 * uciSummaryRows(rows, ["test_rmse"])[0].test_rmse_sem; // ≈ 0.6455
 * ```
 */
export function uciSummaryRows(
  rows: readonly Row[],
  metrics: readonly string[],
): Record<string, string | number>[] {
  const groups = new Map<
    string,
    { group: Record<string, string>; rows: Row[]; diverged: number }
  >();
  for (const r of rows) {
    const group = Object.fromEntries(GROUP.map((k) => [k, String(r[k])]));
    const key = JSON.stringify(GROUP.map((k) => group[k]));
    let g = groups.get(key);
    if (!g) groups.set(key, g = { group, rows: [], diverged: 0 });
    if (isDiverged(r)) g.diverged++;
    else g.rows.push(r);
  }
  return [...groups.values()].map((g) => {
    const o: Record<string, string | number> = {
      ...g.group,
      n: g.rows.length,
      diverged: g.diverged,
    };
    for (const m of metrics) {
      const v = g.rows.map((r) => r[m]).filter((x): x is number =>
        typeof x === "number" && Number.isFinite(x)
      );
      o[`${m}_mean`] = v.length ? v.reduce((s, x) => s + x, 0) / v.length : NaN;
      o[`${m}_std`] = v.length === 1 ? 0 : sampleStd(v);
      o[`${m}_sem`] = standardError(v);
      o[`${m}_n`] = v.length;
    }
    return o;
  });
}

/**
 * A Markdown table of one protocol's rows: `mean ± s.e.` per data set and
 * method over the rows that did not diverge (`n` counts them), then a note
 * naming the data sets and methods with diverged rows and how many (or that
 * none diverged), and one naming those whose final fit was restarted and
 * how many tuning candidates were (when any were).
 *
 * @example
 * ```ts
 * import { uciMarkdown } from "./uci_summary.ts";
 * const rows = [1, 2].map((v) => ({ dataset: "yacht", method: "MAP", test_rmse: v, diverged: false }));
 * console.log(uciMarkdown(rows, ["test_rmse"], { title: "fixed splits: mean ± s.e." }));
 * ```
 */
export function uciMarkdown(
  rows: readonly Row[],
  metrics: readonly string[],
  options: FormatOptions = {},
): string {
  const kept = rows.filter((r) => !isDiverged(r));
  const lines = [
    formatMarkdown(
      aggregate(kept, { by: ["dataset", "method"], metrics, spread: "sem" }),
      options,
    ).trimEnd(),
    "",
  ];
  // One pass: per data set and method, the rows, the diverged ones and the kept ones whose
  // final fit was restarted; over all rows, the tuning candidates restarted.
  const counts = new Map<string, { bad: number; restarted: number; all: number }>();
  let candidates = 0;
  let candidateRows = 0;
  for (const r of rows) {
    const k = `${r.dataset} / ${r.method}`;
    const c = counts.get(k) ?? { bad: 0, restarted: 0, all: 0 };
    c.all++;
    if (isDiverged(r)) c.bad++;
    else if (count(r, "restarts") > 0) c.restarted++;
    counts.set(k, c);
    const t = count(r, "tune_restarts");
    candidates += t;
    if (t > 0) candidateRows++;
  }
  const bad = [...counts].filter(([, c]) => c.bad > 0);
  const total = bad.reduce((s, [, c]) => s + c.bad, 0);
  lines.push(
    bad.length === 0
      ? "No run diverged."
      : `Diverged after every restart and left out of the means: ${total} run(s) — ` +
        bad.map(([k, c]) => `${k}: ${c.bad} of ${c.all}`).join("; ") + ".",
    "",
  );
  const restarted = [...counts].filter(([, c]) => c.restarted > 0);
  const notes = [
    restarted.length
      ? "Restarted after a failed try (a new seed; the row is the try that passed): " +
        restarted.map(([k, c]) => `${k}: ${c.restarted} of ${c.all}`).join("; ") + "."
      : "",
    candidates ? `Tuning candidates restarted: ${candidates} (in ${candidateRows} row(s)).` : "",
  ].filter(Boolean);
  if (notes.length) lines.push(notes.join(" "), "");
  return lines.join("\n");
}
