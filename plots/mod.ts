/**
 * Figure helpers built on Observable Plot that produce standalone SVG files (XML declaration,
 * SVG namespace, title and legend inside the SVG), with one fixed colour per method across all
 * figures.
 *
 * @example
 * ```ts ignore
 * import { lineChart, saveSvg } from "./mod.ts";
 * await saveSvg("results/loss.svg", lineChart({
 *   series: [{ name: "MAP", x: [1, 2, 3], y: [0.9, 0.5, 0.4] }],
 *   xLabel: "epoch",
 *   yLabel: "training loss (nats)",
 *   title: "Training loss",
 * }));
 * ```
 *
 * @module
 */

export {
  canonicalMethodName,
  colorsFor,
  FALLBACK_COLORS,
  METHOD_COLORS,
  methodColor,
  normalizeMethodKey,
} from "./colors.ts";
export {
  createSvgElement,
  saveSvg,
  SVG_NS,
  svgDocument,
  type SvgElement,
  toSvgString,
  XML_DECLARATION,
} from "./svg.ts";
export {
  buildFigure,
  type FigureSpec,
  FONT_FAMILY,
  type LegendEntry,
  type PanelSpec,
} from "./layout.ts";
export { lineChart, type LineChartOptions, type LineSeries } from "./line_chart.ts";
export {
  type LinePanel,
  multiPanelLines,
  type MultiPanelLinesOptions,
} from "./multi_panel_lines.ts";
export {
  regressionBands,
  type RegressionBandsOptions,
  type RegressionPanel,
  regressionPanels,
  type RegressionPanelsOptions,
  type RegressionPrediction,
  type XY,
} from "./regression.ts";
export {
  type BinTable,
  binValues,
  type HistogramGroup,
  histograms,
  type HistogramsOptions,
} from "./histograms.ts";
export { dotErrorBars, type DotErrorBarsOptions, type ErrorBarRow } from "./dot_error_bars.ts";
export {
  CLASS_COLORS,
  classProbabilities,
  type ClassProbabilitiesOptions,
  classProbabilitiesPanels,
  type ClassProbabilitiesPanelsOptions,
  type ClassProbabilityCommon,
  type ClassProbabilityPanel,
} from "./class_probabilities.ts";
export {
  expectedCalibrationError,
  type ReliabilityBin,
  reliabilityDiagram,
  type ReliabilityOptions,
  type ReliabilitySeries,
} from "./reliability.ts";
export { imageGrid, type ImageGridOptions, imageStrip } from "./image_grid.ts";
export { encodeGrayPng, grayImageDataUri } from "./png.ts";
