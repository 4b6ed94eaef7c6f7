/**
 * Overlaid histograms (weight distributions, predictive entropy in vs out of distribution),
 * binned by hand so that millions of values stay fast, drawn with Plot marks.
 *
 * @module
 */

import * as Plot from "@observablehq/plot";
import { colorsFor } from "./colors.ts";
import { buildFigure } from "./layout.ts";
import { axis, renderPlot } from "./plot_base.ts";
import type { SvgElement } from "./svg.ts";

/**
 * One distribution of {@link histograms}.
 *
 * @example
 * ```ts
 * import type { HistogramGroup } from "./histograms.ts";
 * const g: HistogramGroup = { name: "in-distribution", values: new Float32Array([0.1, 0.2]) };
 * console.log(g.name);
 * ```
 */
export interface HistogramGroup {
  /** Legend label (a method name gets its fixed colour). */
  name: string;
  /** Values; non-finite values and values outside the range are skipped. */
  values: ArrayLike<number>;
  /** Colour override. */
  color?: string;
}

/**
 * Options of {@link histograms}.
 *
 * @example
 * ```ts
 * import type { HistogramsOptions } from "./histograms.ts";
 * const o: HistogramsOptions = { groups: [], xLabel: "weight value", title: "Weights" };
 * console.log(o.bins ?? 50);
 * ```
 */
export interface HistogramsOptions {
  /** The distributions, overlaid. */
  groups: HistogramGroup[];
  /** Number of equal-width bins (default 50). */
  bins?: number;
  /** x axis label, with unit. */
  xLabel: string;
  /** y axis label (default `"density"` or `"count"`). */
  yLabel?: string;
  /** Figure title. */
  title: string;
  /** Normalise each group to unit area (default false: counts). */
  density?: boolean;
  /** Range binned (default: finite min..max over all groups). */
  range?: [number, number];
  /** Width in pixels (default 450). */
  width?: number;
  /** Height in pixels (default 270). */
  height?: number;
}

/**
 * Equal-width bins: edges `x0[i]..x1[i]` and the count in each bin.
 *
 * @example
 * ```ts
 * import type { BinTable } from "./histograms.ts";
 * const t: BinTable = { x0: [0], x1: [1], counts: new Float64Array([3]), total: 3 };
 * console.log(t.total);
 * ```
 */
export interface BinTable {
  /** Left edges. */
  x0: number[];
  /** Right edges. */
  x1: number[];
  /** Values per bin. */
  counts: Float64Array;
  /** Number of values binned (finite and inside the range). */
  total: number;
}

/**
 * Counts values into `bins` equal-width bins over `[lo, hi]` (the last bin includes `hi`);
 * skips non-finite and out-of-range values. One pass, no allocation per value.
 *
 * @example
 * ```ts
 * import { binValues } from "./histograms.ts";
 * const t = binValues([0, 0.1, 0.6, 1], 2, [0, 1]);
 * console.log(Array.from(t.counts)); // [2, 2]
 * ```
 */
export function binValues(
  values: ArrayLike<number>,
  bins: number,
  range: [number, number],
): BinTable {
  if (!Number.isInteger(bins) || bins < 1) {
    throw new RangeError(`binValues: bins must be a positive integer, found ${bins}`);
  }
  let [lo, hi] = range;
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi)) {
    throw new RangeError(`binValues: range must be finite with lo <= hi, found [${lo}, ${hi}]`);
  }
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  const counts = new Float64Array(bins);
  const scale = bins / (hi - lo);
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= lo && v <= hi)) continue; // also skips NaN
    let b = Math.floor((v - lo) * scale);
    if (b >= bins) b = bins - 1;
    counts[b]++;
    total++;
  }
  const w = (hi - lo) / bins;
  const x0 = Array.from({ length: bins }, (_, i) => lo + i * w);
  const x1 = Array.from({ length: bins }, (_, i) => (i === bins - 1 ? hi : lo + (i + 1) * w));
  return { x0, x1, counts, total };
}

/**
 * Overlaid histograms: per group, one translucent rect per non-empty bin plus a stepped outline
 * (one path), a legend and a title. Binning is done here, so 10⁶+ values are fast.
 *
 * @example
 * ```ts
 * import { histograms } from "./histograms.ts";
 * const fig = histograms({
 *   groups: [
 *     { name: "in-distribution", values: [0.1, 0.2, 0.2, 0.3] },
 *     { name: "out-of-distribution", values: [1.5, 1.9, 2.1, 2.2] },
 *   ],
 *   bins: 10,
 *   xLabel: "predictive entropy (nats)",
 *   title: "Entropy",
 *   density: true,
 * });
 * console.log(fig.tagName.toLowerCase()); // "svg"
 * ```
 */
export function histograms(opts: HistogramsOptions): SvgElement {
  const { groups, bins = 50, density = false } = opts;
  if (!Array.isArray(groups) || groups.length === 0) {
    throw new RangeError("histograms: groups must be a non-empty array");
  }
  groups.forEach((g, i) => {
    if (g.values?.length === undefined) {
      throw new TypeError(
        `histograms: groups[${i}] (${JSON.stringify(g.name)}).values must be an array`,
      );
    }
  });
  let range = opts.range;
  if (range === undefined) {
    let lo = Infinity, hi = -Infinity;
    for (const g of groups) {
      const v = g.values;
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        if (x < lo && x > -Infinity) lo = x;
        if (x > hi && x < Infinity) hi = x;
      }
    }
    if (!(lo <= hi)) {
      throw new RangeError("histograms: no finite values in any group");
    }
    range = [lo, hi];
  }
  const colors = colorsFor(groups.map((g) => g.name));
  const marks: Plot.Markish[] = [];
  for (const g of groups) {
    const t = binValues(g.values, bins, range);
    const color = g.color ?? colors.get(g.name) as string;
    const norm = density && t.total > 0 ? 1 / (t.total * (t.x1[0] - t.x0[0])) : 1;
    const table = t.x0.map((x0, i) => ({ x0, x1: t.x1[i], y: t.counts[i] * norm }));
    marks.push(Plot.rectY(table.filter((r) => r.y > 0), {
      x1: "x0",
      x2: "x1",
      y: "y",
      fill: color,
      fillOpacity: 0.3,
      inset: 0,
    }));
    const outline = [{ x: table[0].x0, y: 0 }, ...table.map((r) => ({ x: r.x0, y: r.y }))];
    outline.push({ x: table[table.length - 1].x1, y: table[table.length - 1].y });
    outline.push({ x: table[table.length - 1].x1, y: 0 });
    marks.push(
      Plot.line(outline, { x: "x", y: "y", curve: "step-after", stroke: color, strokeWidth: 1.5 }),
    );
  }
  marks.push(Plot.ruleY([0], { stroke: "#444" }));
  return buildFigure({
    width: opts.width ?? 450,
    height: opts.height ?? 270,
    title: opts.title,
    legend: groups.map((g) => ({
      label: g.name,
      color: g.color ?? colors.get(g.name) as string,
      kind: "area" as const,
      opacity: 0.5,
    })),
    panels: [{
      render: (w, h) =>
        renderPlot({
          width: w,
          height: h,
          x: axis(opts.xLabel),
          y: axis(opts.yLabel ?? (density ? "density" : "count")),
          marks,
        }),
    }],
  });
}
