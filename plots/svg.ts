/**
 * The DOM used to render figures (a linkedom SVG document) and standalone-SVG serialisation.
 *
 * @module
 */

import { DOMParser } from "linkedom";

/** The SVG namespace URI. */
export const SVG_NS = "http://www.w3.org/2000/svg";

/** The XML declaration that starts every saved SVG file. */
export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

/**
 * The parts of a DOM element used by the figure helpers (figures are linkedom elements; the
 * project type-checks without the DOM library, hence this structural type).
 *
 * @example
 * ```ts
 * import { createSvgElement, type SvgElement } from "./svg.ts";
 * const el: SvgElement = createSvgElement("svg", { width: 10, height: 10 });
 * console.log(el.getAttribute("width")); // "10"
 * ```
 */
export interface SvgElement {
  /** Tag name, e.g. `"svg"`. */
  readonly tagName: string;
  /** Serialised markup of the element and its children. */
  readonly outerHTML: string;
  /** Text content of the element. */
  textContent: string | null;
  /** Sets an attribute. */
  setAttribute(name: string, value: string): void;
  /** Reads an attribute (`null` when absent). */
  getAttribute(name: string): string | null;
  /** Appends a child node and returns it. */
  appendChild<T>(child: T): T;
  /** All descendants matching a CSS selector. */
  querySelectorAll(selector: string): ArrayLike<SvgElement>;
}

/** A linkedom document, seen through the few members used here. */
interface SvgDocument {
  createElementNS(ns: string, tag: string): SvgElement;
}

let sharedDocument: SvgDocument | undefined;

/**
 * The document every figure is rendered into: an XML (SVG) document, so that attribute values
 * are escaped and tag case (`clipPath`) is kept when serialising. Pass it as Plot's `document`.
 *
 * @example
 * ```ts
 * import { svgDocument } from "./svg.ts";
 * const doc = svgDocument();
 * console.log(typeof doc === "object"); // true
 * ```
 */
export function svgDocument(): object {
  if (sharedDocument === undefined) {
    sharedDocument = new DOMParser().parseFromString(
      `<svg xmlns="${SVG_NS}"></svg>`,
      "image/svg+xml",
    ) as unknown as SvgDocument;
  }
  return sharedDocument as unknown as object;
}

/**
 * Creates an SVG element in the shared document, setting the given attributes (skipping
 * `undefined` values).
 *
 * @example
 * ```ts
 * import { createSvgElement } from "./svg.ts";
 * const r = createSvgElement("rect", { x: 0, y: 0, width: 5, height: 5, fill: "red" });
 * console.log(r.outerHTML.startsWith("<rect")); // true
 * ```
 */
export function createSvgElement(
  tag: string,
  attrs: Record<string, string | number | undefined> = {},
): SvgElement {
  const el = (svgDocument() as SvgDocument).createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined) el.setAttribute(k, typeof v === "number" ? fmt(v) : v);
  }
  return el;
}

/** Formats a coordinate compactly (at most 2 decimals). */
function fmt(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/**
 * Serialises a figure as a standalone SVG document: XML declaration, `svg` root carrying
 * `xmlns="http://www.w3.org/2000/svg"`. Strings are normalised the same way. Throws a
 * `TypeError` for anything whose root is not `<svg>` (e.g. Plot's HTML `<figure>`).
 *
 * @example
 * ```ts
 * import { createSvgElement, toSvgString } from "./svg.ts";
 * const s = toSvgString(createSvgElement("svg", { width: 10, height: 10 }));
 * console.log(s.startsWith("<?xml")); // true
 * ```
 */
export function toSvgString(svg: SvgElement | string): string {
  let body: string;
  if (typeof svg === "string") {
    body = svg.trim();
    if (body.startsWith("<?xml")) body = body.slice(body.indexOf("?>") + 2).trim();
    if (!/^<svg[\s>]/.test(body)) {
      throw new TypeError(
        `toSvgString: expected markup whose root is <svg>, found ${
          JSON.stringify(body.slice(0, 40))
        }`,
      );
    }
    if (!/^<svg[^>]*\sxmlns=/.test(body)) body = `<svg xmlns="${SVG_NS}"` + body.slice(4);
  } else {
    const tag = String(svg?.tagName ?? "").toLowerCase();
    if (tag !== "svg") {
      throw new TypeError(
        `toSvgString: expected an <svg> element, found <${tag || typeof svg}>` +
          (tag === "figure"
            ? " (Plot returns a <figure> when given title/caption/legend; render those as SVG)"
            : ""),
      );
    }
    if (svg.getAttribute("xmlns") === null) svg.setAttribute("xmlns", SVG_NS);
    body = svg.outerHTML;
  }
  return `${XML_DECLARATION}\n${body}\n`;
}

/**
 * Writes a figure to `path` as a standalone SVG file, atomically (temporary file then rename),
 * creating missing parent directories.
 *
 * @example
 * ```ts ignore
 * import { saveSvg } from "./svg.ts";
 * import { lineChart } from "./line_chart.ts";
 * await saveSvg("results/loss.svg", lineChart({
 *   series: [{ name: "MAP", x: [1, 2], y: [0.5, 0.3] }],
 *   xLabel: "epoch",
 *   yLabel: "loss (nats)",
 *   title: "Training loss",
 * }));
 * ```
 */
export async function saveSvg(path: string, svg: SvgElement | string): Promise<void> {
  const text = toSvgString(svg);
  const slash = path.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
  const tmp = `${path}.tmp-${Deno.pid}`;
  try {
    await Deno.writeTextFile(tmp, text);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`saveSvg: could not write ${path}: ${(err as Error).message}`, { cause: err });
  }
}
