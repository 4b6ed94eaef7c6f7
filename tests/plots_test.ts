import assert from "node:assert/strict";
import * as Plot from "@observablehq/plot";
import { DOMParser } from "linkedom";
import {
  binValues,
  CLASS_COLORS,
  classProbabilities,
  classProbabilitiesPanels,
  colorsFor,
  dotErrorBars,
  expectedCalibrationError,
  FALLBACK_COLORS,
  histograms,
  imageGrid,
  lineChart,
  METHOD_COLORS,
  methodColor,
  multiPanelLines,
  regressionBands,
  regressionPanels,
  reliabilityDiagram,
  saveSvg,
  SVG_NS,
  svgDocument,
  type SvgElement,
  toSvgString,
} from "../plots/mod.ts";

// deno-lint-ignore no-explicit-any
type Node = any;

/** Serialises, checks the standalone-SVG invariants, parses back and returns the root. */
function parse(fig: SvgElement | string): Node {
  const s = toSvgString(fig);
  assert.ok(s.startsWith('<?xml version="1.0"'), "starts with an XML declaration");
  assert.ok(!s.includes("<figure"), "no HTML <figure> wrapper");
  const doc = new DOMParser().parseFromString(s, "image/svg+xml");
  const root = doc.documentElement;
  assert.equal(root.tagName.toLowerCase(), "svg");
  assert.equal(root.getAttribute("xmlns"), SVG_NS);
  assert.equal(doc.querySelectorAll("figure").length, 0);
  return root;
}

const all = (root: Node, sel: string): Node[] => Array.from(root.querySelectorAll(sel));
const texts = (root: Node, sel = "text"): string[] => all(root, sel).map((t) => t.textContent);
const legendLabels = (root: Node): string[] => texts(root, ".legend-entry text");
const title = (root: Node): string => root.querySelector(".figure-title")?.textContent;
/** Marks of Plot's kind inside the panels (legend swatches excluded). */
const marks = (root: Node, kind: string, child: string): Node[] =>
  all(root, `.panel g[aria-label="${kind}"] ${child}`);
const axisLabels = (root: Node, axis: "x" | "y"): string[] =>
  texts(root, `g[aria-label="${axis}-axis label"] text`);

Deno.test("methodColor: normalised keys, aliases, deterministic fallback", () => {
  const c = methodColor("MC Dropout");
  assert.equal(methodColor("mc_dropout"), c);
  assert.equal(methodColor("mcdropout"), c);
  assert.equal(methodColor("MC-DROPOUT"), c);
  assert.equal(methodColor("ensemble"), METHOD_COLORS["MAP Ensemble"]);
  assert.equal(methodColor("bbb_local_reparam"), METHOD_COLORS["BBB Local Reparam"]);
  assert.equal(methodColor("psgld"), METHOD_COLORS["pSGLD"]);
  assert.notEqual(methodColor("psgld"), methodColor("sgld"));
  const values = Object.values(METHOD_COLORS);
  assert.equal(new Set(values).size, values.length, "one distinct colour per method");
  assert.equal(values.length, 13);
  const u = methodColor("My New Method");
  assert.equal(methodColor("my_new_method"), u);
  assert.ok(FALLBACK_COLORS.includes(u));
  const fig = colorsFor(["train", "test", "valid", "MAP"]);
  assert.equal(new Set(fig.values()).size, 4, "names within a figure get distinct colours");
  assert.equal(fig.get("MAP"), METHOD_COLORS.MAP);
  // Pooled networks of a known method: a darker shade of its colour, the same for any spelling.
  const pooled = methodColor("MC Dropout ×5");
  assert.match(pooled, /^#[0-9a-f]{6}$/);
  assert.notEqual(pooled, METHOD_COLORS["MC Dropout"]);
  assert.ok(!FALLBACK_COLORS.includes(pooled));
  assert.equal(methodColor("mc_dropout x5"), pooled);
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(pooled.slice(i, i + 2), 16));
  const [r0, g0, b0] = [1, 3, 5].map((i) =>
    parseInt(METHOD_COLORS["MC Dropout"].slice(i, i + 2), 16)
  );
  assert.ok(r < r0 && g < g0 && b < b0, `${pooled} is darker than MC Dropout's colour`);
  const both = colorsFor(["MC Dropout", "MC Dropout ×5", "SGHMC ×3"]);
  assert.equal(new Set(both.values()).size, 3);
  assert.equal(both.get("MC Dropout ×5"), pooled);
  assert.ok(FALLBACK_COLORS.includes(methodColor("Unknown ×5")), "unknown bases fall back");
  assert.ok(FALLBACK_COLORS.includes(methodColor("MC Dropout ×1")), "×1 is not pooled");
});

Deno.test("lineChart: one path per series, legend, title, axis labels", () => {
  const x = [1, 2, 3, 4];
  const fig = lineChart({
    series: [
      { name: "MAP", x, y: [4, 3, 2, 1] },
      { name: "mc_dropout", x, y: [4, 3.5, 2.5, 2] },
      { name: "BBB Gaussian", x, y: [5, 4, 3, 2.5], dash: true },
    ],
    xLabel: "epoch",
    yLabel: "loss (nats)",
    title: "Training loss <NLL> & co",
    logY: true,
  });
  const root = parse(fig);
  assert.equal(root.getAttribute("width"), "450");
  assert.equal(root.getAttribute("height"), "270");
  assert.equal(title(root), "Training loss <NLL> & co");
  assert.deepEqual(axisLabels(root, "x"), ["epoch"]);
  assert.deepEqual(axisLabels(root, "y"), ["loss (nats)"]);
  const lines = all(root, '.panel g[aria-label="line"]');
  assert.equal(lines.length, 3);
  assert.equal(marks(root, "line", "path").length, 3);
  assert.deepEqual(lines.map((g) => g.getAttribute("stroke")), [
    METHOD_COLORS.MAP,
    METHOD_COLORS["MC Dropout"],
    METHOD_COLORS["BBB Gaussian"],
  ]);
  assert.ok(lines[2].getAttribute("stroke-dasharray"), "dashed series is dashed");
  assert.deepEqual(legendLabels(root), ["MAP", "mc_dropout", "BBB Gaussian"]);
  assert.equal(marks(root, "dot", "circle").length, 12, "short series get dots");
  assert.throws(
    () =>
      lineChart({
        series: [{ name: "SGLD", x: [1, 2], y: [1] }],
        xLabel: "a",
        yLabel: "b",
        title: "c",
      }),
    (e: Error) => e instanceof RangeError && /SGLD/.test(e.message) && /length 2/.test(e.message),
  );
});

Deno.test("multiPanelLines: panels, shared legend and consistent colours", () => {
  const x = [0, 45, 90, 135, 180];
  const mk = (k: number) => [
    { name: "MAP", x, y: x.map((a) => a * k) },
    { name: "SGHMC", x, y: x.map((a) => a * k + 1) },
  ];
  const names = ["Error", "Total entropy", "Aleatoric entropy", "Epistemic entropy"];
  const fig = multiPanelLines({
    title: "Rotation study",
    xLabel: "rotation angle (°)",
    columns: 2,
    panels: names.map((t, i) => ({
      title: t,
      yLabel: i ? "entropy (nats)" : "error (%)",
      series: mk(i + 1),
    })),
  });
  const root = parse(fig);
  assert.equal(root.getAttribute("width"), "900");
  assert.equal(root.getAttribute("height"), "420");
  assert.equal(title(root), "Rotation study");
  assert.equal(all(root, "g.panel").length, 4);
  assert.deepEqual(texts(root, ".panel-title"), names);
  assert.equal(marks(root, "line", "path").length, 8);
  assert.deepEqual(axisLabels(root, "x"), Array(4).fill("rotation angle (°)"));
  assert.deepEqual(legendLabels(root), ["MAP", "SGHMC"]);
  const strokes = all(root, '.panel g[aria-label="line"]').map((g) => g.getAttribute("stroke"));
  assert.deepEqual(new Set(strokes), new Set([METHOD_COLORS.MAP, METHOD_COLORS.SGHMC]));
  // Panels sit in a 2×2 grid.
  const tr = all(root, "g.panel").map((g) => g.getAttribute("transform"));
  assert.equal(new Set(tr).size, 4);
  assert.throws(() => multiPanelLines({ title: "t", xLabel: "x", panels: [] }), RangeError);
});

const grid = Array.from({ length: 41 }, (_, i) => -2 + i / 10);
const prediction = (s: number) => ({
  x: grid,
  mean: grid.map(Math.sin),
  aleatoricStd: grid.map(() => 0.1),
  epistemicStd: grid.map((v) => s * v * v),
});

Deno.test("regressionBands: bands, mean, data points and legend", () => {
  const data = { x: [-1, 0, 0.5, 1], y: [-0.8, 0.05, 0.5, 0.8] };
  const fig = regressionBands({
    ...prediction(0.1),
    data,
    method: "BBB Flipout",
    title: "BBB Flipout on toy data",
    xLabel: "x (input)",
    yLabel: "y (target)",
  });
  const root = parse(fig);
  assert.equal(title(root), "BBB Flipout on toy data");
  assert.deepEqual(axisLabels(root, "x"), ["x (input)"]);
  assert.deepEqual(axisLabels(root, "y"), ["y (target)"]);
  assert.equal(marks(root, "area", "path").length, 3, "two total-band parts + epistemic band");
  assert.equal(marks(root, "dot", "circle").length, 4);
  const line = all(root, '.panel g[aria-label="line"]');
  assert.equal(line.length, 1);
  // Clipped marks put their style on an inner <g>.
  assert.equal(
    line[0].querySelector("g[stroke]").getAttribute("stroke"),
    methodColor("BBB Flipout"),
  );
  const labels = legendLabels(root);
  for (
    const l of ["predictive mean", "±2σ epistemic", "±2σ total (epistemic + aleatoric)", "data"]
  ) {
    assert.ok(labels.includes(l), `legend has ${l}`);
  }
  assert.throws(
    () =>
      regressionBands({
        ...prediction(0.1),
        epistemicStd: [1],
        title: "t",
        xLabel: "x",
        yLabel: "y",
      }),
    (e: Error) => e instanceof RangeError && /epistemicStd/.test(e.message),
  );
});

Deno.test("regressionPanels: GP ground truth first, one panel per method", () => {
  const fig = regressionPanels({
    title: "Toy regression",
    xLabel: "x",
    yLabel: "y",
    groundTruth: prediction(0.05),
    data: { x: [0, 1], y: [0, 1] },
    panels: [{ method: "MAP", ...prediction(0) }, { method: "MC Dropout", ...prediction(0.2) }],
  });
  const root = parse(fig);
  assert.equal(all(root, "g.panel").length, 3);
  assert.deepEqual(texts(root, ".panel-title"), ["GP (ground truth)", "MAP", "MC Dropout"]);
  assert.deepEqual(
    all(root, ".panel-title").map((t) => t.getAttribute("fill")),
    [METHOD_COLORS.GP, METHOD_COLORS.MAP, METHOD_COLORS["MC Dropout"]],
  );
  assert.equal(marks(root, "area", "path").length, 9);
  assert.equal(marks(root, "dot", "circle").length, 6);
  // Shared y range: every panel has the same y tick labels.
  const ticks = all(root, "g.panel").map((p) =>
    texts(p, 'g[aria-label="y-axis tick label"] text').join(",")
  );
  assert.equal(new Set(ticks).size, 1);
  assert.throws(
    () =>
      regressionPanels({
        title: "t",
        xLabel: "x",
        yLabel: "y",
        panels: [{ method: "MAP", ...prediction(0), aleatoricStd: grid.map(() => -1) }],
      }),
    (e: Error) => e instanceof RangeError && /MAP/.test(e.message) && />= 0/.test(e.message),
  );
});

Deno.test("binValues: edges, last bin inclusive, non-finite skipped", () => {
  const t = binValues([0, 0.24, 0.25, 0.5, 0.99, 1, NaN, Infinity, -3], 4, [0, 1]);
  assert.deepEqual(Array.from(t.counts), [2, 1, 1, 2]);
  assert.equal(t.total, 6);
  assert.deepEqual(t.x0, [0, 0.25, 0.5, 0.75]);
  assert.equal(t.x1[3], 1);
  assert.throws(() => binValues([1], 0, [0, 1]), RangeError);
});

Deno.test("histograms: one rect per non-empty bin per group, one outline per group, fast", () => {
  const a = [0, 0.1, 0.1, 0.2, 0.9];
  const b = [0.5, 0.55, 0.6, 1];
  const fig = histograms({
    groups: [{ name: "in-distribution", values: a }, {
      name: "MC Dropout",
      values: new Float32Array(b),
    }],
    bins: 10,
    xLabel: "predictive entropy (nats)",
    title: "Entropy",
    density: true,
  });
  const root = parse(fig);
  assert.equal(title(root), "Entropy");
  assert.deepEqual(axisLabels(root, "x"), ["predictive entropy (nats)"]);
  assert.deepEqual(axisLabels(root, "y"), ["density"]);
  const nonzero = (v: number[]) =>
    Array.from(binValues(v, 10, [0, 1]).counts).filter((c) => c > 0).length;
  const rectGroups = all(root, '.panel g[aria-label="rect"]');
  assert.equal(rectGroups.length, 2);
  assert.equal(all(rectGroups[0], "rect").length, nonzero(a));
  assert.equal(all(rectGroups[1], "rect").length, nonzero(b));
  assert.equal(rectGroups[1].getAttribute("fill"), methodColor("MC Dropout"));
  assert.equal(marks(root, "line", "path").length, 2);
  assert.deepEqual(legendLabels(root), ["in-distribution", "MC Dropout"]);

  const big = new Float32Array(1_500_000);
  for (let i = 0; i < big.length; i++) big[i] = Math.sin(i * 0.37) * Math.cos(i * 0.011);
  const t0 = performance.now();
  const s = toSvgString(
    histograms({ groups: [{ name: "MAP", values: big }], bins: 100, xLabel: "w", title: "W" }),
  );
  const ms = performance.now() - t0;
  assert.ok(ms < 3000, `1.5e6 values took ${ms.toFixed(0)} ms`);
  assert.ok(s.length < 100_000, "output size does not grow with the number of values");
  assert.throws(
    () => histograms({ groups: [{ name: "x", values: [NaN] }], xLabel: "x", title: "t" }),
    RangeError,
  );
});

const uciRows = () => {
  const rows = [];
  for (const group of ["boston", "concrete", "yacht"]) {
    for (const [k, method] of ["MAP", "mc_dropout", "SGHMC"].entries()) {
      for (const split of ["train", "test"] as const) {
        rows.push({ group, method, mean: 1 + k + (split === "test" ? 0.5 : 0), std: 0.2, split });
      }
    }
  }
  return rows;
};

Deno.test("dotErrorBars: one bar and dot per row, train translucent, groups labelled", () => {
  const rows = uciRows();
  const root = parse(dotErrorBars({ rows, yLabel: "test RMSE", title: "UCI regression" }));
  assert.equal(title(root), "UCI regression");
  assert.deepEqual(axisLabels(root, "y"), ["test RMSE"]);
  assert.equal(marks(root, "rule", "line").length, rows.length);
  assert.equal(marks(root, "dot", "circle").length, rows.length);
  const allText = texts(root);
  for (const g of ["boston", "concrete", "yacht"]) assert.ok(allText.includes(g), `group ${g}`);
  assert.deepEqual(legendLabels(root), ["MAP", "mc_dropout", "SGHMC", "train", "test"]);
  const opac = all(root, '.panel g[aria-label="dot"] g')
    .map((g) => g.getAttribute("fill-opacity"));
  assert.ok(opac.includes("0.35"), "train dots translucent");
  // Bars span mean ± std: 0.2 std → all bars the same pixel length.
  const lens = marks(root, "rule", "line").map((l) =>
    Math.abs(Number(l.getAttribute("y2")) - Number(l.getAttribute("y1")))
  );
  assert.ok(Math.max(...lens) - Math.min(...lens) < 1e-6);
  const ind = parse(dotErrorBars({ rows, yLabel: "RMSE", title: "t", independentY: true }));
  assert.equal(all(ind, "g.panel").length, 3);
  assert.equal(marks(ind, "rule", "line").length, rows.length);
  assert.throws(
    () =>
      dotErrorBars({
        rows: [{ group: "g", method: "MAP", mean: 1, std: -1 }],
        yLabel: "y",
        title: "t",
      }),
    (e: Error) => e instanceof RangeError && /std/.test(e.message),
  );
});

const angles = [0, 30, 60, 90];
const probs = [
  [0.9, 0.08, 0.01, 0.01],
  [0.61, 0.3, 0.05, 0.04],
  [0.2, 0.7, 0.09, 0.01],
  [0.1, 0.85, 0.04, 0.01],
];

Deno.test("classProbabilities: lines per visible class, stacked bars, image strip", () => {
  const img = new Float32Array(28 * 28).map((_, i) => (i % 28 === 14 ? 1 : 0));
  const root = parse(classProbabilities({
    angles,
    probs,
    method: "MAP",
    images: angles.map(() => img),
  }));
  assert.equal(title(root), "MAP: predicted class probabilities");
  assert.deepEqual(axisLabels(root, "x"), ["rotation angle (°)"]);
  assert.deepEqual(axisLabels(root, "y"), ["predicted probability"]);
  // Classes 0, 1, 2 reach 0.05; class 3 does not.
  assert.deepEqual(legendLabels(root), ["class 0", "class 1", "class 2"]);
  assert.equal(marks(root, "line", "path").length, 3);
  const images = all(root, "image");
  assert.equal(images.length, 4);
  assert.ok(images.every((i) => i.getAttribute("href").startsWith("data:image/png;base64,")));
  const png = Uint8Array.from(
    atob(images[0].getAttribute("href").split(",")[1]),
    (c) => c.charCodeAt(0),
  );
  assert.deepEqual(Array.from(png.subarray(1, 4)), [0x50, 0x4e, 0x47]);
  const dv = new DataView(png.buffer);
  assert.equal(dv.getUint32(16), 28);
  assert.equal(dv.getUint32(20), 28);

  const stacked = parse(classProbabilities({ angles, probs, method: "MAP", mode: "stacked" }));
  assert.equal(
    marks(stacked, "bar", "rect").length,
    angles.length * 4,
    "3 classes + other per angle",
  );
  assert.ok(legendLabels(stacked).includes("other classes"));

  const panels = parse(classProbabilitiesPanels({
    title: "Rotated digit",
    angles,
    panels: [{ method: "MAP", probs }, {
      method: "SGLD",
      probs,
      std: probs.map((r) => r.map(() => 0.05)),
    }],
  }));
  assert.equal(all(panels, "g.panel").length, 2);
  assert.deepEqual(texts(panels, ".panel-title"), ["MAP", "SGLD"]);
  assert.equal(marks(panels, "line", "path").length, 6);
  assert.equal(marks(panels, "area", "path").length, 3, "±σ bands only where std is given");
  assert.throws(
    () => classProbabilities({ angles, probs: probs.slice(1), method: "MAP" }),
    (e: Error) => e instanceof RangeError && /probs/.test(e.message),
  );
});

Deno.test("reliabilityDiagram: ECE in legend, one line per method, diagonal", () => {
  const bins = [
    { confidence: 0.55, accuracy: 0.45, count: 10 },
    { confidence: 0.75, accuracy: 0.7, count: 30 },
    { confidence: 0.95, accuracy: 0.93, count: 60 },
    { confidence: 0.35, accuracy: 0, count: 0 },
  ];
  const ece = expectedCalibrationError(bins);
  assert.ok(Math.abs(ece - (10 * 0.1 + 30 * 0.05 + 60 * 0.02) / 100) < 1e-12);
  const root = parse(reliabilityDiagram({ bins, method: "KFAC Laplace" }));
  assert.equal(title(root), "Reliability diagram");
  assert.deepEqual(legendLabels(root), ["KFAC Laplace (ECE 3.7%)", "perfect calibration"]);
  assert.equal(marks(root, "line", "path").length, 2);
  assert.equal(marks(root, "dot", "circle").length, 3, "empty bins skipped");
  assert.deepEqual(axisLabels(root, "y"), ["accuracy"]);
  const multi = parse(reliabilityDiagram({
    series: [{ method: "MAP", bins }, { method: "SGLD", bins }],
    title: "Calibration",
  }));
  assert.equal(marks(multi, "line", "path").length, 3);
  assert.throws(
    () => reliabilityDiagram({ bins: [{ confidence: 1.2, accuracy: 1, count: 1 }], method: "MAP" }),
    RangeError,
  );
});

Deno.test("imageGrid: one image per input with captions", () => {
  const imgs = [0, 1, 2].map((k) => new Float32Array(784).fill(k / 2));
  const root = parse(imageGrid({ images: imgs, labels: ["0°", "45°", "90°"], title: "Digits" }));
  assert.equal(all(root, "image").length, 3);
  for (const l of ["0°", "45°", "90°"]) assert.ok(texts(root).includes(l));
  assert.throws(() => imageGrid({ images: [new Float32Array(10)] }), RangeError);
});

Deno.test("same method keeps its colour across figure kinds", () => {
  const line = parse(lineChart({
    series: [{ name: "MC Dropout", x: [1, 2], y: [1, 2] }],
    xLabel: "x",
    yLabel: "y",
    title: "t",
  }));
  const bars = parse(dotErrorBars({ rows: uciRows(), yLabel: "RMSE", title: "t" }));
  const hist = parse(
    histograms({ groups: [{ name: "mc dropout", values: [1, 2, 3] }], xLabel: "x", title: "t" }),
  );
  const c = METHOD_COLORS["MC Dropout"];
  assert.equal(all(line, '.panel g[aria-label="line"]')[0].getAttribute("stroke"), c);
  assert.ok(marks(bars, "dot", "circle").some((d) => d.getAttribute("fill") === c));
  assert.equal(all(hist, '.panel g[aria-label="rect"]')[0].getAttribute("fill"), c);
  const swatch = (root: Node, label: string) =>
    all(root, ".legend-entry").find((e) => e.querySelector("text").textContent === label)
      .firstChild;
  assert.equal(swatch(line, "MC Dropout").getAttribute("stroke"), c);
  assert.equal(swatch(bars, "mc_dropout").getAttribute("fill"), c);
});

Deno.test("toSvgString: rejects Plot's <figure>, adds xmlns to bare strings", () => {
  const fig = Plot.plot({
    document: svgDocument() as Plot.PlotOptions["document"],
    title: "with title",
    marks: [Plot.lineY([1, 2])],
  }) as unknown as SvgElement;
  assert.throws(
    () => toSvgString(fig),
    (e: Error) => e instanceof TypeError && /figure/.test(e.message),
  );
  const s = toSvgString('<svg width="1" height="1"><rect/></svg>');
  assert.ok(s.startsWith("<?xml"));
  assert.ok(s.includes(`<svg xmlns="${SVG_NS}" width="1"`));
  assert.throws(() => toSvgString("<div></div>"), TypeError);
});

Deno.test("saveSvg: creates directories, writes atomically, leaves no temp file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/a/b/fig.svg`;
    const fig = lineChart({
      series: [{ name: "MAP", x: [0, 1], y: [1, 0] }],
      xLabel: "x",
      yLabel: "y",
      title: "Saved",
    });
    await saveSvg(path, fig);
    await saveSvg(path, fig); // overwrite
    const text = await Deno.readTextFile(path);
    assert.equal(title(parse(text)), "Saved");
    const names = [];
    for await (const e of Deno.readDir(`${dir}/a/b`)) names.push(e.name);
    assert.deepEqual(names, ["fig.svg"]);
    await assert.rejects(() => saveSvg(`${dir}/x.svg`, "<html></html>"), TypeError);
    const left = [];
    for await (const e of Deno.readDir(dir)) left.push(e.name);
    assert.deepEqual(left.sort(), ["a"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Every number in the `d` attributes of the figure's paths. */
function pathCoordinates(root: Node): number[] {
  return all(root, "path").flatMap((p) =>
    (String(p.getAttribute("d") ?? "").match(/-?\d+(\.\d+)?(e[+-]?\d+)?/g) ?? []).map(Number)
  );
}

Deno.test("regression bands are clamped to the panel: no path runs millions of pixels out", () => {
  // A heteroscedastic SG-MCMC panel gone wild: σ up to 4e7 at one end.
  const wild = {
    ...prediction(0.1),
    aleatoricStd: grid.map((v) => (v > 1 ? 4e7 : 0.2)),
    epistemicStd: grid.map((v) => (v < -1 ? 1e6 : 0.1)),
  };
  for (
    const fig of [
      regressionPanels({
        title: "t",
        xLabel: "x",
        yLabel: "y",
        panels: [{ method: "SGLD", ...wild }],
        yDomain: [-3, 3],
      }),
      regressionBands({ ...wild, method: "SGLD", title: "t", xLabel: "x", yLabel: "y" }),
    ]
  ) {
    const root = parse(fig);
    const coords = pathCoordinates(root);
    assert.ok(coords.length > 0);
    const worst = Math.max(...coords.map(Math.abs));
    assert.ok(worst < 3000, `largest path coordinate ${worst} px`);
    assert.equal(marks(root, "area", "path").length, 3, "the bands are still drawn");
  }
});

Deno.test("the true function is drawn above the mean line, in its own legend style", () => {
  const p = prediction(0.1);
  const root = parse(regressionBands({
    ...p,
    truth: { x: p.x, y: p.mean }, // right on the mean line, the usual case
    method: "MAP",
    title: "t",
    xLabel: "x",
    yLabel: "y",
  }));
  const lines = all(root, '.panel g[aria-label="line"]');
  const stroke = (g: Node) => g.querySelector("[stroke]")?.getAttribute("stroke");
  const dash = (g: Node) => g.querySelector("[stroke-dasharray]")?.getAttribute("stroke-dasharray");
  const meanAt = lines.findIndex((g) => stroke(g) === methodColor("MAP"));
  const truthAt = lines.findIndex((g) => stroke(g) === "#000000" && dash(g));
  assert.ok(meanAt >= 0 && truthAt > meanAt, `mean line ${meanAt}, truth ${truthAt}: truth on top`);
  const entries = all(root, ".legend-entry");
  const swatch = (label: string) =>
    entries.find((e: Node) => e.textContent === label)?.querySelector("line,path,rect");
  assert.equal(swatch("true function")?.getAttribute("stroke"), "#000000");
  assert.ok(swatch("true function")?.getAttribute("stroke-dasharray"));
  assert.notEqual(
    swatch("true function")?.getAttribute("stroke"),
    swatch("predictive mean")?.getAttribute("stroke"),
  );
});

/** CIELAB ΔE (1976) between two `#rrggbb` colours. */
function deltaE(a: string, b: string): number {
  const lab = (hex: string) => {
    const [r, g, bl] = [1, 3, 5].map((i) => {
      const c = parseInt(hex.slice(i, i + 2), 16) / 255;
      return c > 0.04045 ? ((c + 0.055) / 1.055) ** 2.4 : c / 12.92;
    });
    const f = (t: number) => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116);
    const x = f((0.4124 * r + 0.3576 * g + 0.1805 * bl) / 0.95047);
    const y = f(0.2126 * r + 0.7152 * g + 0.0722 * bl);
    const z = f((0.0193 * r + 0.1192 * g + 0.9505 * bl) / 1.08883);
    return [116 * y - 16, 500 * (x - y), 200 * (y - z)];
  };
  const [p, q] = [lab(a), lab(b)];
  return Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]);
}

Deno.test("class colours are distinct from every method colour and from each other", () => {
  for (const [c, cls] of CLASS_COLORS.map((c, i) => [c, i] as const)) {
    for (const [method, m] of Object.entries(METHOD_COLORS)) {
      assert.ok(deltaE(c, m) >= 20, `class ${cls} ${c} vs ${method} ${m}: ΔE ${deltaE(c, m)}`);
    }
  }
  for (let i = 0; i < CLASS_COLORS.length; i++) {
    for (let j = i + 1; j < CLASS_COLORS.length; j++) {
      const d = deltaE(CLASS_COLORS[i], CLASS_COLORS[j]);
      assert.ok(d >= 25, `classes ${i} and ${j}: ΔE ${d}`);
    }
  }
});

Deno.test("explicit x ticks: rotation angles at multiples of 45°", () => {
  const x = [0, 15, 30, 45, 60, 75, 90, 105, 120, 135, 150, 165, 180];
  const ticks = [0, 45, 90, 135, 180];
  const lines = parse(multiPanelLines({
    title: "t",
    xLabel: "rotation angle (°)",
    xTicks: ticks,
    panels: [{ title: "a", yLabel: "y", series: [{ name: "MAP", x, y: x.map((v) => v / 10) }] }],
  }));
  assert.deepEqual(texts(lines, 'g[aria-label="x-axis tick label"] text'), ticks.map(String));
  const probsOf = x.map(() => [0.6, 0.4]);
  const cp = parse(classProbabilities({ angles: x, probs: probsOf, method: "MAP", xTicks: ticks }));
  assert.deepEqual(texts(cp, 'g[aria-label="x-axis tick label"] text'), ticks.map(String));
});
