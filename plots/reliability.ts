/**
 * Reliability (calibration) diagrams: accuracy versus confidence per confidence bin.
 *
 * @module
 */

import * as Plot from "@observablehq/plot";
import { colorsFor } from "./colors.ts";
import { buildFigure, type LegendEntry } from "./layout.ts";
import { axis, renderPlot } from "./plot_base.ts";
import type { SvgElement } from "./svg.ts";

/**
 * One confidence bin: mean confidence, accuracy and number of predictions in it.
 *
 * @example
 * ```ts
 * import type { ReliabilityBin } from "./reliability.ts";
 * const b: ReliabilityBin = { confidence: 0.95, accuracy: 0.9, count: 1200 };
 * console.log(b.count);
 * ```
 */
export interface ReliabilityBin {
  /** Mean confidence of the predictions in the bin, in [0, 1]. */
  confidence: number;
  /** Fraction of correct predictions in the bin, in [0, 1]. */
  accuracy: number;
  /** Number of predictions in the bin (empty bins are skipped). */
  count: number;
}

/**
 * One method's bins.
 *
 * @example
 * ```ts
 * import type { ReliabilitySeries } from "./reliability.ts";
 * const s: ReliabilitySeries = { method: "MAP", bins: [] };
 * console.log(s.method);
 * ```
 */
export interface ReliabilitySeries {
  /** Method name (colour, legend). */
  method: string;
  /** Confidence bins. */
  bins: ReliabilityBin[];
}

/**
 * Options of {@link reliabilityDiagram}: either `bins` + `method` (one method) or `series`
 * (several methods overlaid).
 *
 * @example
 * ```ts
 * import type { ReliabilityOptions } from "./reliability.ts";
 * const o: ReliabilityOptions = { method: "MAP", bins: [{ confidence: 0.9, accuracy: 0.8, count: 10 }] };
 * console.log(o.method);
 * ```
 */
export interface ReliabilityOptions {
  /** Bins of a single method. */
  bins?: ReliabilityBin[];
  /** Name of that method. */
  method?: string;
  /** Several methods overlaid. */
  series?: ReliabilitySeries[];
  /** Figure title (default `"Reliability diagram"`). */
  title?: string;
  /** Width in pixels (default 450). */
  width?: number;
  /** Height in pixels (default 270). */
  height?: number;
}

/**
 * Expected calibration error of binned predictions: Σ count·|accuracy − confidence| / Σ count.
 *
 * @example
 * ```ts
 * import { expectedCalibrationError } from "./reliability.ts";
 * console.log(expectedCalibrationError([
 *   { confidence: 0.9, accuracy: 0.8, count: 1 },
 *   { confidence: 0.5, accuracy: 0.5, count: 1 },
 * ])); // ≈ 0.05
 * ```
 */
export function expectedCalibrationError(bins: ReliabilityBin[]): number {
  let n = 0, s = 0;
  for (const b of bins) {
    if (!(b.count > 0)) continue;
    n += b.count;
    s += b.count * Math.abs(b.accuracy - b.confidence);
  }
  return n > 0 ? s / n : NaN;
}

/**
 * Reliability diagram: accuracy against confidence per bin (one line per method, dot area ∝
 * bin count), the diagonal of perfect calibration, ECE in the legend.
 *
 * @example
 * ```ts
 * import { reliabilityDiagram } from "./reliability.ts";
 * const fig = reliabilityDiagram({
 *   method: "MAP",
 *   bins: [
 *     { confidence: 0.55, accuracy: 0.4, count: 30 },
 *     { confidence: 0.75, accuracy: 0.6, count: 80 },
 *     { confidence: 0.95, accuracy: 0.9, count: 900 },
 *   ],
 * });
 * console.log(fig.tagName.toLowerCase()); // "svg"
 * ```
 */
export function reliabilityDiagram(opts: ReliabilityOptions): SvgElement {
  const fn = "reliabilityDiagram";
  const series: ReliabilitySeries[] = opts.series ??
    (opts.bins ? [{ method: opts.method ?? "model", bins: opts.bins }] : []);
  if (series.length === 0) {
    throw new RangeError(`${fn}: give either bins (with method) or a non-empty series`);
  }
  const colors = colorsFor(series.map((s) => s.method));
  const marks: Plot.Markish[] = [
    Plot.line([[0, 0], [1, 1]], { stroke: "#888", strokeDasharray: "4,3", strokeWidth: 1 }),
  ];
  const legend: LegendEntry[] = [];
  let maxCount = 0;
  for (const s of series) for (const b of s.bins) maxCount = Math.max(maxCount, b.count || 0);
  series.forEach((s, si) => {
    s.bins.forEach((b, i) => {
      for (const k of ["confidence", "accuracy"] as const) {
        if (!(b[k] >= 0 && b[k] <= 1)) {
          throw new RangeError(
            `${fn}: series[${si}] (${s.method}) bins[${i}].${k} must be in [0, 1], found ${b[k]}`,
          );
        }
      }
    });
    const rows = s.bins.filter((b) => b.count > 0).sort((a, b) => a.confidence - b.confidence);
    const color = colors.get(s.method) as string;
    marks.push(
      Plot.line(rows, { x: "confidence", y: "accuracy", stroke: color, strokeWidth: 2 }),
      Plot.dot(rows, {
        x: "confidence",
        y: "accuracy",
        r: (b: ReliabilityBin) => 1.5 + 4.5 * Math.sqrt(b.count / (maxCount || 1)),
        fill: color,
        fillOpacity: 0.8,
      }),
    );
    const ece = expectedCalibrationError(s.bins);
    legend.push({ label: `${s.method} (ECE ${(100 * ece).toFixed(1)}%)`, color });
  });
  legend.push({ label: "perfect calibration", color: "#888", dash: true });
  return buildFigure({
    width: opts.width ?? 450,
    height: opts.height ?? 270,
    title: opts.title ?? "Reliability diagram",
    legend,
    panels: [{
      render: (w, h) =>
        renderPlot({
          width: w,
          height: h,
          x: axis("confidence (mean max probability)", { domain: [0, 1] }),
          y: axis("accuracy", { domain: [0, 1] }),
          r: { type: "identity" },
          marks,
        }),
    }],
  });
}
