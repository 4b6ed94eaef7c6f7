/**
 * Rows of the MNIST results table (`experiments/mnist_table.ts`): their
 * type and columns, the "beats the reference" marker, and the Markdown block
 * pasted into the README (a header line stating mode, samples, test size and
 * date, one table row per method and variant, then notes).
 *
 * @module
 */
import { formatDuration } from "../../core/progress.ts";
import { fixed, formatTable } from "./classification_study_eval.ts";

/**
 * Which settings a row's model was trained with: `reference` (the
 * registry's budget: the reference's settings where it has the method) or
 * `tuned` (the `TUNED` table of `mnist_table.ts`).
 *
 * @example
 * ```ts
 * import type { MnistVariant } from "./mnist_table_rows.ts";
 * const v: MnistVariant = "tuned";
 * ```
 */
export type MnistVariant = "reference" | "tuned";

/**
 * One row of `mnist_table.csv` / `mnist_table.json`.
 *
 * @example
 * ```ts
 * import type { MnistTableRow } from "./mnist_table_rows.ts";
 * const gap = (r: MnistTableRow) => r.ref_error_pct === null ? NaN : r.error_pct - r.ref_error_pct;
 * ```
 */
export type MnistTableRow = {
  /** Method display label (the registry's). */
  method: string;
  /** Registry key. */
  key: string;
  /** Settings variant. */
  variant: MnistVariant;
  /** Test log-likelihood summed over the test digits (nats). */
  log_lik_sum: number;
  /** Test error (%). */
  error_pct: number;
  /** Expected calibration error (15 bins), in [0, 1]. */
  ece: number;
  /** Mean mutual information (epistemic entropy) on the MNIST test digits (nats, ≥ 0). */
  mutual_info: number;
  /**
   * AUROC of telling Fashion-MNIST test images (positive) from MNIST test
   * digits by the predictive entropy; `null` when Fashion-MNIST is missing.
   */
  ood_auroc: number | null;
  /**
   * Brier score (sum over classes, mean over digits); `null` in rows
   * imported into `--records` from a table that did not show it.
   */
  brier: number | null;
  /** Test log-likelihood per digit (nats). */
  log_lik_mean: number;
  /** Posterior samples. */
  samples: number;
  /** MNIST test digits. */
  n: number;
  /** Fashion-MNIST test images (0 when missing). */
  n_ood: number;
  /** Training epochs (budget). */
  epochs: number;
  /** Minibatch size (budget). */
  batch_size: number;
  /** Training examples. */
  train_examples: number | null;
  /** Training seconds recorded in the model's manifest; `null` when it records none. */
  train_seconds: number | null;
  /** Backend the model was trained on (from its manifest), `null` when not recorded. */
  train_backend: string | null;
  /** The reference's summed log-likelihood, if it has one. */
  ref_log_lik_sum: number | null;
  /** The reference's error %, if it has one. */
  ref_error_pct: number | null;
  /**
   * Log-likelihood and error both better than the reference's; `null`
   * without reference values or unless all 10 000 test digits were used.
   */
  beats_reference: boolean | null;
  /** Settings given to the method's builder (the budget's). */
  settings: Record<string, unknown>;
};

/**
 * Column names of the metrics files, in order.
 *
 * @example
 * ```ts
 * import { MNIST_TABLE_COLUMNS } from "./mnist_table_rows.ts";
 * MNIST_TABLE_COLUMNS.includes("ood_auroc"); // true
 * ```
 */
export const MNIST_TABLE_COLUMNS: readonly string[] = [
  "method",
  "key",
  "variant",
  "log_lik_sum",
  "error_pct",
  "ece",
  "mutual_info",
  "ood_auroc",
  "brier",
  "log_lik_mean",
  "samples",
  "n",
  "n_ood",
  "epochs",
  "batch_size",
  "train_examples",
  "train_seconds",
  "train_backend",
  "ref_log_lik_sum",
  "ref_error_pct",
  "beats_reference",
  "settings",
];

/** The reference's test set size: summed log-likelihoods compare only at this size. */
export const MNIST_TEST_SIZE = 10_000;

/**
 * Whether a result beats the reference's: log-likelihood higher and error
 * lower (both strictly); `null` without both reference values or when the
 * log-likelihood is summed over other than the 10 000 test digits.
 *
 * @example
 * ```ts
 * import { beatsReference } from "./mnist_table_rows.ts";
 * beatsReference({ log_lik_sum: -500, error_pct: 1.5, n: 10000, ref_log_lik_sum: -572.9, ref_error_pct: 1.58 }); // true
 * beatsReference({ log_lik_sum: -500, error_pct: 1.6, n: 10000, ref_log_lik_sum: -572.9, ref_error_pct: 1.58 }); // false
 * beatsReference({ log_lik_sum: -50, error_pct: 1.5, n: 1000, ref_log_lik_sum: -572.9, ref_error_pct: 1.58 }); // null
 * ```
 */
export function beatsReference(
  r: Pick<MnistTableRow, "log_lik_sum" | "error_pct" | "n" | "ref_log_lik_sum" | "ref_error_pct">,
): boolean | null {
  if (r.ref_log_lik_sum === null || r.ref_error_pct === null || r.n !== MNIST_TEST_SIZE) {
    return null;
  }
  return r.log_lik_sum > r.ref_log_lik_sum && r.error_pct < r.ref_error_pct;
}

/** The reference's values as published (e.g. -435.458, 2.60). */
function published(v: number | null, minDigits: number): string {
  if (v === null) return "–";
  const decimals = Math.max(minDigits, (String(v).split(".")[1] ?? "").length);
  return v.toFixed(decimals);
}

/**
 * Training time for the table: `1h05m`, `12m30s`, `42s`, or `n/a` when the
 * model's manifest records none.
 *
 * @example
 * ```ts
 * import { trainTime } from "./mnist_table_rows.ts";
 * trainTime(3930); // "1h05m"
 * trainTime(null); // "n/a"
 * ```
 */
export function trainTime(seconds: number | null): string {
  return seconds === null ? "n/a" : formatDuration(seconds);
}

/**
 * Column headers of the Markdown / text table.
 *
 * @example
 * ```ts
 * import { MNIST_TABLE_HEADER } from "./mnist_table_rows.ts";
 * MNIST_TABLE_HEADER[0]; // "method"
 * ```
 */
export const MNIST_TABLE_HEADER: readonly string[] = [
  "method",
  "variant",
  "epochs × batch",
  "train time",
  "test LL (sum)",
  "error %",
  "ECE",
  "MI (nats)",
  "OOD AUROC",
  "ref. LL",
  "ref. error %",
  "beats ref.",
];

/**
 * One table line per row: method, variant, budget, training time, the
 * metrics, the reference's values and the marker (`yes` / `no` / `–`).
 *
 * @example
 * ```ts
 * import { mnistTableCells } from "./mnist_table_rows.ts";
 * const cells = mnistTableCells({
 *   method: "MAP", key: "map", variant: "reference", log_lik_sum: -600, error_pct: 1.7,
 *   ece: 0.01, mutual_info: 0, ood_auroc: 0.85, brier: 0.03, log_lik_mean: -0.06, samples: 1,
 *   n: 10000, n_ood: 10000, epochs: 20, batch_size: 128, train_examples: 60000,
 *   train_seconds: null, train_backend: null, ref_log_lik_sum: -572.9, ref_error_pct: 1.58,
 *   beats_reference: false, settings: {},
 * });
 * cells[3]; // "n/a"
 * ```
 */
export function mnistTableCells(r: MnistTableRow): string[] {
  return [
    r.method,
    r.variant,
    `${r.epochs} × ${r.batch_size}`,
    trainTime(r.train_seconds),
    fixed(r.log_lik_sum, 1),
    fixed(r.error_pct, 2),
    fixed(r.ece, 4),
    r.mutual_info === 0 ? "0" : r.mutual_info.toPrecision(3),
    fixed(r.ood_auroc, 3),
    published(r.ref_log_lik_sum, 1),
    published(r.ref_error_pct, 2),
    r.beats_reference === null ? "–" : r.beats_reference ? "**yes**" : "no",
  ];
}

/**
 * What the header line and notes of the Markdown block say about the run.
 *
 * @example
 * ```ts
 * import type { MnistTableRun } from "./mnist_table_rows.ts";
 * const run: MnistTableRun = { full: true, seed: 0, date: "2025-01-31", notes: [] };
 * ```
 */
export interface MnistTableRun {
  /** `--full` (the registry's full budgets) or quick. */
  full: boolean;
  /** Seed of training and evaluation. */
  seed: number;
  /** Date of the run (`YYYY-MM-DD`). */
  date: string;
  /** Further notes (tuned settings, skipped sets), one bullet each. */
  notes: string[];
}

/**
 * The header line: mode, posterior samples, test size, OOD set, seed and date.
 *
 * @example
 * ```ts
 * import { mnistHeaderLine } from "./mnist_table_rows.ts";
 * mnistHeaderLine([{ method: "MAP", samples: 1, n: 10000, n_ood: 10000 }], {
 *   full: true, seed: 0, date: "2025-01-31", notes: [],
 * });
 * // "**MNIST test results** — mode: full; posterior samples: 1 (MAP: 1); test digits: 10000; …"
 * ```
 */
export function mnistHeaderLine(
  rows: Pick<MnistTableRow, "method" | "samples" | "n" | "n_ood">[],
  run: MnistTableRun,
): string {
  const counts = new Map<number, number>();
  for (const r of rows) counts.set(r.samples, (counts.get(r.samples) ?? 0) + 1);
  const main = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 0;
  const others = rows.filter((r) => r.samples !== main).map((r) => `${r.method}: ${r.samples}`);
  const uniq = (xs: number[]) => [...new Set(xs)].join("/");
  const nOod = uniq(rows.map((r) => r.n_ood));
  return `**MNIST test results** — mode: ${
    run.full ? "full" : "quick"
  }; posterior samples: ${main}${
    others.length ? ` (${[...new Set(others)].join(", ")})` : ""
  }; test digits: ${uniq(rows.map((r) => r.n))}; OOD: ${
    nOod === "0" ? "Fashion-MNIST missing" : `Fashion-MNIST test, ${nOod} images`
  }; seed ${run.seed}; ${run.date}.`;
}

/**
 * The Markdown block for the README: the header line, the table (one row
 * per method and variant) and notes explaining the columns.
 *
 * @example
 * ```ts
 * import { mnistTableMarkdown } from "./mnist_table_rows.ts";
 * const md = mnistTableMarkdown([{
 *   method: "MAP", key: "map", variant: "reference", log_lik_sum: -600, error_pct: 1.7,
 *   ece: 0.01, mutual_info: 0, ood_auroc: 0.85, brier: 0.03, log_lik_mean: -0.06, samples: 1,
 *   n: 10000, n_ood: 10000, epochs: 20, batch_size: 128, train_examples: 60000,
 *   train_seconds: 600, train_backend: "wasm", ref_log_lik_sum: -572.9, ref_error_pct: 1.58,
 *   beats_reference: false, settings: {},
 * }], { full: true, seed: 0, date: "2025-01-31", notes: [] });
 * md.includes("| MAP | reference | 20 × 128 | 10m00s |"); // true
 * ```
 */
export function mnistTableMarkdown(rows: MnistTableRow[], run: MnistTableRun): string {
  const table = formatTable([...MNIST_TABLE_HEADER], rows.map(mnistTableCells), 2);
  const notes = [
    "test LL: log-likelihood of the test labels under the posterior predictive, summed over the " +
    "test digits (nats); ECE: expected calibration error, 15 equal-width bins; MI: mean mutual " +
    "information between label and weights (epistemic entropy) on the MNIST test digits; OOD " +
    "AUROC: Fashion-MNIST test images (positive) against MNIST test digits, scored by the " +
    "predictive entropy.",
    "variant: `reference` is the registry's `full` budget, the row compared with the " +
    "reference's: for Bayes by Backprop the reference's own settings, as in the notebooks " +
    "behind its figures (epochs, μ initialisation and samples per step differ from its " +
    "script's defaults; `methods/registry.ts` lists them), for the other methods " +
    "the settings the registry gives (its comments say how each was chosen)" +
    (rows.some((r) => r.variant === "tuned") ? "; `tuned`: the tuned settings noted below." : "."),
    "train time: wall-clock training time recorded when the model was trained (`n/a`: its " +
    "manifest records none).",
    "ref.: the reference's README (PyTorch, 784-1200-1200-10 ReLU, 100 samples; its BBP columns " +
    "are the BBB rows); beats ref.: test LL and error both better than the reference's " +
    `(– without reference values or with fewer than ${MNIST_TEST_SIZE} test digits).`,
    ...run.notes,
  ];
  if (!run.full) {
    notes.push("Quick mode: small training budgets; not comparable with the reference's values.");
  }
  if (rows.some((r) => r.n !== MNIST_TEST_SIZE)) {
    notes.push(
      `Fewer than ${MNIST_TEST_SIZE} test digits (--test_limit): summed log-likelihoods are ` +
        "not comparable with the reference's.",
    );
  }
  return `${mnistHeaderLine(rows, run)}\n\n${table.markdown}\n${
    notes.map((n) => `- ${n}`).join("\n")
  }\n`;
}
