/**
 * Several line-chart panels sharing an x axis, a legend and a title (e.g. error and entropies
 * versus rotation angle, one line per method).
 *
 * @module
 */

import { colorsFor } from "./colors.ts";
import { buildFigure } from "./layout.ts";
import { lineMarks, type LineSeries, seriesLegend } from "./line_chart.ts";
import { axis, renderPlot } from "./plot_base.ts";
import type { SvgElement } from "./svg.ts";

/**
 * One panel of {@link multiPanelLines}.
 *
 * @example
 * ```ts
 * import type { LinePanel } from "./multi_panel_lines.ts";
 * const p: LinePanel = { title: "Error", yLabel: "error (%)", series: [] };
 * console.log(p.title);
 * ```
 */
export interface LinePanel {
  /** Panel title. */
  title: string;
  /** y axis label, with unit. */
  yLabel: string;
  /** Lines of this panel. */
  series: LineSeries[];
  /** Logarithmic y axis. */
  logY?: boolean;
}

/**
 * Options of {@link multiPanelLines}.
 *
 * @example
 * ```ts
 * import type { MultiPanelLinesOptions } from "./multi_panel_lines.ts";
 * const o: MultiPanelLinesOptions = { panels: [], xLabel: "angle (°)", title: "Rotation" };
 * console.log(o.xLabel);
 * ```
 */
export interface MultiPanelLinesOptions {
  /** The panels, laid out row by row. */
  panels: LinePanel[];
  /** Shared x axis label, with unit. */
  xLabel: string;
  /** Figure title. */
  title: string;
  /** Number of columns (default: all panels in one row up to 4). */
  columns?: number;
  /** Width in pixels (default 900). */
  width?: number;
  /** Height in pixels (default 420 for one or two rows, 200 per row beyond). */
  height?: number;
  /** Logarithmic x axis on every panel. */
  logX?: boolean;
  /** Tick values of the shared x axis (default: chosen by the scale). */
  xTicks?: number[];
  /** Draw a dot at every point (default: when no series has more than 25 points). */
  dots?: boolean;
}

/**
 * Line-chart panels with a shared legend: each series name keeps one colour in every panel.
 *
 * @example
 * ```ts
 * import { multiPanelLines } from "./multi_panel_lines.ts";
 * const angles = [0, 30, 60, 90];
 * const fig = multiPanelLines({
 *   title: "Rotated digit",
 *   xLabel: "rotation angle (°)",
 *   columns: 2,
 *   panels: [
 *     { title: "Error", yLabel: "error (%)", series: [{ name: "MAP", x: angles, y: [1, 5, 40, 80] }] },
 *     { title: "Entropy", yLabel: "entropy (nats)", series: [{ name: "MAP", x: angles, y: [0.1, 0.3, 0.9, 1.1] }] },
 *   ],
 * });
 * console.log(fig.tagName.toLowerCase()); // "svg"
 * ```
 */
export function multiPanelLines(opts: MultiPanelLinesOptions): SvgElement {
  const { panels } = opts;
  if (!Array.isArray(panels) || panels.length === 0) {
    throw new RangeError("multiPanelLines: panels must be a non-empty array");
  }
  const columns = opts.columns ?? Math.min(panels.length, 4);
  const rows = Math.ceil(panels.length / columns);
  const all = panels.flatMap((p) => p.series);
  const colors = colorsFor(all.map((s) => s.name));
  const dots = opts.dots ?? all.every((s) => (s.x?.length ?? 0) <= 25);
  return buildFigure({
    width: opts.width ?? 900,
    height: opts.height ?? (rows <= 2 ? 420 : 200 * rows + 60),
    title: opts.title,
    legend: seriesLegend(all, colors),
    columns,
    panels: panels.map((p, i) => {
      const marks = lineMarks(p.series, colors, dots, `multiPanelLines: panels[${i}]`);
      return {
        title: p.title,
        render: (w: number, h: number) =>
          renderPlot({
            width: w,
            height: h,
            x: axis(opts.xLabel, { log: opts.logX, ticks: opts.xTicks }),
            y: axis(p.yLabel, { log: p.logY }),
            marks,
          }),
      };
    }),
  });
}
