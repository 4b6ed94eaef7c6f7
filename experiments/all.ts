/**
 * Runs every study script in sequence, each as its own `deno run`
 * subprocess, in quick mode (default) or `--full`, sharing one
 * `--models_dir` so models trained by the first study are reused by the
 * next; each study writes to `<results_dir>/<study>`. Prints which
 * succeeded and writes the same summary to `<results_dir>/all_studies.json`
 * (rows `study`, `status` — `ok`, `failed`, `skipped` —, `exit_code`,
 * `seconds`, `note`). Study files that do not exist yet are skipped with a
 * note. Exit code 1 when a study failed.
 *
 *     deno run -A experiments/all.ts                      # quick
 *     deno run -A experiments/all.ts --full --methods map,mc_dropout
 *     deno run -A experiments/all.ts --only rotations,ood --dry_run
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeJsonAtomic } from "../core/atomic.ts";
import {
  CliError,
  ensureExistingDir,
  ensureWritableDir,
  parseFlags,
  runMain,
} from "../core/cli.ts";

/**
 * The studies, in the order they run (MNIST studies first: the table trains
 * every model the others reuse).
 *
 * @example
 * ```ts
 * import { STUDIES } from "./all.ts";
 * STUDIES.includes("rotations"); // true
 * ```
 */
export const STUDIES: readonly string[] = [
  "mnist_table",
  "rotations",
  "ood",
  "adversarial",
  "weights",
  "pruning",
  "regression_toy",
  "uci",
];

/**
 * One line of the summary (`all_studies.json`).
 *
 * @example
 * ```ts
 * import type { StudyOutcome } from "./all.ts";
 * const failed = (o: StudyOutcome[]) => o.filter((x) => x.status === "failed");
 * ```
 */
export type StudyOutcome = {
  /** Study name (script `experiments/<study>.ts`). */
  study: string;
  /** What happened. */
  status: "ok" | "failed" | "skipped";
  /** Exit code of the subprocess (null when not run). */
  exit_code: number | null;
  /** Wall-clock seconds. */
  seconds: number;
  /** Why it was skipped, or the command line of a dry run. */
  note: string;
};

/**
 * The arguments passed to one study script.
 *
 * @example
 * ```ts
 * import { studyArgs } from "./all.ts";
 * studyArgs("ood", { full: false, resultsDir: "results", modelsDir: "models/studies" });
 * // ["--quick", "--models_dir", "models/studies", "--results_dir", "results/ood"]
 * ```
 */
export function studyArgs(
  study: string,
  o: {
    full: boolean;
    resultsDir: string;
    modelsDir: string;
    methods?: string;
    seed?: number;
    backend?: string;
    dataDir?: string;
    retrain?: boolean;
  },
): string[] {
  const args = [o.full ? "--full" : "--quick", "--models_dir", o.modelsDir];
  args.push("--results_dir", join(o.resultsDir, study));
  if (o.methods !== undefined) args.push("--methods", o.methods);
  if (o.seed !== undefined) args.push("--seed", String(o.seed));
  if (o.backend !== undefined) args.push("--backend", o.backend);
  if (o.dataDir !== undefined) args.push("--data_dir", o.dataDir);
  if (o.retrain) args.push("--retrain");
  return args;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then((s) => s.isFile, () => false);
}

if (import.meta.main) {
  await runMain(async () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const f = parseFlags(Deno.args, {
      full: { type: "boolean", default: false, help: "the reference's budgets (hours)" },
      quick: { type: "boolean", default: false, help: "small budgets (used unless --full)" },
      methods: { type: "string", help: "comma list of method keys forwarded to every study" },
      results_dir: {
        type: "string",
        default: "results",
        help: "parent folder: each study writes to <results_dir>/<study>",
      },
      models_dir: {
        type: "string",
        default: "models/studies",
        help: "trained models shared by the studies",
      },
      seed: { type: "int", help: "random seed forwarded to every study" },
      backend: {
        type: "string",
        choices: ["auto", "tensorflow", "webgpu", "wasm", "cpu"],
        help: "compute backend forwarded to every study",
      },
      data_dir: { type: "string", help: "data folder forwarded to every study" },
      retrain: { type: "boolean", default: false, help: "forward --retrain" },
      only: { type: "string", help: `comma list of studies to run (of ${STUDIES.join(", ")})` },
      dry_run: { type: "boolean", default: false, help: "print the commands, run nothing" },
      experiments_dir: {
        type: "string",
        default: here,
        help: "folder holding the study scripts (for tests)",
      },
    }, {
      name: "all.ts",
      description: "Runs every study script (quick mode unless --full) as a subprocess, in " +
        "sequence, with a shared --models_dir; prints which succeeded.",
    });
    if (!f) return;
    if (f.quick && f.full) throw new CliError("--quick and --full cannot be combined");
    let studies = [...STUDIES];
    if (f.only !== undefined) {
      const only = String(f.only).split(",").map((s) => s.trim()).filter(Boolean);
      const bad = only.filter((s) => !STUDIES.includes(s));
      if (bad.length || only.length === 0) {
        throw new CliError(
          `--only: unknown study ${bad.join(", ") || "(none given)"}; expected a comma list ` +
            `of ${STUDIES.join(", ")}`,
        );
      }
      studies = STUDIES.filter((s) => only.includes(s));
    }
    const resultsDir = String(f.results_dir);
    const modelsDir = String(f.models_dir);
    const dir = String(f.experiments_dir);
    if (!f.dry_run) {
      await ensureWritableDir(resultsDir, "--results_dir");
      await ensureWritableDir(modelsDir, "--models_dir");
      if (f.data_dir !== undefined) await ensureExistingDir(String(f.data_dir), "--data_dir");
    }
    const config = join(here, "..", "deno.json");
    const denoArgs = ["run", "-A", ...(await exists(config) ? ["--config", config] : [])];
    const outcomes: StudyOutcome[] = [];
    for (const study of studies) {
      const script = join(dir, `${study}.ts`);
      if (!(await exists(script))) {
        const note = `${script} does not exist yet`;
        console.log(`== ${study}: skipped (${note})`);
        outcomes.push({ study, status: "skipped", exit_code: null, seconds: 0, note });
        continue;
      }
      const args = [
        ...denoArgs,
        script,
        ...studyArgs(study, {
          full: Boolean(f.full),
          resultsDir,
          modelsDir,
          methods: f.methods as string | undefined,
          seed: f.seed as number | undefined,
          backend: f.backend as string | undefined,
          dataDir: f.data_dir as string | undefined,
          retrain: Boolean(f.retrain),
        }),
      ];
      const line = `deno ${args.join(" ")}`;
      if (f.dry_run) {
        console.log(line);
        outcomes.push({ study, status: "skipped", exit_code: null, seconds: 0, note: line });
        continue;
      }
      console.log(`== ${study}: ${line}`);
      const t0 = performance.now();
      const { code } = await new Deno.Command(Deno.execPath(), {
        args,
        stdin: "null",
        stdout: "inherit",
        stderr: "inherit",
      }).output();
      const seconds = Math.round((performance.now() - t0) / 100) / 10;
      outcomes.push({
        study,
        status: code === 0 ? "ok" : "failed",
        exit_code: code,
        seconds,
        note: "",
      });
      console.log(`== ${study}: ${code === 0 ? "ok" : `FAILED (exit ${code})`} in ${seconds} s`);
    }
    if (f.dry_run) return;
    await writeJsonAtomic(join(resultsDir, "all_studies.json"), outcomes);
    const width = Math.max(...outcomes.map((o) => o.study.length));
    console.log(`\nStudies (${f.full ? "full" : "quick"} mode):`);
    for (const o of outcomes) {
      const what = o.status === "ok"
        ? `ok       ${o.seconds} s`
        : o.status === "failed"
        ? `FAILED   exit ${o.exit_code} after ${o.seconds} s`
        : `skipped  ${o.note}`;
      console.log(`  ${o.study.padEnd(width)}  ${what}`);
    }
    const failed = outcomes.filter((o) => o.status === "failed").map((o) => o.study);
    if (failed.length) {
      console.log(
        `${failed.length} stud${failed.length === 1 ? "y" : "ies"} failed: ` +
          failed.join(", "),
      );
      Deno.exit(1);
    }
  });
}
