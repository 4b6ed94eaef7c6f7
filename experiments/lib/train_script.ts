/**
 * The harness behind every `experiments/train_<method>_mnist.ts` script:
 * flags (the reference's plus the common ones), backend start, data loading,
 * training with checkpoints and resume, final evaluation with 100 posterior
 * samples, and the outputs — per-epoch metrics (JSON + CSV), final test
 * metrics (JSON), an SVG training curve, and the saved model.
 *
 * @module
 */
import { join } from "node:path";
import { initBackend } from "../../core/backend.ts";
import { removeStaleTemps } from "../../core/atomic.ts";
import {
  CliError,
  ensureExistingDir,
  ensureWritableDir,
  type FlagSpecs,
  type FlagValues,
  parseFlags,
} from "../../core/cli.ts";
import { predictDataset, readPrediction } from "../../core/evaluate.ts";
import { disposePrediction } from "../../core/likelihood.ts";
import type { Method, NetSpec } from "../../core/method.ts";
import { acquireDirLock } from "../../core/lock.ts";
import { LR_SCHEDULES } from "../../core/optim.ts";
import { METHODS } from "../../methods/registry.ts";
import { saveMethod, WEIGHTS_FILE } from "../../core/persist.ts";
import { CHECKPOINT_FILE, type EpochRecord } from "../../core/train.ts";
import { type ImageDataset, loadMnist, type MnistName } from "../../datasets/mnist.ts";
import { rowRange } from "../../datasets/subset.ts";
import type { ArrayDataset } from "../../datasets/types.ts";
import { multiPanelLines } from "../../plots/multi_panel_lines.ts";
import { saveSvg } from "../../plots/svg.ts";
import { type ClassificationMetrics, classificationMetrics } from "../../uncertainty/metrics.ts";
import { writeCsv, writeJson } from "../../uncertainty/io.ts";
import { fitInterruptible } from "./fit_interruptible.ts";
import { checkTrainingMemory, formatBytes } from "./memory.ts";

/** Flags every training script has. */
export const COMMON_FLAGS: FlagSpecs = {
  epochs: { type: "int", min: 0, help: "training epochs" },
  lr: { type: "number", gt: 0, help: "learning rate" },
  batch_size: { type: "int", min: 1, default: 128, help: "minibatch size" },
  seed: { type: "int", default: 0, help: "random seed (initialisation, minibatch order, noise)" },
  backend: {
    type: "string",
    default: "auto",
    choices: ["auto", "tensorflow", "webgpu", "wasm", "cpu"],
    help: "compute backend (also BNN_BACKEND)",
  },
  data_dir: {
    type: "string",
    help: "folder holding mnist/ (else BNN_DATA_DIR, else the user cache)",
  },
  dataset: {
    type: "string",
    default: "mnist",
    choices: ["mnist", "fashion-mnist", "kmnist"],
    help: "training set",
  },
  limit: { type: "int", min: 1, help: "use only the first N training examples" },
  test_limit: { type: "int", min: 1, help: "use only the first N test examples" },
  valid: {
    type: "int",
    min: 1,
    help: "hold out the last N training examples and evaluate on them instead of the test " +
      "set, which is then never read (for choosing settings; results go to valid_metrics.json)",
  },
  hidden: { type: "string", default: "1200,1200", help: "hidden layer widths, comma separated" },
  models_dir: { type: "string", help: "folder for the checkpoint and the saved model" },
  results_dir: { type: "string", help: "folder for metrics and figures" },
  resume: { type: "boolean", default: false, help: "continue from the checkpoint in models_dir" },
  overwrite: {
    type: "boolean",
    default: false,
    help: "start again, replacing the checkpoint and model already in models_dir",
  },
  eval_samples: {
    type: "int",
    min: 1,
    default: 10,
    help: "posterior samples for per-epoch evaluation",
  },
  test_samples: {
    type: "int",
    min: 1,
    default: 100,
    help: "posterior samples for the final test metrics",
  },
};

/**
 * How a training script's interrupted run continues (the end of the message
 * `fitInterruptible` prints on Ctrl-C).
 *
 * @example
 * ```ts
 * import { RESUME_HINT } from "./train_script.ts";
 * console.log(RESUME_HINT); // "run the same command with --resume to continue"
 * ```
 */
export const RESUME_HINT = "run the same command with --resume to continue";

/**
 * The `--lr_schedule` flag of the point-network scripts (MAP, MC dropout,
 * the ensemble's members and KFAC Laplace's MAP network), with the schedule
 * names from `core/optim.ts`.
 *
 * @example
 * ```ts
 * import { LR_SCHEDULE_FLAG } from "./train_script.ts";
 * LR_SCHEDULE_FLAG.choices; // ["constant", "cosine"]
 * ```
 */
export const LR_SCHEDULE_FLAG = {
  type: "string",
  default: "constant",
  choices: LR_SCHEDULES,
  help: "learning rate over the run: constant, or cosine-annealed to 0",
} as const;

/** What a training script declares. */
export interface TrainScript {
  /** Script file name for help, e.g. `train_map_mnist.ts`. */
  name: string;
  /** One-paragraph description for `-h`. */
  description: string;
  /** Method-specific flags (merged before the common ones). */
  flags: FlagSpecs;
  /** Defaults of common flags for this method (epochs, lr, dirs…). */
  defaults: Partial<Record<keyof typeof COMMON_FLAGS, number | string | boolean>>;
  /**
   * Registry key (or a function of the flags parsed with the script's own
   * defaults, e.g. pSGLD for `--use_preconditioning`) whose `full` budget
   * replaces the defaults: its epochs, batch size and every setting (as the
   * snake_case flag: `weightDecay` → `--weight_decay`), so that the script
   * run without flags trains what the MNIST table reports. Flags given on the
   * command line still win.
   */
  preset?: string | ((f: FlagValues) => string);
  /** Extra validation of the parsed flags (throw {@linkcode CliError}). */
  validate?: (f: FlagValues) => void;
  /** Builds the method from the network and the parsed flags. */
  build: (spec: NetSpec, f: FlagValues) => Method;
  /**
   * Float32 copies of the parameters the method keeps while training
   * (weights, gradients, optimizer state…; default 4), for the memory
   * estimate made before anything is allocated.
   */
  memoryCopies?: (f: FlagValues) => number;
  /**
   * Trains the method (default: {@linkcode fit}); ensembles override this to
   * train their members.
   */
  train?: (method: Method, train: ArrayDataset, ctx: TrainContext) => Promise<EpochRecord[]>;
}

/** What a custom `train` receives. */
export interface TrainContext {
  /** Parsed flags. */
  flags: FlagValues;
  /** Evaluation set (per-epoch evaluation): the test set, or the held-out rows with `--valid`. */
  test: ArrayDataset;
  /** What {@linkcode TrainContext.test} is, for messages: `test`, or `validation` with `--valid`. */
  evaluated: "test" | "validation";
  /**
   * The run's data record (dataset, normalization, training and held-out
   * examples) for the checkpoint's `info`: a resumed run is checked against it.
   */
  info: Record<string, unknown>;
  /** Writes history files after each epoch. */
  onEpoch: (history: EpochRecord[]) => Promise<void>;
}

/** Result of a finished script run. */
export interface TrainRunResult {
  /** Per-epoch history. */
  history: EpochRecord[];
  /** Final metrics with `test_samples` samples: on the test set, or the held-out rows with `--valid`. */
  test: ClassificationMetrics;
  /** Where the final metrics were measured. */
  evaluatedOn: "test" | "valid";
  /** Output folders. */
  modelsDir: string;
  /** Output folder of metrics and figures. */
  resultsDir: string;
}

/**
 * Parses `--hidden 1200,1200` into widths: decimal positive integers, at
 * least one (an empty list would silently train a network without hidden
 * layers).
 *
 * @example
 * ```ts
 * import { parseHidden } from "./train_script.ts";
 * parseHidden("1200, 1200"); // [1200, 1200]
 * ```
 */
export function parseHidden(s: string, flag = "--hidden"): number[] {
  const parts = s.split(",").map((p) => p.trim());
  const ok = (p: string) => /^\d+(?:[eE]\+?\d+)?$/.test(p) && Number(p) > 0;
  if (s.trim() === "" || !parts.every(ok)) {
    throw new CliError(
      `${flag} expects comma-separated positive integers (layer widths, e.g. 1200,1200), ` +
        `found "${s}"`,
    );
  }
  const ws = parts.map(Number);
  if (!ws.every(Number.isSafeInteger)) {
    throw new CliError(`${flag}: width ${ws.find((w) => !Number.isSafeInteger(w))} is too large`);
  }
  return ws;
}

/**
 * The flags of a training script with their defaults for `args`: the
 * script's own, then its {@linkcode TrainScript.preset} (the registry's full
 * budget), with the help description saying which budget that is. Throws if
 * a registry setting has no flag (a script that cannot reproduce its row).
 *
 * @example
 * ```ts
 * import { scriptFlags } from "./train_script.ts";
 * const { specs } = scriptFlags({
 *   name: "t.ts", description: "", flags: {}, defaults: {}, build: () => { throw 0; },
 * }, []);
 * specs.batch_size.default; // 128
 * ```
 */
export function scriptFlags(
  script: TrainScript,
  args: string[],
): { specs: FlagSpecs; description: string; preset?: string } {
  const specs: FlagSpecs = { ...script.flags };
  for (const [k, s] of Object.entries(COMMON_FLAGS)) {
    specs[k] = { ...s, default: script.defaults[k] ?? s.default };
  }
  if (script.preset === undefined) return { specs, description: script.description };
  let key = script.preset;
  if (typeof key === "function") {
    // First pass without -h: the preset may depend on a flag (bad values fail here as later).
    const first = args.filter((a) => a !== "-h" && a !== "--help");
    key = key(parseFlags(first, specs, { name: script.name, description: "" })!);
  }
  const entry = METHODS[key];
  if (!entry) throw new Error(`${script.name}: preset ${key} is not a registry key`);
  const set = (flag: string, value: unknown, from: string) => {
    if (!(flag in specs)) {
      throw new Error(`${script.name}: the registry's ${key}.full.${from} has no flag --${flag}`);
    }
    // A range setting (e.g. muInit [-0.2, 0.2]) is a "lo,hi" string flag.
    const v = Array.isArray(value) ? value.join(",") : value;
    specs[flag] = { ...specs[flag], default: v as number | string | boolean };
  };
  set("epochs", entry.full.epochs, "epochs");
  set("batch_size", entry.full.batchSize, "batchSize");
  for (const [k, v] of Object.entries(entry.full.settings ?? {})) set(snakeCase(k), v, k);
  const description = `${script.description} Defaults: the MNIST table's ${entry.label} row ` +
    `(the registry's full budget); flags given here replace them.`;
  return { specs, description, preset: key };
}

/** `cycleExplore` → `cycle_explore`. */
function snakeCase(k: string): string {
  return k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * Runs a training script with `args`. Returns `null` after `-h`.
 *
 * @example
 * ```ts
 * import { runTrainScript } from "./train_script.ts";
 * // await runTrainScript(script, ["--epochs", "1", "--limit", "2000"]);
 * ```
 */
export async function runTrainScript(
  script: TrainScript,
  args: string[] = Deno.args,
): Promise<TrainRunResult | null> {
  const { specs, description } = scriptFlags(script, args);
  const f = parseFlags(args, specs, { name: script.name, description });
  if (!f) return null;
  script.validate?.(f);
  const hidden = parseHidden(String(f.hidden));
  if (f.resume && f.overwrite) throw new CliError("--resume and --overwrite cannot be combined");
  if (f.valid !== undefined && f.test_limit !== undefined) {
    throw new CliError(
      "--test_limit with --valid: the test set is not read when examples are held out; " +
        "choose the number held out with --valid alone",
    );
  }
  const modelsDir = String(f.models_dir), resultsDir = String(f.results_dir);
  await ensureWritableDir(modelsDir, "--models_dir");
  await ensureWritableDir(resultsDir, "--results_dir");
  if (f.data_dir !== undefined) await ensureExistingDir(String(f.data_dir), "--data_dir");
  const spec: NetSpec = { inputDim: 784, hidden, outputDim: 10, task: "classification" };
  const method = script.build(spec, f); // validates method settings before any work

  // One run per models folder: checkpoints, models and SG-MCMC samples would mix.
  const lock = await acquireDirLock(modelsDir, { what: "--models_dir" });
  try {
    return await trainLocked(script, f, method, spec, modelsDir, resultsDir);
  } finally {
    lock.release();
  }
}

async function trainLocked(
  script: TrainScript,
  f: FlagValues,
  method: Method,
  spec: NetSpec,
  modelsDir: string,
  resultsDir: string,
): Promise<TrainRunResult> {
  for (const dir of new Set([modelsDir, resultsDir])) {
    const { removed, bytes } = await removeStaleTemps(dir);
    if (removed.length) {
      console.error(
        `note: removed ${removed.length} temporary file(s) (${formatBytes(bytes)}) ` +
          `left in ${dir} by runs that were killed`,
      );
    }
  }
  const ckpt = join(modelsDir, CHECKPOINT_FILE);
  if (f.overwrite) await clearModelsDir(modelsDir);
  else if (!f.resume) await refuseToReplace(modelsDir);
  else if (await exists(ckpt)) {
    checkHeldOut(ckpt, (await checkpointInfo(ckpt))?.validExamples, f);
  }

  const backend = await initBackend({ backend: String(f.backend) });
  checkTrainingMemory(spec, {
    copies: script.memoryCopies?.(f) ?? 4,
    batchSize: Number(f.batch_size),
    backend: backend.name,
  });
  const { train, test, evaluatedOn } = await loadTrainSplits(f);

  if (f.resume) {
    // Say which it is: a mistyped --models_dir would otherwise train from scratch unnoticed.
    const found = await exists(ckpt);
    console.error(
      found
        ? `resuming from ${ckpt}`
        : `note: --resume: no checkpoint at ${ckpt}; training from the first epoch`,
    );
  }
  const writeHistory = async (history: EpochRecord[]) => {
    await writeJson(join(resultsDir, "history.json"), history);
    await writeCsv(
      join(resultsDir, "history.csv"),
      history as unknown as Record<string, unknown>[],
    );
    await saveSvg(
      join(resultsDir, "training_curve.svg"),
      trainingCurve(history, method.name, evaluatedOn === "valid" ? "validation" : "test"),
    );
  };
  const info = {
    dataset: f.dataset as MnistName,
    normalization: train.normalization,
    trainExamples: train.n,
    ...(evaluatedOn === "valid" ? { validExamples: test.n } : {}),
  };
  let history: EpochRecord[];
  if (script.train) {
    history = await script.train(method, train, {
      flags: f,
      test,
      evaluated: evaluatedOn === "valid" ? "validation" : "test",
      info,
      onEpoch: writeHistory,
    });
  } else {
    const r = await fitInterruptible(method, train, {
      epochs: Number(f.epochs),
      batchSize: Number(f.batch_size),
      seed: Number(f.seed),
      valid: test,
      evalSamples: Math.min(Number(f.eval_samples), method.defaultSamples),
      evalMean: f.eval_mean === true,
      checkpointDir: modelsDir,
      resume: Boolean(f.resume),
      info,
      onEpoch: (_rec, _m, h) => writeHistory(h),
    }, RESUME_HINT);
    history = r.history;
  }
  await saveMethod(modelsDir, method, { ...info, history, flags: f });
  const samples = Math.min(Number(f.test_samples), method.defaultSamples);
  const pred = predictDataset(method, test, samples, Number(f.seed));
  const host = await readPrediction(pred); // asynchronous: no synchronous GPU read
  disposePrediction(pred);
  if (host.task !== "classification") throw new Error("expected a classification prediction");
  const metrics = classificationMetrics(host.logProbs, test.y);
  await writeJson(join(resultsDir, `${evaluatedOn}_metrics.json`), {
    method: method.name,
    settings: method.settings,
    samples,
    epochs: history.length,
    ...(evaluatedOn === "valid"
      ? { evaluatedOn: `the last ${test.n} of the training examples (--valid)` }
      : {}),
    ...metrics,
  });
  if (history.length) await writeHistory(history);
  const where = evaluatedOn === "valid" ? "validation" : "test";
  console.log(
    `${method.name}: ${where} error ${metrics.errorPct.toFixed(2)}%, log-likelihood ${
      metrics.logLikSum.toFixed(1)
    } (sum over ${metrics.n}), ${samples} sample(s); results in ${resultsDir}, model in ${modelsDir}`,
  );
  method.dispose();
  return { history, test: metrics, evaluatedOn, modelsDir, resultsDir };
}

/**
 * The training and evaluation sets of a run from its flags (`dataset`,
 * `data_dir`, `limit`, `test_limit`, `valid`). With `--valid N` the last N
 * training examples are held out and evaluated on, the training set is the
 * rest (its first `--limit`), and the test set is not read at all.
 *
 * @example
 * ```ts
 * import { loadTrainSplits } from "./train_script.ts";
 * // const { train, test, evaluatedOn } = await loadTrainSplits({ dataset: "mnist", valid: 10000 });
 * // train.n === 50000, test.n === 10000, evaluatedOn === "valid"
 * ```
 */
export async function loadTrainSplits(
  f: FlagValues,
): Promise<{ train: ImageDataset; test: ImageDataset; evaluatedOn: "test" | "valid" }> {
  const dataOpts = { dataDir: f.data_dir as string | undefined };
  const name = f.dataset as MnistName;
  const limit = f.limit as number | undefined;
  if (f.valid === undefined) {
    return {
      train: await loadMnist(name, "train", { ...dataOpts, limit }),
      test: await loadMnist(name, "test", {
        ...dataOpts,
        limit: f.test_limit as number | undefined,
      }),
      evaluatedOn: "test",
    };
  }
  const all = await loadMnist(name, "train", dataOpts);
  const nValid = Number(f.valid), rest = all.n - nValid;
  if (rest < 1) {
    throw new CliError(
      `--valid ${nValid}: ${name} has ${all.n} training examples; hold out fewer, so that some ` +
        "are left to train on",
    );
  }
  if (limit !== undefined && limit > rest) {
    throw new CliError(
      `--limit ${limit} with --valid ${nValid}: only ${rest} of the ${all.n} training examples ` +
        `are left to train on (the last ${nValid} are held out); use --limit ${rest} or less`,
    );
  }
  return {
    train: rowRange(all, 0, limit ?? rest),
    test: rowRange(all, rest, all.n),
    evaluatedOn: "valid",
  };
}

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

/** Files of an earlier run in a models folder (checkpoint, saved model, SG-MCMC samples). */
async function earlierRun(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const f of [CHECKPOINT_FILE, WEIGHTS_FILE]) if (await exists(join(dir, f))) out.push(f);
  return out;
}

/** The `info` of a checkpoint's manifest (read from the header only), if readable. */
async function checkpointInfo(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    using file = await Deno.open(path);
    const head = new Uint8Array(8);
    if ((await file.read(head)) !== 8) return undefined;
    const len = Number(new DataView(head.buffer).getBigUint64(0, true));
    if (len > 1e8) return undefined;
    const buf = new Uint8Array(len);
    let got = 0;
    while (got < len) {
      const n = await file.read(buf.subarray(got));
      if (n === null) return undefined;
      got += n;
    }
    const header = JSON.parse(new TextDecoder().decode(buf));
    const info = JSON.parse(header.__metadata__.manifest).info;
    return info && typeof info === "object" ? info : undefined;
  } catch {
    return undefined;
  }
}

/** Epochs recorded in a checkpoint's manifest, if readable. */
async function checkpointEpochs(path: string): Promise<number | undefined> {
  const epoch = (await checkpointInfo(path))?.epoch;
  return typeof epoch === "number" ? epoch : undefined;
}

/**
 * `--resume` continues on the data the checkpoint was trained on: a run
 * started with `--valid N` must go on holding out N examples, and one
 * evaluated on the test set must not start holding some out (the held-out
 * digits would be trained on, or the history would mix validation and test).
 */
function checkHeldOut(ckpt: string, recorded: unknown, f: FlagValues): void {
  const was = typeof recorded === "number" ? recorded : undefined;
  const now = f.valid as number | undefined;
  if (was === now) return;
  const say = (n: number | undefined) =>
    n === undefined ? "without --valid (evaluated on the test set)" : `with --valid ${n}`;
  throw new CliError(
    `--resume: ${ckpt} was trained ${say(was)}, but this run is ${say(now)}; resume it ` +
      `${was === undefined ? "without --valid" : `with --valid ${was}`}, or pass --overwrite ` +
      "to start again",
  );
}

/** Refuses to start over a checkpoint or model of an earlier run (unless --resume/--overwrite). */
async function refuseToReplace(dir: string): Promise<void> {
  const found = await earlierRun(dir);
  if (found.length === 0) return;
  const epochs = found.includes(CHECKPOINT_FILE)
    ? await checkpointEpochs(join(dir, CHECKPOINT_FILE))
    : undefined;
  throw new CliError(
    `--models_dir ${dir} already holds ${
      found.includes(CHECKPOINT_FILE)
        ? `a checkpoint${epochs !== undefined ? ` (${epochs} epoch(s))` : ""}`
        : "a saved model"
    } of an earlier run: pass --resume to continue it, or --overwrite to start again and ` +
      "replace it (or choose another --models_dir)",
  );
}

/** --overwrite: removes an earlier run's checkpoint, model and SG-MCMC sample files. */
async function clearModelsDir(dir: string): Promise<void> {
  const found = await earlierRun(dir);
  for (const f of [...found, "manifest.json"]) await Deno.remove(join(dir, f)).catch(() => {});
  let samples = 0;
  try {
    for await (const e of Deno.readDir(join(dir, "samples"))) {
      if (e.isFile && /^sample_\d+\.safetensors$/.test(e.name)) {
        await Deno.remove(join(dir, "samples", e.name));
        samples++;
      }
    }
  } catch {
    // no samples folder
  }
  if (found.length || samples) {
    console.error(
      `note: --overwrite: removed ${
        [...found, ...(samples ? [`${samples} sample file(s)`] : [])]
          .join(", ")
      } of an earlier run in ${dir}`,
    );
  }
}

/**
 * Loss and error against epoch, two panels; `evaluated` names the set of
 * the per-epoch error (`test`, or `validation` with `--valid`).
 *
 * @example
 * ```ts
 * import { trainingCurve } from "./train_script.ts";
 * const plot = trainingCurve(
 *   [{ epoch: 1, trainLoss: 0.3, seconds: 1, samplesPerSec: 6000, validErrorPct: 2 }],
 *   "MAP",
 *   "validation",
 * );
 * ```
 */
export function trainingCurve(
  history: EpochRecord[],
  method: string,
  evaluated: "test" | "validation" = "test",
): ReturnType<typeof multiPanelLines> {
  const x = history.map((h) => h.epoch);
  const col = (k: keyof EpochRecord) => history.map((h) => (h[k] as number | undefined) ?? NaN);
  return multiPanelLines({
    title: `${method}: training curve`,
    xLabel: "epoch",
    columns: 2,
    panels: [
      {
        title: "Loss",
        yLabel: "loss per example (nats)",
        series: [{ name: "train loss", x, y: col("trainLoss") }],
      },
      {
        title: "Error",
        yLabel: "error (%)",
        series: [
          { name: "train error", x, y: col("trainErrorPct"), dash: true },
          { name: `${evaluated} error`, x, y: col("validErrorPct") },
          ...(history.some((h) => h.meanErrorPct !== undefined)
            ? [{ name: `${evaluated} error, mean network`, x, y: col("meanErrorPct") }]
            : []),
        ],
      },
    ],
  });
}
