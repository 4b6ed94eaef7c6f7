/**
 * Shared machinery of the study scripts: the common flags (`--methods`,
 * `--results_dir`, `--models_dir`, `--seed`, `--quick`/`--full`, …) and
 * trained MNIST models per method — loaded from `--models_dir` when a saved
 * model recorded with the same settings (method settings, network, seed,
 * budget, training-data limit) is there, otherwise trained with the
 * registry's budget (resuming a checkpoint of the same settings) and saved
 * for the next study, with its training time (`info.training`, see
 * {@linkcode TrainingRecord}). The MNIST training set is
 * read only when a model has to be trained. The models folder is locked
 * while a study uses it (see `core/lock.ts`).
 *
 * @module
 */
import { join } from "node:path";
import { removeStaleTemps } from "../../core/atomic.ts";
import { currentBackend, initBackend } from "../../core/backend.ts";
import {
  CliError,
  ensureExistingDir,
  ensureWritableDir,
  type FlagSpecs,
  type FlagValues,
  parseFlags,
} from "../../core/cli.ts";
import type { Method, NetSpec } from "../../core/method.ts";
import {
  checkManifest,
  loadMethod,
  type Manifest,
  ModelFileError,
  readSaved,
  saveMethod,
  WEIGHTS_FILE,
} from "../../core/persist.ts";
import { acquireDirLock, type DirLock } from "../../core/lock.ts";
import { CHECKPOINT_FILE } from "../../core/train.ts";
import { type ImageDataset, loadMnist } from "../../datasets/mnist.ts";
import { fitInterruptible } from "./fit_interruptible.ts";
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
    help: "trained models are reused from / saved to " +
      "<models_dir>/<quick|full>/seed<seed>/<method> (reused only if trained with the same settings)",
  },
  seed: { type: "int", default: 0, help: "random seed" },
  quick: {
    type: "boolean",
    default: false,
    help: "small budgets, minutes on a 2-core CPU (used unless --full is given)",
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
  /** The lock on `--models_dir`, taken by the first {@linkcode mnistModel} call. */
  modelsLock?: Promise<DirLock>;
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
  if (String(f.methods).trim() === "" || String(f.methods).split(",").every((k) => !k.trim())) {
    throw new CliError(`--methods is empty: give a comma list of ${Object.keys(METHODS)} or all`);
  }
  const methods = (() => {
    try {
      return selectMethods(String(f.methods));
    } catch (e) {
      throw new CliError(`--methods: ${(e as Error).message}`);
    }
  })();
  await ensureWritableDir(String(f.results_dir), "--results_dir");
  await ensureWritableDir(String(f.models_dir), "--models_dir");
  if (f.data_dir !== undefined) await ensureExistingDir(String(f.data_dir), "--data_dir");
  await reportStaleTemps(String(f.results_dir));
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
 * The MNIST training set of a study, read on first use only (a study whose
 * models are all saved never reads it). `limit` is the number of examples
 * used (quick mode: {@linkcode QUICK_TRAIN_EXAMPLES}, lowered by
 * `trainLimit`), recorded with every model trained on it.
 *
 * @example
 * ```ts
 * import type { StudyTrain } from "./study.ts";
 * const describe = (t: StudyTrain) => `first ${t.limit ?? "all"} examples`;
 * ```
 */
export interface StudyTrain {
  /** Examples used (`undefined`: the whole training set). */
  limit?: number;
  /** Loads the set (once; later calls return the same promise). */
  load(): Promise<ImageDataset>;
}

/**
 * The lazily loaded MNIST training set of a study (see {@linkcode StudyTrain}).
 *
 * @example
 * ```ts
 * import { studyTrain } from "./study.ts";
 * // const train = studyTrain(ctx, 500); // nothing read yet
 * // const ds = await train.load();
 * ```
 */
export function studyTrain(ctx: StudyContext, trainLimit?: number): StudyTrain {
  const modeLimit = ctx.full ? undefined : QUICK_TRAIN_EXAMPLES;
  const limit = trainLimit && trainLimit > 0
    ? Math.min(trainLimit, modeLimit ?? Infinity)
    : modeLimit;
  let loaded: Promise<ImageDataset> | undefined;
  return {
    limit,
    load: () =>
      loaded ??= loadMnist("mnist", "train", {
        dataDir: ctx.flags.data_dir as string | undefined,
        limit,
      }),
  };
}

/**
 * The MNIST test set of a study (the whole set unless `testLimit`).
 *
 * @example
 * ```ts
 * import { studyTest } from "./study.ts";
 * // const test = await studyTest(ctx, 2000);
 * ```
 */
export async function studyTest(ctx: StudyContext, testLimit?: number): Promise<ImageDataset> {
  const test = await loadMnist("mnist", "test", {
    dataDir: ctx.flags.data_dir as string | undefined,
  });
  return testLimit ? take(test, testLimit) : test;
}

/**
 * MNIST train (lazy, see {@linkcode studyTrain}) and test sets for a study
 * (quick mode: the first 10 000 training examples; the full test set either
 * way unless `testLimit`).
 *
 * @example
 * ```ts
 * import { studyMnist } from "./study.ts";
 * // const { train, test } = await studyMnist(ctx, 2000);
 * ```
 */
export async function studyMnist(
  ctx: StudyContext,
  testLimit?: number,
  trainLimit?: number,
): Promise<{ train: StudyTrain; test: ImageDataset }> {
  return { train: studyTrain(ctx, trainLimit), test: await studyTest(ctx, testLimit) };
}

/**
 * Everything that determines a study model, recorded in its manifest
 * (`info.study`): a saved model is reused only when this matches.
 *
 * @example
 * ```ts
 * import type { StudyModelRecord } from "./study.ts";
 * const r: StudyModelRecord = {
 *   method: "map", mode: "quick", spec: { inputDim: 784, hidden: [1200, 1200], outputDim: 10,
 *   task: "classification" }, settings: {}, epochs: 3, batchSize: 128, seed: 0,
 *   data: { dataset: "mnist", limit: 10000 },
 * };
 * ```
 */
export interface StudyModelRecord {
  /** Registry key. */
  method: string;
  /** Budget used (`quick` or `full`). */
  mode: "quick" | "full";
  /** Network. */
  spec: NetSpec;
  /** Settings given to the builder (the budget's). */
  settings: Record<string, unknown>;
  /** Training epochs. */
  epochs: number;
  /** Minibatch size. */
  batchSize: number;
  /** Seed of initialisation, minibatch order and noise. */
  seed: number;
  /** Training data: the set and how many of its first examples (`null`: all). */
  data: { dataset: string; limit: number | null };
}

/**
 * The record of the model `entry` would be trained as in this study.
 *
 * @example
 * ```ts
 * import { studyModelRecord } from "./study.ts";
 * // studyModelRecord(ctx, METHODS.map, train).seed === ctx.seed
 * ```
 */
export function studyModelRecord(
  ctx: StudyContext,
  entry: MethodEntry,
  train: StudyTrain,
): StudyModelRecord {
  const budget = ctx.full ? entry.full : entry.quick;
  return {
    method: entry.key,
    mode: ctx.full ? "full" : "quick",
    spec: MNIST_SPEC,
    settings: budget.settings ?? {},
    epochs: budget.epochs,
    batchSize: budget.batchSize,
    seed: ctx.seed,
    data: { dataset: "mnist", limit: train.limit ?? null },
  };
}

/** JSON with object keys sorted, so equal records compare equal. */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(",")}]`;
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${
      Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) =>
        `${JSON.stringify(k)}:${stable(o[k])}`
      ).join(",")
    }}`;
  }
  return JSON.stringify(v) ?? "null";
}

/**
 * What differs between a saved model's record and the wanted one, as
 * `field saved → wanted` parts; `null` when they match. A model saved
 * without a record (older versions) never matches.
 *
 * @example
 * ```ts
 * import { recordDifference } from "./study.ts";
 * recordDifference({ seed: 0 }, { seed: 1 }); // "seed 0 → 1"
 * ```
 */
export function recordDifference(saved: unknown, wanted: object): string | null {
  if (!saved || typeof saved !== "object") {
    return "it records no training settings (saved by an older version)";
  }
  const s = saved as Record<string, unknown>, w = wanted as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of new Set([...Object.keys(w), ...Object.keys(s)])) {
    if (stable(s[k]) !== stable(w[k])) {
      parts.push(`${k} ${stable(s[k] ?? null)} → ${stable(w[k] ?? null)}`);
    }
  }
  return parts.length ? parts.join(", ") : null;
}

/**
 * What differs between a saved model and the wanted one: the
 * {@linkcode recordDifference} of their records, except that settings
 * written differently but equal once the method's defaults are applied (an
 * explicit default added to, or dropped from, the registry) are the same
 * model. `resolve` applies the defaults to the wanted settings and to the
 * manifest's `settings` (recorded after defaults): a setting the method
 * gained after the model was saved is absent there and takes its default,
 * the method's earlier behaviour.
 *
 * @example
 * ```ts
 * import { modelDifference } from "./study.ts";
 * const resolve = (s: Record<string, unknown>) => ({ lr: 1e-3, ...s });
 * const saved = { study: { seed: 0, settings: {} }, settings: { lr: 1e-3 } };
 * modelDifference(saved, { seed: 0, settings: { lr: 1e-3 } }, resolve); // null
 * modelDifference(saved, { seed: 0, settings: { lr: 2e-3 } }, resolve); // "settings {} → {\"lr\":0.002}"
 * ```
 */
export function modelDifference(
  saved: { study?: unknown; settings?: Readonly<Record<string, unknown>> },
  wanted: object,
  resolve: (settings: Record<string, unknown>) => Readonly<Record<string, unknown>>,
): string | null {
  const diff = recordDifference(saved.study, wanted);
  if (diff === null || !saved.study || typeof saved.study !== "object" || !saved.settings) {
    return diff;
  }
  const rest = recordDifference({ ...saved.study, settings: null }, { ...wanted, settings: null });
  if (rest !== null) return diff;
  const settings = ((wanted as { settings?: unknown }).settings ?? {}) as Record<string, unknown>;
  return stable(resolve({ ...settings })) === stable(resolve({ ...saved.settings })) ? null : diff;
}

/** {@linkcode modelDifference} of a saved manifest for `entry`, resolving with its builder. */
function savedDifference(
  manifest: { info?: Record<string, unknown>; settings?: Record<string, unknown> } | undefined,
  entry: MethodEntry,
  record: StudyModelRecord,
): string | null {
  return modelDifference(
    { study: manifest?.info?.study, settings: manifest?.settings },
    record,
    (settings) => {
      // Building only applies the defaults: no parameters exist before init.
      const m = entry.build(MNIST_SPEC, settings);
      const resolved = { ...m.settings };
      m.dispose();
      return resolved;
    },
  );
}

/**
 * Folder of `entry`'s model in this study:
 * `<models_dir>/<quick|full>/seed<seed>/<key>`.
 *
 * @example
 * ```ts
 * import { studyModelDir } from "./study.ts";
 * // studyModelDir(ctx, METHODS.map) → "models/studies/quick/seed0/map"
 * ```
 */
export function studyModelDir(ctx: StudyContext, entry: MethodEntry): string {
  return join(
    String(ctx.flags.models_dir),
    ctx.full ? "full" : "quick",
    `seed${ctx.seed}`,
    entry.key,
  );
}

async function reportStaleTemps(dir: string, depth = 2): Promise<void> {
  const { removed, bytes } = await removeStaleTemps(dir, depth);
  if (removed.length) {
    console.error(
      `note: removed ${removed.length} temporary file(s) (${(bytes / 2 ** 20).toFixed(1)} MiB) ` +
        `left in ${dir} by runs that were killed`,
    );
  }
}

/** Locks `--models_dir` for this process (once) and clears temporary files of killed runs. */
function lockModels(ctx: StudyContext): Promise<DirLock> {
  return ctx.modelsLock ??= (async () => {
    const dir = String(ctx.flags.models_dir);
    const lock = await acquireDirLock(dir, { what: "--models_dir" });
    await reportStaleTemps(dir, 5);
    return lock;
  })();
}

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

/**
 * A trained MNIST model for `entry`: loaded from
 * {@linkcode studyModelDir} when a model recorded with the same settings
 * (see {@linkcode StudyModelRecord}) is saved there (and not `--retrain`),
 * else trained with the registry budget and saved (a saved model with other
 * settings is replaced, and `log` says what differed). The training set is
 * loaded only in the second case.
 *
 * @example
 * ```ts
 * import { mnistModel, studyTrain } from "./study.ts";
 * // const method = await mnistModel(ctx, METHODS.map, studyTrain(ctx));
 * ```
 */
export async function mnistModel(
  ctx: StudyContext,
  entry: MethodEntry,
  train: StudyTrain,
  log: (line: string) => void = (l) => console.error(l),
): Promise<Method> {
  await lockModels(ctx);
  const dir = studyModelDir(ctx, entry);
  const record = studyModelRecord(ctx, entry, train);
  if (await exists(join(dir, WEIGHTS_FILE))) {
    if (ctx.flags.retrain) {
      log(`${entry.label}: --retrain: training again (replaces the model saved in ${dir})`);
    }
    // With --retrain the saved file is not even read (it may be damaged).
    const manifest = ctx.flags.retrain ? undefined : (await readSaved(dir)).manifest;
    const diff = manifest ? savedDifference(manifest, entry, record) : "";
    if (manifest && diff === null) {
      const m = buildFromManifest(manifest);
      await loadMethod(dir, m);
      log(`${entry.label}: loaded ${dir}`);
      return m;
    } else if (manifest) {
      log(
        `${entry.label}: the model saved in ${dir} was trained differently (${diff}); ` +
          "training one for these settings (it replaces the saved one)",
      );
    }
  }
  // Resume only a checkpoint of this very configuration.
  const ckpt = join(dir, CHECKPOINT_FILE);
  let resume = false;
  if (await exists(ckpt)) {
    const saved = await readSaved(dir, CHECKPOINT_FILE).catch(() => undefined);
    const diff = saved ? savedDifference(saved.manifest, entry, record) : "unreadable";
    resume = diff === null && !ctx.flags.retrain;
    if (!resume) {
      await Deno.remove(ckpt);
      if (!ctx.flags.retrain) {
        const why = saved ? `it was for other settings: ${diff}` : "it is unreadable";
        log(`${entry.label}: discarded the checkpoint in ${dir} (${why})`);
      }
    }
  }
  const budget = ctx.full ? entry.full : entry.quick;
  const m = entry.build(MNIST_SPEC, budget.settings);
  const data = await train.load();
  const t0 = performance.now();
  log(`${entry.label}: training ${budget.epochs} epoch(s) on ${data.n} examples…`);
  const info = { study: record, dataset: "mnist", normalization: data.normalization };
  const r = await fitInterruptible(m, data, {
    epochs: budget.epochs,
    batchSize: budget.batchSize,
    seed: ctx.seed,
    checkpointDir: dir,
    resume,
    info,
  }, "run the same command again to continue (it resumes the checkpoint)");
  const training = trainingRecord(r.history, r.resumedFrom, (performance.now() - t0) / 1000);
  await saveMethod(dir, m, { ...info, trainExamples: data.n, history: r.history, training });
  log(
    `${entry.label}: trained in ${training.seconds.toFixed(0)} s` +
      `${r.resumedFrom > 0 ? ` (resumed after epoch ${r.resumedFrom})` : ""}, saved to ${dir}`,
  );
  return m;
}

/**
 * How long a study model took to train, recorded in its manifest
 * (`info.training`) when it is saved; models saved by older versions lack it.
 *
 * @example
 * ```ts
 * import type { TrainingRecord } from "./study.ts";
 * const minutes = (t: TrainingRecord) => t.seconds / 60;
 * ```
 */
export interface TrainingRecord {
  /**
   * Wall-clock seconds: the last training process's `fit` (its epochs and
   * any final pass, e.g. KFAC's curvature) plus the recorded times of the
   * epochs finished before it resumed from a checkpoint. Time lost to a
   * run killed mid-epoch is not counted.
   */
  seconds: number;
  /** Epochs finished before the last process resumed (0: trained in one go). */
  resumedFrom: number;
  /** The backend line of the last training process, e.g. `backend: wasm + OpenBLAS …`. */
  backend: string | null;
  /** ISO time training finished. */
  finishedAt: string;
}

/**
 * The {@linkcode TrainingRecord} of a finished `fit`: `wallSeconds` of this
 * process plus the epoch times in `history` before `resumedFrom`.
 *
 * @example
 * ```ts
 * import { trainingRecord } from "./study.ts";
 * const h = [{ epoch: 1, trainLoss: 1, seconds: 30, samplesPerSec: 1 }];
 * trainingRecord(h, 1, 12.5).seconds; // 42.5
 * ```
 */
export function trainingRecord(
  history: readonly { seconds: number }[],
  resumedFrom: number,
  wallSeconds: number,
): TrainingRecord {
  let before = 0;
  for (const e of history.slice(0, resumedFrom)) before += Number(e.seconds) || 0;
  return {
    seconds: Math.round((before + wallSeconds) * 10) / 10,
    resumedFrom,
    backend: currentBackend()?.line.replace(/^backend: /, "") ?? null,
    finishedAt: new Date().toISOString(),
  };
}

/**
 * What {@linkcode studyModelStatus} reports for a row's model: `reuse` it,
 * `resume` its checkpoint after `epoch` epochs, or `train` it (`why`).
 *
 * @example
 * ```ts
 * import type { StudyModelStatus } from "./study.ts";
 * const s: StudyModelStatus = { action: "resume", epoch: 4 };
 * ```
 */
export type StudyModelStatus =
  | { action: "reuse"; manifest: Manifest }
  | { action: "resume"; epoch: number }
  | { action: "train"; why: string };

/**
 * What {@linkcode mnistModel} would do for `entry` now, without loading
 * weights or data: `reuse` a saved model recorded with the same settings,
 * `resume` a checkpoint of this configuration (after `epoch` epochs), or
 * `train` from scratch (`why`: nothing saved, or what differed).
 *
 * @example
 * ```ts
 * import { studyModelStatus } from "./study.ts";
 * // (await studyModelStatus(ctx, METHODS.map, train)).action → "reuse" | "resume" | "train"
 * ```
 */
export async function studyModelStatus(
  ctx: StudyContext,
  entry: MethodEntry,
  train: StudyTrain,
): Promise<StudyModelStatus> {
  const dir = studyModelDir(ctx, entry);
  const record = studyModelRecord(ctx, entry, train);
  let why = "no saved model";
  const manifest = await readManifestJson(dir);
  if (manifest) {
    const diff = savedDifference(manifest, entry, record);
    if (ctx.flags.retrain) why = "--retrain";
    else if (diff === null) return { action: "reuse", manifest };
    else why = `the saved model was trained differently (${diff})`;
  }
  if (!ctx.flags.retrain && await exists(join(dir, CHECKPOINT_FILE))) {
    const saved = await readSaved(dir, CHECKPOINT_FILE).catch(() => undefined);
    if (saved && savedDifference(saved.manifest, entry, record) === null) {
      return { action: "resume", epoch: Number(saved.manifest.info.epoch ?? 0) };
    }
  }
  return { action: "train", why };
}

/**
 * The manifest of the model saved in `dir` (its `manifest.json`, next to
 * the weights), or `undefined` when there is no saved model.
 *
 * @example
 * ```ts
 * import { readManifestJson } from "./study.ts";
 * await readManifestJson("/nonexistent"); // undefined
 * ```
 */
export async function readManifestJson(dir: string): Promise<Manifest | undefined> {
  if (!(await exists(join(dir, WEIGHTS_FILE)))) return undefined;
  const path = join(dir, "manifest.json");
  const text = await Deno.readTextFile(path).catch(() => undefined);
  if (text === undefined) return (await readSaved(dir)).manifest;
  try {
    return checkManifest(JSON.parse(text), path);
  } catch (e) {
    if (e instanceof SyntaxError) {
      throw new ModelFileError(`${path}: not valid JSON (${e.message})`);
    }
    throw e;
  }
}

/**
 * One progress line `<method>: <stage> <seconds> s` on stderr after each
 * stage of a study's evaluation (an angle, an ε, a pruning fraction), on a
 * terminal and in logs alike, so a long evaluation is never silent. `t0` is
 * the stage's `performance.now()`.
 *
 * @example
 * ```ts
 * import { logStage } from "./study.ts";
 * const t0 = performance.now();
 * // … evaluate …
 * logStage("MAP", "angle 45°", t0); // prints "MAP: angle 45° 1.2 s"
 * ```
 */
export function logStage(method: string, stage: string, t0: number): void {
  console.error(`${method}: ${stage} ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
