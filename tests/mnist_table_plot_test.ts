// The MNIST table's figure: the reference's published point appears for every method that has
// one, also when the table holds only tuned rows (the tuned-only Bayes-by-Backprop block).
import assert from "node:assert/strict";
import { mnistTablePlot, placeLabels } from "../experiments/lib/mnist_table_plot.ts";
import type { MnistTableRow } from "../experiments/lib/mnist_table_rows.ts";
import { toSvgString } from "../plots/svg.ts";

const row = (variant: "reference" | "tuned", errorPct: number): MnistTableRow => ({
  method: "BBB Gaussian",
  key: "bbb_gaussian",
  variant,
  log_lik_sum: -617.3,
  error_pct: errorPct,
  ece: 0.01,
  mutual_info: 0.008,
  ood_auroc: 0.95,
  brier: 0.03,
  log_lik_mean: -0.06,
  samples: 100,
  n: 10000,
  n_ood: 10000,
  epochs: 20,
  batch_size: 100,
  train_examples: 60000,
  train_seconds: null,
  train_backend: null,
  ref_log_lik_sum: -1100.29,
  ref_error_pct: 2.6,
  beats_reference: true,
  settings: {},
});

/** Circles drawn with the published points' translucent fill. */
const publishedDots = (svg: string) => (svg.match(/fill-opacity="0\.3"/g) ?? []).length;
/** Dashed links from a published point to a row's point. */
const links = (svg: string) => (svg.match(/stroke-dasharray/g) ?? []).length;

Deno.test("mnistTablePlot: a tuned-only table still shows and links the published point", () => {
  const tunedOnly = toSvgString(mnistTablePlot([row("tuned", 1.91)], { title: "t" }));
  assert.match(tunedOnly, /reference's published value/);
  assert.doesNotMatch(tunedOnly, />reference settings</);
  const both = toSvgString(
    mnistTablePlot([row("reference", 2.5), row("tuned", 1.91)], { title: "t" }),
  );
  assert.match(both, />reference settings</);
  // One published point per method, linked once: to the reference-settings row when there is one.
  assert.equal(publishedDots(both), publishedDots(tunedOnly));
  assert.equal(links(both), links(tunedOnly));
  assert.ok(links(tunedOnly) >= 1, tunedOnly.slice(0, 400));
});

Deno.test("mnistTablePlot: point labels have a white halo, so lines pass under them", () => {
  const svg = toSvgString(mnistTablePlot([row("reference", 2.5), row("tuned", 1.91)], {
    title: "t",
  }));
  // The label group: Plot writes the halo on the group of the labels' text elements.
  const group = svg.match(/<g[^>]*paint-order="stroke"[^>]*>(.*?)<\/g>/s);
  assert.ok(group, "no text group with a halo");
  assert.match(group[0], /stroke="white"/);
  assert.match(group[1], />BBB Gaussian \(tuned\)</);
});

Deno.test("placeLabels: a label never runs over another point's marker", () => {
  // The tuned Bayes-by-Backprop block's crowded corner: Flipout's label, right of its point,
  // ran over the local-reparametrisation square just right of and below it.
  const sq = "square" as const;
  const pts = [
    { label: "BBB Flipout (tuned)", method: "f", x: 1.78, y: -611.2, symbol: sq },
    { label: "BBB Local Reparam (tuned)", method: "l", x: 1.89, y: -616.0, symbol: sq },
    { label: "BBB Gaussian (tuned)", method: "g", x: 1.91, y: -617.3, symbol: sq },
  ];
  const published = [{ x: 2.6, y: -1100.3 }, { x: 2.61, y: -1086.4 }];
  const [w, h, xd, yd] = [760, 560, [1.73, 2.66] as [number, number], [-1130, -580] as [
    number,
    number,
  ]];
  const placed = placeLabels(pts, [...pts, ...published], xd, yd, w, h);
  const px = (x: number) => 72 + ((x - xd[0]) / (xd[1] - xd[0])) * (w - 72 - 150);
  const py = (y: number) => 10 + ((yd[1] - y) / (yd[1] - yd[0])) * (h - 10 - 38);
  for (const [i, l] of placed.entries()) {
    const x0 = px(l.x) + 8, x1 = x0 + l.label.length * 9.5 * 0.58, y = py(l.ly);
    for (const [j, o] of pts.entries()) {
      if (i === j) continue;
      const covers = x0 < px(o.x) + 6 && px(o.x) - 6 < x1 && Math.abs(y - py(o.y)) < 11 - 1e-6;
      assert.ok(!covers, `${l.label} covers the marker of ${o.label}`);
      // Nor do two labels overlap.
      const m = placed[j], mx0 = px(m.x) + 8, mx1 = mx0 + m.label.length * 9.5 * 0.58;
      const near = Math.abs(y - py(m.ly)) < 11 - 1e-6; // 1e-6: the px ↔ data round trip
      assert.ok(!(x0 < mx1 && mx0 < x1 && near), `${l.label} on ${m.label}`);
    }
  }
  assert.ok(placed[0].moved); // Flipout's label went below the local square
  // A lone point keeps its label where it is.
  assert.equal(placeLabels([pts[0]], [pts[0]], xd, yd, w, h)[0].moved, false);
});
