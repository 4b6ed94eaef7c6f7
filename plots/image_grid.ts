/**
 * A row (or grid) of small greyscale images, e.g. a digit at increasing rotation angles, drawn
 * with Plot `image` and `text` marks (images embedded as PNG data URIs).
 *
 * @module
 */

import * as Plot from "@observablehq/plot";
import { buildFigure } from "./layout.ts";
import { renderPlot } from "./plot_base.ts";
import { grayImageDataUri } from "./png.ts";
import type { SvgElement } from "./svg.ts";

/**
 * Options of {@link imageGrid}.
 *
 * @example
 * ```ts
 * import type { ImageGridOptions } from "./image_grid.ts";
 * const o: ImageGridOptions = { images: [new Float32Array(784)], labels: ["0°"] };
 * console.log(o.labels?.[0]);
 * ```
 */
export interface ImageGridOptions {
  /** Images, row-major pixels in [0, 1] (or [0, 255]). */
  images: ArrayLike<number>[];
  /** Caption under each image. */
  labels?: string[];
  /** Image width in pixels of the data (default 28). */
  imageWidth?: number;
  /** Image height in pixels of the data (default 28). */
  imageHeight?: number;
  /** Images per row (default: all in one row). */
  columns?: number;
  /** Dark ink on white (default true). */
  invert?: boolean;
  /** Figure title. */
  title?: string;
  /** Width in pixels (default 450). */
  width?: number;
  /** Height in pixels (default: fits the rows). */
  height?: number;
}

/**
 * Renders the images as a Plot body of the given size (used as a figure banner as well).
 *
 * @example
 * ```ts
 * import { imageStrip } from "./image_grid.ts";
 * const el = imageStrip({ images: [new Float32Array(784)], labels: ["0°"] }, 300, 70);
 * console.log(el.tagName.toLowerCase()); // "svg"
 * ```
 */
export function imageStrip(opts: ImageGridOptions, width: number, height: number): SvgElement {
  const { images, labels, imageWidth = 28, imageHeight = 28, invert = true } = opts;
  if (!Array.isArray(images) || images.length === 0) {
    throw new RangeError("imageGrid: images must be a non-empty array");
  }
  if (labels !== undefined && labels.length !== images.length) {
    throw new RangeError(
      `imageGrid: labels must have one entry per image (${images.length}), found ${labels.length}`,
    );
  }
  const cols = opts.columns ?? images.length;
  const nRows = Math.ceil(images.length / cols);
  const rows = images.map((img, i) => {
    if (img?.length !== imageWidth * imageHeight) {
      throw new RangeError(
        `imageGrid: images[${i}] must have ${imageWidth}×${imageHeight}=${
          imageWidth * imageHeight
        } pixels, found ${img?.length}`,
      );
    }
    return {
      col: i % cols,
      row: Math.floor(i / cols),
      label: labels?.[i] ?? "",
      src: grayImageDataUri(img, imageWidth, imageHeight, invert),
    };
  });
  const labelH = labels ? 14 : 0;
  const cell = Math.max(8, Math.min((width - 8) / cols - 4, height / nRows - labelH - 4));
  const marks: Plot.Markish[] = [
    Plot.image(rows, {
      x: "col",
      y: "row",
      src: "src",
      width: cell,
      height: cell * imageHeight / imageWidth,
      imageRendering: "pixelated",
      preserveAspectRatio: "xMidYMid meet",
    }),
  ];
  if (labels) {
    marks.push(
      Plot.text(rows, { x: "col", y: "row", text: "label", dy: cell / 2 + 8, fill: "#222" }),
    );
  }
  return renderPlot({
    width,
    height,
    marginTop: 2,
    marginBottom: labelH + 2,
    marginLeft: 4,
    marginRight: 4,
    x: { axis: null, domain: [-0.5, cols - 0.5] },
    y: { axis: null, domain: [-0.5, nRows - 0.5] },
    marks,
  });
}

/**
 * A figure showing small greyscale images with captions (e.g. a digit rotated by 0°…180°).
 *
 * @example
 * ```ts
 * import { imageGrid } from "./image_grid.ts";
 * const img = new Float32Array(28 * 28).map((_, i) => (i % 28 > 10 && i % 28 < 16 ? 1 : 0));
 * const fig = imageGrid({ images: [img, img], labels: ["0°", "90°"], title: "Digit" });
 * console.log(fig.tagName.toLowerCase()); // "svg"
 * ```
 */
export function imageGrid(opts: ImageGridOptions): SvgElement {
  const width = opts.width ?? 450;
  const cols = opts.columns ?? opts.images.length;
  const nRows = Math.ceil(opts.images.length / Math.max(1, cols));
  const cell = Math.min(80, (width - 8) / Math.max(1, cols) - 4);
  const body = nRows * (cell + (opts.labels ? 14 : 0) + 4) + 4;
  return buildFigure({
    width,
    height: opts.height ?? (opts.title ? 28 : 6) + Math.max(body, 60),
    title: opts.title,
    panels: [{ render: (w, h) => imageStrip(opts, w, h) }],
  });
}
