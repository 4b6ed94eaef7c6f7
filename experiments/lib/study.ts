/**
 * Shared machinery of the study scripts: the common flags (`--methods`,
 * `--results_dir`, `--models_dir`, `--seed`, `--quick`/`--full`, …) and
 * trained MNIST models per method — loaded from `--models_dir` when a
 * matching saved model is there, otherwise trained with the registry's
 * budget and saved for the next study.
 *
 * @module
 */
import { join } from "node:path";
import { initBackend } from "../../core/backend.ts";
import {
  CliError,
  ensureWritableDir,
  type FlagSpecs,
  type FlagValues,
  parseFlags,
} from "../../core/cli.ts";
import type { Method, NetSpec } from "../../core/method.ts";
import { loadMethod, readSaved, saveMethod, WEIGHTS_FILE } from "../../core/persist.ts";
import { fit } from "../../core/train.ts";
import { type ImageDataset, loadMnist } from "../../datasets/mnist.ts";
import { take } from "../../datasets/subset.ts";
import {
  buildFromManifest,
  type MethodEntry,
  METHODS,
  selectMethods,
} from "../../methods/registry.ts";

/** Flags every study has. */
export const STUDY_FLAGS: FlagSpecs = {
  methods: {
    type: "string",
    default: "all",
    help: `comma list of ${Object.keys(METHODS).join(", ")}, or all`,
  },
  results_dir: { type: "string", help: "folder for metrics (JSON + CSV) and SVG figures" },
  models_dir: {
    type: "string",
    default: "models/studies",
    help: "trained models are reused from / saved to <models_dir>/<quick|full>/<method>",
  },
  seed: { type: "int", default: 0, help: "random seed" },
  quick: {
    type: "boolean",
    default: false,
    help: "small budgets: minutes on a 2-core CPU (the default mode)",
  },
  full: { type: "boolean", default: false, help: "the reference's training budgets (hours)" },
  backend: {
    type: "string",
    default: "auto",
    choices: ["auto", "tensorflow", "webgpu", "wasm", "cpu"],
    help: "compute backend",
  },
  data_dir: {
    type: "string",
    help: "folder holding mnist/ (else BNN_DATA_DIR, else the user cache)",
  },
  retrain: { type: "boolean", default: false, help: "train again even when a saved model exists" },
};

/** Parsed study flags plus what was resolved from them. */
export interface StudyContext {
  /** All parsed flags (study-specific ones included). */
  flags: FlagValues;
  /** Selected methods. */
  methods: MethodEntry[];
  /** `--full` given (else quick). */
  full: boolean;
  /** Output folder. */
  resultsDir: string;
  /** Seed. */
  seed: number;
}

/**
 * Parses a study's flags (its own + {@linkcode STUDY_FLAGS}), validates them,
 * creates the results folder and starts the backend. Returns `null` after `-h`.
 *
 * @example
 * ```ts
 * import { startStudy } from "./study.ts";
 * const ctx = await startStudy("rotations.ts", "…", {}, "results/rotations");
 * ```
 */
export async function startStudy(
  name: string,
  description: string,
  flags: FlagSpecs,
  defaultResults: string,
  args: string[] = Deno.args,
): Promise<StudyContext | null> {
  const specs: FlagSpecs = { ...flags, ...STUDY_FLAGS };
  specs.results_dir = { ...specs.results_dir, default: defaultResults };
  const f = parseFlags(args, specs, { name, description });
  if (!f) return null;
  if (f.quick && f.full) throw new CliError("--quick and --full cannot be combined");
  const methods = (() => {
    try {
      return selectMethods(String(f.methods));
    } catch (e) {
      throw new CliError(`--methods: ${(e as Error).message}`);
    }
  })();
  await ensureWritableDir(String(f.results_dir), "--results_dir");
  await ensureWritableDir(String(f.models_dir), "--models_dir");
  await initBackend({ backend: String(f.backend) });
  return {
    flags: f,
    methods,
    full: Boolean(f.full),
    resultsDir: String(f.results_dir),
    seed: Number(f.seed),
  };
}

/** The reference MNIST network. */
export const MNIST_SPEC: NetSpec = {
  inputDim: 784,
  hidden: [1200, 1200],
  outputDim: 10,
  task: "classification",
};

/** Training examples used in quick mode. */
export const QUICK_TRAIN_EXAMPLES = 10_000;

/**
 * MNIST train and test sets for a study (quick mode: the first 10 000
 * training examples; the full test set either way unless `testLimit`).
 */
export async function studyMnist(
  ctx: StudyContext,
  testLimit?: number,
): Promise<{ train: ImageDataset; test: ImageDataset }> {
  const dataDir = ctx.flags.data_dir as string | undefined;
  const train = await loadMnist("mnist", "train", {
    dataDir,
    limit: ctx.full ? undefined : QUICK_TRAIN_EXAMPLES,
  });
  const test = await loadMnist("mnist", "test", { dataDir });
  return { train, test: testLimit ? take(test, testLimit) : test };
}

/**
 * A trained MNIST model for `entry`: loaded from
 * `<models_dir>/<quick|full>/<key>` when saved there before (and not
 * `--retrain`), else trained with the registry budget and saved.
 */
export async function mnistModel(
  ctx: StudyContext,
  entry: MethodEntry,
  train: ImageDataset,
  log: (line: string) => void = (l) => console.error(l),
): Promise<Method> {
  const dir = join(String(ctx.flags.models_dir), ctx.full ? "full" : "quick", entry.key);
  const exists = await Deno.stat(join(dir, WEIGHTS_FILE)).then(() => true, () => false);
  if (exists && !ctx.flags.retrain) {
    const { manifest } = await readSaved(dir);
    const m = buildFromManifest(manifest);
    await loadMethod(dir, m);
    log(`${entry.label}: loaded ${dir}`);
    return m;
  }
  const budget = ctx.full ? entry.full : entry.quick;
  const m = entry.build(MNIST_SPEC, budget.settings);
  const t0 = performance.now();
  log(`${entry.label}: training ${budget.epochs} epoch(s) on ${train.n} examples…`);
  const r = await fit(m, train, {
    epochs: budget.epochs,
    batchSize: budget.batchSize,
    seed: ctx.seed,
    checkpointDir: dir,
    resume: true,
    info: { dataset: "mnist", normalization: train.normalization },
  });
  await saveMethod(dir, m, {
    dataset: "mnist",
    normalization: train.normalization,
    history: r.history,
  });
  log(
    `${entry.label}: trained in ${((performance.now() - t0) / 1000).toFixed(0)} s, saved to ${dir}`,
  );
  return m;
}

/**
 * One progress line `<method>: <stage> <seconds> s` on stderr, for logs of
 * long runs: printed only when stderr is not a terminal (a file or a pipe),
 * so an interactive run stays quiet. `t0` is the stage's `performance.now()`.
 *
 * @example
 * ```ts
 * import { logStage } from "./study.ts";
 * const t0 = performance.now();
 * // … evaluate …
 * logStage("MAP", "angle 45°", t0); // "MAP: angle 45° 1.2 s" in a log file
 * ```
 */
export function logStage(method: string, stage: string, t0: number): void {
  if (Deno.stderr.isTerminal()) return;
  console.error(`${method}: ${stage} ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
