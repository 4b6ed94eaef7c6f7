/**
 * Weight-pruning study (Blundell et al. 2015, §5.1: little loss up to 95%
 * of the weights removed by signal-to-noise ratio): for each method, score
 * every weight-matrix entry (`Method.pruningScores`: |μ|/σ for Gaussian
 * posteriors, |w| for point estimates), remove the lowest-scoring fraction
 * with one global threshold over all layers (`applyPruningMask`), evaluate
 * on the MNIST test set, and restore the weights (`getState`/`setState`)
 * before the next fraction. Biases are never pruned.
 *
 *     deno run -A experiments/pruning.ts --methods map,mc_dropout
 *     deno run -A experiments/pruning.ts --full --fractions 0,0.5,0.9,0.95,0.99
 *
 * Models come from `<models_dir>/<quick|full>/seed<seed>/<method>` (trained and saved
 * there first when missing, shared with the other studies). Methods without
 * the pruning hooks are skipped with a note.
 *
 * Outputs in `--results_dir` (default `results/pruning`):
 *
 * - `pruning.svg`: test error (%, log scale) and test log-likelihood
 *   against the percentage of weights kept (log scale, which spreads the
 *   interesting 90–99% removed end), one line per method;
 * - `pruning.csv` / `pruning.json` (`rows`): one row per method and
 *   fraction with columns `method` (display label), `key` (registry key),
 *   `fraction_removed` (the fraction actually removed), `weights_removed`,
 *   `weights_total`, `error_pct` (test error in %), `log_lik_mean` (test
 *   log-likelihood per example, nats), `samples` (posterior samples used),
 *   `n_test`, `ranking` (the score the method ranks weights by: `|w|`,
 *   `|μ|/σ`, …; also in the figure's legend).
 *
 * @module
 */
import { join } from "node:path";
import { CliError, type FlagSpecs, runMain } from "../core/cli.ts";
import { evaluate } from "../core/evaluate.ts";
import { multiPanelLines } from "../plots/multi_panel_lines.ts";
import { saveSvg } from "../plots/svg.ts";
import { writeCsv, writeJson } from "../uncertainty/io.ts";
import { aggregate, summarize } from "../uncertainty/tables.ts";
import { logStage, mnistModel, startStudy, studyTest, studyTrain } from "./lib/study.ts";
import { pruningRanking, pruningSweep } from "./lib/weight_study_pruning.ts";
import { methodColor } from "../plots/colors.ts";
import { budgetMark, wroteLine } from "./lib/report.ts";

/**
 * Columns of `pruning.csv` (and of each row in `pruning.json`).
 *
 * @example
 * ```ts
 * import { PRUNING_COLUMNS } from "./pruning.ts";
 * PRUNING_COLUMNS.includes("error_pct"); // true
 * ```
 */
export const PRUNING_COLUMNS = [
  "method",
  "key",
  "fraction_removed",
  "weights_removed",
  "weights_total",
  "error_pct",
  "log_lik_mean",
  "samples",
  "n_test",
  "ranking",
] as const;

/**
 * Fractions of the weights removed by default.
 *
 * @example
 * ```ts
 * import { DEFAULT_FRACTIONS } from "./pruning.ts";
 * DEFAULT_FRACTIONS.at(-1); // 0.99
 * ```
 */
export const DEFAULT_FRACTIONS: readonly number[] = [0, 0.5, 0.75, 0.9, 0.95, 0.98, 0.99];

const FLAGS: FlagSpecs = {
  fractions: {
    type: "string",
    default: DEFAULT_FRACTIONS.join(","),
    help: "comma list of fractions of the weights to remove, each in [0, 1)",
  },
  test_samples: {
    type: "int",
    min: 1,
    help: "posterior samples per evaluation (default: 100 with --full, 10 quick; 1 for MAP)",
  },
  test_limit: {
    type: "int",
    min: 0,
    help: "evaluate on the first N test images (default: all 10 000 with --full, 2000 quick)",
  },
  train_limit: {
    type: "int",
    default: 0,
    min: 0,
    help:
      "(tests) train missing models on only the first N examples; 0: no limit beyond the mode's",
  },
};

/**
 * Parses `--fractions`: a comma list of numbers in [0, 1), sorted and
 * de-duplicated.
 *
 * @example
 * ```ts
 * import { parseFractions } from "./pruning.ts";
 * parseFractions("0.9, 0,0.5"); // [0, 0.5, 0.9]
 * ```
 */
export function parseFractions(text: string): number[] {
  const parts = text.split(",").map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw new CliError("--fractions: expected a comma list of numbers");
  const out = parts.map((p) => {
    const v = Number(p);
    if (!Number.isFinite(v) || v < 0 || v >= 1) {
      throw new CliError(`--fractions: each fraction must be a number in [0, 1), found "${p}"`);
    }
    return v;
  });
  return [...new Set(out)].sort((a, b) => a - b);
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const ctx = await startStudy(
    "pruning.ts",
    "Test error of MNIST models after removing the weights with the lowest " +
      "signal-to-noise ratio (|μ|/σ) or magnitude, at several fractions.",
    FLAGS,
    "results/pruning",
  );
  if (!ctx) return;
  const f = ctx.flags;
  const fractions = parseFractions(String(f.fractions));
  const samples = Number(f.test_samples ?? (ctx.full ? 100 : 10));
  const testLimit = Number(f.test_limit ?? (ctx.full ? 0 : 2000));
  const test = await studyTest(ctx, testLimit > 0 ? testLimit : undefined);
  const train = studyTrain(ctx, Number(f.train_limit)); // read only if a model is trained

  const rows: Record<string, string | number>[] = [];
  for (const entry of ctx.methods) {
    const method = await mnistModel(ctx, entry, train);
    try {
      const s = method.defaultSamples > 1 ? samples : 1;
      const t0 = performance.now();
      let ts = performance.now();
      const results = await pruningSweep(
        method,
        fractions,
        (m) => evaluate(m, test, { samples: s, seed: ctx.seed }),
        (r) => {
          logStage(entry.label, `pruned ${(100 * r.removed / r.total).toFixed(1)}%`, ts);
          ts = performance.now();
        },
      );
      if (!results) {
        console.error(`${entry.label}: no pruningScores/applyPruningMask hooks; skipped`);
        continue;
      }
      for (const r of results) {
        rows.push({
          method: entry.label,
          key: entry.key,
          fraction_removed: r.removed / r.total,
          weights_removed: r.removed,
          weights_total: r.total,
          error_pct: r.metrics.errorPct ?? NaN,
          log_lik_mean: r.metrics.logLikMean,
          samples: s,
          n_test: test.n,
          ranking: pruningRanking(entry.key) ?? "method's own score",
        });
      }
      console.error(
        `${entry.label}: ${fractions.length} fractions evaluated in ${
          ((performance.now() - t0) / 1000).toFixed(1)
        } s`,
      );
    } finally {
      method.dispose();
    }
  }
  if (rows.length === 0) throw new Error("no selected method has the pruning hooks");

  const labels = [...new Set(rows.map((r) => String(r.method)))];
  // The legend says which score each method was pruned by (|w|, |μ|/σ, …).
  const series = (metric: string) =>
    labels.map((name) => {
      const rs = rows.filter((r) => r.method === name);
      return {
        name: `${name} (ranked by ${rs[0].ranking})`,
        color: methodColor(name),
        x: rs.map((r) => 100 * (1 - Number(r.fraction_removed))),
        y: rs.map((r) => Number(r[metric])),
      };
    });
  await saveSvg(
    join(ctx.resultsDir, "pruning.svg"),
    multiPanelLines({
      title: `Pruning MNIST weights, lowest score first (${test.n} test images)${
        budgetMark(ctx.full)
      }`,
      xLabel: "weights kept (%, log scale; 1% kept = 99% removed)",
      logX: true,
      panels: [
        { title: "Test error", yLabel: "test error (%)", series: series("error_pct"), logY: true },
        { title: "Test log-likelihood", yLabel: "nats per image", series: series("log_lik_mean") },
      ],
      width: 900,
      height: 360,
    }),
  );
  await writeCsv(join(ctx.resultsDir, "pruning.csv"), rows);
  await writeJson(join(ctx.resultsDir, "pruning.json"), {
    study: "pruning",
    mode: ctx.full ? "full" : "quick",
    seed: ctx.seed,
    fractions,
    columns: PRUNING_COLUMNS,
    rows,
  });
  summarize(
    aggregate(rows, {
      by: ["method", "fraction_removed"],
      metrics: ["error_pct", "log_lik_mean"],
    }),
    { digits: 3, title: `Pruning${budgetMark(ctx.full)}` },
  );
  console.log(
    wroteLine(
      ctx.resultsDir,
      ["pruning.svg", "pruning.csv", "pruning.json"],
      (performance.now() - t0) / 1000,
    ),
  );
}

if (import.meta.main) await runMain(main);
