/**
 * Dot-and-error-bar comparison of methods across groups (e.g. UCI datasets): per group and
 * method a dot at the mean with a ±std bar; train results translucent, test solid.
 *
 * @module
 */

import * as Plot from "@observablehq/plot";
import { colorsFor } from "./colors.ts";
import { buildFigure, type LegendEntry } from "./layout.ts";
import { axis, renderPlot } from "./plot_base.ts";
import type { SvgElement } from "./svg.ts";

/**
 * One result of {@link dotErrorBars}.
 *
 * @example
 * ```ts
 * import type { ErrorBarRow } from "./dot_error_bars.ts";
 * const r: ErrorBarRow = { group: "boston", method: "MAP", mean: 3.1, std: 0.4, split: "test" };
 * console.log(r.group);
 * ```
 */
export interface ErrorBarRow {
  /** Group on the x axis (e.g. dataset name). */
  group: string;
  /** Method (colour). */
  method: string;
  /** Mean value (dot). */
  mean: number;
  /** Standard deviation (bar from mean − std to mean + std). */
  std: number;
  /** Train results are drawn translucent, test solid. */
  split?: "train" | "test";
}

/**
 * Options of {@link dotErrorBars}.
 *
 * @example
 * ```ts
 * import type { DotErrorBarsOptions } from "./dot_error_bars.ts";
 * const o: DotErrorBarsOptions = { rows: [], yLabel: "RMSE", title: "UCI" };
 * console.log(o.title);
 * ```
 */
export interface DotErrorBarsOptions {
  /** The results. */
  rows: ErrorBarRow[];
  /** y axis label, with unit. */
  yLabel: string;
  /** Figure title. */
  title: string;
  /**
   * One panel per group with its own y scale (for groups on very different scales, like RMSE
   * across datasets). Default false: one plot, shared y axis, groups side by side.
   */
  independentY?: boolean;
  /** Columns when `independentY` (default: up to 5). */
  columns?: number;
  /** Width in pixels (default 900). */
  width?: number;
  /** Height in pixels (default 420). */
  height?: number;
}

interface Row extends ErrorBarRow {
  key: string;
  lo: number;
  hi: number;
  opacity: number;
}

function keyOf(method: string, split: string | undefined): string {
  return split ? `${method} (${split})` : method;
}

function errorMarks(rows: Row[], colors: Map<string, string>, facet: boolean): Plot.Markish[] {
  const fx = facet ? "group" : undefined;
  const byOpacity = (o: number) => rows.filter((r) => r.opacity === o);
  const marks: Plot.Markish[] = [];
  for (const o of [0.35, 1]) {
    const rs = byOpacity(o);
    if (rs.length === 0) continue;
    marks.push(
      Plot.ruleX(rs, {
        fx,
        x: "key",
        y1: "lo",
        y2: "hi",
        stroke: (r: Row) => colors.get(r.method),
        strokeOpacity: o,
        strokeWidth: 2,
      }),
      Plot.dot(rs, {
        fx,
        x: "key",
        y: "mean",
        r: 3.5,
        fill: (r: Row) => colors.get(r.method),
        fillOpacity: o,
        stroke: "none",
      }),
    );
  }
  return marks;
}

/**
 * Dots with ±std error bars per group (x) and method (colour); train translucent, test solid.
 * Draws one `<line>` (error bar) and one `<circle>` per row.
 *
 * @example
 * ```ts
 * import { dotErrorBars } from "./dot_error_bars.ts";
 * const fig = dotErrorBars({
 *   title: "UCI regression",
 *   yLabel: "test RMSE",
 *   rows: [
 *     { group: "boston", method: "MAP", mean: 3.2, std: 0.5, split: "test" },
 *     { group: "boston", method: "MC Dropout", mean: 2.9, std: 0.4, split: "test" },
 *     { group: "concrete", method: "MAP", mean: 5.4, std: 0.6, split: "test" },
 *     { group: "concrete", method: "MC Dropout", mean: 5.0, std: 0.5, split: "test" },
 *   ],
 * });
 * console.log(fig.tagName.toLowerCase()); // "svg"
 * ```
 */
export function dotErrorBars(opts: DotErrorBarsOptions): SvgElement {
  const fn = "dotErrorBars";
  if (!Array.isArray(opts.rows) || opts.rows.length === 0) {
    throw new RangeError(`${fn}: rows must be a non-empty array`);
  }
  const rows: Row[] = opts.rows.map((r, i) => {
    if (typeof r.group !== "string" || typeof r.method !== "string") {
      throw new TypeError(`${fn}: rows[${i}] needs string group and method`);
    }
    if (!Number.isFinite(r.mean)) {
      throw new RangeError(
        `${fn}: rows[${i}] (${r.group}, ${r.method}) has non-finite mean ${r.mean}`,
      );
    }
    if (!(r.std >= 0)) {
      throw new RangeError(
        `${fn}: rows[${i}] (${r.group}, ${r.method}) needs std >= 0, found ${r.std}`,
      );
    }
    if (r.split !== undefined && r.split !== "train" && r.split !== "test") {
      throw new RangeError(`${fn}: rows[${i}].split must be "train" or "test", found ${r.split}`);
    }
    return {
      ...r,
      key: keyOf(r.method, r.split),
      lo: r.mean - r.std,
      hi: r.mean + r.std,
      opacity: r.split === "train" ? 0.35 : 1,
    };
  });
  const methods = [...new Set(rows.map((r) => r.method))];
  const groups = [...new Set(rows.map((r) => r.group))];
  const splits = (["train", "test", undefined] as const).filter((s) =>
    rows.some((r) => r.split === s)
  );
  const keys = methods.flatMap((m) => splits.map((s) => keyOf(m, s)))
    .filter((k) => rows.some((r) => r.key === k));
  const colors = colorsFor(methods);
  const legend: LegendEntry[] = methods.map((m) => ({
    label: m,
    color: colors.get(m) as string,
    kind: "dot",
  }));
  if (splits.includes("train")) {
    legend.push({ label: "train", color: "#555", kind: "dot", opacity: 0.35 });
  }
  if (splits.includes("test")) legend.push({ label: "test", color: "#555", kind: "dot" });
  const width = opts.width ?? 900, height = opts.height ?? 420;
  const x: Plot.ScaleOptions = { axis: null, domain: keys, padding: 0.2 };
  if (opts.independentY) {
    return buildFigure({
      width,
      height,
      title: opts.title,
      legend,
      columns: opts.columns ?? Math.min(groups.length, 5),
      panels: groups.map((g) => {
        const marks = errorMarks(rows.filter((r) => r.group === g), colors, false);
        return {
          title: g,
          render: (w: number, h: number) =>
            renderPlot({ width: w, height: h, marginBottom: 12, x, y: axis(opts.yLabel), marks }),
        };
      }),
    });
  }
  const marks = errorMarks(rows, colors, true);
  return buildFigure({
    width,
    height,
    title: opts.title,
    legend,
    panels: [{
      render: (w, h) =>
        renderPlot({
          width: w,
          height: h,
          marginBottom: 28,
          x,
          fx: { label: null, domain: groups, axis: "bottom", padding: 0.08 },
          y: axis(opts.yLabel),
          marks: [...marks, Plot.frame({ stroke: "#ddd" })],
        }),
    }],
  });
}
