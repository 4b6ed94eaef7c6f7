/**
 * Adversarial-robustness study: FGSM (fast gradient sign method) attacks on
 * MNIST test digits against each method's predictive distribution, over a
 * sweep of the perturbation size ε; test accuracy and the total, aleatoric
 * and epistemic entropy of the predictive against ε.
 *
 *     deno run -A experiments/adversarial.ts --methods map,mc_dropout
 *     deno run -A experiments/adversarial.ts --full --epsilons 0,0.1,0.2,0.3
 *
 * The attack direction is `sign ∇x −log p̄(y|x)`, with `p̄` the method's
 * predictive over S posterior samples (`--attack_samples`, default the
 * evaluation's S; an independent seed from the evaluation's). The gradient
 * goes through `method.predict` with `tf.grad`; a method whose predict is
 * not differentiable in x is attacked through ≤ 20 weight sets of its
 * `sampleWeights` hook instead (column `gradient`). ε is in [0, 1] pixel
 * units (divided by MNIST's std in the normalised input space) and the
 * perturbed pixels are clipped to [0, 1].
 *
 * Outputs in `--results_dir` (default `results/adversarial`):
 *
 * - `adversarial.csv` / `adversarial.json`: one row per method and ε with
 *   the columns `method` (display label), `epsilon`, `accuracy_pct` (test
 *   accuracy on the perturbed digits, %), `total_entropy`,
 *   `aleatoric_entropy`, `epistemic_entropy` (means, nats), `log_lik_mean`
 *   (per example, nats), `gradient` (`predict` or `sampleWeights`),
 *   `attack_samples`, `samples` (evaluation S) and `n` (test digits). The
 *   JSON file holds the same rows as an array.
 * - `adversarial.svg`: four panels (accuracy, total, aleatoric and epistemic
 *   entropy against ε), one line per method.
 *
 * Quick mode (the default) attacks the first 1000 test digits with 20
 * posterior samples; `--full` all 10 000 with 100.
 *
 * @module
 */
import { join } from "node:path";
import { CliError, runMain } from "../core/cli.ts";
import { saveSvg } from "../plots/svg.ts";
import { writeCsv, writeJson } from "../uncertainty/io.ts";
import { aggregate, summarize } from "../uncertainty/tables.ts";
import {
  EVAL_FLAGS,
  evaluateClassifier,
  posteriorSamples,
  QUICK_SAMPLES,
  secondsSince,
  studyData,
  studyModels,
} from "./lib/classification_study_eval.ts";
import { fgsmDirection, fgsmPerturb } from "./lib/classification_study_fgsm.ts";
import { uncertaintyCurves } from "./lib/classification_study_plots.ts";
import { logStage, startStudy } from "./lib/study.ts";
import { budgetMark, wroteLine } from "./lib/report.ts";

/**
 * One row of `adversarial.csv` / `adversarial.json`.
 *
 * @example
 * ```ts
 * import type { AdversarialRow } from "./adversarial.ts";
 * const at = (rows: AdversarialRow[], eps: number) => rows.filter((r) => r.epsilon === eps);
 * ```
 */
export type AdversarialRow = {
  /** Method display label. */
  method: string;
  /** FGSM step in [0, 1] pixel units. */
  epsilon: number;
  /** Test accuracy on the perturbed digits (%). */
  accuracy_pct: number;
  /** Mean entropy of the predictive distribution (nats). */
  total_entropy: number;
  /** Mean expected entropy of the per-sample predictions (nats). */
  aleatoric_entropy: number;
  /** Mean mutual information (nats). */
  epistemic_entropy: number;
  /** Test log-likelihood per example (nats). */
  log_lik_mean: number;
  /** How the input gradient was computed. */
  gradient: string;
  /** Posterior samples in the attacked predictive. */
  attack_samples: number;
  /** Posterior samples in the evaluation. */
  samples: number;
  /** Test digits. */
  n: number;
};

/**
 * Column names of the metrics files, in order.
 *
 * @example
 * ```ts
 * import { ADVERSARIAL_COLUMNS } from "./adversarial.ts";
 * ADVERSARIAL_COLUMNS.includes("accuracy_pct"); // true
 * ```
 */
export const ADVERSARIAL_COLUMNS: readonly string[] = [
  "method",
  "epsilon",
  "accuracy_pct",
  "total_entropy",
  "aleatoric_entropy",
  "epistemic_entropy",
  "log_lik_mean",
  "gradient",
  "attack_samples",
  "samples",
  "n",
];

/**
 * Default ε sweep (pixel units).
 *
 * @example
 * ```ts
 * import { DEFAULT_EPSILONS, parseEpsilons } from "./adversarial.ts";
 * parseEpsilons(DEFAULT_EPSILONS).length; // 10
 * ```
 */
export const DEFAULT_EPSILONS: string = "0,0.02,0.05,0.1,0.15,0.2,0.25,0.3,0.4,0.5";

/**
 * Parses and checks an ε list: numbers in [0, 1], sorted and de-duplicated.
 *
 * @example
 * ```ts
 * import { parseEpsilons } from "./adversarial.ts";
 * parseEpsilons("0.1, 0, 0.3"); // [0, 0.1, 0.3]
 * ```
 */
export function parseEpsilons(text: string): number[] {
  const parts = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (parts.length === 0) throw new CliError("--epsilons is empty");
  const values = parts.map((s) => {
    const v = Number(s);
    if (!Number.isFinite(v)) throw new CliError(`--epsilons: "${s}" is not a number`);
    return v;
  });
  const bad = values.filter((v) => !(v >= 0 && v <= 1));
  if (bad.length) {
    throw new CliError(`--epsilons must be in [0, 1] (pixel units), found ${bad.join(", ")}`);
  }
  return [...new Set(values)].sort((a, b) => a - b);
}

if (import.meta.main) {
  await runMain(async () => {
    const ctx = await startStudy(
      "adversarial.ts",
      "FGSM adversarial examples against each method's predictive distribution: test accuracy " +
        "and total / aleatoric / epistemic entropy against the attack size ε (pixel units). " +
        "Writes adversarial.{csv,json,svg}.",
      {
        epsilons: {
          type: "string",
          default: DEFAULT_EPSILONS,
          help: "comma list of FGSM steps ε in [0, 1] pixel units",
        },
        attack_samples: {
          type: "int",
          min: 1,
          help: "posterior samples in the attacked predictive (default: the evaluation's)",
        },
        ...EVAL_FLAGS,
      },
      "results/adversarial",
    );
    if (!ctx) return;
    const epsilons = parseEpsilons(String(ctx.flags.epsilons));
    const t0 = performance.now();
    const { train, test } = await studyData(ctx, { quick: 1000 });
    const norm = test.normalization;

    const rows: AdversarialRow[] = [];
    for await (const { entry, method } of studyModels(ctx, train)) {
      const S = posteriorSamples(ctx, method);
      const attackS = method.defaultSamples <= 1
        ? 1
        : (ctx.flags.attack_samples as number | undefined) ?? S;
      const tm = performance.now();
      const dir = await fgsmDirection(method, test.x, test.y, {
        samples: attackS,
        seed: ctx.seed + 3,
        // A method with a deterministic predictive but a non-differentiable predict (e.g. a
        // probit GLM predictive) is attacked through a sampled predictive, not one draw.
        fallbackSamples: (ctx.flags.attack_samples as number | undefined) ??
          (ctx.flags.samples as number | undefined) ?? QUICK_SAMPLES,
      });
      const tg = secondsSince(tm);
      logStage(entry.label, "FGSM gradient", tm);
      if (dir.source !== "predict") {
        console.error(
          `note: ${entry.label}: predict is not differentiable in x; attacking the predictive ` +
            `of ${dir.samples} weight sets from sampleWeights instead`,
        );
      }
      for (const eps of epsilons) {
        const ts = performance.now();
        const ds = { ...test, x: fgsmPerturb(test.x, dir.sign, eps, norm) };
        const { metrics: m, uncertainty: u } = await evaluateClassifier(
          method,
          ds,
          S,
          ctx.seed + 1,
        );
        logStage(entry.label, `ε ${eps}`, ts);
        rows.push({
          method: entry.label,
          epsilon: eps,
          accuracy_pct: 100 - m.errorPct,
          total_entropy: m.totalEntropyMean,
          aleatoric_entropy: m.aleatoricMean,
          epistemic_entropy: m.epistemicMean,
          log_lik_mean: m.logLikMean,
          gradient: dir.source,
          attack_samples: dir.samples,
          samples: u.s,
          n: m.n,
        });
      }
      console.error(
        `${entry.label}: gradient (S=${dir.samples}) ${tg} s, ${epsilons.length} ε × ` +
          `${test.n} digits (S=${S}) ${secondsSince(tm)} s in all`,
      );
      await writeCsv(join(ctx.resultsDir, "adversarial.csv"), rows);
      await writeJson(join(ctx.resultsDir, "adversarial.json"), rows);
    }
    if (rows.length === 0) throw new CliError("no classification method to evaluate");

    await saveSvg(
      join(ctx.resultsDir, "adversarial.svg"),
      uncertaintyCurves(rows, {
        title: `FGSM adversarial examples (${test.n} MNIST test digits)${budgetMark(ctx.full)}`,
        x: "epsilon",
        xLabel: "FGSM ε (pixel units)",
        metric: { key: "accuracy_pct", title: "Test accuracy", yLabel: "accuracy (%)" },
      }),
    );
    summarize(
      aggregate(rows, {
        by: ["method", "epsilon"],
        metrics: ["accuracy_pct", "total_entropy", "aleatoric_entropy", "epistemic_entropy"],
      }),
      { title: `FGSM${budgetMark(ctx.full)}`, digits: 3 },
    );
    console.log(
      wroteLine(
        ctx.resultsDir,
        ["adversarial.csv", "adversarial.json", "adversarial.svg"],
        (performance.now() - t0) / 1000,
      ),
    );
  });
}
