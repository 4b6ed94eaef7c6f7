/**
 * Weight-distribution study (the reference's "Wdistribution" figure): draws
 * `--samples` weight sets from each method's posterior on MNIST
 * (`Method.sampleWeights`; point estimates repeat their one set, MC dropout
 * zeroes dropped rows) and plots overlaid density histograms of the weight
 * values, one colour per method.
 *
 *     deno run -A experiments/weights.ts --methods map,mc_dropout
 *     deno run -A experiments/weights.ts --full --per_layer
 *
 * Models come from `<models_dir>/<quick|full>/seed<seed>/<method>` (trained and saved
 * there first when missing, shared with the other studies). Methods without
 * the `sampleWeights` hook are skipped with a note.
 *
 * Outputs in `--results_dir` (default `results/weights`):
 *
 * - `weights.svg`: density histograms of all weight-matrix entries pooled
 *   over layers and samples, x clipped to the central `1 − 2·clip` quantile
 *   range (symmetric about 0);
 * - `weights_<layer>.svg` (with `--per_layer`): the same per weight matrix
 *   (`weights_l0.svg`, `weights_l1.svg`, …; bias vectors `weights_l0_b.svg`
 *   with `--biases`);
 * - `weights.csv` / `weights.json` (`rows`): one row per method and layer
 *   group with columns
 *   `method` (display label), `key` (registry key), `layer` (`all` or
 *   `l0.w`, …), `samples`, `n` (values pooled), `mean`, `std`, `q01`, `q50`,
 *   `q99` (1/50/99% quantiles) and `fraction_abs_lt_1e-3` (share of values
 *   with |w| < 10⁻³).
 *
 * Biases are left out unless `--biases`. Exact zeros (the rows MC dropout
 * drops, 30–50% of its sampled weights) would make a spike that flattens
 * every other histogram: they are left out of the histograms (densities are
 * over the non-zero values) and their share is named in the legend, unless
 * `--keep_zeros`. The statistics always include them.
 *
 * @module
 */
import { runMain } from "../core/cli.ts";
import { histograms } from "../plots/histograms.ts";
import { saveSvg } from "../plots/svg.ts";
import { aggregate, summarize } from "../uncertainty/tables.ts";
import { writeCsv, writeJson } from "../uncertainty/io.ts";
import { join } from "node:path";
import { logStage, mnistModel, startStudy, studyTrain } from "./lib/study.ts";
import { histogramRange, poolWeights, splitZeros, weightStats } from "./lib/weight_study_stats.ts";
import { methodColor } from "../plots/colors.ts";
import type { FlagSpecs } from "../core/cli.ts";
import { budgetMark, wroteLine } from "./lib/report.ts";

/**
 * Columns of `weights.csv` (and of each row in `weights.json`).
 *
 * @example
 * ```ts
 * import { WEIGHT_COLUMNS } from "./weights.ts";
 * WEIGHT_COLUMNS.includes("q99"); // true
 * ```
 */
export const WEIGHT_COLUMNS = [
  "method",
  "key",
  "layer",
  "samples",
  "n",
  "mean",
  "std",
  "q01",
  "q50",
  "q99",
  "fraction_abs_lt_1e-3",
] as const;

const FLAGS: FlagSpecs = {
  samples: { type: "int", default: 10, min: 1, max: 1000, help: "weight sets drawn per method" },
  per_layer: {
    type: "boolean",
    default: false,
    help: "also write one histogram figure and stats row per weight matrix",
  },
  biases: { type: "boolean", default: false, help: "include bias vectors in the histograms" },
  keep_zeros: {
    type: "boolean",
    default: false,
    help: "draw exact zeros (MC dropout's dropped rows) in the histograms instead of " +
      "leaving them out and giving their share in the legend",
  },
  bins: { type: "int", default: 100, min: 5, max: 1000, help: "histogram bins" },
  clip: {
    type: "number",
    default: 0.005,
    min: 0,
    max: 0.49,
    help: "x range: central quantiles [clip, 1 − clip] of every method",
  },
  train_limit: {
    type: "int",
    default: 0,
    min: 0,
    help:
      "(tests) train missing models on only the first N examples; 0: no limit beyond the mode's",
  },
};

async function main(): Promise<void> {
  const t0 = performance.now();
  const ctx = await startStudy(
    "weights.ts",
    "Histograms of weights sampled from each method's posterior (MNIST models).",
    FLAGS,
    "results/weights",
  );
  if (!ctx) return;
  const f = ctx.flags;
  const samples = Number(f.samples);
  const perLayer = Boolean(f.per_layer);
  // Read only if a model has to be trained: saved models need no training data.
  const train = studyTrain(ctx, Number(f.train_limit));

  const rows: Record<string, string | number>[] = [];
  const pooled = new Map<string, { label: string; values: Float32Array }[]>();
  for (const entry of ctx.methods) {
    const method = await mnistModel(ctx, entry, train);
    try {
      if (!method.sampleWeights) {
        console.error(`${entry.label}: no sampleWeights hook; skipped`);
        continue;
      }
      const ts = performance.now();
      const sets = await method.sampleWeights(samples, ctx.seed);
      logStage(entry.label, `sampled ${samples} weight set(s)`, ts);
      const groups = poolWeights(sets, { biases: Boolean(f.biases) });
      if (perLayer) {
        for (const [k, v] of poolWeights(sets, { perLayer: true, biases: Boolean(f.biases) })) {
          groups.set(k, v);
        }
      }
      for (const [layer, values] of groups) {
        const s = weightStats(values);
        rows.push({
          method: entry.label,
          key: entry.key,
          layer,
          samples,
          n: s.n,
          mean: s.mean,
          std: s.std,
          q01: s.q01,
          q50: s.q50,
          q99: s.q99,
          "fraction_abs_lt_1e-3": s.fractionAbsLt1e3,
        });
        pooled.set(layer, [...(pooled.get(layer) ?? []), { label: entry.label, values }]);
      }
    } finally {
      method.dispose();
    }
  }
  if (rows.length === 0) throw new Error("no selected method has the sampleWeights hook");

  const figures: string[] = [];
  for (const [layer, all] of pooled) {
    const groups = all.map((g) => {
      if (f.keep_zeros) return { name: g.label, values: g.values };
      const { nonZero, zeroFraction } = splitZeros(g.values);
      const pct = 100 * zeroFraction;
      const note = pct >= 0.1 ? ` (${pct.toFixed(pct < 10 ? 1 : 0)}% exact zeros not drawn)` : "";
      return { name: g.label, label: g.label + note, values: nonZero };
    });
    const range = histogramRange(groups.map((g) => g.values), Number(f.clip));
    const what = layer === "all"
      ? `all layers${f.biases ? " (weights and biases)" : ""}`
      : `layer ${layer.replace(/\.[wb]$/, "")}${layer.endsWith(".b") ? " biases" : ""}`;
    const file = layer === "all"
      ? "weights.svg"
      : `weights_${layer.replace(/\.w$/, "").replace(".", "_")}.svg`;
    await saveSvg(
      join(ctx.resultsDir, file),
      histograms({
        groups: groups.map((g) => ({
          name: g.label ?? g.name,
          values: g.values,
          color: methodColor(g.name),
        })),
        bins: Number(f.bins),
        range,
        density: true,
        xLabel: "weight value",
        yLabel: "density",
        title: `MNIST weights, ${what} (${samples} samples per method)${budgetMark(ctx.full)}`,
        width: 640,
        height: 320,
      }),
    );
    figures.push(file);
  }
  await writeCsv(join(ctx.resultsDir, "weights.csv"), rows);
  await writeJson(join(ctx.resultsDir, "weights.json"), {
    study: "weights",
    mode: ctx.full ? "full" : "quick",
    seed: ctx.seed,
    samples,
    columns: WEIGHT_COLUMNS,
    rows,
  });
  summarize(
    aggregate(rows, {
      by: ["method", "layer"],
      metrics: ["mean", "std", "q01", "q99", "fraction_abs_lt_1e-3"],
    }),
    { digits: 4, title: `Sampled weights${budgetMark(ctx.full)}` },
  );
  console.log(
    wroteLine(
      ctx.resultsDir,
      [...figures, "weights.csv", "weights.json"],
      (performance.now() - t0) / 1000,
    ),
  );
}

if (import.meta.main) await runMain(main);
