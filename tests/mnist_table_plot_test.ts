// The MNIST table's figure: the reference's published point appears for every method that has
// one, also when the table holds only tuned rows (the tuned-only Bayes-by-Backprop block).
import assert from "node:assert/strict";
import { mnistTablePlot } from "../experiments/lib/mnist_table_plot.ts";
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
