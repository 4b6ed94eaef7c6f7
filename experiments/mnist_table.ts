/**
 * The MNIST results table: every method's test log-likelihood (summed over
 * the 10 000 test digits) and test error, laid out as the reference's
 * table (methods as columns, rows "Log Like" and "Error %"), with the
 * reference's published values in a second pair of rows for comparison.
 *
 *     deno run -A experiments/mnist_table.ts --full     # 100 posterior samples
 *     deno run -A experiments/mnist_table.ts --methods map,mc_dropout
 *
 * The reference's values (its README, PyTorch, 784-1200-1200-10 ReLU net,
 * 100 posterior samples) are keyed by registry key: `map`, `ensemble`,
 * `bbb_gaussian`, `bbb_gmm`, `bbb_laplace`, `bbb_local`, `mc_dropout`,
 * `sgld`, `psgld` (its "BBP …" columns are the "BBB …" methods here).
 *
 * Outputs in `--results_dir` (default `results/mnist_table`):
 *
 * - `mnist_table.md`: the table (plus mode, samples and test size).
 * - `mnist_table.csv` / `mnist_table.json`: one row per method with the
 *   columns `method` (display label), `key` (registry key), `log_lik_sum`
 *   (test log-likelihood summed over the test digits, nats), `error_pct`,
 *   `ece` (expected calibration error, 15 bins, in [0, 1]), `brier` (Brier
 *   score, sum over classes, mean over digits), `log_lik_mean` (per digit),
 *   `samples` (posterior samples S), `n` (test digits), and
 *   `ref_log_lik_sum` / `ref_error_pct` (the reference's values, empty when
 *   it has none). The JSON file holds the same rows as an array.
 *
 * Quick mode (the default) evaluates the quick-budget models with 20
 * posterior samples — not comparable with the reference; `--full` trains
 * with the reference's budgets and uses 100 samples.
 *
 * @module
 */
import { join } from "node:path";
import { writeTextAtomic } from "../core/atomic.ts";
import { CliError, runMain } from "../core/cli.ts";
import { writeCsv, writeJson } from "../uncertainty/io.ts";
import {
  EVAL_FLAGS,
  evaluateClassifier,
  fixed,
  formatTable,
  posteriorSamples,
  secondsSince,
  studyData,
  studyModels,
} from "./lib/classification_study_eval.ts";
import { startStudy } from "./lib/study.ts";
import { budgetMark, wroteLine } from "./lib/report.ts";

/**
 * The reference's MNIST test results (log-likelihood summed over the 10 000
 * test digits, error %), by registry key, with its column name.
 *
 * @example
 * ```ts
 * import { REFERENCE_MNIST } from "./mnist_table.ts";
 * REFERENCE_MNIST.map.logLik; // -572.9
 * ```
 */
export const REFERENCE_MNIST: Readonly<
  Record<string, { name: string; logLik: number; errorPct: number }>
> = Object.freeze({
  map: { name: "MAP", logLik: -572.9, errorPct: 1.58 },
  ensemble: { name: "MAP Ensemble", logLik: -496.54, errorPct: 1.53 },
  bbb_gaussian: { name: "BBP Gaussian", logLik: -1100.29, errorPct: 2.60 },
  bbb_gmm: { name: "BBP GMM", logLik: -1008.28, errorPct: 2.38 },
  bbb_laplace: { name: "BBP Laplace", logLik: -892.85, errorPct: 2.28 },
  bbb_local: { name: "BBP Local Reparam", logLik: -1086.43, errorPct: 2.61 },
  mc_dropout: { name: "MC Dropout", logLik: -435.458, errorPct: 1.37 },
  sgld: { name: "SGLD", logLik: -828.29, errorPct: 1.76 },
  psgld: { name: "pSGLD", logLik: -661.25, errorPct: 1.76 },
});

/**
 * One row of `mnist_table.csv` / `mnist_table.json`.
 *
 * @example
 * ```ts
 * import type { MnistTableRow } from "./mnist_table.ts";
 * const gap = (r: MnistTableRow) => r.ref_error_pct === null ? NaN : r.error_pct - r.ref_error_pct;
 * ```
 */
export type MnistTableRow = {
  /** Method display label. */
  method: string;
  /** Registry key. */
  key: string;
  /** Test log-likelihood summed over the test digits (nats). */
  log_lik_sum: number;
  /** Test error (%). */
  error_pct: number;
  /** Expected calibration error (15 bins), in [0, 1]. */
  ece: number;
  /** Brier score. */
  brier: number;
  /** Test log-likelihood per digit (nats). */
  log_lik_mean: number;
  /** Posterior samples. */
  samples: number;
  /** Test digits. */
  n: number;
  /** The reference's summed log-likelihood, if it has one. */
  ref_log_lik_sum: number | null;
  /** The reference's error %, if it has one. */
  ref_error_pct: number | null;
};

/**
 * Column names of the metrics files, in order.
 *
 * @example
 * ```ts
 * import { MNIST_TABLE_COLUMNS } from "./mnist_table.ts";
 * MNIST_TABLE_COLUMNS.includes("ece"); // true
 * ```
 */
export const MNIST_TABLE_COLUMNS: readonly string[] = [
  "method",
  "key",
  "log_lik_sum",
  "error_pct",
  "ece",
  "brier",
  "log_lik_mean",
  "samples",
  "n",
  "ref_log_lik_sum",
  "ref_error_pct",
];

function published(v: number | null, minDigits: number): string {
  if (v === null) return "–";
  const decimals = Math.max(minDigits, (String(v).split(".")[1] ?? "").length);
  return v.toFixed(decimals);
}

/**
 * The table in the reference's layout: methods as columns; rows "Log Like"
 * and "Error %", then the reference's values.
 *
 * @example
 * ```ts
 * import { mnistTable } from "./mnist_table.ts";
 * const t = mnistTable([{
 *   method: "MAP", key: "map", log_lik_sum: -600, error_pct: 1.7, ece: 0.01, brier: 0.03,
 *   log_lik_mean: -0.06, samples: 1, n: 10000, ref_log_lik_sum: -572.9, ref_error_pct: 1.58,
 * }]);
 * t.markdown.split("\n")[0]; // "| MNIST Test | MAP |"
 * ```
 */
export function mnistTable(rows: MnistTableRow[]): { markdown: string; text: string } {
  return formatTable(
    ["MNIST Test", ...rows.map((r) => r.method)],
    [
      ["Log Like", ...rows.map((r) => fixed(r.log_lik_sum, 2))],
      ["Error %", ...rows.map((r) => fixed(r.error_pct, 2))],
      // The reference's values as published (e.g. -435.458, 2.60).
      ["Log Like (reference)", ...rows.map((r) => published(r.ref_log_lik_sum, 1))],
      ["Error % (reference)", ...rows.map((r) => published(r.ref_error_pct, 2))],
    ],
  );
}

if (import.meta.main) {
  await runMain(async () => {
    const ctx = await startStudy(
      "mnist_table.ts",
      "MNIST test log-likelihood (summed over the test set) and error of every method, in the " +
        "reference's table layout next to the reference's values; ECE and Brier score in the " +
        "CSV/JSON. Writes mnist_table.{md,csv,json}.",
      EVAL_FLAGS,
      "results/mnist_table",
    );
    if (!ctx) return;
    const t0 = performance.now();
    const { train, test } = await studyData(ctx, {});
    const rows: MnistTableRow[] = [];
    for await (const { entry, method } of studyModels(ctx, train)) {
      const S = posteriorSamples(ctx, method);
      const tm = performance.now();
      const { metrics: m, uncertainty: u } = await evaluateClassifier(
        method,
        test,
        S,
        ctx.seed + 1,
      );
      const ref = REFERENCE_MNIST[entry.key];
      rows.push({
        method: entry.label,
        key: entry.key,
        log_lik_sum: m.logLikSum,
        error_pct: m.errorPct,
        ece: m.ece,
        brier: m.brier,
        log_lik_mean: m.logLikMean,
        samples: u.s,
        n: m.n,
        ref_log_lik_sum: ref?.logLik ?? null,
        ref_error_pct: ref?.errorPct ?? null,
      });
      console.error(`${entry.label}: ${test.n} digits, S=${S}, ${secondsSince(tm)} s`);
      await writeCsv(join(ctx.resultsDir, "mnist_table.csv"), rows);
      await writeJson(join(ctx.resultsDir, "mnist_table.json"), rows);
    }
    if (rows.length === 0) throw new CliError("no classification method to evaluate");
    const table = mnistTable(rows);
    const notes = [
      `Test log-likelihood summed over ${test.n} MNIST test digits (nats); ` +
      `posterior samples: ${rows.map((r) => `${r.method} ${r.samples}`).join(", ")}.`,
      ctx.full
        ? "Mode: full (the reference's training budgets)."
        : "Mode: quick (small training budgets): not comparable with the reference's values.",
      "Reference: its README (PyTorch, 784-1200-1200-10 ReLU, 100 samples); its BBP columns " +
      "are the BBB methods here.",
    ];
    if (test.n !== 10_000) {
      notes.push(
        `Only ${test.n} test digits (--test_limit): summed log-likelihoods are not ` +
          `comparable with the reference's 10 000.`,
      );
    }
    await writeTextAtomic(
      join(ctx.resultsDir, "mnist_table.md"),
      `## MNIST test results${budgetMark(ctx.full)}\n\n${table.markdown}\n${
        notes.map((n) => `- ${n}`).join("\n")
      }\n`,
    );
    console.log(table.text.trimEnd());
    console.log(
      wroteLine(
        ctx.resultsDir,
        ["mnist_table.md", "mnist_table.csv", "mnist_table.json"],
        (performance.now() - t0) / 1000,
      ),
    );
  });
}
