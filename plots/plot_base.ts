/**
 * Shared pieces for the figure helpers: rendering a Plot body into the SVG document, axis
 * options and input validation.
 *
 * @module
 */

import * as Plot from "@observablehq/plot";
import { FONT_FAMILY } from "./layout.ts";
import { svgDocument, type SvgElement } from "./svg.ts";

/**
 * Default margins of a panel body, in pixels (room for tick labels and centred axis labels).
 *
 * @example
 * ```ts
 * import { MARGINS } from "./plot_base.ts";
 * console.log(MARGINS.marginLeft);
 * ```
 */
export const MARGINS: Readonly<
  { marginTop: number; marginRight: number; marginBottom: number; marginLeft: number }
> = Object.freeze({ marginTop: 10, marginRight: 14, marginBottom: 38, marginLeft: 58 });

/**
 * Renders a Plot body (no title, caption or legend: those would make Plot return an HTML
 * `<figure>`) into the shared SVG document. Throws a `TypeError` if Plot returns anything but
 * `<svg>`.
 *
 * @example
 * ```ts
 * import * as Plot from "@observablehq/plot";
 * import { renderPlot } from "./plot_base.ts";
 * const svg = renderPlot({ width: 300, height: 200, marks: [Plot.lineY([1, 3, 2])] });
 * console.log(svg.tagName.toLowerCase()); // "svg"
 * ```
 */
export function renderPlot(options: Plot.PlotOptions): SvgElement {
  const { title, subtitle, caption, ...rest } = options;
  if (title !== undefined || subtitle !== undefined || caption !== undefined) {
    throw new TypeError(
      "renderPlot: title/subtitle/caption make Plot return an HTML <figure>; " +
        "pass them to the figure layout instead",
    );
  }
  const el = Plot.plot({
    ...MARGINS,
    ...rest,
    document: svgDocument() as Plot.PlotOptions["document"],
  }) as unknown as SvgElement;
  if (String(el.tagName).toLowerCase() !== "svg") {
    throw new TypeError(`renderPlot: Plot returned <${el.tagName}> instead of <svg>`);
  }
  el.setAttribute("font-family", FONT_FAMILY);
  el.setAttribute("font-size", "11");
  return el;
}

/**
 * Scale options for a labelled axis: label centred along the axis without arrow, optional log
 * scale, grid lines, optional explicit tick values (e.g. angles at multiples of 45°).
 *
 * @example
 * ```ts
 * import { axis } from "./plot_base.ts";
 * console.log(axis("epoch").label); // "epoch"
 * ```
 */
export function axis(
  label: string | undefined,
  opts: { log?: boolean; domain?: [number, number]; grid?: boolean; ticks?: number[] } = {},
): Plot.ScaleOptions {
  const o: Plot.ScaleOptions = {
    label: label ?? null,
    labelAnchor: "center",
    labelArrow: "none",
    grid: opts.grid ?? true,
  };
  if (opts.log) {
    o.type = "log";
    o.tickFormat = "~g";
  }
  if (opts.domain) o.domain = opts.domain;
  else o.nice = true;
  if (opts.ticks) o.ticks = opts.ticks;
  return o;
}

/**
 * Checks that an array-like of numbers has the expected length; throws a `RangeError` naming
 * the field otherwise.
 *
 * @example
 * ```ts
 * import { checkLength } from "./plot_base.ts";
 * checkLength("lineChart", "series[0].y", [1, 2], 2);
 * ```
 */
export function checkLength(
  fn: string,
  field: string,
  values: ArrayLike<unknown> | undefined,
  expected: number,
): void {
  const n = values?.length;
  if (n !== expected) {
    throw new RangeError(
      `${fn}: ${field} must have length ${expected}, found ${
        values === undefined ? "undefined" : n
      }`,
    );
  }
}

/**
 * Minimum and maximum of the finite values (ignores NaN/±Infinity); `undefined` if none.
 *
 * @example
 * ```ts
 * import { finiteExtent } from "./plot_base.ts";
 * console.log(finiteExtent([3, NaN, -1])); // [-1, 3]
 * ```
 */
export function finiteExtent(...arrays: ArrayLike<number>[]): [number, number] | undefined {
  let lo = Infinity, hi = -Infinity;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      if (!Number.isFinite(v)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return lo <= hi ? [lo, hi] : undefined;
}
