/**
 * UCI regression study: heteroscedastic regression (a mean and a log σ(x)
 * head) with one hidden layer on the standard UCI benchmarks, under two
 * protocols:
 *
 * - `cv`: k-fold cross-validation (default 10 folds, seeded) on the six
 *   sets the reference used — bostonHousing, concrete, energy, power-plant,
 *   wine-quality-red, yacht;
 * - `splits`: the fixed train/test splits (`index_train_K.txt`, 20 per set,
 *   protein 5) of all nine sets, as in most papers since 2015.
 *
 *     deno run -A experiments/uci.ts --methods map,mc_dropout          # quick
 *     deno run -A experiments/uci.ts --full --protocol cv
 *     deno run -A experiments/uci.ts --protocol splits --splits 5 --datasets yacht,energy
 *
 * Features and target are standardised with the training rows'
 * statistics; the network is `d → n_hidden → 2` with ReLU (`--hidden`, else
 * the set's `n_hidden.txt`, else 50 units), trained with `fit` and the
 * registry's `regression` budget (methods without one: 400 epochs, their
 * default settings). Quick mode (the default) runs 2 folds and 1 split,
 * `min(budget, max(10, ⌈2000 / batches per epoch⌉))` epochs per set (about
 * 2000 steps) and 20 posterior samples; `--full` runs every fold and split
 * with the budget's epochs and 100 samples. When the epochs differ from the
 * budget's, settings counted in epochs (SG-MCMC `burnIn`, `sampleFreq`)
 * are scaled in proportion. Log-likelihood and RMSE are in
 * the target's original units (`regressionMetrics` with the training
 * split's `yMean`/`yStd`), on the training rows and the test rows.
 *
 * Results are written after every fold, and a rerun reuses the rows of an
 * earlier run with the same settings (`config` column) unless `--retrain`.
 *
 * Outputs in `--results_dir` (default `results/uci`):
 *
 * - `uci.csv` / `uci.json` (`rows`): one row per protocol, data set, method
 *   and fold/split, columns `protocol` (`cv` | `splits`), `dataset`,
 *   `method` (display label), `key` (registry key), `fold` (fold or split
 *   index), `n_train`, `n_test`, `hidden`, `epochs`, `batch_size`,
 *   `samples`, `train_log_lik`, `train_rmse`, `test_log_lik`, `test_rmse`
 *   (log-likelihood per example in nats, RMSE in target units),
 *   `train_seconds`, `config` (hash of the settings, for resuming);
 * - `uci_summary.csv`: mean, std and count over folds per protocol, data
 *   set and method (`aggregate` + `tableRows`: `<metric>_mean`,
 *   `<metric>_std`, `<metric>_n` for the four metrics);
 * - `uci.md`: the same as Markdown tables (mean ± std), one per protocol;
 * - `uci_log_lik.svg`, `uci_rmse.svg` (protocol `cv`) and
 *   `uci_splits_log_lik.svg`, `uci_splits_rmse.svg` (protocol `splits`):
 *   mean ± std over folds per data set (short names: boston, naval, power,
 *   protein, wine) and method, train translucent and test solid; RMSE with
 *   an independent y axis per data set.
 *
 * @module
 */
import { join } from "node:path";
import { CliError, type FlagSpecs, runMain } from "../core/cli.ts";
import { kFold } from "../datasets/kfold.ts";
import { loadUci, loadUciTable, splitUci, UCI_DATASETS, type UciName } from "../datasets/uci.ts";
import type { UciSplit } from "../datasets/uci.ts";
import { dotErrorBars, type ErrorBarRow } from "../plots/dot_error_bars.ts";
import { saveSvg } from "../plots/svg.ts";
import { writeCsv, writeJson } from "../uncertainty/io.ts";
import {
  aggregate,
  formatMarkdown,
  summarize,
  tableRows,
  writeMarkdown,
} from "../uncertainty/tables.ts";
import { startStudy, type StudyContext } from "./lib/study.ts";
import {
  buildRegression,
  evalRegression,
  REGRESSION_FLAGS,
  regressionBudget,
  samplesFor,
  trainRegression,
  withEpochs,
} from "./lib/regression_study_train.ts";
import { budgetMark, wroteLine } from "./lib/report.ts";

/**
 * Columns of `uci.csv` (and of each row in `uci.json`).
 *
 * @example
 * ```ts
 * import { UCI_COLUMNS } from "./uci.ts";
 * UCI_COLUMNS.includes("test_rmse"); // true
 * ```
 */
export const UCI_COLUMNS = [
  "protocol",
  "dataset",
  "method",
  "key",
  "fold",
  "n_train",
  "n_test",
  "hidden",
  "epochs",
  "batch_size",
  "samples",
  "train_log_lik",
  "train_rmse",
  "test_log_lik",
  "test_rmse",
  "train_seconds",
  "config",
] as const;

/**
 * The six sets of the reference's 10-fold cross-validation.
 *
 * @example
 * ```ts
 * import { REFERENCE_UCI } from "./uci.ts";
 * REFERENCE_UCI.length; // 6
 * ```
 */
export const REFERENCE_UCI: readonly UciName[] = [
  "bostonHousing",
  "concrete",
  "energy",
  "power-plant",
  "wine-quality-red",
  "yacht",
];

/**
 * The metrics summarised per data set and method.
 *
 * @example
 * ```ts
 * import { UCI_METRICS } from "./uci.ts";
 * UCI_METRICS[0]; // "test_log_lik"
 * ```
 */
export const UCI_METRICS = ["test_log_lik", "test_rmse", "train_log_lik", "train_rmse"] as const;

type Protocol = "cv" | "splits";
type Row = Record<string, string | number>;

const FLAGS: FlagSpecs = {
  protocol: {
    type: "string",
    default: "both",
    choices: ["cv", "splits", "both"],
    help: "k-fold CV on the reference's six sets, the fixed splits of all nine, or both",
  },
  datasets: {
    type: "string",
    help: `comma list of ${UCI_DATASETS.join(", ")} (default: the six for cv, all nine for ` +
      "splits)",
  },
  folds: { type: "int", default: 10, min: 2, help: "k of the k-fold cross-validation" },
  max_folds: {
    type: "int",
    min: 1,
    help: "run only the first N of the k folds (default: all with --full, 2 quick)",
  },
  splits: {
    type: "int",
    min: 1,
    help: "use only the first N fixed splits (default: all with --full, 1 quick)",
  },
  hidden: {
    type: "int",
    default: 0,
    min: 0,
    help: "hidden units (0: the set's n_hidden.txt, else 50)",
  },
  ...REGRESSION_FLAGS,
};

/**
 * Parses `--datasets` against {@linkcode UCI_DATASETS}.
 *
 * @example
 * ```ts
 * import { parseDatasets } from "./uci.ts";
 * parseDatasets("yacht, energy"); // ["yacht", "energy"]
 * ```
 */
export function parseDatasets(text: string): UciName[] {
  const names = text.split(",").map((s) => s.trim()).filter(Boolean);
  const bad = names.filter((n) => !(UCI_DATASETS as readonly string[]).includes(n));
  if (bad.length || names.length === 0) {
    throw new CliError(
      `--datasets: unknown data set(s) ${bad.join(", ") || "(none given)"}; expected a comma ` +
        `list of ${UCI_DATASETS.join(", ")}`,
    );
  }
  return [...new Set(names)] as UciName[];
}

/** FNV-1a hash of a string, as 8 hex digits. */
function hash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/** Epochs for a data set: the flag, the budget (full) or about 2000 steps (quick). */
function epochsFor(
  ctx: StudyContext,
  budgetEpochs: number,
  nTrain: number,
  batchSize: number,
): number {
  if (ctx.flags.epochs !== undefined || ctx.full) return budgetEpochs;
  const perEpoch = Math.ceil(nTrain / Math.min(batchSize, nTrain));
  return Math.min(budgetEpochs, Math.max(10, Math.ceil(2000 / perEpoch)));
}

async function readEarlier(path: string): Promise<Row[]> {
  try {
    const j = JSON.parse(await Deno.readTextFile(path));
    return Array.isArray(j.rows) ? j.rows as Row[] : [];
  } catch {
    return [];
  }
}

/**
 * Short data set names for the figures' group labels (the tables keep the
 * full names).
 *
 * @example
 * ```ts
 * import { UCI_SHORT_NAMES } from "./uci.ts";
 * UCI_SHORT_NAMES["naval-propulsion-plant"]; // "naval"
 * ```
 */
export const UCI_SHORT_NAMES: Readonly<Record<UciName, string>> = {
  bostonHousing: "boston",
  concrete: "concrete",
  energy: "energy",
  kin8nm: "kin8nm",
  "naval-propulsion-plant": "naval",
  "power-plant": "power",
  "protein-tertiary-structure": "protein",
  "wine-quality-red": "wine",
  yacht: "yacht",
};

function errorBarRows(rows: Row[], metric: "log_lik" | "rmse"): ErrorBarRow[] {
  const t = aggregate(rows, {
    by: ["dataset", "method"],
    metrics: [`train_${metric}`, `test_${metric}`],
  });
  const out: ErrorBarRow[] = [];
  for (const r of t.rows) {
    for (const split of ["train", "test"] as const) {
      const st = r.stats[`${split}_${metric}`];
      if (st.n === 0) continue;
      out.push({
        group: UCI_SHORT_NAMES[r.group.dataset as UciName] ?? String(r.group.dataset),
        method: String(r.group.method),
        mean: st.mean,
        std: st.std,
        split,
      });
    }
  }
  return out;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const ctx = await startStudy(
    "uci.ts",
    "Heteroscedastic regression on the UCI benchmarks (k-fold CV on the reference's six " +
      "sets and/or the fixed splits of all nine): test log-likelihood and RMSE per method.",
    FLAGS,
    "results/uci",
  );
  if (!ctx) return;
  const f = ctx.flags;
  const protocols: Protocol[] = f.protocol === "both" ? ["cv", "splits"] : [f.protocol as Protocol];
  const chosen = f.datasets !== undefined ? parseDatasets(String(f.datasets)) : undefined;
  const k = Number(f.folds);
  const maxFolds = Math.min(k, Number(f.max_folds ?? (ctx.full ? k : 2)));
  const nSplits = f.splits !== undefined ? Number(f.splits) : ctx.full ? Infinity : 1;
  const samples = Number(f.test_samples ?? (ctx.full ? 100 : 20));
  const dataDir = f.data_dir as string | undefined;
  const jsonPath = join(ctx.resultsDir, "uci.json");
  const earlier = f.retrain ? [] : await readEarlier(jsonPath);
  let reused = 0;
  const rows: Row[] = [];

  const save = async () => {
    await writeCsv(join(ctx.resultsDir, "uci.csv"), rows);
    await writeJson(jsonPath, {
      study: "uci",
      mode: ctx.full ? "full" : "quick",
      seed: ctx.seed,
      columns: UCI_COLUMNS,
      rows,
    });
  };

  const runFold = async (protocol: Protocol, split: UciSplit, fold: number) => {
    const d = split.train.xShape[0];
    const hidden = Number(f.hidden) || split.settings.nHidden?.[0] || 50;
    const scale = { yMean: split.yMean, yStd: split.yStd };
    for (const entry of ctx.methods) {
      const base = regressionBudget(entry, f);
      const budget = withEpochs(
        base,
        epochsFor(ctx, base.epochs, split.train.n, base.batchSize),
      );
      const epochs = budget.epochs;
      const config = hash(JSON.stringify({
        mode: ctx.full,
        seed: ctx.seed,
        k: protocol === "cv" ? k : 0,
        hidden,
        epochs,
        batch: budget.batchSize,
        samples,
        settings: budget.settings,
      }));
      const old = earlier.find((r) =>
        r.protocol === protocol && r.dataset === split.name && r.key === entry.key &&
        r.fold === fold && r.config === config
      );
      if (old) {
        rows.push(old);
        reused++;
        continue;
      }
      const spec = {
        inputDim: d,
        hidden: [hidden],
        outputDim: 1,
        task: "regression" as const,
        noise: "heteroscedastic" as const,
      };
      const method = buildRegression(entry, spec, budget.settings);
      if (!method) continue;
      try {
        const seed = ctx.seed * 1000 + fold;
        const secs = await trainRegression(method, split.train, budget, seed, scale);
        const tr = await evalRegression(method, split.train, samples, seed, scale);
        const te = await evalRegression(method, split.test, samples, seed, scale);
        rows.push({
          protocol,
          dataset: split.name,
          method: entry.label,
          key: entry.key,
          fold,
          n_train: split.train.n,
          n_test: split.test.n,
          hidden,
          epochs,
          batch_size: budget.batchSize,
          samples: samplesFor(method, samples),
          train_log_lik: tr.logLikMean,
          train_rmse: tr.rmse,
          test_log_lik: te.logLikMean,
          test_rmse: te.rmse,
          train_seconds: secs,
          config,
        });
        console.error(
          `${protocol} ${split.name} #${fold} ${entry.label}: ${epochs} epochs in ` +
            `${secs.toFixed(1)} s; test log-lik ${te.logLikMean.toFixed(3)}, ` +
            `RMSE ${te.rmse.toPrecision(4)}`,
        );
      } finally {
        method.dispose();
      }
    }
    await save();
  };

  const warned = new Set<string>();
  for (const entry of ctx.methods) {
    if (!entry.regression && !warned.has(entry.key)) {
      warned.add(entry.key);
      console.error(`${entry.label}: no regression budget in the registry; using the fallback`);
    }
  }
  for (const protocol of protocols) {
    const names = chosen ?? (protocol === "cv" ? [...REFERENCE_UCI] : [...UCI_DATASETS]);
    for (const name of names) {
      if (protocol === "cv") {
        const table = await loadUciTable(name, { dataDir });
        const folds = kFold(table.n, k, ctx.seed);
        for (let i = 0; i < maxFolds; i++) {
          await runFold(protocol, splitUci(table, folds[i].train, folds[i].test), i);
        }
      } else {
        const first = await loadUci(name, { split: 0, dataDir });
        const n = Math.min(nSplits, first.nSplits);
        for (let i = 0; i < n; i++) {
          await runFold(protocol, i === 0 ? first : await loadUci(name, { split: i, dataDir }), i);
        }
      }
    }
  }
  if (reused > 0) {
    console.error(
      `reused ${reused} result(s) of an earlier run from ${jsonPath} (--retrain to redo)`,
    );
  }
  if (rows.length === 0) throw new Error("no selected method can train a regression network");
  await save();

  const table = aggregate(rows, { by: ["protocol", "dataset", "method"], metrics: UCI_METRICS });
  await writeCsv(join(ctx.resultsDir, "uci_summary.csv"), tableRows(table));
  const md: string[] = [
    `# UCI regression (heteroscedastic, one hidden layer)${budgetMark(ctx.full)}`,
    "",
  ];
  const figures: string[] = [];
  for (const protocol of protocols) {
    const pr = rows.filter((r) => r.protocol === protocol);
    if (pr.length === 0) continue;
    const what = protocol === "cv"
      ? `${k}-fold cross-validation${maxFolds < k ? ` (first ${maxFolds} folds)` : ""}`
      : "fixed splits";
    md.push(
      formatMarkdown(aggregate(pr, { by: ["dataset", "method"], metrics: UCI_METRICS }), {
        title: `${what}: mean ± std over folds (log-likelihood per example, RMSE in target units)`,
        digits: { test_log_lik: 3, train_log_lik: 3, test_rmse: 3, train_rmse: 3 },
      }),
    );
    const prefix = protocol === "cv" ? "uci" : "uci_splits";
    const nSets = new Set(pr.map((r) => r.dataset)).size;
    await saveSvg(
      join(ctx.resultsDir, `${prefix}_log_lik.svg`),
      dotErrorBars({
        rows: errorBarRows(pr, "log_lik"),
        yLabel: "log-likelihood (nats per example)",
        title: `UCI regression, ${what}: log-likelihood (mean ± std)${budgetMark(ctx.full)}`,
      }),
    );
    await saveSvg(
      join(ctx.resultsDir, `${prefix}_rmse.svg`),
      dotErrorBars({
        rows: errorBarRows(pr, "rmse"),
        yLabel: "RMSE",
        title: `UCI regression, ${what}: RMSE in target units (mean ± std)${budgetMark(ctx.full)}`,
        independentY: true,
        columns: nSets <= 4 ? nSets : Math.ceil(nSets / 2),
        height: nSets <= 4 ? 320 : 520,
      }),
    );
    figures.push(`${prefix}_log_lik.svg`, `${prefix}_rmse.svg`);
  }
  await writeMarkdown(join(ctx.resultsDir, "uci.md"), md.join("\n"));
  summarize(
    aggregate(rows, {
      by: ["protocol", "dataset", "method"],
      metrics: ["test_log_lik", "test_rmse"],
    }),
    { digits: 3, title: `UCI regression (test, mean ± std over folds)${budgetMark(ctx.full)}` },
  );
  console.log(
    wroteLine(
      ctx.resultsDir,
      ["uci.csv", "uci.json", "uci_summary.csv", "uci.md", ...figures],
      (performance.now() - t0) / 1000,
    ),
  );
}

if (import.meta.main) await runMain(main);
