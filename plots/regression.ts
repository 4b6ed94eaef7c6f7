/**
 * 1-D regression figures: predictive mean with ±2σ bands split into epistemic and total
 * (epistemic + aleatoric) uncertainty, data points, and a per-method panel version.
 *
 * @module
 */

import * as Plot from "@observablehq/plot";
import { colorsFor } from "./colors.ts";
import { buildFigure, type LegendEntry } from "./layout.ts";
import { axis, checkLength, finiteExtent, renderPlot } from "./plot_base.ts";
import type { SvgElement } from "./svg.ts";

/** Fill of the outer (total uncertainty) band. */
const TOTAL_FILL = "#f6c48f";
/** Colour of the data points. */
const DATA_COLOR = "#333333";
/** The true function: black dashes over a white halo, drawn above the mean line. */
const TRUTH_COLOR = "#000000";
const TRUTH_DASH = "5,3";

/**
 * A model's predictions on a grid of inputs.
 *
 * @example
 * ```ts
 * import type { RegressionPrediction } from "./regression.ts";
 * const p: RegressionPrediction = { x: [0, 1], mean: [0, 1], aleatoricStd: [0.1, 0.1], epistemicStd: [0.2, 0.3] };
 * console.log(p.x.length);
 * ```
 */
export interface RegressionPrediction {
  /** Input grid. */
  x: ArrayLike<number>;
  /** Predictive mean at each input. */
  mean: ArrayLike<number>;
  /** Aleatoric (noise) standard deviation at each input. */
  aleatoricStd: ArrayLike<number>;
  /** Epistemic (model) standard deviation at each input. */
  epistemicStd: ArrayLike<number>;
}

/**
 * Points given as parallel coordinate arrays.
 *
 * @example
 * ```ts
 * import type { XY } from "./regression.ts";
 * const d: XY = { x: [0, 1], y: [1, 2] };
 * console.log(d.y[1]); // 2
 * ```
 */
export interface XY {
  /** x coordinates. */
  x: ArrayLike<number>;
  /** y coordinates. */
  y: ArrayLike<number>;
}

/**
 * Options of {@link regressionBands}.
 *
 * @example
 * ```ts
 * import type { RegressionBandsOptions } from "./regression.ts";
 * const o: RegressionBandsOptions = {
 *   x: [0, 1], mean: [0, 1], aleatoricStd: [0.1, 0.1], epistemicStd: [0.2, 0.3],
 *   title: "MAP", xLabel: "x", yLabel: "y",
 * };
 * console.log(o.title);
 * ```
 */
export interface RegressionBandsOptions extends RegressionPrediction {
  /** Training data, drawn as points. */
  data?: XY;
  /** True function, drawn dashed. */
  truth?: XY;
  /** Method name (sets the colour of the mean and of the epistemic band). */
  method?: string;
  /** Figure title. */
  title: string;
  /** x axis label, with unit. */
  xLabel: string;
  /** y axis label, with unit. */
  yLabel: string;
  /** Width in pixels (default 450). */
  width?: number;
  /** Height in pixels (default 270). */
  height?: number;
  /** y range (default: fitted to data, truth and mean, and the bands within reason). */
  yDomain?: [number, number];
}

/**
 * One method's panel of {@link regressionPanels}.
 *
 * @example
 * ```ts
 * import type { RegressionPanel } from "./regression.ts";
 * const p: RegressionPanel = { method: "MC Dropout", x: [0], mean: [0], aleatoricStd: [1], epistemicStd: [1] };
 * console.log(p.method);
 * ```
 */
export interface RegressionPanel extends RegressionPrediction {
  /** Method name: panel title and colour. */
  method: string;
  /** Panel title (default: the method name). */
  title?: string;
}

/**
 * Options of {@link regressionPanels}.
 *
 * @example
 * ```ts
 * import type { RegressionPanelsOptions } from "./regression.ts";
 * const o: RegressionPanelsOptions = { panels: [], title: "Toy regression", xLabel: "x", yLabel: "y" };
 * console.log(o.title);
 * ```
 */
export interface RegressionPanelsOptions {
  /** One panel per method. */
  panels: RegressionPanel[];
  /** Ground-truth GP posterior, drawn first (method defaults to `"GP"`). */
  groundTruth?: RegressionPrediction & { method?: string; title?: string };
  /** Training data, drawn in every panel. */
  data?: XY;
  /** True function, drawn dashed in every panel. */
  truth?: XY;
  /** Figure title. */
  title: string;
  /** x axis label, with unit. */
  xLabel: string;
  /** y axis label, with unit. */
  yLabel: string;
  /** Number of columns (default 3, fewer if there are fewer panels). */
  columns?: number;
  /** Width in pixels (default 900). */
  width?: number;
  /** Height in pixels (default 420 for up to two rows, 190 per row beyond). */
  height?: number;
  /** Shared y range (default: fitted over all panels). */
  yDomain?: [number, number];
}

interface BandRow {
  x: number;
  mean: number;
  epiLo: number;
  epiHi: number;
  totLo: number;
  totHi: number;
}

function bandRows(fn: string, p: RegressionPrediction): BandRow[] {
  const n = p.x?.length;
  if (n === undefined) throw new TypeError(`${fn}: x must be an array of numbers`);
  checkLength(fn, "mean", p.mean, n);
  checkLength(fn, "aleatoricStd", p.aleatoricStd, n);
  checkLength(fn, "epistemicStd", p.epistemicStd, n);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => p.x[a] - p.x[b]);
  return order.map((i) => {
    const a = p.aleatoricStd[i], e = p.epistemicStd[i];
    if (a < 0 || e < 0) {
      throw new RangeError(
        `${fn}: standard deviations must be >= 0, found aleatoricStd[${i}]=${a}, ` +
          `epistemicStd[${i}]=${e}`,
      );
    }
    const m = p.mean[i], t = Math.sqrt(a * a + e * e);
    return {
      x: p.x[i],
      mean: m,
      epiLo: m - 2 * e,
      epiHi: m + 2 * e,
      totLo: m - 2 * t,
      totHi: m + 2 * t,
    };
  });
}

/**
 * Band rows with every value clamped to `domain` widened by its span on each side: the panel
 * clips at its edges, and the path never holds coordinates far outside it (a σ of 1e7 would
 * otherwise put points ±1e8 px away, which renderers draw as stripes).
 */
function clampRows(rows: BandRow[], domain: [number, number]): BandRow[] {
  const span = Math.max(domain[1] - domain[0], 1e-9);
  const lo = domain[0] - span, hi = domain[1] + span;
  const c = (v: number) => (Number.isNaN(v) ? v : Math.min(hi, Math.max(lo, v)));
  return rows.map((r) => ({
    x: r.x,
    mean: c(r.mean),
    epiLo: c(r.epiLo),
    epiHi: c(r.epiHi),
    totLo: c(r.totLo),
    totHi: c(r.totHi),
  }));
}

function xyRows(fn: string, field: string, d: XY | undefined): { x: number; y: number }[] {
  if (d === undefined) return [];
  checkLength(fn, `${field}.y`, d.y, d.x?.length ?? -1);
  return Array.from({ length: d.x.length }, (_, i) => ({ x: d.x[i], y: d.y[i] }));
}

/** y range covering data, truth and means, plus bands up to 75% of that span beyond. */
function fitDomain(rows: BandRow[][], extra: { x: number; y: number }[]): [number, number] {
  const core = finiteExtent(
    extra.map((r) => r.y),
    ...rows.map((rs) => rs.map((r) => r.mean)),
  ) ?? [0, 1];
  const bands = finiteExtent(...rows.map((rs) => rs.flatMap((r) => [r.totLo, r.totHi]))) ?? core;
  const span = Math.max(core[1] - core[0], 1e-9);
  const lo = Math.max(bands[0], core[0] - 0.75 * span);
  const hi = Math.min(bands[1], core[1] + 0.75 * span);
  const pad = 0.04 * (Math.max(hi, core[1]) - Math.min(lo, core[0]));
  return [Math.min(lo, core[0]) - pad, Math.max(hi, core[1]) + pad];
}

function bandMarks(
  rows: BandRow[],
  color: string,
  data: { x: number; y: number }[],
  truth: { x: number; y: number }[],
): Plot.Markish[] {
  const marks: Plot.Markish[] = [
    Plot.areaY(rows, { x: "x", y1: "totLo", y2: "epiLo", fill: TOTAL_FILL, fillOpacity: 0.7 }),
    Plot.areaY(rows, { x: "x", y1: "epiHi", y2: "totHi", fill: TOTAL_FILL, fillOpacity: 0.7 }),
    Plot.areaY(rows, { x: "x", y1: "epiLo", y2: "epiHi", fill: color, fillOpacity: 0.3 }),
  ];
  if (data.length > 0) {
    marks.push(Plot.dot(data, { x: "x", y: "y", r: 2, fill: DATA_COLOR, fillOpacity: 0.7 }));
  }
  marks.push(Plot.line(rows, { x: "x", y: "mean", stroke: color, strokeWidth: 2 }));
  if (truth.length > 0) {
    // Above the mean line (often right on it): black dashes edged in white show on any colour,
    // and the mean line shows between the dashes.
    marks.push(
      Plot.line(truth, {
        x: "x",
        y: "y",
        stroke: "white",
        strokeDasharray: TRUTH_DASH,
        strokeLinecap: "butt",
        strokeWidth: 3.5,
      }),
      Plot.line(truth, {
        x: "x",
        y: "y",
        stroke: TRUTH_COLOR,
        strokeDasharray: TRUTH_DASH,
        strokeLinecap: "butt",
        strokeWidth: 1.5,
      }),
    );
  }
  return marks;
}

function bandLegend(color: string, hasData: boolean, hasTruth: boolean): LegendEntry[] {
  const legend: LegendEntry[] = [
    { label: "predictive mean", color },
    { label: "±2σ epistemic", color, kind: "area", opacity: 0.3 },
    { label: "±2σ total (epistemic + aleatoric)", color: TOTAL_FILL, kind: "area", opacity: 0.7 },
  ];
  if (hasData) legend.push({ label: "data", color: DATA_COLOR, kind: "dot", opacity: 0.7 });
  if (hasTruth) legend.push({ label: "true function", color: TRUTH_COLOR, dash: true });
  return legend;
}

function renderBands(
  w: number,
  h: number,
  xLabel: string,
  yLabel: string,
  yDomain: [number, number],
  marks: Plot.Markish[],
): SvgElement {
  return renderPlot({
    width: w,
    height: h,
    clip: true,
    x: axis(xLabel),
    y: axis(yLabel, { domain: yDomain }),
    marks,
  });
}

/**
 * A regression plot: predictive mean, inner band ±2σ epistemic (method colour), outer band ±2σ
 * total = sqrt(σ²_aleatoric + σ²_epistemic) (light orange, drawn only outside the inner band so
 * both fills match the legend), data points, legend.
 *
 * @example
 * ```ts
 * import { regressionBands } from "./regression.ts";
 * const x = [-2, -1, 0, 1, 2];
 * const fig = regressionBands({
 *   x,
 *   mean: x.map((v) => Math.sin(v)),
 *   aleatoricStd: x.map(() => 0.1),
 *   epistemicStd: x.map((v) => 0.05 + 0.1 * v * v),
 *   data: { x: [-1, 0, 1], y: [-0.8, 0.1, 0.9] },
 *   method: "MC Dropout",
 *   title: "MC Dropout",
 *   xLabel: "x",
 *   yLabel: "y",
 * });
 * console.log(fig.tagName.toLowerCase()); // "svg"
 * ```
 */
export function regressionBands(opts: RegressionBandsOptions): SvgElement {
  const fn = "regressionBands";
  const rows = bandRows(fn, opts);
  const data = xyRows(fn, "data", opts.data);
  const truth = xyRows(fn, "truth", opts.truth);
  const color = colorsFor([opts.method ?? "MAP"]).get(opts.method ?? "MAP") as string;
  const yDomain = opts.yDomain ?? fitDomain([rows], [...data, ...truth]);
  const marks = bandMarks(clampRows(rows, yDomain), color, data, truth);
  return buildFigure({
    width: opts.width ?? 450,
    height: opts.height ?? 270,
    title: opts.title,
    legend: bandLegend(color, data.length > 0, truth.length > 0),
    panels: [{ render: (w, h) => renderBands(w, h, opts.xLabel, opts.yLabel, yDomain, marks) }],
  });
}

/**
 * One regression panel per method (plus a ground-truth GP panel first), sharing the y range,
 * the data, a legend and a title. Panel titles are drawn in the method colour.
 *
 * @example
 * ```ts
 * import { regressionPanels } from "./regression.ts";
 * const x = [-2, -1, 0, 1, 2];
 * const pred = (s: number) => ({
 *   x,
 *   mean: x.map((v) => Math.sin(v)),
 *   aleatoricStd: x.map(() => 0.1),
 *   epistemicStd: x.map((v) => s * v * v),
 * });
 * const fig = regressionPanels({
 *   title: "Toy regression",
 *   xLabel: "x",
 *   yLabel: "y",
 *   groundTruth: pred(0.05),
 *   panels: [{ method: "MAP", ...pred(0) }, { method: "MC Dropout", ...pred(0.1) }],
 * });
 * console.log(fig.tagName.toLowerCase()); // "svg"
 * ```
 */
export function regressionPanels(opts: RegressionPanelsOptions): SvgElement {
  const fn = "regressionPanels";
  const all: RegressionPanel[] = [];
  if (opts.groundTruth) {
    const method = opts.groundTruth.method ?? "GP";
    all.push({
      ...opts.groundTruth,
      method,
      title: opts.groundTruth.title ?? `${method} (ground truth)`,
    });
  }
  all.push(...opts.panels);
  if (all.length === 0) throw new RangeError(`${fn}: panels must not be empty`);
  const rows = all.map((p, i) => bandRows(`${fn}: panel ${i} (${JSON.stringify(p.method)})`, p));
  const data = xyRows(fn, "data", opts.data);
  const truth = xyRows(fn, "truth", opts.truth);
  const colors = colorsFor(all.map((p) => p.method));
  const yDomain = opts.yDomain ?? fitDomain(rows, [...data, ...truth]);
  const columns = opts.columns ?? Math.min(3, all.length);
  const nRows = Math.ceil(all.length / columns);
  return buildFigure({
    width: opts.width ?? 900,
    height: opts.height ?? (nRows <= 2 ? 420 : 190 * nRows + 60),
    title: opts.title,
    legend: bandLegend("#666666", data.length > 0, truth.length > 0),
    columns,
    panels: all.map((p, i) => {
      const color = colors.get(p.method) as string;
      const marks = bandMarks(clampRows(rows[i], yDomain), color, data, truth);
      return {
        title: p.title ?? p.method,
        titleColor: color,
        render: (w: number, h: number) =>
          renderBands(w, h, opts.xLabel, opts.yLabel, yDomain, marks),
      };
    }),
  });
}
