/**
 * Figure of the MNIST results table: test log-likelihood against test
 * error, one labelled point per method and variant (circles: the reference's
 * settings, squares: tuned), the reference's published values as hollow
 * circles joined to this library's point for the same settings by a dashed
 * line (to the tuned point when the table has no reference-settings row of
 * that method). Up and left is better.
 *
 * @module
 */
import * as Plot from "@observablehq/plot";
import { colorsFor } from "../../plots/colors.ts";
import { buildFigure, type LegendEntry } from "../../plots/layout.ts";
import { axis, renderPlot } from "../../plots/plot_base.ts";
import type { SvgElement } from "../../plots/svg.ts";
import { MNIST_TEST_SIZE, type MnistTableRow } from "./mnist_table_rows.ts";

/**
 * Options of {@linkcode mnistTablePlot}.
 *
 * @example
 * ```ts
 * import type { MnistTablePlotOptions } from "./mnist_table_plot.ts";
 * const o: MnistTablePlotOptions = { title: "MNIST" };
 * ```
 */
export interface MnistTablePlotOptions {
  /** Figure title. */
  title: string;
  /** Width in pixels (default 900). */
  width?: number;
  /** Height in pixels (default 620). */
  height?: number;
}

/**
 * A row's point and its label.
 *
 * @example
 * ```ts
 * import type { Point } from "./mnist_table_plot.ts";
 * const p: Point = { label: "MAP", method: "MAP", x: 1.4, y: -455, symbol: "circle" };
 * ```
 */
export type Point = {
  label: string;
  method: string;
  x: number;
  y: number;
  symbol: "circle" | "square";
};

/**
 * A label's anchor, in data units, after {@linkcode placeLabels}.
 *
 * @example
 * ```ts
 * import type { Placed } from "./mnist_table_plot.ts";
 * const p: Placed = { label: "MAP", method: "MAP", x: 1.4, y: -455, symbol: "circle", ly: -455, moved: false };
 * ```
 */
export type Placed = Point & { ly: number; moved: boolean };

const LABEL_SIZE = 9.5;
const LABEL_GAP = 11; // px between label baselines
const MARKER_R = 6; // px, half a marker's width and a little margin
const MARGIN_LEFT = 72;
const MARGIN_RIGHT = 150;
const MARGIN_TOP = 10;
const MARGIN_BOTTOM = 38;

/** `[lo, hi]` of `values` widened by `pad` of the range on each side (never empty). */
function paddedDomain(values: number[], pad: number): [number, number] {
  const lo = Math.min(...values), hi = Math.max(...values);
  const span = hi - lo || Math.abs(hi) || 1;
  return [lo - pad * span, hi + pad * span];
}

/**
 * Moves labels (drawn right of their points) apart vertically so that no
 * two overlap and none covers another point's marker (`obstacles`: every
 * marker drawn, `points` included): top to bottom, a label that would
 * overlap a label already placed, or a marker, goes below it. Returns each
 * label's y in data units (`moved` when shifted). `w`×`h` is the panel in px.
 *
 * @example
 * ```ts
 * import { placeLabels } from "./mnist_table_plot.ts";
 * const pts = [
 *   { label: "BBB Flipout (tuned)", method: "f", x: 1.78, y: -611, symbol: "square" as const },
 *   { label: "BBB Local (tuned)", method: "l", x: 1.89, y: -616, symbol: "square" as const },
 * ];
 * const placed = placeLabels(pts, pts, [1.7, 2.7], [-1150, -580], 760, 560);
 * placed[0].moved; // true: its label would run over the local row's marker
 * ```
 */
export function placeLabels(
  points: readonly Point[],
  obstacles: readonly { x: number; y: number }[],
  xd: [number, number],
  yd: [number, number],
  w: number,
  h: number,
): Placed[] {
  const px = (x: number) =>
    MARGIN_LEFT + ((x - xd[0]) / (xd[1] - xd[0])) * (w - MARGIN_LEFT - MARGIN_RIGHT);
  const py = (y: number) =>
    MARGIN_TOP + ((yd[1] - y) / (yd[1] - yd[0])) * (h - MARGIN_TOP - MARGIN_BOTTOM);
  const toY = (p: number) =>
    yd[1] - ((p - MARGIN_TOP) / (h - MARGIN_TOP - MARGIN_BOTTOM)) * (yd[1] - yd[0]);
  // Every marker is a box to avoid from the start (a label begins 8 px right of its own
  // point, clear of its own marker, so that one needs no exception).
  const boxes = obstacles.map((o) => ({
    x0: px(o.x) - MARKER_R,
    x1: px(o.x) + MARKER_R,
    y: py(o.y),
  }));
  const order = points.map((p, i) => ({ p, i })).sort((a, b) => py(a.p.y) - py(b.p.y));
  const out: Placed[] = new Array(points.length);
  for (const { p, i } of order) {
    const x0 = px(p.x) + 8, x1 = x0 + p.label.length * LABEL_SIZE * 0.58;
    let y = py(p.y);
    for (let again = true; again;) {
      again = false;
      for (const b of boxes) {
        if (x0 < b.x1 && b.x0 < x1 && Math.abs(y - b.y) < LABEL_GAP - 1e-6) {
          y = b.y + LABEL_GAP;
          again = true;
        }
      }
    }
    boxes.push({ x0, x1, y });
    out[i] = { ...p, ly: toY(y), moved: Math.abs(y - py(p.y)) > 0.5 };
  }
  return out;
}

/**
 * Test log-likelihood (per 10 000 digits, i.e. the summed value of a full
 * test set) against test error %, per row, with the reference's values.
 *
 * @example
 * ```ts
 * import { mnistTablePlot } from "./mnist_table_plot.ts";
 * const row = {
 *   method: "MAP", key: "map", variant: "reference" as const, log_lik_sum: -600, error_pct: 1.7,
 *   ece: 0.01, mutual_info: 0, ood_auroc: 0.85, brier: 0.03, log_lik_mean: -0.06, samples: 1,
 *   n: 10000, n_ood: 10000, epochs: 20, batch_size: 128, train_examples: 60000,
 *   train_seconds: null, train_backend: null, ref_log_lik_sum: -572.9, ref_error_pct: 1.58,
 *   beats_reference: false, settings: {},
 * };
 * const svg = mnistTablePlot([row], { title: "MNIST test" });
 * console.log(svg.tagName.toLowerCase()); // "svg"
 * ```
 */
export function mnistTablePlot(rows: MnistTableRow[], opts: MnistTablePlotOptions): SvgElement {
  if (rows.length === 0) throw new RangeError("mnistTablePlot: rows must not be empty");
  const scale = (r: MnistTableRow) => MNIST_TEST_SIZE / r.n;
  const ours: Point[] = rows.map((r) => ({
    label: r.variant === "tuned" ? `${r.method} (tuned)` : r.method,
    method: r.method,
    x: r.error_pct,
    y: r.log_lik_sum * scale(r),
    symbol: r.variant === "tuned" ? "square" : "circle",
  }));
  const withRef = rows.filter((r) => r.ref_log_lik_sum !== null && r.ref_error_pct !== null);
  const hasReferenceRow = new Set(
    rows.filter((r) => r.variant === "reference").map((r) => r.method),
  );
  // A link from the published point to the reference-settings row, or to the tuned row when
  // the table has no reference-settings row of that method (e.g. a tuned-only table).
  const refs = withRef.filter((r) => r.variant === "reference" || !hasReferenceRow.has(r.method));
  // One published point per method, whichever of its rows carries the values.
  const published = [...new Map(withRef.map((r) => [r.method, r])).values()].map((r) => ({
    method: r.method,
    x: r.ref_error_pct as number,
    y: r.ref_log_lik_sum as number,
  }));
  const links = refs.map((r) => ({
    method: r.method,
    x1: r.ref_error_pct as number,
    y1: r.ref_log_lik_sum as number,
    x2: r.error_pct,
    y2: r.log_lik_sum * scale(r),
  }));
  const methods = [...new Set(rows.map((r) => r.method))];
  const colors = colorsFor(methods);
  const color = (d: { method: string }) => colors.get(d.method) as string;
  const legend: LegendEntry[] = [
    ...methods.map((m) => ({ label: m, color: colors.get(m) as string, kind: "dot" as const })),
    ...(hasReferenceRow.size
      ? [{ label: "reference settings", color: "#555", kind: "dot" as const }]
      : []),
    ...(rows.some((r) => r.variant === "tuned")
      ? [{ label: "tuned settings", color: "#555", kind: "area" as const }]
      : []),
    ...(published.length
      ? [{
        label: "reference's published value",
        color: "#555",
        kind: "dot" as const,
        opacity: 0.3,
      }]
      : []),
  ];
  const yLabel = rows.every((r) => r.n === MNIST_TEST_SIZE)
    ? "test log-likelihood (nats, summed over 10 000 digits)"
    : "test log-likelihood (nats, per 10 000 digits)";
  const xd = paddedDomain([...ours, ...published].map((p) => p.x), 0.06);
  const yd = paddedDomain([...ours, ...published].map((p) => p.y), 0.06);
  return buildFigure({
    width: opts.width ?? 900,
    height: opts.height ?? 620,
    title: opts.title,
    legend,
    panels: [{
      render: (w, h) => {
        const labels = placeLabels(ours, [...ours, ...published], xd, yd, w, h);
        return renderPlot({
          width: w,
          height: h,
          marginLeft: MARGIN_LEFT,
          marginRight: MARGIN_RIGHT,
          marginTop: MARGIN_TOP,
          marginBottom: MARGIN_BOTTOM,
          x: axis("test error (%)", { domain: xd }),
          y: axis(yLabel, { domain: yd }),
          symbol: { domain: ["circle", "square"], range: ["circle", "square"] },
          marks: [
            Plot.frame({ stroke: "#ddd" }),
            Plot.link(links, {
              x1: "x1",
              y1: "y1",
              x2: "x2",
              y2: "y2",
              stroke: color,
              strokeDasharray: "3,3",
              strokeOpacity: 0.7,
            }),
            Plot.dot(published, {
              x: "x",
              y: "y",
              r: 5,
              stroke: color,
              strokeWidth: 1.5,
              fill: "white",
            }),
            Plot.dot(ours, {
              x: "x",
              y: "y",
              r: 5,
              symbol: "symbol",
              fill: color,
              stroke: "white",
              strokeWidth: 0.8,
            }),
            // A label moved off its point gets a thin leader line.
            Plot.link(labels.filter((l) => l.moved), {
              x1: "x",
              y1: "y",
              x2: "x",
              y2: "ly",
              dx: 6,
              stroke: color,
              strokeOpacity: 0.5,
              strokeWidth: 0.7,
            }),
            Plot.text(labels, {
              x: "x",
              y: "ly",
              text: "label",
              dx: 8,
              textAnchor: "start",
              fontSize: LABEL_SIZE,
              fill: color,
              // A white halo: dashed links and leader lines pass under a label, not through it.
              stroke: "white",
              strokeWidth: 3,
            }),
            Plot.text([{ t: "↖ better" }], {
              frameAnchor: "top-right",
              dx: -6,
              dy: 6,
              text: "t",
              fill: "#888",
              fontSize: 10,
            }),
          ],
        });
      },
    }],
  });
}
