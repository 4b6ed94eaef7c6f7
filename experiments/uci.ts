/**
 * UCI regression study: heteroscedastic regression (a mean and a log σ(x)
 * head) with one hidden layer on the standard UCI benchmarks, under two
 * protocols:
 *
 * - `cv`: k-fold cross-validation (default 10 folds, seeded) on the six
 *   sets the reference used — bostonHousing, concrete, energy, power-plant,
 *   wine-quality-red, yacht;
 * - `splits`: the standard train/test splits (`index_train_K.txt` /
 *   `index_test_K.txt`, 20 per set, protein 5) of all nine sets, as in most
 *   papers since 2015, with the settings chosen per split on its training
 *   rows (below).
 *
 *     deno run -A experiments/uci.ts --methods map,mc_dropout          # quick
 *     deno run -A experiments/uci.ts --full --protocol splits \
 *       --methods mc_dropout,ensemble,bbb_local,sghmc,kfac_laplace      # the citable run
 *     deno run -A experiments/uci.ts --protocol splits --splits 5 --datasets yacht,energy
 *
 * `--noise homoscedastic` replaces the log σ(x) head with one learnt
 * global log σ per network (the likelihood of Gal's and Hernández-Lobato's
 * networks); its rows keep their own `--results_dir` (a run with the other
 * noise model there is refused, as for any other setting).
 *
 * Features and target are standardised with the statistics of the rows a
 * model is trained on; the network is `d → n_hidden → 2` with ReLU
 * (`--hidden`, else the set's `n_hidden.txt`, else 50 units), trained with
 * `fit` and the registry's `regression` settings (methods without them:
 * their defaults). Log-likelihood and RMSE are in the target's original
 * units (`regressionMetrics` with the training rows' `yMean`/`yStd`).
 *
 * Epochs per set (`--budget`): `quick` (the default) trains the registry's
 * epochs (400) but at most about `--max_steps` (default 2000) minibatch
 * steps, `min(400, max(10, ⌈max_steps / batches per epoch⌉))` epochs;
 * `capped` (the default with `--full`) is the same with a cap of 10000
 * steps, which only shortens the four large sets (kin8nm, naval,
 * power-plant, protein; the five small ones keep all 400 epochs);
 * `registry` trains the registry's epochs everywhere; `--epochs` overrides
 * all three. SGHMC (registry `regression.minSteps`: 5000) is raised to at
 * least 5000 steps, up to the cap, on every set: 400 epochs of yacht are
 * only 1,200 steps, too few for the chain to mix. When the epochs differ from the registry's, settings counted
 * in epochs (SG-MCMC `burnIn`, `sampleFreq`) are scaled in proportion.
 * Quick mode runs 2 folds and 1 split with 20 posterior samples; `--full`
 * every fold and split with 100.
 *
 * Tuning (`--tune grid`; `--tune auto`, the default, tunes the `splits`
 * protocol with `--full` and nothing else): for each outer split, its
 * TRAINING rows only are split 80/20 (seeded) into inner training and
 * validation rows; every candidate of the method's grid (`--grid small`: 4,
 * SGHMC 6, MC dropout 8; `full`: twice that; listed in `lib/uci_grid.ts`;
 * `--grid_axis dropout=0.01,0.03,0.1` replaces an axis's values; its rows
 * keep their own `--results_dir`, as for `--noise`) is trained on the inner
 * training rows (standardised with their statistics) and scored by its
 * validation log-likelihood; the best is trained again on the whole training
 * split and evaluated on its test rows, which the tuning never sees. The row
 * records the choice (`chosen`, JSON), its validation log-likelihood and
 * RMSE, and every candidate's score and seconds (`grid_scores`, JSON).
 *
 * Divergence: a fit whose loss becomes non-finite, or whose log-likelihood
 * or RMSE (validation while tuning; training and test for the final fit) is
 * non-finite or whose RMSE exceeds 10 × the std of its training targets, or
 * a final fit whose training RMSE exceeds that std (worse on its own
 * training rows than their mean), is reported on stderr with the set, split
 * and method and retrained with a new seed, from the second restart on with
 * the learning rate / step size halved each time, at most `--max_restarts`
 * (3) times (`restarts`, `tune_restarts`, `lr_scale` columns). A candidate
 * that never converges is left out of the choice; a row whose final fit
 * never converges is marked `diverged`, keeps no metrics and is left out of
 * every summary (the Markdown tables name how many, and which final fits
 * were restarted).
 *
 * Parallel rows (`--jobs N`, default 1, with `--full` the machine's cores):
 * N rows train at once, each in a worker process with ⌊cores / N⌋ threads
 * (`lib/uci_pool.ts`). A row's network is small (a step is about 2 ms, most
 * of it per-op overhead), so rows in parallel use the cores far better than
 * threads within one fit; the engine is deterministic for any thread count,
 * so the rows are the same as with `--jobs 1`. While tuning, the ensemble
 * scores its candidates with one member (registry `tuneSettings`).
 *
 * Rows are written after every data set × method × split and a rerun reuses
 * the rows of an earlier run with the same settings (`config` column) unless
 * `--retrain`, so an interrupted run resumes at the split it was on. Rows
 * of an earlier run in the same `--results_dir` (same mode, budget,
 * `--max_steps` and seed) for data sets, methods or splits not run this
 * time are kept, and the tables and figures cover them too, so the study
 * can be run in parts (e.g. the five small sets with `--splits 5`, then the
 * four large with `--splits 1`); a different `--results_dir` starts clean. A
 * run with other settings than the rows already in `--results_dir` stops
 * with an error unless `--retrain` (which replaces them all). One
 * progress line per row: protocol, set, split k/n, method, the chosen
 * settings, test log-likelihood and RMSE, seconds and the whole run's ETA
 * (each row left weighted by the training examples its fits process, at its
 * method's measured pace: `lib/uci_eta.ts`).
 *
 * `--members N` (default 1) makes each final fit an ensemble of the method:
 * N networks trained with the chosen settings from different seeds, their
 * predictions pooled into one equal-weight mixture (each member's
 * `--test_samples` samples); tuning still scores each candidate with one
 * network, so it costs N − 1 more fits per row. Its rows are labelled
 * `<method> ×N` and never share a results folder with single-network rows.
 *
 * `--records FILE` keeps rows between machines (results folders are not
 * committed; `experiments/records/uci.json` is the file behind the README's
 * tables): every row the run trains or reuses is added to FILE, a row kept from
 * an earlier part of the run (not checked again) only where FILE has none
 * (`lib/uci_records.ts`, written atomically after every trained row), and a row
 * FILE holds with the same `config` is taken from it instead of trained, so the
 * README's commands with `--records` remake its tables on a machine without the
 * results, training only what FILE lacks. A reused row (earlier run's or
 * FILE's) must pass today's divergence check on its recorded metrics, else it
 * is trained again (said on stderr): the check is not in the config hash, and
 * only ever tightens, so a row that passes it is the row a fresh run would
 * give.
 *
 * Cost of `--full --protocol splits --methods
 * mc_dropout,ensemble,bbb_local,sghmc,kfac_laplace` (grid `small`, budget
 * `capped`, 100 samples) on 2 CPU cores (wasm + OpenBLAS, `--jobs 2`):
 * about 4.1 hours for all 20 splits (protein 5), 8.2 hours of rows two at a
 * time (2026-12-04; some rows shared the cores with tests). Measured seconds
 * of the five rows of one split, tuning included: yacht 62, boston 74, energy
 * 90, concrete 99, wine 132, kin8nm 306, naval 307, power-plant 307, protein
 * 374 (the four large sets at the 10,000-step cap). BBB-LRT took about 29% of
 * it, SGHMC (6 grid points) 24%, MC dropout (8) 19%, the ensemble (tuned with
 * one member) 18%, KFAC Laplace 9%. Caps:
 * `--splits N` scales it by about N / 20, `--datasets`, `--methods`;
 * `--tune none` divides it by about 4 (one fit per split instead of 4 at 80%
 * of the rows plus 1), `--grid full` multiplies it by about 1.4, `--max_steps`
 * shortens the four large sets in proportion; `--budget registry` (400 epochs
 * everywhere) is several times longer on the large sets; `--jobs` on more
 * cores divides it by about the number of jobs.
 *
 * Outputs in `--results_dir` (default `results/uci`):
 *
 * - `uci.csv` / `uci.json` (`rows`): one row per protocol, data set, method
 *   and fold/split with the columns {@linkcode UCI_COLUMNS}: `protocol`
 *   (`cv` | `splits`), `dataset`, `method` (display label), `key` (registry
 *   key), `fold` (fold or split index), `n_train`, `n_test`, `hidden`,
 *   `epochs`, `batch_size`, `members` (networks of the final fit),
 *   `samples` (all members' together), `train_log_lik`, `train_rmse`,
 *   `test_log_lik`, `test_rmse` (log-likelihood per example in nats, RMSE in
 *   target units), `train_seconds` (the final fit), `tune` (`none`, `small`,
 *   `full`), `chosen`, `valid_log_lik`, `valid_rmse`, `n_valid`,
 *   `tune_seconds`, `grid_scores`, `restarts`, `tune_restarts`, `lr_scale`,
 *   `diverged`, `failure` (why, when diverged), `seconds` (the whole row),
 *   `config` (hash of the settings, for resuming);
 * - `uci_summary.csv`: per protocol, data set and method `n` (rows
 *   averaged), `diverged` (rows left out), and `<metric>_mean`,
 *   `<metric>_std` (sample std), `<metric>_sem` (standard error =
 *   std / √n) and `<metric>_n` for the four metrics;
 * - `uci.md`: Markdown tables, one per protocol, mean ± s.e.;
 * - `uci_log_lik.svg`, `uci_rmse.svg` (protocol `cv`) and
 *   `uci_splits_log_lik.svg`, `uci_splits_rmse.svg` (protocol `splits`):
 *   mean ± std over folds per data set (short names: boston, naval, power,
 *   protein, wine) and method, train translucent and test solid; one panel
 *   per data set, each with its own y axis.
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
import { aggregate, summarize, writeMarkdown } from "../uncertainty/tables.ts";
import { startStudy } from "./lib/study.ts";
import {
  buildRegression,
  REGRESSION_FLAGS,
  regressionBudget,
  withEpochs,
} from "./lib/regression_study_train.ts";
import { budgetMark, wroteLine } from "./lib/report.ts";
import {
  candidateText,
  type GridAxes,
  type GridSize,
  hasGridAxis,
  parseGridAxes,
  uciGrid,
} from "./lib/uci_grid.ts";
import { UCI_COLUMNS, uciLabel, type UciRow } from "./lib/uci_job.ts";
import { runUciJobs, type UciJobSpec } from "./lib/uci_pool.ts";
import { currentBackend } from "../core/backend.ts";
import { isDiverged, uciMarkdown, uciSummaryRows } from "./lib/uci_summary.ts";
import { METHODS } from "../methods/registry.ts";
import { uciVsPublished } from "./lib/uci_published.ts";
import { UciEta, uciRowWork } from "./lib/uci_eta.ts";
import { addUciRecords, readUciRecords, uciRecordId, writeUciRecords } from "./lib/uci_records.ts";
import { rowDivergenceReason } from "./lib/uci_restarts.ts";

export { UCI_COLUMNS };

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
type Row = UciRow;
type Budget = "quick" | "capped" | "registry";

/** Step caps of the `quick` and `capped` budgets (`--max_steps` replaces them). */
export const UCI_MAX_STEPS: Readonly<Record<"quick" | "capped", number>> = {
  quick: 2000,
  capped: 10000,
};

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
  budget: {
    type: "string",
    choices: ["quick", "capped", "registry"],
    help: "epochs per set: the registry's (400) capped at --max_steps steps (quick: 2000, " +
      "capped: 10000) or uncapped (registry); default quick, capped with --full",
  },
  max_steps: {
    type: "int",
    min: 1,
    help: "minibatch steps per fit that cap the epochs of the quick/capped budget",
  },
  tune: {
    type: "string",
    default: "auto",
    choices: ["auto", "grid", "none"],
    help: "choose settings per split on an 80/20 split of its training rows (grid), or use " +
      "the registry's (none); auto: grid for --protocol splits with --full, else none",
  },
  grid: {
    type: "string",
    default: "small",
    choices: ["small", "full"],
    help: "tuning grid per method: small (4 candidates, SGHMC 6, MC dropout 8) or full (small × " +
      "epochs {½, 1})",
  },
  grid_axis: {
    type: "string",
    help: "replace grid axes' values: name=v1,v2,… (several: separated by ;), e.g. " +
      "dropout=0.01,0.03,0.1",
  },
  max_restarts: {
    type: "int",
    default: 3,
    min: 0,
    help: "retrain a diverged fit at most this many times (new seed; from the 2nd, half the lr)",
  },
  noise: {
    type: "string",
    default: "heteroscedastic",
    choices: ["heteroscedastic", "homoscedastic"],
    help: "the likelihood's noise: a learnt log σ(x) head, or one learnt global log σ",
  },
  members: {
    type: "int",
    default: 1,
    min: 1,
    help: "networks of each final fit, trained with the chosen settings from different seeds " +
      "and pooled into one predictive mixture (an ensemble of the method, labelled ×N); " +
      "tuning scores each candidate with one",
  },
  records: {
    type: "string",
    help: "JSON file of rows kept between machines (experiments/records/uci.json): every row " +
      "this run trains or reuses is added to it, and a row it holds with the same settings " +
      "(config) is reused instead of trained",
  },
  jobs: {
    type: "int",
    min: 1,
    help: "rows trained at once, each in its own process with cores / jobs threads " +
      "(default: 1; with --full, the machine's cores)",
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

/**
 * Epochs of a method on a set with `nTrain` training rows: the budget's
 * `epochs` (already `--epochs` when given, or the `registry` budget), else
 * capped at about `maxSteps` minibatch steps:
 * `min(epochs, max(10, ⌈maxSteps / batches per epoch⌉))`. A method with
 * `minSteps` (the registry's SG-MCMC samplers) is then raised to at least
 * `⌈min(minSteps, maxSteps) / batches per epoch⌉` epochs: a chain needs
 * steps, and a small set has few batches an epoch.
 *
 * @example
 * ```ts
 * import { uciEpochs } from "./uci.ts";
 * uciEpochs(400, 277, 128, 2000); // 400: yacht has 3 batches per epoch
 * uciEpochs(400, 36584, 128, 5000); // 18: protein has 286
 * uciEpochs(400, 36584, 128, Infinity); // 400
 * uciEpochs(400, 277, 128, 5000, 5000); // 1667: 5000 steps of yacht
 * ```
 */
export function uciEpochs(
  epochs: number,
  nTrain: number,
  batchSize: number,
  maxSteps: number,
  minSteps = 0,
): number {
  const perEpoch = Math.ceil(nTrain / Math.min(batchSize, nTrain));
  const capped = Number.isFinite(maxSteps)
    ? Math.min(epochs, Math.max(10, Math.ceil(maxSteps / perEpoch)))
    : epochs;
  return Math.max(capped, Math.ceil(Math.min(minSteps, maxSteps) / perEpoch));
}

/** The rows and run settings of an earlier `uci.json` (none when missing or unreadable). */
interface Earlier {
  rows: Row[];
  /** The settings of that run its rows share, as one comparable string (`runKey`). */
  run: string;
}

/**
 * The settings a results folder's rows share (mode, budget, step cap, seed,
 * noise model, `--grid_axis`), in words: compared to decide whether a
 * folder's rows belong to this run, and quoted when they do not. Both sides
 * are computed from `uci.json`'s fields, so the key's wording may change.
 */
function runKey(
  mode: unknown,
  budget: unknown,
  maxSteps: unknown,
  seed: unknown,
  noise: unknown,
  gridAxis: unknown,
  members: unknown,
): string {
  return `mode ${mode}, budget ${budget}, max_steps ${maxSteps ?? "none"}, seed ${seed}, ` +
    `noise ${noise}${gridAxis ? `, grid_axis ${gridAxis}` : ""}` +
    (Number(members ?? 1) > 1 ? `, members ${members}` : "");
}

/** `--grid_axis` values as one canonical text (names sorted), e.g. `dropout=0.01,0.1`. */
function axesText(axes: GridAxes): string {
  return Object.keys(axes).sort().map((k) => `${k}=${axes[k].join(",")}`).join(";");
}

async function readEarlier(path: string): Promise<Earlier> {
  try {
    const j = JSON.parse(await Deno.readTextFile(path));
    return {
      rows: Array.isArray(j.rows) ? j.rows as Row[] : [],
      run: runKey(
        j.mode,
        j.budget,
        j.max_steps,
        j.seed,
        j.noise ?? "heteroscedastic",
        j.grid_axis ?? null,
        j.members ?? 1,
      ),
    };
  } catch {
    return { rows: [], run: "" };
  }
}

/**
 * The sentence under a protocol's table saying how its rows' settings were
 * chosen, from the rows' `tune` column (`none`, `small`, `full`) and the
 * run's `--grid_axis` values.
 *
 * @example
 * ```ts
 * import { tuningNote } from "./uci.ts";
 * tuningNote([{ tune: "none" }] as never, "splits"); // "Settings: the registry's regression settings (no tuning).\n"
 * tuningNote([{ tune: "small" }] as never, "splits", { dropout: [0.01, 0.1] }); // "… (grid `small` with dropout {0.01, 0.1} (`--grid_axis`), …"
 * ```
 */
export function tuningNote(rows: readonly Row[], over: string, axes: GridAxes = {}): string {
  const grids = [...new Set(rows.map((r) => String(r.tune)))].filter((t) => t !== "none");
  if (grids.length === 0) return "Settings: the registry's regression settings (no tuning).\n";
  const some = grids.length > 0 && rows.some((r) => String(r.tune) === "none")
    ? " (some rows: the registry's settings, no tuning)"
    : "";
  const replaced = Object.entries(axes).map(([name, v]) => `${name} {${v.join(", ")}}`);
  return `Settings chosen per ${over.slice(0, -1)} by the validation log-likelihood on an ` +
    `80/20 split of its training rows (grid ${grids.map((g) => `\`${g}\``).join(", ")}` +
    (replaced.length ? ` with ${replaced.join(", ")} (\`--grid_axis\`)` : "") +
    `, \`chosen\` in uci.csv)${some}.\n`;
}

/** Identity of a row: protocol, data set, method and fold/split. */
function rowId(r: Row): string {
  return JSON.stringify([r.protocol, r.dataset, r.key, r.fold]);
}

/**
 * `rows` followed by the rows of `earlier` that `rows` does not replace
 * (same protocol, data set, method and fold), ordered by protocol, data
 * set (in `UCI_DATASETS` order), method (registry order) and fold.
 *
 * @example
 * ```ts
 * import { mergeRows } from "./uci.ts";
 * const r = (dataset: string, fold: number, v: number) =>
 *   ({ protocol: "splits", dataset, key: "map", fold, test_rmse: v }) as never;
 * mergeRows([r("yacht", 0, 2)], [r("yacht", 0, 1), r("kin8nm", 0, 3)]).length; // 2
 * ```
 */
export function mergeRows(rows: readonly Row[], earlier: readonly Row[]): Row[] {
  const have = new Set(rows.map(rowId));
  const all = [...rows, ...earlier.filter((r) => !have.has(rowId(r)))];
  const keys = Object.keys(METHODS);
  const rank = (r: Row) => [
    r.protocol === "cv" ? 0 : 1,
    (UCI_DATASETS as readonly string[]).indexOf(String(r.dataset)),
    keys.indexOf(String(r.key)),
    Number(r.fold),
  ];
  return all.map((r) => ({ r, k: rank(r) })).sort((a, b) => {
    for (let i = 0; i < a.k.length; i++) if (a.k[i] !== b.k[i]) return a.k[i] - b.k[i];
    return 0;
  }).map((x) => x.r);
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

/** `12 s`, `3m 05s`, `2h 10m`. */
function duration(secs: number): string {
  if (!Number.isFinite(secs)) return "?";
  if (secs < 60) return `${secs.toFixed(0)} s`;
  if (secs < 3600) {
    return `${Math.floor(secs / 60)}m ${String(Math.round(secs % 60)).padStart(2, "0")}s`;
  }
  return `${Math.floor(secs / 3600)}h ${String(Math.round((secs % 3600) / 60)).padStart(2, "0")}m`;
}

/** The progress line of one finished row. */
function progressLine(r: Row, total: number, eta: string): string {
  const head = `${r.protocol} ${r.dataset} ${r.protocol === "cv" ? "fold" : "split"} ` +
    `${Number(r.fold) + 1}/${total} ${r.method}`;
  const secs = `${Number(r.seconds).toFixed(1)} s` +
    (r.tune === "none" ? "" : ` (tuning ${Number(r.tune_seconds).toFixed(1)} s)`);
  const restarts = Number(r.restarts) + Number(r.tune_restarts);
  const what = r.tune === "none"
    ? `${r.epochs} epochs`
    : `chosen ${r.chosen || "nothing"} (valid LL ${Number(r.valid_log_lik).toFixed(3)})`;
  const result = isDiverged(r)
    ? `DIVERGED (${r.failure}), left out of the summary`
    : `test LL ${Number(r.test_log_lik).toFixed(3)}, RMSE ${Number(r.test_rmse).toPrecision(4)}`;
  return `${head}: ${what}; ${result}; ${secs}` +
    (restarts ? `; ${restarts} restart(s)` : "") + `; ETA ${eta}`;
}

/**
 * `--grid_axis` checked against the run: it needs tuning, and each axis
 * must belong to the grid of at least one method run (a typo would else
 * silently tune the default grid).
 */
function gridAxesFor(text: string | undefined, keys: string[], tuning: boolean): GridAxes {
  if (text === undefined) return {};
  let axes: GridAxes;
  try {
    axes = parseGridAxes(text);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  if (!tuning) {
    throw new CliError(
      "--grid_axis changes the tuning grid, but this run does not tune: add --tune grid " +
        "(or --full with --protocol splits)",
    );
  }
  for (const name of Object.keys(axes)) {
    if (!keys.some((k) => hasGridAxis(k, name))) {
      throw new CliError(
        `--grid_axis: axis "${name}" is in none of the grids of the methods run ` +
          `(${keys.join(", ")})`,
      );
    }
  }
  return axes;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const ctx = await startStudy(
    "uci.ts",
    "Heteroscedastic regression on the UCI benchmarks (k-fold CV on the reference's six " +
      "sets and/or the standard splits of all nine, with settings tuned per split): test " +
      "log-likelihood and RMSE per method.",
    FLAGS,
    "results/uci",
  );
  if (!ctx) return;
  const f = ctx.flags;
  const protocols: Protocol[] = f.protocol === "both" ? ["cv", "splits"] : [f.protocol as Protocol];
  const chosenSets = f.datasets !== undefined ? parseDatasets(String(f.datasets)) : undefined;
  const k = Number(f.folds);
  const maxFolds = Math.min(k, Number(f.max_folds ?? (ctx.full ? k : 2)));
  const nSplits = f.splits !== undefined ? Number(f.splits) : ctx.full ? Infinity : 1;
  const samples = Number(f.test_samples ?? (ctx.full ? 100 : 20));
  const budgetName = (f.budget ?? (ctx.full ? "capped" : "quick")) as Budget;
  const maxSteps = budgetName === "registry"
    ? Infinity
    : Number(f.max_steps ?? UCI_MAX_STEPS[budgetName]);
  if (budgetName === "registry" && f.max_steps !== undefined) {
    throw new CliError("--max_steps caps the quick and capped budgets, not --budget registry");
  }
  const gridSize = String(f.grid) as GridSize;
  const noise = String(f.noise) as "heteroscedastic" | "homoscedastic";
  const maxRestarts = Number(f.max_restarts);
  const members = Number(f.members);
  const tuneFor = (p: Protocol) =>
    f.tune === "grid" || (f.tune === "auto" && ctx.full && p === "splits");
  const gridAxes = gridAxesFor(
    f.grid_axis as string | undefined,
    ctx.methods.map((m) => m.key),
    protocols.some(tuneFor),
  );
  const dataDir = f.data_dir as string | undefined;
  const jsonPath = join(ctx.resultsDir, "uci.json");
  // Rows of both noise models, or of different --grid_axis values, never share a table.
  const thisRun = runKey(
    ctx.full ? "full" : "quick",
    budgetName,
    Number.isFinite(maxSteps) ? maxSteps : null,
    ctx.seed,
    noise,
    axesText(gridAxes) || null,
    members,
  );
  const found = await readEarlier(jsonPath);
  // Rows of an earlier run with the same mode, budget and seed that this run does not redo
  // (other data sets, methods or splits) stay in the results, so a study can be run in parts.
  const same = found.run === thisRun;
  if (found.rows.length > 0 && !same) {
    // Hours of rows would go at the first save: replace them only when asked to.
    const msg = `${jsonPath} holds ${found.rows.length} row(s) from a run with other settings ` +
      `(${found.run}; this run: ${thisRun})`;
    if (!f.retrain) {
      throw new CliError(
        `${msg}. Writing here would replace them all: choose another --results_dir, or pass ` +
          "--retrain to replace them",
      );
    }
    console.error(`${msg}; --retrain: they are replaced`);
  }
  const earlier = same && !f.retrain ? found.rows : [];
  const others = same ? found.rows : [];
  const recordsPath = f.records as string | undefined;
  const records = recordsPath === undefined ? undefined : await readUciRecords(recordsPath);
  const date = new Date().toISOString().slice(0, 10);
  /** Adds rows to `--records` and writes it when that changed it. */
  const record = async (add: readonly Row[]) => {
    if (records && recordsPath && addUciRecords(records, add, thisRun, date)) {
      await writeUciRecords(recordsPath, records);
    }
  };
  let reused = 0;
  let fromRecords = 0;
  const rows: Row[] = [];
  const allRows = () => mergeRows(rows, others);

  const save = async () => {
    const all = allRows();
    await writeCsv(join(ctx.resultsDir, "uci.csv"), all);
    await writeJson(jsonPath, {
      study: "uci",
      mode: ctx.full ? "full" : "quick",
      budget: budgetName,
      max_steps: Number.isFinite(maxSteps) ? maxSteps : null,
      seed: ctx.seed,
      noise,
      grid_axis: axesText(gridAxes) || null,
      members,
      columns: UCI_COLUMNS,
      rows: all,
    });
  };

  // Methods that cannot build a regression network with this noise model are skipped (once,
  // logged).
  const usable = ctx.methods.filter((entry) => {
    const m = buildRegression(entry, {
      inputDim: 1,
      hidden: [2],
      outputDim: 1,
      task: "regression",
      noise,
    }, regressionBudget(entry, f).settings);
    m?.dispose();
    return m !== undefined;
  });
  for (const entry of usable) {
    if (!entry.regression) {
      console.error(`${entry.label}: no regression budget in the registry; using the fallback`);
    }
  }

  /** Queues (or reuses) every method's row on one outer split. */
  const specs: UciJobSpec[] = [];
  /** Each queued row's id and expected work, for the ETA. */
  const etaRows: { id: string; method: string; work: number }[] = [];
  const queueFold = (
    protocol: Protocol,
    outer: UciSplit,
    split: UciJobSpec["split"],
    fold: number,
    total: number,
  ) => {
    const d = outer.train.xShape[0];
    const hidden = Number(f.hidden) || outer.settings.nHidden?.[0] || 50;
    const tune = tuneFor(protocol);
    for (const entry of usable) {
      const base = regressionBudget(entry, f);
      const epochs = f.epochs !== undefined
        ? base.epochs
        : uciEpochs(base.epochs, outer.train.n, base.batchSize, maxSteps, base.minSteps);
      const budget = withEpochs(base, epochs);
      const candidates = tune ? uciGrid(entry.key, gridSize, epochs, gridAxes) : undefined;
      const seed = ctx.seed * 1000 + fold;
      const config = hash(JSON.stringify({
        v: 2,
        // Only a non-default noise enters the hash: rows of earlier runs stay reusable.
        ...(noise === "heteroscedastic" ? {} : { noise }),
        seed,
        k: protocol === "cv" ? k : 0,
        hidden,
        epochs,
        batch: budget.batchSize,
        samples,
        settings: budget.settings,
        tuneSettings: budget.tuneSettings ?? null,
        grid: candidates?.map(candidateText) ?? null,
        maxRestarts,
        inner: 0.8,
        // Only an ensemble of fits enters the hash: rows of earlier runs stay reusable.
        ...(members > 1 ? { members } : {}),
      }));
      const what = `${protocol} ${outer.name} ${protocol === "cv" ? "fold" : "split"} ` +
        `${fold + 1}/${total} ${uciLabel(entry.label, members)}`;
      // A reused row passes today's divergence check, or is trained again (see
      // rowDivergenceReason): the check is not part of the config hash.
      const passes = (r: Row, from: string) => {
        const reason = rowDivergenceReason(r, outer.yStd);
        if (reason) {
          console.error(`${what}: the row from ${from} fails the check (${reason}): retrained`);
        }
        return reason === null;
      };
      const old = earlier.find((r) =>
        r.protocol === protocol && r.dataset === outer.name && r.key === entry.key &&
        r.fold === fold && r.config === config
      );
      if (old && passes(old, jsonPath)) {
        rows.push(old);
        reused++;
        continue;
      }
      const rec = f.retrain ? undefined : records?.[
        uciRecordId({ protocol, dataset: outer.name, key: entry.key, fold, config })
      ];
      if (rec && passes(rec.row, `--records ${recordsPath}`)) {
        rows.push(rec.row);
        fromRecords++;
        continue;
      }
      etaRows.push({
        id: uciRecordId({ protocol, dataset: outer.name, key: entry.key, fold, config }),
        method: entry.key,
        work: uciRowWork({ nTrain: outer.train.n, epochs, candidates, members }),
      });
      specs.push({
        protocol,
        fold,
        dataset: outer.name as UciName,
        dataDir,
        split,
        key: entry.key,
        spec: {
          inputDim: d,
          hidden: [hidden],
          outputDim: 1,
          task: "regression",
          noise,
        },
        budget,
        samples,
        grid: candidates ? { size: gridSize, candidates } : undefined,
        seed,
        maxRestarts,
        members,
        config,
        what,
      });
    }
  };

  const totals = new Map<string, number>();
  for (const protocol of protocols) {
    const names = chosenSets ?? (protocol === "cv" ? [...REFERENCE_UCI] : [...UCI_DATASETS]);
    for (const name of names) {
      const table = await loadUciTable(name, { dataDir });
      if (protocol === "cv") {
        const folds = kFold(table.n, k, ctx.seed);
        totals.set(`cv ${name}`, k);
        for (let i = 0; i < maxFolds; i++) {
          const split = { train: Array.from(folds[i].train), test: Array.from(folds[i].test) };
          queueFold(protocol, splitUci(table, split.train, split.test), split, i, k);
        }
      } else {
        const n = Math.min(nSplits, table.nSplits);
        totals.set(`splits ${name}`, table.nSplits);
        for (let i = 0; i < n; i++) {
          // The standard split files, read by loadUci (index_train_<i>.txt / index_test_<i>.txt).
          queueFold(protocol, await loadUci(name, { split: i, dataDir }), i, i, table.nSplits);
        }
      }
    }
  }
  const jobs = Number(f.jobs ?? (ctx.full ? navigator.hardwareConcurrency : 1));
  if (specs.length > 0) {
    console.error(
      `${specs.length} row(s) to train` + (reused ? `, ${reused} reused` : "") +
        (jobs > 1 && specs.length > 1
          ? `, ${Math.min(jobs, specs.length)} at a time in worker processes`
          : ""),
    );
  }
  const eta = new UciEta(etaRows, Math.max(1, jobs));
  let done = 0;
  await runUciJobs(specs, {
    jobs,
    backend: currentBackend()?.name,
    onRow: async (row) => {
      rows.push(row);
      done++;
      await save();
      await record([row]);
      // Whole-run ETA from each row's expected work and its method's measured pace.
      eta.finish(uciRecordId(row), Number(row.seconds));
      const total = totals.get(`${row.protocol} ${row.dataset}`) ?? 0;
      console.error(
        `[${done}/${specs.length}] ` + progressLine(row, total, duration(eta.secondsLeft())),
      );
    },
  });
  if (reused > 0) {
    console.error(
      `reused ${reused} result(s) of an earlier run from ${jsonPath} (--retrain to redo)`,
    );
  }
  if (fromRecords > 0) {
    console.error(
      `took ${fromRecords} result(s) from --records ${recordsPath} (trained with the same ` +
        "settings; --retrain to redo)",
    );
  }
  if (rows.length === 0) throw new Error("no selected method can train a regression network");
  await save();
  // This run's rows (trained, or reused after today's check) go to --records. Rows kept from
  // earlier parts are not checked again here (their splits are not loaded), so they only fill
  // records that are missing and never replace one another run may have checked and retrained.
  const redone = new Set(rows.map(rowId));
  const unrecorded = others.filter((r) => !redone.has(rowId(r)) && !records?.[uciRecordId(r)]);
  await record([...rows, ...unrecorded]);
  const ran = rows.length;
  rows.splice(0, rows.length, ...allRows());
  if (rows.length > ran) {
    console.error(
      `kept ${rows.length - ran} row(s) of earlier runs in ${jsonPath} for data sets, methods ` +
        "or splits not run this time (another --results_dir starts clean)",
    );
  }

  await writeCsv(join(ctx.resultsDir, "uci_summary.csv"), uciSummaryRows(rows, UCI_METRICS));
  const md: string[] = [
    `# UCI regression (${noise}, one hidden layer)${budgetMark(ctx.full)}`,
    "",
  ];
  const figures: string[] = [];
  const kept = rows.filter((r) => !isDiverged(r));
  for (const protocol of ["cv", "splits"] as const) {
    const all = rows.filter((r) => r.protocol === protocol);
    if (all.length === 0) continue;
    const pr = kept.filter((r) => r.protocol === protocol);
    const what = protocol === "cv"
      ? `${k}-fold cross-validation${maxFolds < k ? ` (first ${maxFolds} folds)` : ""}`
      : "fixed splits";
    const over = protocol === "cv" ? "folds" : "splits";
    md.push(
      uciMarkdown(all, UCI_METRICS, {
        title: `${what}: mean ± s.e. over ${over} (log-likelihood per example, RMSE in ` +
          "target units)",
        digits: { test_log_lik: 3, train_log_lik: 3, test_rmse: 3, train_rmse: 3 },
      }),
      tuningNote(all, over, gridAxes),
    );
    if (protocol === "splits" && pr.length > 0) {
      md.push(
        "## fixed splits: the best method per data set against the published MC dropout figures",
        "",
        uciVsPublished(pr),
        "Published: Gal & Ghahramani (2016), the authors' updated MC dropout results on the same " +
          "splits (all 20, protein 5); ours are over the splits run, and only the methods run on " +
          "the most splits of a set compete for its best. Log-likelihood per example " +
          "(higher is better); ahead by = ours − published.\n",
      );
    }
    if (pr.length === 0) continue;
    const prefix = protocol === "cv" ? "uci" : "uci_splits";
    const nSets = new Set(pr.map((r) => r.dataset)).size;
    // One panel per set with its own y axis: both metrics span very different ranges across
    // sets (naval's log-likelihood near 5.5 against concrete's near −3).
    const panels = {
      independentY: true,
      columns: nSets <= 4 ? nSets : Math.ceil(nSets / 2),
      height: nSets <= 4 ? 320 : 520,
    };
    await saveSvg(
      join(ctx.resultsDir, `${prefix}_log_lik.svg`),
      dotErrorBars({
        rows: errorBarRows(pr, "log_lik"),
        yLabel: "log-likelihood (nats per example)",
        title: `UCI regression, ${what}: log-likelihood (mean ± std)${budgetMark(ctx.full)}`,
        ...panels,
      }),
    );
    await saveSvg(
      join(ctx.resultsDir, `${prefix}_rmse.svg`),
      dotErrorBars({
        rows: errorBarRows(pr, "rmse"),
        yLabel: "RMSE",
        title: `UCI regression, ${what}: RMSE in target units (mean ± std)${budgetMark(ctx.full)}`,
        ...panels,
      }),
    );
    figures.push(`${prefix}_log_lik.svg`, `${prefix}_rmse.svg`);
  }
  await writeMarkdown(join(ctx.resultsDir, "uci.md"), md.join("\n"));
  if (kept.length > 0) {
    summarize(
      aggregate(kept, {
        by: ["protocol", "dataset", "method"],
        metrics: ["test_log_lik", "test_rmse"],
        spread: "sem",
      }),
      { digits: 3, title: `UCI regression (test, mean ± s.e.)${budgetMark(ctx.full)}` },
    );
  }
  const nDiverged = rows.length - kept.length;
  if (nDiverged > 0) {
    console.error(`${nDiverged} run(s) diverged after every restart: left out of the summary`);
  }
  console.log(
    wroteLine(
      ctx.resultsDir,
      ["uci.csv", "uci.json", "uci_summary.csv", "uci.md", ...figures],
      (performance.now() - t0) / 1000,
    ),
  );
}

if (import.meta.main) await runMain(main);
