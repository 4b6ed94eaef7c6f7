/**
 * Out-of-distribution study: models trained on MNIST, evaluated on MNIST
 * test digits (in distribution) and on Fashion-MNIST and KMNIST test images
 * (out of distribution). For each method, the total entropy and the
 * epistemic entropy (mutual information) of the predictive distribution
 * score how "out of distribution" an input looks; their histograms in vs
 * out, and how well they separate the two (AUROC, AUPR; OOD = positive).
 *
 *     deno run -A experiments/ood.ts --methods map,mc_dropout
 *     deno run -A experiments/ood.ts --full --download   # fetches KMNIST if missing
 *
 * Out-of-distribution images are scaled to [0, 1] and normalised with
 * MNIST's mean and std (the models' input normalisation), not their own.
 * A set whose files are not found is skipped with a note (no download
 * unless `--download`); Fashion-MNIST is also found in Debian's
 * `/usr/share/datasets/fashion-mnist/`.
 *
 * Outputs in `--results_dir` (default `results/ood`):
 *
 * - `ood.csv` / `ood.json`: one row per method, OOD set and score with the
 *   columns `method` (display label), `ood_set` (`fashion-mnist`, `kmnist`),
 *   `score` (`total` or `epistemic`), `auroc`, `aupr`, `in_mean` and
 *   `out_mean` (mean score in and out of distribution, nats), `samples`
 *   (posterior samples S), `n_in` and `n_out` (inputs). The JSON file holds
 *   the same rows as an array.
 * - `ood.md`: the AUROC / AUPR table (and the sets that were skipped).
 * - `ood_<set>.svg`: per OOD set, histograms of total and epistemic entropy
 *   in vs out of distribution, one column of panels per method.
 *
 * Quick mode (the default) uses 2000 test images of each set and 20
 * posterior samples; `--full` the 10 000 and 100.
 *
 * @module
 */
import { join } from "node:path";
import { CliError, runMain } from "../core/cli.ts";
import { type ImageDataset, loadMnist, MNIST_SETS, type MnistName } from "../datasets/mnist.ts";
import { saveSvg } from "../plots/svg.ts";
import { writeCsv, writeJson } from "../uncertainty/io.ts";
import { oodDetection } from "../uncertainty/ood.ts";
import { writeTextAtomic } from "../core/atomic.ts";
import {
  EVAL_FLAGS,
  evaluateClassifier,
  fixed,
  formatTable,
  normalizeWith,
  posteriorSamples,
  secondsSince,
  studyData,
  studyModels,
  testExamples,
} from "./lib/classification_study_eval.ts";
import { inOutHistogramPanels } from "./lib/classification_study_plots.ts";
import { logStage, startStudy } from "./lib/study.ts";
import { budgetMark, wroteLine } from "./lib/report.ts";

/**
 * One row of `ood.csv` / `ood.json`.
 *
 * @example
 * ```ts
 * import type { OodRow } from "./ood.ts";
 * const best = (rows: OodRow[]) => rows.reduce((a, b) => (b.auroc > a.auroc ? b : a));
 * ```
 */
export type OodRow = {
  /** Method display label. */
  method: string;
  /** Out-of-distribution set. */
  ood_set: string;
  /** Which uncertainty scores the inputs. */
  score: "total" | "epistemic";
  /** Area under the ROC curve (OOD positive). */
  auroc: number;
  /** Average precision (OOD positive). */
  aupr: number;
  /** Mean score on MNIST test images (nats). */
  in_mean: number;
  /** Mean score on the OOD images (nats). */
  out_mean: number;
  /** Posterior samples. */
  samples: number;
  /** In-distribution inputs. */
  n_in: number;
  /** Out-of-distribution inputs. */
  n_out: number;
};

/**
 * Column names of the metrics files, in order.
 *
 * @example
 * ```ts
 * import { OOD_COLUMNS } from "./ood.ts";
 * OOD_COLUMNS.includes("auroc"); // true
 * ```
 */
export const OOD_COLUMNS: readonly string[] = [
  "method",
  "ood_set",
  "score",
  "auroc",
  "aupr",
  "in_mean",
  "out_mean",
  "samples",
  "n_in",
  "n_out",
];

/**
 * The out-of-distribution sets this study knows.
 *
 * @example
 * ```ts
 * import { OOD_SETS } from "./ood.ts";
 * OOD_SETS.join(","); // "fashion-mnist,kmnist"
 * ```
 */
export const OOD_SETS: readonly MnistName[] = ["fashion-mnist", "kmnist"];

/**
 * Loads an OOD test set normalised with the model's input statistics, or
 * returns the reason it is not available (files missing and downloads off).
 *
 * @example
 * ```ts
 * import { loadOodSet } from "./ood.ts";
 * const r = await loadOodSet("fashion-mnist", { mean: 0.1307, std: 0.3081 }, { limit: 100 });
 * if ("skipped" in r) console.log(r.skipped);
 * ```
 */
export async function loadOodSet(
  name: MnistName,
  norm: { mean: number; std: number },
  opts: { dataDir?: string; limit?: number; download?: boolean } = {},
): Promise<{ ds: ImageDataset } | { skipped: string }> {
  try {
    const raw = await loadMnist(name, "test", {
      dataDir: opts.dataDir,
      limit: opts.limit,
      normalize: false,
      download: opts.download ?? false,
    });
    return { ds: normalizeWith(raw, norm) };
  } catch (e) {
    if ((e as Error).name !== "DatasetError") throw e;
    const first = (e as Error).message.split("\n")[0];
    // Said in the study's terms: the library's "(download: false)" means "no --download" here.
    const m = first.match(/^(.*? not found) and downloads are disabled \(download: false\)/);
    if (!m || (opts.download ?? false)) return { skipped: first };
    const searched = first.match(/Searched: (.*?)\.(?: |$)/)?.[1];
    return {
      skipped: `${m[1]}${searched ? ` in ${searched}` : ""}; run with --download to fetch them`,
    };
  }
}

if (import.meta.main) {
  await runMain(async () => {
    const ctx = await startStudy(
      "ood.ts",
      "Out-of-distribution detection: MNIST-trained models on Fashion-MNIST and KMNIST test " +
        "images; histograms of total and epistemic entropy in vs out of distribution and " +
        "AUROC / AUPR per method. Writes ood.{csv,json,md} and ood_<set>.svg.",
      {
        ood_sets: {
          type: "string",
          default: OOD_SETS.join(","),
          help: `comma list of out-of-distribution sets (${OOD_SETS.join(", ")})`,
        },
        download: {
          type: "boolean",
          default: false,
          help: "download missing OOD sets (else they are skipped with a note)",
        },
        ...EVAL_FLAGS,
      },
      "results/ood",
    );
    if (!ctx) return;
    const wanted = String(ctx.flags.ood_sets).split(",").map((s) => s.trim()).filter(Boolean);
    const bad = wanted.filter((s) => !OOD_SETS.includes(s as MnistName));
    if (bad.length || wanted.length === 0) {
      throw new CliError(
        `--ood_sets: unknown set(s) ${bad.join(", ") || "(none given)"}; ` +
          `expected a comma list of ${OOD_SETS.join(", ")}`,
      );
    }
    const t0 = performance.now();
    const sizes = { quick: 2000 };
    const { train, test } = await studyData(ctx, sizes);
    const norm = test.normalization ?? { mean: MNIST_SETS.mnist.mean, std: MNIST_SETS.mnist.std };
    const oodSets: { name: MnistName; ds: ImageDataset }[] = [];
    const skipped: string[] = [];
    for (const name of wanted as MnistName[]) {
      const r = await loadOodSet(name, norm, {
        dataDir: ctx.flags.data_dir as string | undefined,
        limit: testExamples(ctx, sizes),
        download: Boolean(ctx.flags.download),
      });
      if ("skipped" in r) skipped.push(r.skipped); // noted once, with the results
      else oodSets.push({ name, ds: r.ds });
    }
    if (oodSets.length === 0) {
      throw new CliError(`no out-of-distribution set is available:\n${skipped.join("\n")}`);
    }

    const rows: OodRow[] = [];
    // Per OOD set, the scores of every method for the figures.
    type Scores = { in: Float64Array; out: Float64Array };
    const figData = new Map<string, { method: string; scores: Record<string, Scores> }[]>();
    for await (const { entry, method } of studyModels(ctx, train)) {
      const S = posteriorSamples(ctx, method);
      const tm = performance.now();
      const inside = (await evaluateClassifier(method, test, S, ctx.seed + 1)).uncertainty;
      logStage(entry.label, "MNIST test (in)", tm);
      for (const { name, ds } of oodSets) {
        const ts = performance.now();
        const outside = (await evaluateClassifier(method, ds, S, ctx.seed + 1)).uncertainty;
        logStage(entry.label, `${name} (out)`, ts);
        const scores: Record<string, Scores> = {
          total: { in: inside.total, out: outside.total },
          epistemic: { in: inside.epistemic, out: outside.epistemic },
        };
        for (const score of ["total", "epistemic"] as const) {
          const s = scores[score];
          const d = oodDetection(s.in, s.out);
          rows.push({
            method: entry.label,
            ood_set: name,
            score,
            auroc: d.auroc,
            aupr: d.aupr,
            in_mean: score === "total" ? inside.totalMean : inside.epistemicMean,
            out_mean: score === "total" ? outside.totalMean : outside.epistemicMean,
            samples: inside.s,
            n_in: test.n,
            n_out: ds.n,
          });
        }
        const list = figData.get(name) ?? [];
        list.push({ method: entry.label, scores });
        figData.set(name, list);
      }
      console.error(`${entry.label}: S=${S}, ${secondsSince(tm)} s`);
      await writeCsv(join(ctx.resultsDir, "ood.csv"), rows);
      await writeJson(join(ctx.resultsDir, "ood.json"), rows);
    }
    if (rows.length === 0) throw new CliError("no classification method to evaluate");

    for (const { name, ds } of oodSets) {
      const title = MNIST_SETS[name].title;
      await saveSvg(
        join(ctx.resultsDir, `ood_${name}.svg`),
        inOutHistogramPanels({
          title: `${title} (out) vs MNIST (in): entropies of MNIST-trained models${
            budgetMark(ctx.full)
          }`,
          inLabel: `MNIST test (in, ${test.n})`,
          outLabel: `${title} test (out, ${ds.n})`,
          rows: [
            {
              score: "total",
              title: "total",
              xLabel: "total entropy (nats)",
              range: [0, Math.log(10)],
            },
            { score: "epistemic", title: "epistemic", xLabel: "mutual information (nats)" },
          ],
          methods: figData.get(name) ?? [],
        }),
      );
    }
    const table = formatTable(
      ["method", "OOD set", "score", "AUROC", "AUPR", "mean in", "mean out"],
      rows.map((r) => [
        r.method,
        MNIST_SETS[r.ood_set as MnistName].title,
        r.score,
        fixed(r.auroc, 3),
        fixed(r.aupr, 3),
        fixed(r.in_mean, 3),
        fixed(r.out_mean, 3),
      ]),
      3,
    );
    const notes = [
      `MNIST test images in distribution: ${test.n}; scores in nats; OOD is the positive class.`,
      `Mode: ${ctx.full ? "full" : "quick"}; posterior samples: ${
        [...new Set(rows.map((r) => `${r.method} ${r.samples}`))].join(", ")
      }.`,
      ...skipped.map((s) => `Skipped ${s}`),
    ];
    await writeTextAtomic(
      join(ctx.resultsDir, "ood.md"),
      `## Out-of-distribution detection (MNIST-trained models)${
        budgetMark(ctx.full)
      }\n\n${table.markdown}\n` +
        notes.map((n) => `- ${n}`).join("\n") + "\n",
    );
    console.log(table.text.trimEnd());
    for (const s of skipped) console.log(`note: skipped ${s}`);
    console.log(
      wroteLine(
        ctx.resultsDir,
        ["ood.csv", "ood.json", "ood.md", ...oodSets.map((o) => `ood_${o.name}.svg`)],
        (performance.now() - t0) / 1000,
      ),
    );
  });
}
