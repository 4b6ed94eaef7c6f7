/**
 * Figure of the out-of-distribution study: per method, histograms of an
 * uncertainty score on in-distribution and out-of-distribution inputs,
 * overlaid, in a grid of panels (one row per score, one column per method).
 *
 * @module
 */
import * as Plot from "@observablehq/plot";
import { binValues } from "../../plots/histograms.ts";
import { buildFigure, type PanelSpec } from "../../plots/layout.ts";
import { axis, renderPlot } from "../../plots/plot_base.ts";
import { colorsFor } from "../../plots/colors.ts";
import { multiPanelLines } from "../../plots/multi_panel_lines.ts";
import type { SvgElement } from "../../plots/svg.ts";

/**
 * Scores of one method for {@linkcode inOutHistogramPanels}.
 *
 * @example
 * ```ts
 * import type { InOutMethodScores } from "./classification_study_plots.ts";
 * const s: InOutMethodScores = { method: "MAP", scores: { total: { in: [0.1], out: [1.2] } } };
 * ```
 */
export interface InOutMethodScores {
  /** Method display label (panel title, in the method's colour). */
  method: string;
  /** Per score name: in-distribution and out-of-distribution values. */
  scores: Record<string, { in: ArrayLike<number>; out: ArrayLike<number> }>;
}

/**
 * Options of {@linkcode inOutHistogramPanels}.
 *
 * @example
 * ```ts
 * import type { InOutHistogramOptions } from "./classification_study_plots.ts";
 * const o: InOutHistogramOptions = {
 *   title: "t", inLabel: "in", outLabel: "out", rows: [], methods: [],
 * };
 * ```
 */
export interface InOutHistogramOptions {
  /** Figure title. */
  title: string;
  /** Legend label of the in-distribution inputs, e.g. `MNIST (in)`. */
  inLabel: string;
  /** Legend label of the out-of-distribution inputs, e.g. `Fashion-MNIST (out)`. */
  outLabel: string;
  /** Scores drawn, one panel row each: key in `scores` and x axis label. */
  rows: { score: string; title: string; xLabel: string; range?: [number, number] }[];
  /** One panel column per method. */
  methods: InOutMethodScores[];
  /** Equal-width bins (default 30). */
  bins?: number;
  /** Panel columns per row block before wrapping (default 4). */
  maxColumns?: number;
}

const IN_COLOR = "#4e79a7";
const OUT_COLOR = "#e15759";

function maxFinite(values: ArrayLike<number>[]): number {
  let m = 0;
  for (const v of values) {
    for (let i = 0; i < v.length; i++) if (Number.isFinite(v[i]) && v[i] > m) m = v[i];
  }
  return m;
}

function histogramMarks(
  groups: { values: ArrayLike<number>; color: string }[],
  bins: number,
  range: [number, number],
): Plot.Markish[] {
  const marks: Plot.Markish[] = [];
  for (const g of groups) {
    const t = binValues(g.values, bins, range);
    const norm = t.total > 0 ? 1 / t.total : 0;
    const table = t.x0.map((x0, i) => ({ x0, x1: t.x1[i], y: t.counts[i] * norm }));
    marks.push(Plot.rectY(table.filter((r) => r.y > 0), {
      x1: "x0",
      x2: "x1",
      y: "y",
      fill: g.color,
      fillOpacity: 0.3,
      inset: 0,
    }));
    const outline = [{ x: table[0].x0, y: 0 }, ...table.map((r) => ({ x: r.x0, y: r.y }))];
    outline.push({ x: table[table.length - 1].x1, y: table[table.length - 1].y });
    outline.push({ x: table[table.length - 1].x1, y: 0 });
    marks.push(
      Plot.line(outline, {
        x: "x",
        y: "y",
        curve: "step-after",
        stroke: g.color,
        strokeWidth: 1.5,
      }),
    );
  }
  marks.push(Plot.ruleY([0], { stroke: "#444" }));
  return marks;
}

/**
 * A grid of overlaid in/out histograms: for each score row (e.g. total and
 * epistemic entropy) and each method, the fraction of in-distribution and of
 * out-of-distribution inputs per bin. The bins of a row are shared by all
 * methods (range: `row.range`, else 0 to the largest value of the row).
 * With more than `maxColumns` methods the grid wraps into further blocks
 * of rows.
 *
 * @example
 * ```ts
 * import { inOutHistogramPanels } from "./classification_study_plots.ts";
 * const fig = inOutHistogramPanels({
 *   title: "MNIST vs Fashion-MNIST",
 *   inLabel: "MNIST (in)",
 *   outLabel: "Fashion-MNIST (out)",
 *   rows: [{ score: "total", title: "total", xLabel: "entropy (nats)" }],
 *   methods: [{ method: "MAP", scores: { total: { in: [0.1, 0.2], out: [1.5, 2] } } }],
 * });
 * console.log(fig.tagName.toLowerCase()); // "svg"
 * ```
 */
export function inOutHistogramPanels(opts: InOutHistogramOptions): SvgElement {
  const { methods, rows } = opts;
  if (methods.length === 0) throw new RangeError("inOutHistogramPanels: no methods");
  if (rows.length === 0) throw new RangeError("inOutHistogramPanels: no score rows");
  const bins = opts.bins ?? 30;
  const cols = Math.min(methods.length, opts.maxColumns ?? 4);
  const methodColors = colorsFor(methods.map((m) => m.method));
  const ranges = rows.map((r): [number, number] => {
    if (r.range) return r.range;
    const all = methods.flatMap((m) => {
      const s = m.scores[r.score];
      if (!s) {
        throw new RangeError(`inOutHistogramPanels: ${m.method} has no "${r.score}" scores`);
      }
      return [s.in, s.out];
    });
    const hi = maxFinite(all);
    return [0, hi > 0 ? hi : 1];
  });
  const panels: PanelSpec[] = [];
  for (let start = 0; start < methods.length; start += cols) {
    const block = methods.slice(start, start + cols);
    rows.forEach((r, j) => {
      for (let c = 0; c < cols; c++) {
        const m = block[c];
        if (!m) {
          panels.push({ render: (w, h) => renderPlot({ width: w, height: h, axis: null }) });
          continue;
        }
        const s = m.scores[r.score];
        const marks = histogramMarks(
          [{ values: s.in, color: IN_COLOR }, { values: s.out, color: OUT_COLOR }],
          bins,
          ranges[j],
        );
        const allZero = maxFinite([s.in, s.out]) === 0;
        panels.push({
          title: `${m.method}: ${r.title}${allZero ? " (always 0)" : ""}`,
          titleColor: methodColors.get(m.method),
          render: (w, h) =>
            renderPlot({
              width: w,
              height: h,
              x: axis(r.xLabel, { domain: ranges[j] }),
              y: axis(c === 0 ? "fraction of inputs" : undefined),
              marks,
            }),
        });
      }
    });
  }
  const nRows = panels.length / cols;
  return buildFigure({
    width: Math.max(640, 240 * cols),
    height: 70 + 220 * nRows,
    title: opts.title,
    legend: [
      { label: opts.inLabel, color: IN_COLOR, kind: "area", opacity: 0.5 },
      { label: opts.outLabel, color: OUT_COLOR, kind: "area", opacity: 0.5 },
    ],
    columns: cols,
    panels,
  });
}

/** Per-method uncertainty columns every curve study writes (rotations, FGSM). */
export interface UncertaintyCurveRow {
  /** Method display label. */
  method: string;
  /** Mean predictive (total) entropy, nats. */
  total_entropy: number;
  /** Mean expected entropy (aleatoric), nats. */
  aleatoric_entropy: number;
  /** Mean mutual information (epistemic), nats. */
  epistemic_entropy: number;
}

/**
 * Four panels against a shift (angle, ε): a quality metric, then total,
 * aleatoric and epistemic entropy, one line per method.
 *
 * @example
 * ```ts
 * import { uncertaintyCurves } from "./classification_study_plots.ts";
 * const rows = [{ method: "MAP", angle: 0, error_pct: 2, total_entropy: 0.1, aleatoric_entropy: 0.1, epistemic_entropy: 0 }];
 * const svg = uncertaintyCurves(rows, {
 *   title: "Rotated MNIST", x: "angle", xLabel: "rotation angle (°)",
 *   metric: { key: "error_pct", title: "Test error", yLabel: "error (%)" },
 * });
 * ```
 */
export function uncertaintyCurves<R extends UncertaintyCurveRow>(
  rows: R[],
  opts: {
    title: string;
    x: keyof R & string;
    xLabel: string;
    metric: { key: keyof R & string; title: string; yLabel: string };
    /** Tick values of the x axis (e.g. angles at multiples of 45°). */
    xTicks?: number[];
  },
): SvgElement {
  const methods = [...new Set(rows.map((r) => r.method))];
  const series = (key: keyof R) =>
    methods.map((name) => {
      const rs = rows.filter((r) => r.method === name);
      return { name, x: rs.map((r) => r[opts.x] as number), y: rs.map((r) => r[key] as number) };
    });
  const entropy = "entropy (nats)";
  return multiPanelLines({
    title: opts.title,
    xLabel: opts.xLabel,
    xTicks: opts.xTicks,
    columns: 2,
    height: 560,
    panels: [
      { title: opts.metric.title, yLabel: opts.metric.yLabel, series: series(opts.metric.key) },
      { title: "Total entropy", yLabel: entropy, series: series("total_entropy") },
      { title: "Aleatoric entropy", yLabel: entropy, series: series("aleatoric_entropy") },
      {
        title: "Epistemic entropy (mutual information)",
        yLabel: entropy,
        series: series("epistemic_entropy"),
      },
    ],
  });
}
