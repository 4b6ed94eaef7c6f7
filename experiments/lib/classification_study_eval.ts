/**
 * Shared pieces of the MNIST classification studies (`rotations.ts`,
 * `ood.ts`, `adversarial.ts`, `mnist_table.ts`): their extra flags
 * (`--samples`, `--test_limit`, `--train_limit`), the number of posterior
 * samples per method, trained models one at a time, evaluation of a method
 * on a dataset (metrics + entropy decomposition, tensors freed), input
 * normalisation of other image sets with MNIST's statistics, and small
 * Markdown / text tables.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { FlagSpecs } from "../../core/cli.ts";
import { readPrediction } from "../../core/evaluate.ts";
import { disposePrediction } from "../../core/likelihood.ts";
import type { Method, Prediction } from "../../core/method.ts";
import type { ImageDataset } from "../../datasets/mnist.ts";
import { rotateImages } from "../../datasets/rotate.ts";
import { take } from "../../datasets/subset.ts";
import type { MethodEntry } from "../../methods/registry.ts";
import {
  type ClassificationUncertainty,
  classificationUncertainty,
} from "../../uncertainty/classification.ts";
import { type ClassificationMetrics, classificationMetrics } from "../../uncertainty/metrics.ts";
import { mnistModel, type StudyContext, studyTest, type StudyTrain, studyTrain } from "./study.ts";

/**
 * Posterior samples per prediction in `--full` mode (the reference's 100).
 *
 * @example
 * ```ts
 * import { FULL_SAMPLES } from "./classification_study_eval.ts";
 * FULL_SAMPLES; // 100
 * ```
 */
export const FULL_SAMPLES: number = 100;

/**
 * Posterior samples per prediction in quick mode.
 *
 * @example
 * ```ts
 * import { QUICK_SAMPLES } from "./classification_study_eval.ts";
 * QUICK_SAMPLES; // 20
 * ```
 */
export const QUICK_SAMPLES: number = 20;

/**
 * Flags shared by the classification studies (merged with the study's own
 * flags and `STUDY_FLAGS`).
 *
 * @example
 * ```ts
 * import { EVAL_FLAGS } from "./classification_study_eval.ts";
 * Object.keys(EVAL_FLAGS); // ["samples", "test_limit", "train_limit"]
 * ```
 */
export const EVAL_FLAGS: FlagSpecs = {
  samples: {
    type: "int",
    min: 1,
    help: `posterior samples per prediction (default ${FULL_SAMPLES} with --full, ` +
      `${QUICK_SAMPLES} quick; methods with one weight set always use 1)`,
  },
  test_limit: {
    type: "int",
    min: 1,
    help: "use only the first N test examples (default: the study's quick/full size)",
  },
  train_limit: {
    type: "int",
    min: 1,
    help: "train missing models on only the first N training examples (tests)",
  },
};

/**
 * Posterior samples S to predict `method` with: 1 for point estimates
 * (`defaultSamples` 1, e.g. MAP), else `--samples` or 100 (`--full`) / 20.
 *
 * @example
 * ```ts
 * import { posteriorSamples } from "./classification_study_eval.ts";
 * // posteriorSamples(ctx, method) === 100 for MC dropout with --full
 * ```
 */
export function posteriorSamples(ctx: StudyContext, method: Method): number {
  if (method.defaultSamples <= 1) return 1;
  const s = ctx.flags.samples as number | undefined;
  return s ?? (ctx.full ? FULL_SAMPLES : QUICK_SAMPLES);
}

/**
 * Number of test examples a study uses: `--test_limit`, else `full` (all
 * when undefined) or `quick`.
 *
 * @example
 * ```ts
 * import { testExamples } from "./classification_study_eval.ts";
 * // testExamples(ctx, { quick: 1000 }) → 1000 in quick mode, undefined (all) with --full
 * ```
 */
export function testExamples(
  ctx: StudyContext,
  sizes: { quick?: number; full?: number },
): number | undefined {
  const limit = ctx.flags.test_limit as number | undefined;
  return limit ?? (ctx.full ? sizes.full : sizes.quick);
}

/**
 * MNIST train and test sets of a study, with `--train_limit` and the
 * study's test size applied (`fullTest`: the whole test set). The training
 * set is lazy: it is read only if a model has to be trained.
 *
 * @example
 * ```ts
 * import { studyData } from "./classification_study_eval.ts";
 * // const { train, test } = await studyData(ctx, { quick: 1000 });
 * ```
 */
export async function studyData(
  ctx: StudyContext,
  sizes: { quick?: number; full?: number },
): Promise<{ train: StudyTrain; test: ImageDataset; fullTest: ImageDataset }> {
  const fullTest = await studyTest(ctx);
  const testLimit = testExamples(ctx, sizes);
  return {
    train: studyTrain(ctx, ctx.flags.train_limit as number | undefined),
    test: testLimit ? take(fullTest, testLimit) : fullTest,
    fullTest,
  };
}

/**
 * A trained method and its registry entry.
 *
 * @example
 * ```ts
 * import type { StudyModel } from "./classification_study_eval.ts";
 * const label = (m: StudyModel) => `${m.entry.label} (${m.method.defaultSamples} samples)`;
 * ```
 */
export interface StudyModel {
  /** Registry entry (key, label). */
  entry: MethodEntry;
  /** The trained method (disposed when the iteration moves on). */
  method: Method;
}

/**
 * Yields the trained model of each selected method, one at a time (loaded
 * from `--models_dir` or trained and saved there), skipping methods that are
 * not classifiers; each model is disposed when the loop moves to the next,
 * so only one is in memory.
 *
 * @example
 * ```ts
 * import { studyModels } from "./classification_study_eval.ts";
 * // for await (const { entry, method } of studyModels(ctx, train)) { … }
 * ```
 */
export async function* studyModels(
  ctx: StudyContext,
  train: StudyTrain,
  log: (line: string) => void = (l) => console.error(l),
): AsyncGenerator<StudyModel> {
  for (const entry of ctx.methods) {
    const method = await mnistModel(ctx, entry, train, log);
    try {
      if (method.spec.task !== "classification") {
        log(`${entry.label}: skipped (not a classifier)`);
        continue;
      }
      yield { entry, method };
    } finally {
      method.dispose();
    }
  }
}

/**
 * Metrics plus the per-example entropy decomposition of one evaluation.
 *
 * @example
 * ```ts
 * import type { ClassifierEval } from "./classification_study_eval.ts";
 * const summary = (e: ClassifierEval) => [e.metrics.errorPct, e.uncertainty.epistemicMean];
 * ```
 */
export interface ClassifierEval {
  /** Test metrics (error, log-likelihood, ECE, Brier, mean entropies). */
  metrics: ClassificationMetrics;
  /** Predictive distribution and per-example total / aleatoric / epistemic entropy. */
  uncertainty: ClassificationUncertainty;
}

/**
 * Predicts `ds` with `samples` posterior samples, reads the prediction
 * asynchronously (`readPrediction`: no synchronous GPU read) and computes the
 * metrics and the entropy decomposition on the host; frees the prediction
 * tensors. With one sample the epistemic part is set to exactly 0 (and the
 * aleatoric part to the total), so point estimates give no spurious
 * rounding-level scores.
 *
 * @example
 * ```ts
 * import { evaluateClassifier } from "./classification_study_eval.ts";
 * // const { metrics, uncertainty } = await evaluateClassifier(method, test, 100, 0);
 * ```
 */
export async function evaluateClassifier(
  method: Method,
  ds: ImageDataset,
  samples: number,
  seed: number,
): Promise<ClassifierEval> {
  const logProbs = await predictLogProbs(method, ds.x, ds.n, samples, seed);
  const uncertainty = classificationUncertainty(logProbs);
  if (uncertainty.s === 1) {
    // One weight set: the mutual information is exactly 0 (not rounding noise).
    uncertainty.aleatoric.set(uncertainty.total);
    uncertainty.epistemic.fill(0);
    uncertainty.aleatoricMean = uncertainty.totalMean;
    uncertainty.epistemicMean = 0;
  }
  return { metrics: classificationMetrics(uncertainty, ds.y), uncertainty };
}

/**
 * Per-sample class log-probabilities `[S, n, C]` of inputs `x` (`n` rows,
 * row-major) as host arrays, read asynchronously; the prediction tensors are
 * freed.
 *
 * @example
 * ```ts
 * import { predictLogProbs } from "./classification_study_eval.ts";
 * // const { data, shape } = await predictLogProbs(method, test.x, test.n, 20, 0);
 * ```
 */
export async function predictLogProbs(
  method: Method,
  x: Float32Array,
  n: number,
  samples: number,
  seed: number,
): Promise<{ data: Float32Array; shape: number[] }> {
  const xt = tf.tensor2d(x, [n, x.length / Math.max(n, 1)]);
  let pred: Prediction;
  try {
    pred = method.predict(xt, { samples, seed });
  } finally {
    xt.dispose();
  }
  try {
    if (pred.task !== "classification") {
      throw new TypeError(`${method.name}: predict returned a ${pred.task} prediction`);
    }
    const host = await readPrediction(pred);
    if (host.task !== "classification") throw new TypeError("expected a classification read");
    return host.logProbs;
  } finally {
    disposePrediction(pred);
  }
}

/**
 * Mean and standard deviation over posterior samples of the class
 * probabilities of a few inputs `x` (`[n, 784]` row-major): `mean[i][c]`,
 * `std[i][c]`. The mean is the predictive distribution.
 *
 * @example
 * ```ts
 * import { classProbabilityStats } from "./classification_study_eval.ts";
 * // const { mean, std } = await classProbabilityStats(method, rotatedDigits, 13, 100, 0);
 * ```
 */
export async function classProbabilityStats(
  method: Method,
  x: Float32Array,
  n: number,
  samples: number,
  seed: number,
): Promise<{ mean: number[][]; std: number[][] }> {
  const { data: lp, shape: [S, N, C] } = await predictLogProbs(method, x, n, samples, seed);
  const mean: number[][] = [];
  const std: number[][] = [];
  for (let i = 0; i < N; i++) {
    const m = new Array<number>(C).fill(0);
    const sq = new Array<number>(C).fill(0);
    for (let s = 0; s < S; s++) {
      for (let c = 0; c < C; c++) {
        const p = Math.exp(lp[(s * N + i) * C + c]);
        m[c] += p;
        sq[c] += p * p;
      }
    }
    mean.push(m.map((v) => v / S));
    std.push(sq.map((v, c) => Math.sqrt(Math.max(0, v / S - (m[c] / S) ** 2))));
  }
  return { mean, std };
}

/**
 * Re-normalises an image set loaded with `normalize: false` (pixels in
 * [0, 1]) with another set's statistics — the model's input normalisation,
 * e.g. MNIST's mean/std for Fashion-MNIST images fed to an MNIST model.
 *
 * @example
 * ```ts
 * import { loadMnist } from "../../datasets/mnist.ts";
 * import { normalizeWith } from "./classification_study_eval.ts";
 * const raw = await loadMnist("fashion-mnist", "test", { normalize: false });
 * const ood = normalizeWith(raw, { mean: 0.1307, std: 0.3081 });
 * ```
 */
export function normalizeWith(
  ds: ImageDataset,
  norm: { mean: number; std: number },
): ImageDataset {
  if (ds.normalization !== null) {
    throw new RangeError(
      `normalizeWith: the images are normalised already (mean ${ds.normalization.mean}, std ` +
        `${ds.normalization.std}); load them with normalize: false`,
    );
  }
  if (!(norm.std > 0)) throw new RangeError(`normalizeWith: std must be > 0, found ${norm.std}`);
  const x = new Float32Array(ds.x.length);
  for (let i = 0; i < x.length; i++) x[i] = (ds.x[i] - norm.mean) / norm.std;
  return { ...ds, x, normalization: { ...norm }, background: (0 - norm.mean) / norm.std };
}

/**
 * Pixels in [0, 1] of normalised images (for drawing them).
 *
 * @example
 * ```ts
 * import { unnormalize } from "./classification_study_eval.ts";
 * unnormalize(new Float32Array([-0.4242]), { mean: 0.1307, std: 0.3081 }); // ≈ [0]
 * ```
 */
export function unnormalize(
  x: Float32Array,
  norm: { mean: number; std: number } | null,
): Float32Array {
  if (!norm) return x.slice();
  return x.map((v) => Math.min(1, Math.max(0, v * norm.std + norm.mean)));
}

/**
 * A table as GitHub Markdown and as aligned terminal text (the first
 * `textColumns` columns left-aligned, the others right-aligned).
 *
 * @example
 * ```ts
 * import { formatTable } from "./classification_study_eval.ts";
 * formatTable(["method", "AUROC"], [["MAP", "0.912"]]).markdown;
 * // "| method | AUROC |\n| --- | ---: |\n| MAP | 0.912 |\n"
 * ```
 */
export function formatTable(
  header: string[],
  rows: string[][],
  textColumns = 1,
): { markdown: string; text: string } {
  const esc = (s: string) => s.replaceAll("|", "\\|");
  const md = [
    `| ${header.map(esc).join(" | ")} |`,
    `| ${header.map((_, j) => (j < textColumns ? "---" : "---:")).join(" | ")} |`,
    ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
  ];
  const width = header.map((h, j) => Math.max(h.length, ...rows.map((r) => (r[j] ?? "").length)));
  const line = (r: string[]) =>
    r.map((c, j) => (j < textColumns ? c.padEnd(width[j]) : c.padStart(width[j]))).join("  ")
      .trimEnd();
  const text = [line(header), width.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)];
  return { markdown: md.join("\n") + "\n", text: text.join("\n") + "\n" };
}

/**
 * A number with fixed decimals, `–` when not finite or missing.
 *
 * @example
 * ```ts
 * import { fixed } from "./classification_study_eval.ts";
 * fixed(1.2345, 2); // "1.23"
 * fixed(undefined, 2); // "–"
 * ```
 */
export function fixed(v: number | undefined | null, digits: number): string {
  return typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "–";
}

/**
 * Seconds since `t0` (a `performance.now()` value), rounded to 0.1 s.
 *
 * @example
 * ```ts
 * import { secondsSince } from "./classification_study_eval.ts";
 * secondsSince(performance.now()); // 0
 * ```
 */
export function secondsSince(t0: number): number {
  return Math.round((performance.now() - t0) / 100) / 10;
}

/**
 * Rotates `n` normalised 28×28 images by `angleDeg` with `background` for
 * the pixels rotated in from outside (`rotateImages` with `fill`).
 *
 * @example
 * ```ts
 * import { rotateWithBackground } from "./classification_study_eval.ts";
 * const img = new Float32Array(784).fill(-0.4242);
 * const r = await rotateWithBackground(img, 1, 45, -0.4242); // all −0.4242
 * ```
 */
export async function rotateWithBackground(
  x: Float32Array,
  n: number,
  angleDeg: number,
  background: number,
): Promise<Float32Array> {
  if (angleDeg === 0) return x.slice();
  return await rotateImages(x, n, angleDeg, { fill: background });
}

/**
 * A copy of an image set rotated by `angleDeg`, the fill being the set's
 * background (see {@linkcode rotateWithBackground}).
 *
 * @example
 * ```ts
 * import { loadMnist } from "../../datasets/mnist.ts";
 * import { rotateImageSet } from "./classification_study_eval.ts";
 * const rot = await rotateImageSet(await loadMnist("mnist", "test", { limit: 10 }), 90);
 * ```
 */
export async function rotateImageSet(ds: ImageDataset, angleDeg: number): Promise<ImageDataset> {
  return { ...ds, x: await rotateWithBackground(ds.x, ds.n, angleDeg, ds.background) };
}
