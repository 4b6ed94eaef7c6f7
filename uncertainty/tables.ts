/**
 * Results tables: aggregate per-fold / per-seed metric rows into mean ±
 * spread per group (e.g. per dataset and method), and render the result as
 * Markdown, CSV or aligned terminal text. The atomic file writers live in
 * `io.ts` and are re-exported here for convenience.
 *
 * @module
 */

import { toCsv, writeCsv, writeJson } from "./io.ts";
import { writeTextAtomic } from "../core/atomic.ts";

export { toCsv, writeCsv, writeJson };

/**
 * Options of {@linkcode aggregate}.
 *
 * @example
 * ```ts
 * import type { AggregateOptions } from "@bayes/nn";
 * const opts: AggregateOptions = { by: ["dataset", "method"], metrics: ["rmse", "testLL"] };
 * ```
 */
export interface AggregateOptions {
  /** Columns whose values define a group (e.g. `["dataset", "method"]`). */
  by: readonly string[];
  /** Numeric columns to summarise. */
  metrics: readonly string[];
  /**
   * Spread reported next to the mean: the sample standard deviation
   * (`"std"`, n − 1 denominator, the default) or the standard error of the
   * mean (`"sem"` = std / √n).
   */
  spread?: "std" | "sem";
}

/**
 * Mean and spread of one metric within one group.
 *
 * @example
 * ```ts
 * import type { MetricStat } from "@bayes/nn";
 * const s: MetricStat = { mean: 3.1, std: 0.2, n: 20 };
 * ```
 */
export interface MetricStat {
  /** Mean over the group's finite values (`NaN` when there are none). */
  mean: number;
  /** Spread (std or sem, see {@linkcode AggregateOptions}); 0 when `n` is 1, `NaN` when 0. */
  std: number;
  /** Number of finite values the statistics use. */
  n: number;
}

/**
 * One group of an aggregated table.
 *
 * @example
 * ```ts
 * import type { AggregatedRow } from "@bayes/nn";
 * const r: AggregatedRow = {
 *   group: { dataset: "boston", method: "vi" },
 *   count: 2,
 *   stats: { rmse: { mean: 3, std: 0.1, n: 2 } },
 * };
 * ```
 */
export interface AggregatedRow {
  /** The values of the `by` columns. */
  group: Record<string, string | number | boolean>;
  /** Number of input rows in the group. */
  count: number;
  /** Statistics per metric. */
  stats: Record<string, MetricStat>;
}

/**
 * An aggregated metric table, as returned by {@linkcode aggregate}.
 *
 * @example
 * ```ts
 * import { aggregate, type MetricTable } from "@bayes/nn";
 * const t: MetricTable = aggregate([{ d: "a", x: 1 }, { d: "a", x: 3 }], {
 *   by: ["d"],
 *   metrics: ["x"],
 * });
 * ```
 */
export interface MetricTable {
  /** Group columns. */
  by: string[];
  /** Metric columns. */
  metrics: string[];
  /** What `MetricStat.std` holds. */
  spread: "std" | "sem";
  /** Groups, in order of first appearance in the input rows. */
  rows: AggregatedRow[];
}

/**
 * Groups rows by the `by` columns and computes mean and standard deviation
 * (or standard error) of each metric over the rows of each group (typically
 * folds or seeds). Non-finite or missing metric values are left out of that
 * metric's statistics (see `MetricStat.n`); a metric that no row has, or a
 * value that is not a number, is an error.
 *
 * @example
 * ```ts
 * import { aggregate, summarize } from "@bayes/nn";
 * const table = aggregate(
 *   [
 *     { dataset: "boston", method: "vi", fold: 0, rmse: 3.0 },
 *     { dataset: "boston", method: "vi", fold: 1, rmse: 3.4 },
 *   ],
 *   { by: ["dataset", "method"], metrics: ["rmse"] },
 * );
 * summarize(table); // boston  vi  2  3.200 ± 0.283
 * ```
 */
export function aggregate(
  rows: readonly Record<string, unknown>[],
  options: AggregateOptions,
): MetricTable {
  if (!Array.isArray(rows)) throw new TypeError("aggregate: expected an array of row objects");
  const by = [...(options?.by ?? [])];
  const metrics = [...(options?.metrics ?? [])];
  const spread = options.spread ?? "std";
  if (spread !== "std" && spread !== "sem") {
    throw new RangeError(
      `aggregate: spread must be "std" or "sem", found ${JSON.stringify(spread)}`,
    );
  }
  if (metrics.length === 0) throw new RangeError("aggregate: options.metrics is empty");
  for (const m of metrics) {
    if (by.includes(m)) {
      throw new RangeError(`aggregate: "${m}" is both a group and a metric column`);
    }
    if (rows.length > 0 && !rows.some((r) => m in r)) {
      throw new RangeError(
        `aggregate: metric "${m}" is in none of the ${rows.length} rows ` +
          `(columns found: ${Object.keys(rows[0]).join(", ")})`,
      );
    }
  }
  const groups = new Map<
    string,
    { group: AggregatedRow["group"]; count: number; values: number[][] }
  >();
  rows.forEach((r, i) => {
    const group: AggregatedRow["group"] = {};
    for (const k of by) {
      const v = r[k];
      if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
        throw new TypeError(
          `aggregate: row ${i} has ${v === undefined ? "no" : "a non-scalar"} group column "${k}"`,
        );
      }
      group[k] = v;
    }
    const key = JSON.stringify(by.map((k) => group[k]));
    let g = groups.get(key);
    if (g === undefined) {
      g = { group, count: 0, values: metrics.map(() => []) };
      groups.set(key, g);
    }
    g.count++;
    metrics.forEach((m, j) => {
      const v = r[m];
      if (v === undefined || v === null) return;
      if (typeof v !== "number") {
        throw new TypeError(
          `aggregate: row ${i} column "${m}" should be a number, found ${typeof v} ${
            JSON.stringify(v)
          }`,
        );
      }
      if (Number.isFinite(v)) g.values[j].push(v);
    });
  });
  const out: AggregatedRow[] = [];
  for (const g of groups.values()) {
    const stats: Record<string, MetricStat> = {};
    metrics.forEach((m, j) => {
      stats[m] = meanStd(g.values[j], spread);
    });
    out.push({ group: g.group, count: g.count, stats });
  }
  return { by, metrics, spread, rows: out };
}

function meanStd(v: number[], spread: "std" | "sem"): MetricStat {
  const n = v.length;
  if (n === 0) return { mean: NaN, std: NaN, n };
  let s = 0;
  for (const x of v) s += x;
  const mean = s / n;
  if (n === 1) return { mean, std: 0, n };
  let ss = 0;
  for (const x of v) ss += (x - mean) * (x - mean);
  const std = Math.sqrt(ss / (n - 1));
  return { mean, std: spread === "sem" ? std / Math.sqrt(n) : std, n };
}

/**
 * Number formatting of tables.
 *
 * @example
 * ```ts
 * import type { FormatOptions } from "@bayes/nn";
 * const opts: FormatOptions = { digits: { rmse: 2, testLL: 3 }, title: "UCI regression" };
 * ```
 */
export interface FormatOptions {
  /** Decimals per metric, or one number for all (default 3). */
  digits?: number | Record<string, number>;
  /** Optional title (a Markdown heading, or a first line in the terminal). */
  title?: string;
}

function digitsFor(opts: FormatOptions, m: string): number {
  const d = opts.digits;
  if (typeof d === "number") return d;
  return d?.[m] ?? 3;
}

function cell(st: MetricStat, digits: number): string {
  if (st.n === 0 || !Number.isFinite(st.mean)) return "–";
  const mean = st.mean.toFixed(digits);
  return st.n < 2 ? mean : `${mean} ± ${st.std.toFixed(digits)}`;
}

function grid(table: MetricTable, opts: FormatOptions): { header: string[]; body: string[][] } {
  checkTable(table);
  const header = [...table.by, "n", ...table.metrics.map((m) => `${m}`)];
  const body = table.rows.map((r) => [
    ...table.by.map((k) => String(r.group[k])),
    String(r.count),
    ...table.metrics.map((m) =>
      cell(r.stats[m] ?? { mean: NaN, std: NaN, n: 0 }, digitsFor(opts, m))
    ),
  ]);
  return { header, body };
}

function checkTable(table: MetricTable): void {
  if (
    table === null || typeof table !== "object" || !Array.isArray(table.rows) ||
    !Array.isArray(table.by) || !Array.isArray(table.metrics)
  ) {
    throw new TypeError("expected a MetricTable as returned by aggregate()");
  }
}

function escapeMd(s: string): string {
  return s.replaceAll("|", "\\|");
}

/**
 * Renders an aggregated table as GitHub Markdown: one row per group with an
 * `n` column and `mean ± std` cells (just the mean when a group has a
 * single value, `–` when it has none).
 *
 * @example
 * ```ts
 * import { aggregate, formatMarkdown } from "@bayes/nn";
 * const t = aggregate([{ m: "vi", ll: -1 }, { m: "vi", ll: -1.2 }], { by: ["m"], metrics: ["ll"] });
 * console.log(formatMarkdown(t));
 * // | m | n | ll |
 * // | --- | ---: | ---: |
 * // | vi | 2 | -1.100 ± 0.141 |
 * ```
 */
export function formatMarkdown(table: MetricTable, options: FormatOptions = {}): string {
  const { header, body } = grid(table, options);
  const lines: string[] = [];
  if (options.title) lines.push(`## ${options.title}`, "");
  lines.push(`| ${header.map(escapeMd).join(" | ")} |`);
  lines.push(`| ${header.map((_, j) => (j < table.by.length ? "---" : "---:")).join(" | ")} |`);
  for (const r of body) lines.push(`| ${r.map(escapeMd).join(" | ")} |`);
  if (table.spread === "sem") lines.push("", "(mean ± standard error)");
  return lines.join("\n") + "\n";
}

/**
 * Flattens an aggregated table into plain rows for CSV: the group columns,
 * `n`, then `<metric>_mean`, `<metric>_std` (or `_sem`) and `<metric>_n`.
 *
 * @example
 * ```ts
 * import { aggregate, tableRows, writeCsv } from "@bayes/nn";
 * const t = aggregate([{ m: "vi", ll: -1 }], { by: ["m"], metrics: ["ll"] });
 * tableRows(t); // [{ m: "vi", n: 1, ll_mean: -1, ll_std: 0, ll_n: 1 }]
 * await writeCsv("results/summary.csv", tableRows(t));
 * ```
 */
export function tableRows(table: MetricTable): Record<string, string | number | boolean>[] {
  checkTable(table);
  return table.rows.map((r) => {
    const o: Record<string, string | number | boolean> = { ...r.group, n: r.count };
    for (const m of table.metrics) {
      const st = r.stats[m];
      o[`${m}_mean`] = st.mean;
      o[`${m}_${table.spread}`] = st.std;
      o[`${m}_n`] = st.n;
    }
    return o;
  });
}

/**
 * Renders an aggregated table as aligned plain text (text columns left,
 * numbers right).
 *
 * @example
 * ```ts
 * import { aggregate, formatText } from "@bayes/nn";
 * const t = aggregate([{ m: "vi", ll: -1 }, { m: "vi", ll: -1.2 }], { by: ["m"], metrics: ["ll"] });
 * console.log(formatText(t));
 * ```
 */
export function formatText(table: MetricTable, options: FormatOptions = {}): string {
  const { header, body } = grid(table, options);
  const width = header.map((h, j) => Math.max(h.length, ...body.map((r) => r[j].length)));
  const nBy = table.by.length;
  const line = (r: string[]): string =>
    r.map((c, j) => (j < nBy ? c.padEnd(width[j]) : c.padStart(width[j]))).join("  ").trimEnd();
  const lines: string[] = [];
  if (options.title) lines.push(options.title);
  lines.push(line(header));
  lines.push(width.map((w) => "-".repeat(w)).join("  "));
  for (const r of body) lines.push(line(r));
  return lines.join("\n") + "\n";
}

/**
 * Prints an aggregated table to the terminal with aligned columns (via
 * `console.log`) and returns the printed text.
 *
 * @example
 * ```ts
 * import { aggregate, summarize } from "@bayes/nn";
 * summarize(aggregate([{ m: "vi", ll: -1 }], { by: ["m"], metrics: ["ll"] }), { title: "UCI" });
 * ```
 */
export function summarize(table: MetricTable, options: FormatOptions = {}): string {
  const text = formatText(table, options);
  console.log(text.trimEnd());
  return text;
}

/**
 * Writes an aggregated table (or ready Markdown text) as a Markdown file,
 * atomically.
 *
 * @example
 * ```ts
 * import { aggregate, writeMarkdown } from "@bayes/nn";
 * const t = aggregate([{ m: "vi", ll: -1 }], { by: ["m"], metrics: ["ll"] });
 * await writeMarkdown("results/summary.md", t, { title: "Test log-likelihood" });
 * ```
 */
export async function writeMarkdown(
  path: string,
  table: MetricTable | string,
  options: FormatOptions = {},
): Promise<void> {
  const text = typeof table === "string" ? table : formatMarkdown(table, options);
  await writeTextAtomic(path, text);
}
