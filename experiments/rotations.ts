/**
 * Rotated-MNIST study: MNIST test digits rotated from 0° to 180°; for each
 * method, test error and the total, aleatoric and epistemic entropy of the
 * predictive distribution against the rotation angle, plus one digit at
 * increasing angles with each method's predicted class probabilities.
 *
 *     deno run -A experiments/rotations.ts --methods map,mc_dropout
 *     deno run -A experiments/rotations.ts --full --angle_step 10
 *
 * Outputs in `--results_dir` (default `results/rotations`):
 *
 * - `rotations.csv` / `rotations.json`: one row per method and angle with the
 *   columns `method` (display label), `angle` (degrees, counter-clockwise),
 *   `error_pct` (test error, %), `total_entropy`, `aleatoric_entropy`,
 *   `epistemic_entropy` (means over the test digits, nats), `log_lik_mean`
 *   (test log-likelihood per example, nats), `samples` (posterior samples S)
 *   and `n` (test digits). The JSON file holds the same rows as an array.
 * - `rotations.svg`: four panels (error, total, aleatoric and epistemic
 *   entropy against angle), one line per method.
 * - `rotated_digit.svg`: one test digit (`--digit_index`, default the first
 *   "1") at each angle, with each method's predicted class probabilities
 *   (±1 standard deviation over posterior samples).
 *
 * Quick mode (the default) uses the first 1000 test digits and 20 posterior
 * samples; `--full` the 10 000 and 100.
 *
 * @module
 */
import { join } from "node:path";
import { CliError, runMain } from "../core/cli.ts";
import { classProbabilitiesPanels } from "../plots/class_probabilities.ts";
import { saveSvg } from "../plots/svg.ts";
import { writeCsv, writeJson } from "../uncertainty/io.ts";
import { aggregate, summarize } from "../uncertainty/tables.ts";
import {
  classProbabilityStats,
  EVAL_FLAGS,
  evaluateClassifier,
  posteriorSamples,
  rotateImageSet,
  rotateWithBackground,
  secondsSince,
  studyData,
  studyModels,
  unnormalize,
} from "./lib/classification_study_eval.ts";
import { uncertaintyCurves } from "./lib/classification_study_plots.ts";
import { logStage, startStudy } from "./lib/study.ts";
import { budgetMark, wroteLine } from "./lib/report.ts";

/**
 * One row of `rotations.csv` / `rotations.json`.
 *
 * @example
 * ```ts
 * import type { RotationRow } from "./rotations.ts";
 * const worst = (rows: RotationRow[]) => Math.max(...rows.map((r) => r.error_pct));
 * ```
 */
export type RotationRow = {
  /** Method display label. */
  method: string;
  /** Rotation angle in degrees. */
  angle: number;
  /** Test error in percent. */
  error_pct: number;
  /** Mean entropy of the predictive distribution (nats). */
  total_entropy: number;
  /** Mean expected entropy of the per-sample predictions (nats). */
  aleatoric_entropy: number;
  /** Mean mutual information (nats). */
  epistemic_entropy: number;
  /** Test log-likelihood per example (nats). */
  log_lik_mean: number;
  /** Posterior samples. */
  samples: number;
  /** Test digits. */
  n: number;
};

/**
 * Column names of the metrics files, in order.
 *
 * @example
 * ```ts
 * import { ROTATION_COLUMNS } from "./rotations.ts";
 * ROTATION_COLUMNS[1]; // "angle"
 * ```
 */
export const ROTATION_COLUMNS: readonly string[] = [
  "method",
  "angle",
  "error_pct",
  "total_entropy",
  "aleatoric_entropy",
  "epistemic_entropy",
  "log_lik_mean",
  "samples",
  "n",
];

/**
 * Angles `0, step, 2·step, …` up to and including `max` (when it is a
 * multiple of `step`).
 *
 * @example
 * ```ts
 * import { angleGrid } from "./rotations.ts";
 * angleGrid(180, 45); // [0, 45, 90, 135, 180]
 * ```
 */
export function angleGrid(max: number, step: number): number[] {
  if (!(step > 0)) throw new RangeError(`angle step must be > 0, found ${step}`);
  if (!(max >= 0)) throw new RangeError(`max angle must be ≥ 0, found ${max}`);
  const out: number[] = [];
  for (let k = 0; k * step <= max + 1e-9; k++) out.push(Math.round(k * step * 1e6) / 1e6);
  return out;
}

/**
 * Axis ticks for angles up to `max`: multiples of 45° (of 15° below 90°, of
 * 5° below 30°), so a rotation axis reads 0, 45, 90, … rather than 50, 100.
 *
 * @example
 * ```ts
 * import { angleTicks } from "./rotations.ts";
 * angleTicks(180); // [0, 45, 90, 135, 180]
 * ```
 */
export function angleTicks(max: number): number[] {
  const step = max >= 90 ? 45 : max >= 30 ? 15 : 5;
  return angleGrid(max, step);
}

if (import.meta.main) {
  await runMain(async () => {
    const ctx = await startStudy(
      "rotations.ts",
      "Rotated MNIST: test error and total / aleatoric / epistemic entropy of each method's " +
        "predictive distribution against the rotation angle of the test digits, and one digit's " +
        "class probabilities at increasing angles. Writes rotations.{csv,json,svg} and " +
        "rotated_digit.svg.",
      {
        max_angle: { type: "number", default: 180, min: 0, max: 360, help: "largest angle (°)" },
        angle_step: { type: "number", default: 15, gt: 0, help: "angle step (°)" },
        digit_index: {
          type: "int",
          min: 0,
          help: "test index of the digit in rotated_digit.svg (default: the first 1)",
        },
        ...EVAL_FLAGS,
      },
      "results/rotations",
    );
    if (!ctx) return;
    const angles = angleGrid(Number(ctx.flags.max_angle), Number(ctx.flags.angle_step));
    if (angles.length > 73) {
      throw new CliError(`--angle_step gives ${angles.length} angles; use at most 73`);
    }
    const t0 = performance.now();
    const { train, test, fullTest } = await studyData(ctx, { quick: 1000 });
    const digitIndex = (ctx.flags.digit_index as number | undefined) ??
      fullTest.y.indexOf(1);
    if (digitIndex >= fullTest.n) {
      throw new CliError(
        `--digit_index ${digitIndex} is outside the test set (0..${fullTest.n - 1})`,
      );
    }
    const digit = fullTest.x.slice(digitIndex * 784, (digitIndex + 1) * 784);
    const digitLabel = fullTest.y[digitIndex];
    const rotatedDigits = new Float32Array(angles.length * 784);
    for (let a = 0; a < angles.length; a++) {
      const r = await rotateWithBackground(digit, 1, angles[a], fullTest.background);
      rotatedDigits.set(r, a * 784);
    }

    const rows: RotationRow[] = [];
    const digitPanels: { method: string; probs: number[][]; std: number[][] }[] = [];
    const csv = join(ctx.resultsDir, "rotations.csv");
    const json = join(ctx.resultsDir, "rotations.json");
    for await (const { entry, method } of studyModels(ctx, train)) {
      const S = posteriorSamples(ctx, method);
      const tm = performance.now();
      for (const angle of angles) {
        const ts = performance.now();
        const ds = await rotateImageSet(test, angle);
        const { metrics: m, uncertainty: u } = await evaluateClassifier(
          method,
          ds,
          S,
          ctx.seed + 1,
        );
        logStage(entry.label, `angle ${angle}°`, ts);
        rows.push({
          method: entry.label,
          angle,
          error_pct: m.errorPct,
          total_entropy: m.totalEntropyMean,
          aleatoric_entropy: m.aleatoricMean,
          epistemic_entropy: m.epistemicMean,
          log_lik_mean: m.logLikMean,
          samples: u.s,
          n: m.n,
        });
      }
      const stats = await classProbabilityStats(
        method,
        rotatedDigits,
        angles.length,
        S,
        ctx.seed + 2,
      );
      digitPanels.push({ method: entry.label, probs: stats.mean, std: stats.std });
      console.error(
        `${entry.label}: ${angles.length} angles × ${test.n} digits, S=${S}, ` +
          `${secondsSince(tm)} s`,
      );
      // Rewritten after every method, so a long run keeps what it has.
      await writeCsv(csv, rows);
      await writeJson(json, rows);
    }
    if (rows.length === 0) throw new CliError("no classification method to evaluate");

    await saveSvg(
      join(ctx.resultsDir, "rotations.svg"),
      uncertaintyCurves(rows, {
        title: `Rotated MNIST (${test.n} test digits)${budgetMark(ctx.full)}`,
        x: "angle",
        xLabel: "rotation angle (°)",
        xTicks: angleTicks(angles[angles.length - 1]),
        metric: { key: "error_pct", title: "Test error", yLabel: "error (%)" },
      }),
    );
    const images: Float32Array[] = angles.map((_, a) =>
      unnormalize(rotatedDigits.subarray(a * 784, (a + 1) * 784), fullTest.normalization)
    );
    const step = Math.ceil(angles.length / 13);
    await saveSvg(
      join(ctx.resultsDir, "rotated_digit.svg"),
      classProbabilitiesPanels({
        title: `Test digit #${digitIndex} (a ${digitLabel}) rotated: predicted class probabilities${
          budgetMark(ctx.full)
        }`,
        angles,
        xTicks: angleTicks(angles[angles.length - 1]),
        panels: digitPanels,
        minProb: 0.1,
        // At most 13 images in the strip, so they stay legible.
        images: images.filter((_, a) => a % step === 0),
        imageLabels: angles.filter((_, a) => a % step === 0).map((a) => `${a}°`),
      }),
    );
    summarize(
      aggregate(rows.filter((r) => r.angle % 45 === 0), {
        by: ["method", "angle"],
        metrics: ["error_pct", "total_entropy", "aleatoric_entropy", "epistemic_entropy"],
      }),
      { title: `Rotated MNIST (every 45°)${budgetMark(ctx.full)}`, digits: 3 },
    );
    console.log(
      wroteLine(
        ctx.resultsDir,
        ["rotations.csv", "rotations.json", "rotations.svg", "rotated_digit.svg"],
        (performance.now() - t0) / 1000,
      ),
    );
  });
}
