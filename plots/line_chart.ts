/**
 * Line charts: training curves and metric-versus-parameter sweeps.
 *
 * @module
 */

import * as Plot from "@observablehq/plot";
import { colorsFor } from "./colors.ts";
import { buildFigure, type LegendEntry } from "./layout.ts";
import { axis, checkLength, renderPlot } from "./plot_base.ts";
import type { SvgElement } from "./svg.ts";

/**
 * One line: a name (usually a method, which fixes its colour) and its points.
 *
 * @example
 * ```ts
 * import type { LineSeries } from "./line_chart.ts";
 * const s: LineSeries = { name: "MAP", x: [1, 2, 3], y: [0.9, 0.5, 0.4] };
 * console.log(s.name);
 * ```
 */
export interface LineSeries {
  /** Legend label; known method names get their fixed colour. */
  name: string;
  /** x coordinates. */
  x: ArrayLike<number>;
  /** y coordinates (NaN leaves a gap). */
  y: ArrayLike<number>;
  /** Colour override. */
  color?: string;
  /** Draw dashed (e.g. the training curve next to a solid test curve). */
  dash?: boolean;
}

/**
 * Options of {@link lineChart}.
 *
 * @example
 * ```ts
 * import type { LineChartOptions } from "./line_chart.ts";
 * const o: LineChartOptions = { series: [], xLabel: "epoch", yLabel: "loss", title: "Loss" };
 * console.log(o.title);
 * ```
 */
export interface LineChartOptions {
  /** The lines. */
  series: LineSeries[];
  /** x axis label, with unit. */
  xLabel: string;
  /** y axis label, with unit. */
  yLabel: string;
  /** Figure title. */
  title: string;
  /** Width in pixels (default 450). */
  width?: number;
  /** Height in pixels (default 270). */
  height?: number;
  /** Logarithmic x axis. */
  logX?: boolean;
  /** Logarithmic y axis. */
  logY?: boolean;
  /** Draw a dot at every point (default: when no series has more than 25 points). */
  dots?: boolean;
}

/** Validates series and flattens them to per-series rows for the line marks. */
function seriesRows(
  fn: string,
  series: LineSeries[],
  prefix = "series",
): { x: number; y: number }[][] {
  return series.map((s, i) => {
    const field = `${prefix}[${i}] (${JSON.stringify(s.name)})`;
    if (typeof s.name !== "string") {
      throw new TypeError(`${fn}: ${prefix}[${i}].name must be a string`);
    }
    checkLength(fn, `${field}.y`, s.y, s.x?.length ?? -1);
    return Array.from({ length: s.x.length }, (_, k) => ({ x: s.x[k], y: s.y[k] }));
  });
}

/**
 * Plot marks for a set of series: one line per series (one `<path>` each) and optional dots.
 *
 * @example
 * ```ts
 * import { lineMarks } from "./line_chart.ts";
 * const marks = lineMarks([{ name: "MAP", x: [1, 2], y: [3, 4] }], new Map([["MAP", "#000"]]), true);
 * console.log(marks.length); // 2
 * ```
 */
export function lineMarks(
  series: LineSeries[],
  colors: Map<string, string>,
  dots: boolean,
  fn = "lineChart",
): Plot.Markish[] {
  const rows = seriesRows(fn, series);
  const marks: Plot.Markish[] = [];
  series.forEach((s, i) => {
    const color = s.color ?? colors.get(s.name) ?? "#333";
    marks.push(Plot.line(rows[i], {
      x: "x",
      y: "y",
      stroke: color,
      strokeWidth: 2,
      strokeDasharray: s.dash ? "6,3" : undefined,
    }));
    if (dots) marks.push(Plot.dot(rows[i], { x: "x", y: "y", fill: color, r: 2.5 }));
  });
  return marks;
}

/**
 * Legend entries for series (one per distinct name/dash combination).
 *
 * @example
 * ```ts
 * import { seriesLegend } from "./line_chart.ts";
 * const l = seriesLegend([{ name: "MAP", x: [], y: [] }], new Map([["MAP", "#000"]]));
 * console.log(l[0].label); // "MAP"
 * ```
 */
export function seriesLegend(series: LineSeries[], colors: Map<string, string>): LegendEntry[] {
  const seen = new Set<string>();
  const out: LegendEntry[] = [];
  for (const s of series) {
    const key = `${s.name}\u0000${s.dash ? 1 : 0}\u0000${s.color ?? ""}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ label: s.name, color: s.color ?? colors.get(s.name) ?? "#333", dash: s.dash });
  }
  return out;
}

/**
 * A line chart (e.g. loss or error versus epoch, a metric versus a parameter), one colour per
 * method, legend and title inside the SVG.
 *
 * @example
 * ```ts
 * import { lineChart } from "./line_chart.ts";
 * import { toSvgString } from "./svg.ts";
 * const fig = lineChart({
 *   series: [
 *     { name: "MAP", x: [1, 2, 3], y: [2.1, 1.2, 0.9] },
 *     { name: "MC Dropout", x: [1, 2, 3], y: [2.3, 1.4, 1.0] },
 *   ],
 *   xLabel: "epoch",
 *   yLabel: "test error (%)",
 *   title: "Test error",
 * });
 * console.log(toSvgString(fig).startsWith("<?xml")); // true
 * ```
 */
export function lineChart(opts: LineChartOptions): SvgElement {
  const { series, width = 450, height = 270 } = opts;
  if (!Array.isArray(series)) throw new TypeError("lineChart: series must be an array");
  const colors = colorsFor(series.map((s) => s.name));
  const dots = opts.dots ?? series.every((s) => (s.x?.length ?? 0) <= 25);
  const marks = lineMarks(series, colors, dots);
  return buildFigure({
    width,
    height,
    title: opts.title,
    legend: seriesLegend(series, colors),
    panels: [{
      render: (w, h) =>
        renderPlot({
          width: w,
          height: h,
          x: axis(opts.xLabel, { log: opts.logX }),
          y: axis(opts.yLabel, { log: opts.logY }),
          marks,
        }),
    }],
  });
}
