/**
 * Toy regression study (the reference's homoscedastic and heteroscedastic
 * GP toy figures): data drawn from a Gaussian process with an RBF kernel
 * (ℓ = 1) on x ∈ [-4, 4] with noise σn = 0.3 (homoscedastic) or
 * 0.3·|x + 2| (heteroscedastic); per method a network with one hidden layer
 * of 200 ReLU units (a learnt global log σ, or a second log σ(x) head) is
 * trained with the registry's `regression` budget, and its predictive mean
 * with ±2σ bands split into epistemic and total (aleatoric + epistemic) is
 * drawn on a grid wider than the data, next to the exact GP posterior.
 *
 *     deno run -A experiments/regression_toy.ts --methods map,mc_dropout
 *     deno run -A experiments/regression_toy.ts --kinds hetero --epochs 1000
 *
 * Inputs and targets are standardised with the training set's statistics;
 * everything reported is in original units. The networks are small (seconds
 * to train) and are not saved. With `--epochs`, settings counted in epochs
 * (SG-MCMC `burnIn`, `sampleFreq`) are scaled in proportion. Methods that cannot build a regression
 * network are skipped with a note; a method without a `regression` entry in
 * the registry is trained for 400 epochs with its default settings.
 *
 * Outputs in `--results_dir` (default `results/regression_toy`):
 *
 * - `toy_homoscedastic.svg`, `toy_heteroscedastic.svg`: the GP panel (ground
 *   truth with the known noise) and one panel per method, with the training
 *   data and the true function (dashed); the y range covers the data and
 *   the GP's ±2σ band, wider network bands are clipped;
 * - `regression_toy.csv` / `regression_toy.json` (`rows`): one row per
 *   method and noise kind, plus the exact GP (`method` `GP`), with columns
 *   `method` (display label), `key` (registry key, `gp`), `kind`
 *   (`homoscedastic` | `heteroscedastic`), `test_log_lik` (mean
 *   log-likelihood per held-out point, nats), `rmse` (of the predictive
 *   mean on the held-out points), `n_train`, `n_test`, `epochs`,
 *   `batch_size`, `samples`, `train_seconds`.
 *
 * @module
 */
import { join } from "node:path";
import { CliError, type FlagSpecs, runMain } from "../core/cli.ts";
import { type GpNoiseKind, gpPosterior, gpToyData, gpToyNoiseStd } from "../datasets/gp_toy.ts";
import { standardize } from "../datasets/standardize.ts";
import { subset } from "../datasets/subset.ts";
import { type RegressionPanel, regressionPanels } from "../plots/regression.ts";
import { saveSvg } from "../plots/svg.ts";
import { writeCsv, writeJson } from "../uncertainty/io.ts";
import { aggregate, summarize } from "../uncertainty/tables.ts";
import { startStudy } from "./lib/study.ts";
import {
  buildRegression,
  evalRegression,
  predictUncertainty,
  REGRESSION_FLAGS,
  regressionBudget,
  samplesFor,
  trainRegression,
} from "./lib/regression_study_train.ts";
import { budgetMark, wroteLine } from "./lib/report.ts";

/**
 * Columns of `regression_toy.csv` (and of each row in `regression_toy.json`).
 *
 * @example
 * ```ts
 * import { TOY_COLUMNS } from "./regression_toy.ts";
 * TOY_COLUMNS.includes("test_log_lik"); // true
 * ```
 */
export const TOY_COLUMNS = [
  "method",
  "key",
  "kind",
  "test_log_lik",
  "rmse",
  "n_train",
  "n_test",
  "epochs",
  "batch_size",
  "samples",
  "train_seconds",
] as const;

const KIND_NAMES: Record<GpNoiseKind, "homoscedastic" | "heteroscedastic"> = {
  homo: "homoscedastic",
  hetero: "heteroscedastic",
};

const FLAGS: FlagSpecs = {
  kinds: {
    type: "string",
    default: "homo,hetero",
    help: "comma list of noise kinds: homo, hetero",
  },
  n_train: { type: "int", default: 500, min: 10, max: 5000, help: "training points" },
  n_test: { type: "int", default: 200, min: 1, max: 5000, help: "held-out test points" },
  hidden: { type: "int", default: 200, min: 1, help: "ReLU units of the hidden layer" },
  grid_margin: {
    type: "number",
    default: 2,
    min: 0,
    help: "the prediction grid extends this far beyond the data range [-4, 4] on each side",
  },
  grid_points: { type: "int", default: 300, min: 10, max: 5000, help: "prediction grid points" },
  ...REGRESSION_FLAGS,
};

/**
 * Parses `--kinds` (`homo`, `hetero`, also `homoscedastic`/`heteroscedastic`).
 *
 * @example
 * ```ts
 * import { parseKinds } from "./regression_toy.ts";
 * parseKinds("hetero,homo"); // ["hetero", "homo"]
 * ```
 */
export function parseKinds(text: string): GpNoiseKind[] {
  const out: GpNoiseKind[] = [];
  for (const raw of text.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean)) {
    const k = raw.startsWith("homo") ? "homo" : raw.startsWith("hetero") ? "hetero" : undefined;
    if (!k) throw new CliError(`--kinds: expected homo and/or hetero, found "${raw}"`);
    if (!out.includes(k)) out.push(k);
  }
  if (out.length === 0) throw new CliError("--kinds: expected homo and/or hetero");
  return out;
}

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

async function main(): Promise<void> {
  const t0 = performance.now();
  const ctx = await startStudy(
    "regression_toy.ts",
    "Homoscedastic and heteroscedastic 1-D toy regression on GP data: predictive mean and " +
      "epistemic/aleatoric bands per method next to the exact GP posterior.",
    FLAGS,
    "results/regression_toy",
  );
  if (!ctx) return;
  const f = ctx.flags;
  const kinds = parseKinds(String(f.kinds));
  const nTrain = Number(f.n_train), nTest = Number(f.n_test);
  const samples = Number(f.test_samples ?? (ctx.full ? 100 : 20));
  const margin = Number(f.grid_margin), nGrid = Number(f.grid_points);
  const rows: Record<string, string | number>[] = [];
  const figures: string[] = [];

  for (const kind of kinds) {
    const kindName = KIND_NAMES[kind];
    const data = gpToyData({ n: nTrain + nTest, kind, seed: ctx.seed });
    const trainIdx = Array.from({ length: nTrain }, (_, i) => i);
    const testIdx = Array.from({ length: nTest }, (_, i) => nTrain + i);
    const st = standardize(subset(data.train, trainIdx), subset(data.train, testIdx));
    const scale = { yMean: st.yMean[0], yStd: st.yStd[0] };
    const xTrain = data.x.subarray(0, nTrain), yTrain = data.y.subarray(0, nTrain);
    const xTest = data.x.subarray(nTrain), yTest = data.y.subarray(nTrain);
    const lo = -4 - margin, hi = 4 + margin;
    const grid = Float64Array.from({ length: nGrid }, (_, i) => lo + ((hi - lo) * i) / (nGrid - 1));
    const gridStd = Float32Array.from(grid, (g) => (g - st.xMean[0]) / st.xStd[0]);

    // Exact GP posterior with the true kernel and noise: the ground truth.
    const noiseTrain = kind === "homo" ? data.noiseScale : data.noiseStd.subarray(0, nTrain);
    const train = { x: xTrain, y: yTrain };
    const gp = gpPosterior(train, grid, noiseTrain, data.kernel);
    const gpTest = gpPosterior(train, xTest, noiseTrain, data.kernel);
    let ll = 0, se = 0;
    for (let i = 0; i < nTest; i++) {
      const v = gpTest.variance[i] + gpToyNoiseStd(xTest[i], kind, data.noiseScale) ** 2;
      const d = yTest[i] - gpTest.mean[i];
      ll += -HALF_LOG_2PI - 0.5 * Math.log(v) - (0.5 * d * d) / v;
      se += d * d;
    }
    rows.push({
      method: "GP",
      key: "gp",
      kind: kindName,
      test_log_lik: ll / nTest,
      rmse: Math.sqrt(se / nTest),
      n_train: nTrain,
      n_test: nTest,
      epochs: 0,
      batch_size: 0,
      samples: 0,
      train_seconds: 0,
    });

    const panels: RegressionPanel[] = [];
    for (const entry of ctx.methods) {
      const budget = regressionBudget(entry, f);
      if (!budget.fromRegistry) {
        console.error(
          `${entry.label}: no regression budget in the registry; using ${budget.epochs} epochs, ` +
            `batch ${budget.batchSize}, default settings`,
        );
      }
      const spec = {
        inputDim: 1,
        hidden: [Number(f.hidden)],
        outputDim: 1,
        task: "regression" as const,
        noise: kindName,
      };
      const method = buildRegression(entry, spec, budget.settings);
      if (!method) continue;
      try {
        const secs = await trainRegression(method, st.train, budget, ctx.seed, scale);
        const m = await evalRegression(method, st.test!, samples, ctx.seed, scale);
        const u = await predictUncertainty(method, gridStd, nGrid, samples, ctx.seed, scale);
        panels.push({
          method: entry.label,
          x: grid,
          mean: u.mean,
          aleatoricStd: u.aleatoricVar.map(Math.sqrt),
          epistemicStd: u.epistemicVar.map(Math.sqrt),
        });
        rows.push({
          method: entry.label,
          key: entry.key,
          kind: kindName,
          test_log_lik: m.logLikMean,
          rmse: m.rmse,
          n_train: nTrain,
          n_test: nTest,
          epochs: budget.epochs,
          batch_size: budget.batchSize,
          samples: samplesFor(method, samples),
          train_seconds: secs,
        });
        console.error(
          `${kindName} ${entry.label}: ${budget.epochs} epochs in ${secs.toFixed(1)} s, ` +
            `test log-lik ${m.logLikMean.toFixed(3)}, RMSE ${m.rmse.toFixed(3)}`,
        );
      } finally {
        method.dispose();
      }
    }

    // y range: the data and the GP's ±2σ total band (network bands beyond it are clipped).
    const gpAlea = grid.map((g) => gpToyNoiseStd(g, kind, data.noiseScale));
    let yLo = Infinity, yHi = -Infinity;
    for (const v of yTrain) [yLo, yHi] = [Math.min(yLo, v), Math.max(yHi, v)];
    for (let i = 0; i < nGrid; i++) {
      const t = 2 * Math.sqrt(gpAlea[i] ** 2 + gp.variance[i]);
      [yLo, yHi] = [Math.min(yLo, gp.mean[i] - t), Math.max(yHi, gp.mean[i] + t)];
    }
    const pad = 0.05 * (yHi - yLo);
    const file = `toy_${kindName}.svg`;
    const noiseText = kind === "homo" ? "σn = 0.3" : "σn = 0.3·|x + 2|";
    await saveSvg(
      join(ctx.resultsDir, file),
      regressionPanels({
        title: `${kindName[0].toUpperCase()}${kindName.slice(1)} toy regression ` +
          `(GP data, ℓ = 1, ${noiseText}; ${nTrain} points)${budgetMark(ctx.full)}`,
        xLabel: "x",
        yLabel: "y",
        groundTruth: {
          method: "GP",
          title: "GP posterior (ground truth)",
          x: grid,
          mean: gp.mean,
          aleatoricStd: gpAlea,
          epistemicStd: gp.variance.map(Math.sqrt),
        },
        panels,
        data: { x: xTrain, y: yTrain },
        truth: { x: data.grid, y: data.fGrid },
        yDomain: [yLo - pad, yHi + pad],
      }),
    );
    figures.push(file);
  }

  await writeCsv(join(ctx.resultsDir, "regression_toy.csv"), rows);
  await writeJson(join(ctx.resultsDir, "regression_toy.json"), {
    study: "regression_toy",
    mode: ctx.full ? "full" : "quick",
    seed: ctx.seed,
    columns: TOY_COLUMNS,
    rows,
  });
  summarize(
    aggregate(rows, { by: ["kind", "method"], metrics: ["test_log_lik", "rmse"] }),
    { digits: 3, title: `Toy regression (held-out points)${budgetMark(ctx.full)}` },
  );
  console.log(
    wroteLine(
      ctx.resultsDir,
      [...figures, "regression_toy.csv", "regression_toy.json"],
      (performance.now() - t0) / 1000,
    ),
  );
}

if (import.meta.main) await runMain(main);
