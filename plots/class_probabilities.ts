/**
 * Predicted class probabilities of one input under a changing transformation (e.g. a digit
 * rotated by increasing angles): one line per class, or stacked bars; per-method panels.
 *
 * @module
 */

import * as Plot from "@observablehq/plot";
import { colorsFor } from "./colors.ts";
import { imageStrip } from "./image_grid.ts";
import { buildFigure, type FigureSpec, type LegendEntry } from "./layout.ts";
import { axis, checkLength, renderPlot } from "./plot_base.ts";
import type { SvgElement } from "./svg.ts";

/**
 * Colours of classes 0–9; further classes repeat them. Chosen apart from every method colour
 * (`METHOD_COLORS`, at least 24 CIELAB ΔE from each) and from each other (at least 30), so a
 * class line is never mistaken for a method in figures that show both.
 *
 * @example
 * ```ts
 * import { CLASS_COLORS } from "./class_probabilities.ts";
 * console.log(CLASS_COLORS.length); // 10
 * ```
 */
export const CLASS_COLORS: readonly string[] = Object.freeze([
  "#000075",
  "#fc8d62",
  "#00876c",
  "#ff1493",
  "#637939",
  "#b66dff",
  "#924900",
  "#004949",
  "#f032e6",
  "#e7969c",
]);

const OTHER_COLOR = "#dddddd";

/**
 * One method's predictions for {@link classProbabilitiesPanels}.
 *
 * @example
 * ```ts
 * import type { ClassProbabilityPanel } from "./class_probabilities.ts";
 * const p: ClassProbabilityPanel = { method: "MAP", probs: [[0.9, 0.1]] };
 * console.log(p.method);
 * ```
 */
export interface ClassProbabilityPanel {
  /** Method name (panel title, in the method colour). */
  method: string;
  /** Probabilities, `probs[angle][class]`. */
  probs: number[][];
  /** Optional standard deviation across posterior samples, same shape (drawn as ±1σ bands). */
  std?: number[][];
}

/**
 * Shared options of the class-probability figures.
 *
 * @example
 * ```ts
 * import type { ClassProbabilityCommon } from "./class_probabilities.ts";
 * const o: ClassProbabilityCommon = { angles: [0, 45, 90] };
 * console.log(o.angles.length);
 * ```
 */
export interface ClassProbabilityCommon {
  /** Transformation parameter per row of `probs` (e.g. rotation angles in degrees). */
  angles: number[];
  /** Class names (default `"0"`, `"1"`, …). */
  classNames?: string[];
  /** x axis label (default `"rotation angle (°)"`). */
  xLabel?: string;
  /** Tick values of the x axis in `"lines"` mode (default: chosen by the scale). */
  xTicks?: number[];
  /** `"lines"` (default): one line per class; `"stacked"`: stacked bars per angle. */
  mode?: "lines" | "stacked";
  /** Classes whose probability never reaches this are left out / lumped as "other" (0.05). */
  minProb?: number;
  /** Images of the input at each angle, drawn as a strip above the plot(s). */
  images?: ArrayLike<number>[];
  /** Captions of the images (default: the angles with a degree sign). */
  imageLabels?: string[];
  /** Width in pixels. */
  width?: number;
  /** Height in pixels. */
  height?: number;
}

/**
 * Options of {@link classProbabilities}.
 *
 * @example
 * ```ts
 * import type { ClassProbabilitiesOptions } from "./class_probabilities.ts";
 * const o: ClassProbabilitiesOptions = { angles: [0], probs: [[1, 0]], method: "MAP" };
 * console.log(o.method);
 * ```
 */
export interface ClassProbabilitiesOptions extends ClassProbabilityCommon {
  /** Probabilities, `probs[angle][class]`. */
  probs: number[][];
  /** Optional standard deviation across posterior samples (±1σ bands in `"lines"` mode). */
  std?: number[][];
  /** Method name. */
  method: string;
  /** Figure title (default `"<method>: predicted class probabilities"`). */
  title?: string;
}

/**
 * Options of {@link classProbabilitiesPanels}.
 *
 * @example
 * ```ts
 * import type { ClassProbabilitiesPanelsOptions } from "./class_probabilities.ts";
 * const o: ClassProbabilitiesPanelsOptions = { angles: [0], panels: [], title: "Rotated 1" };
 * console.log(o.title);
 * ```
 */
export interface ClassProbabilitiesPanelsOptions extends ClassProbabilityCommon {
  /** One panel per method. */
  panels: ClassProbabilityPanel[];
  /** Figure title. */
  title: string;
  /** Number of columns (default: up to 3). */
  columns?: number;
}

interface ProbRow {
  angle: number;
  cls: number;
  p: number;
  lo: number;
  hi: number;
}

function validate(fn: string, angles: number[], p: ClassProbabilityPanel): number {
  if (!Array.isArray(angles) || angles.length === 0) {
    throw new RangeError(`${fn}: angles must be a non-empty array`);
  }
  checkLength(fn, `probs of ${JSON.stringify(p.method)}`, p.probs, angles.length);
  const k = p.probs[0]?.length ?? 0;
  p.probs.forEach((row, i) => {
    checkLength(fn, `probs[${i}] of ${JSON.stringify(p.method)}`, row, k);
    if (p.std) checkLength(fn, `std[${i}] of ${JSON.stringify(p.method)}`, p.std[i], k);
  });
  if (p.std) checkLength(fn, `std of ${JSON.stringify(p.method)}`, p.std, angles.length);
  return k;
}

function probRows(angles: number[], p: ClassProbabilityPanel): ProbRow[] {
  const out: ProbRow[] = [];
  angles.forEach((angle, i) => {
    p.probs[i].forEach((v, cls) => {
      const s = p.std?.[i][cls] ?? 0;
      out.push({ angle, cls, p: v, lo: Math.max(0, v - s), hi: Math.min(1, v + s) });
    });
  });
  return out;
}

function panelMarks(
  rows: ProbRow[],
  shown: number[],
  mode: "lines" | "stacked",
  hasStd: boolean,
): Plot.Markish[] {
  const classColor = (c: number) => CLASS_COLORS[c % CLASS_COLORS.length];
  if (mode === "stacked") {
    // Shown classes stacked in class order, all other classes summed into one grey segment.
    const shownSet = new Set(shown);
    const other = new Map<number, number>();
    const stacked: { angle: number; key: number; p: number }[] = [];
    for (const r of rows) {
      if (shownSet.has(r.cls)) stacked.push({ angle: r.angle, key: r.cls, p: r.p });
      else other.set(r.angle, (other.get(r.angle) ?? 0) + r.p);
    }
    for (const [angle, p] of other) stacked.push({ angle, key: Infinity, p });
    return [
      Plot.barY(stacked, {
        x: "angle",
        y: "p",
        fill: (r: { key: number }) => (r.key === Infinity ? OTHER_COLOR : classColor(r.key)),
        order: "key",
      }),
    ];
  }
  const marks: Plot.Markish[] = [];
  for (const c of shown) {
    const rs = rows.filter((r) => r.cls === c);
    if (hasStd) {
      marks.push(
        Plot.areaY(rs, { x: "angle", y1: "lo", y2: "hi", fill: classColor(c), fillOpacity: 0.2 }),
      );
    }
    marks.push(
      Plot.line(rs, { x: "angle", y: "p", stroke: classColor(c), strokeWidth: 2 }),
      Plot.dot(rs, { x: "angle", y: "p", fill: classColor(c), r: 2.5 }),
    );
  }
  return marks;
}

function renderProbPlot(
  w: number,
  h: number,
  xLabel: string,
  mode: "lines" | "stacked",
  marks: Plot.Markish[],
  xTicks?: number[],
): SvgElement {
  return renderPlot({
    width: w,
    height: h,
    x: mode === "stacked"
      ? { label: xLabel, labelAnchor: "center", labelArrow: "none", type: "band", padding: 0.1 }
      : axis(xLabel, { ticks: xTicks }),
    y: axis("predicted probability", { domain: [0, 1] }),
    marks,
  });
}

function figure(
  fn: string,
  common: ClassProbabilityCommon,
  panels: ClassProbabilityPanel[],
  layout: Pick<FigureSpec, "width" | "height" | "title" | "columns">,
  panelTitles: boolean,
): SvgElement {
  const { angles, mode = "lines", minProb = 0.05 } = common;
  const k = Math.max(...panels.map((p) => validate(fn, angles, p)));
  const names = common.classNames ?? Array.from({ length: k }, (_, i) => String(i));
  if (names.length < k) {
    throw new RangeError(`${fn}: classNames has ${names.length} names for ${k} classes`);
  }
  const maxP = new Float64Array(k);
  for (const p of panels) {
    for (const row of p.probs) row.forEach((v, c) => (maxP[c] = Math.max(maxP[c], v)));
  }
  const shown = Array.from({ length: k }, (_, c) => c).filter((c) => maxP[c] >= minProb);
  const legend: LegendEntry[] = shown.map((c) => ({
    label: `class ${names[c]}`,
    color: CLASS_COLORS[c % CLASS_COLORS.length],
    kind: mode === "stacked" ? "area" : "line",
  }));
  if (mode === "stacked" && shown.length < k) {
    legend.push({ label: "other classes", color: OTHER_COLOR, kind: "area" });
  }
  const methodColors = colorsFor(panels.map((p) => p.method));
  const xLabel = common.xLabel ?? "rotation angle (°)";
  const spec: FigureSpec = {
    ...layout,
    legend,
    panels: panels.map((p) => {
      const marks = panelMarks(probRows(angles, p), shown, mode, p.std !== undefined);
      return {
        title: panelTitles ? p.method : undefined,
        titleColor: methodColors.get(p.method),
        render: (w: number, h: number) => renderProbPlot(w, h, xLabel, mode, marks, common.xTicks),
      };
    }),
  };
  if (common.images) {
    const images = common.images;
    const labels = common.imageLabels ?? angles.map((a) => `${a}°`);
    spec.banner = {
      height: 64,
      render: (w, h) => imageStrip({ images, labels }, w, h),
    };
  }
  return buildFigure(spec);
}

/**
 * Class probabilities of one input at increasing transformation (rotation) angles for one
 * method: one line per class that reaches `minProb` (with ±1σ bands when `std` is given), or
 * stacked bars; optional strip of the rotated images above.
 *
 * @example
 * ```ts
 * import { classProbabilities } from "./class_probabilities.ts";
 * const fig = classProbabilities({
 *   method: "MC Dropout",
 *   angles: [0, 45, 90],
 *   probs: [[0.9, 0.1, 0], [0.5, 0.4, 0.1], [0.2, 0.3, 0.5]],
 * });
 * console.log(fig.tagName.toLowerCase()); // "svg"
 * ```
 */
export function classProbabilities(opts: ClassProbabilitiesOptions): SvgElement {
  return figure(
    "classProbabilities",
    opts,
    [{ method: opts.method, probs: opts.probs, std: opts.std }],
    {
      width: opts.width ?? 450,
      height: opts.height ?? (opts.images ? 334 : 270),
      title: opts.title ?? `${opts.method}: predicted class probabilities`,
    },
    false,
  );
}

/**
 * {@link classProbabilities} for several methods side by side, sharing the class legend and
 * the image strip.
 *
 * @example
 * ```ts
 * import { classProbabilitiesPanels } from "./class_probabilities.ts";
 * const angles = [0, 45, 90];
 * const fig = classProbabilitiesPanels({
 *   title: "Rotated digit",
 *   angles,
 *   panels: [
 *     { method: "MAP", probs: [[1, 0], [0.9, 0.1], [0.1, 0.9]] },
 *     { method: "MC Dropout", probs: [[0.9, 0.1], [0.6, 0.4], [0.4, 0.6]] },
 *   ],
 * });
 * console.log(fig.tagName.toLowerCase()); // "svg"
 * ```
 */
export function classProbabilitiesPanels(opts: ClassProbabilitiesPanelsOptions): SvgElement {
  const { panels } = opts;
  if (!Array.isArray(panels) || panels.length === 0) {
    throw new RangeError("classProbabilitiesPanels: panels must be a non-empty array");
  }
  const columns = opts.columns ?? Math.min(3, panels.length);
  const nRows = Math.ceil(panels.length / columns);
  return figure(
    "classProbabilitiesPanels",
    opts,
    panels,
    {
      width: opts.width ?? 900,
      height: opts.height ??
        (nRows <= 2 ? 420 : 190 * nRows + 60) + (opts.images ? 64 : 0),
      title: opts.title,
      columns,
    },
    true,
  );
}
