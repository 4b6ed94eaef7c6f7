/**
 * Figure assembly: one root `<svg>` holding a title, a legend, an optional banner and a grid
 * of Plot panels (nested `<svg>` elements), all built with DOM calls.
 *
 * @module
 */

import { createSvgElement, SVG_NS, type SvgElement } from "./svg.ts";

/** Font stack used for every text in a figure. */
export const FONT_FAMILY = "Helvetica, Arial, sans-serif";

/**
 * One legend entry: a swatch and a label.
 *
 * @example
 * ```ts
 * import type { LegendEntry } from "./layout.ts";
 * const e: LegendEntry = { label: "MAP", color: "#1f77b4", kind: "line" };
 * console.log(e.label);
 * ```
 */
export interface LegendEntry {
  /** Text shown next to the swatch. */
  label: string;
  /** Swatch colour. */
  color: string;
  /** Swatch shape (default `"line"`). */
  kind?: "line" | "dot" | "area";
  /** Swatch opacity (default 1). */
  opacity?: number;
  /** Dashed line swatch. */
  dash?: boolean;
}

/**
 * A panel of a figure: `render` draws it at the given size (an `<svg>` element, usually made by
 * Plot).
 *
 * @example
 * ```ts
 * import type { PanelSpec } from "./layout.ts";
 * import { createSvgElement } from "./svg.ts";
 * const p: PanelSpec = { title: "a", render: (w, h) => createSvgElement("svg", { width: w, height: h }) };
 * console.log(p.title);
 * ```
 */
export interface PanelSpec {
  /** Panel title, drawn above the panel. */
  title?: string;
  /** Colour of the panel title (default dark grey). */
  titleColor?: string;
  /** Draws the panel body at `width` × `height` pixels. */
  render(width: number, height: number): SvgElement;
}

/**
 * Layout of a whole figure.
 *
 * @example
 * ```ts
 * import type { FigureSpec } from "./layout.ts";
 * const spec: FigureSpec = { width: 450, height: 270, title: "T", panels: [] };
 * console.log(spec.width);
 * ```
 */
export interface FigureSpec {
  /** Total width in pixels. */
  width: number;
  /** Total height in pixels. */
  height: number;
  /** Figure title, drawn at the top. */
  title?: string;
  /** Legend entries, drawn under the title. */
  legend?: LegendEntry[];
  /** Number of panel columns (default: number of panels). */
  columns?: number;
  /** Full-width strip drawn between the legend and the panel grid. */
  banner?: { height: number; render(width: number, height: number): SvgElement };
  /** The panels, laid out row by row. */
  panels: PanelSpec[];
}

const TITLE_SIZE = 15;
const LEGEND_SIZE = 11;
const LEGEND_ROW = 18;
const PANEL_TITLE_SIZE = 12.5;
const PANEL_TITLE_H = 18;

/**
 * Rough width of a text in pixels (no font metrics are available).
 *
 * @example
 * ```ts
 * import { textWidth } from "./layout.ts";
 * console.log(textWidth("MAP", 10) > 0); // true
 * ```
 */
export function textWidth(text: string, fontSize: number): number {
  return text.length * fontSize * 0.58;
}

function text(content: string, attrs: Record<string, string | number | undefined>): SvgElement {
  const t = createSvgElement("text", attrs);
  t.textContent = content;
  return t;
}

/** Places legend entries in centred rows; returns the group and its height. */
function drawLegend(entries: LegendEntry[], width: number, top: number): [SvgElement, number] {
  const g = createSvgElement("g", { class: "legend", "font-size": LEGEND_SIZE });
  const sw = 22, gap = 16, maxW = width - 16;
  const widths = entries.map((e) => sw + 5 + textWidth(e.label, LEGEND_SIZE));
  const rows: number[][] = [[]];
  let rowW = 0;
  widths.forEach((w, i) => {
    const row = rows[rows.length - 1];
    if (row.length > 0 && rowW + gap + w > maxW) {
      rows.push([i]);
      rowW = w;
    } else {
      rowW += (row.length > 0 ? gap : 0) + w;
      row.push(i);
    }
  });
  rows.forEach((row, r) => {
    const total = row.reduce((s, i) => s + widths[i], 0) + gap * (row.length - 1);
    let x = Math.max(8, (width - total) / 2);
    const cy = top + r * LEGEND_ROW + LEGEND_ROW / 2;
    for (const i of row) {
      const e = entries[i];
      const item = createSvgElement("g", { class: "legend-entry" });
      const opacity = e.opacity ?? 1;
      if (e.kind === "dot") {
        item.appendChild(createSvgElement("circle", {
          cx: x + sw / 2,
          cy,
          r: 4,
          fill: e.color,
          "fill-opacity": opacity,
          stroke: e.color,
        }));
      } else if (e.kind === "area") {
        item.appendChild(createSvgElement("rect", {
          x,
          y: cy - 6,
          width: sw,
          height: 12,
          fill: e.color,
          "fill-opacity": opacity,
        }));
      } else {
        item.appendChild(createSvgElement("line", {
          x1: x,
          x2: x + sw,
          y1: cy,
          y2: cy,
          stroke: e.color,
          "stroke-opacity": opacity,
          "stroke-width": 2.5,
          "stroke-dasharray": e.dash ? "5,3" : undefined,
        }));
      }
      item.appendChild(text(e.label, { x: x + sw + 5, y: cy, dy: "0.35em", fill: "#222" }));
      g.appendChild(item);
      x += widths[i] + gap;
    }
  });
  return [g, rows.length * LEGEND_ROW];
}

/**
 * Builds the root `<svg>` of a figure: white background, title, legend, banner and the panel
 * grid. Throws a `RangeError` when the size leaves too little room for the panels.
 *
 * @example
 * ```ts
 * import { buildFigure } from "./layout.ts";
 * import { createSvgElement } from "./svg.ts";
 * const fig = buildFigure({
 *   width: 300,
 *   height: 200,
 *   title: "Empty",
 *   panels: [{ render: (w, h) => createSvgElement("svg", { width: w, height: h }) }],
 * });
 * console.log(fig.tagName.toLowerCase()); // "svg"
 * ```
 */
export function buildFigure(spec: FigureSpec): SvgElement {
  const { width, height, panels } = spec;
  if (!(width > 0 && height > 0)) {
    throw new RangeError(`figure: width and height must be positive, found ${width}×${height}`);
  }
  const root = createSvgElement("svg", {
    xmlns: SVG_NS,
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    "font-family": FONT_FAMILY,
    "font-size": 11,
  });
  root.appendChild(createSvgElement("rect", { width, height, fill: "white" }));
  let y = 6;
  if (spec.title) {
    root.appendChild(text(spec.title, {
      class: "figure-title",
      x: width / 2,
      y: 20,
      "text-anchor": "middle",
      "font-size": TITLE_SIZE,
      "font-weight": "bold",
      fill: "#111",
    }));
    y = 28;
  }
  if (spec.legend && spec.legend.length > 0) {
    const [g, h] = drawLegend(spec.legend, width, y);
    root.appendChild(g);
    y += h + 4;
  }
  if (spec.banner) {
    const bh = spec.banner.height;
    const b = spec.banner.render(width, bh);
    b.setAttribute("x", "0");
    b.setAttribute("y", String(y));
    const g = createSvgElement("g", { class: "banner" });
    g.appendChild(b);
    root.appendChild(g);
    y += bh;
  }
  const n = panels.length;
  if (n === 0) return root;
  const cols = Math.max(1, Math.min(n, Math.floor(spec.columns ?? n)));
  const rows = Math.ceil(n / cols);
  const cellW = Math.floor(width / cols);
  const cellH = Math.floor((height - y) / rows);
  const titled = panels.some((p) => p.title);
  const rowGap = rows > 1 ? 8 : 0;
  const bodyH = cellH - (titled ? PANEL_TITLE_H : 0) - rowGap;
  if (bodyH < 60 || cellW < 80) {
    throw new RangeError(
      `figure: ${width}×${height} px leaves panels of ${cellW}×${bodyH} px for ${n} panel(s) ` +
        `in ${cols} column(s); make the figure larger or use more columns`,
    );
  }
  panels.forEach((p, i) => {
    const px = (i % cols) * cellW;
    const py = y + Math.floor(i / cols) * cellH;
    const g = createSvgElement("g", { class: "panel", transform: `translate(${px},${py})` });
    if (p.title) {
      g.appendChild(text(p.title, {
        class: "panel-title",
        x: cellW / 2,
        y: 13,
        "text-anchor": "middle",
        "font-size": PANEL_TITLE_SIZE,
        "font-weight": "bold",
        fill: p.titleColor ?? "#333",
      }));
    }
    const body = p.render(cellW, bodyH);
    body.setAttribute("x", "0");
    body.setAttribute("y", String(titled ? PANEL_TITLE_H : 0));
    g.appendChild(body);
    root.appendChild(g);
  });
  return root;
}
