/**
 * Re-runs the validation grids behind the library's MNIST settings (see
 * `lib/mnist_valid_grids.ts`) and sets each try's figures beside the ones
 * recorded when the choice was made. Every try holds out training digits
 * with `--valid`; the test digits are never read.
 *
 *     deno task valid:mnist -- --list          # the grids and their tries
 *     deno task valid:mnist -- --grid map      # run (or finish) the MAP grid
 *     deno task valid:mnist -- --grid psgld --tries reference,chosen --dry_run
 *
 * Each try is one run of its training script, into
 * `<models_dir>/<grid>/<try>` and `<results_dir>/<grid>/<try>`. A finished
 * try (its `valid_metrics.json` written under the same command) is not run
 * again; an interrupted one resumes from its checkpoint. Per grid it writes
 * `summary.json`, `summary.csv` and `summary.md` (measured against
 * recorded, the adopted try marked) and prints the table.
 *
 * @module
 */
import { join } from "node:path";
import { writeTextAtomic } from "../core/atomic.ts";
import { CliError, type FlagValues, parseFlags, runMain } from "../core/cli.ts";
import { scriptFlags, type TrainScript } from "./lib/train_script.ts";
import { writeCsv, writeJson } from "../uncertainty/io.ts";
import { VALID_GRIDS, type ValidGrid, type ValidTry } from "./lib/mnist_valid_grids.ts";

/** What a try measured (from its `valid_metrics.json`). */
export interface TryResult {
  /** Try name. */
  name: string;
  /** Validation log-likelihood, summed or per example as the grid quotes it. */
  logLik: number;
  /** Validation error, percent. */
  errorPct: number;
  /** Mean mutual information (nats). */
  mi: number;
}

/** Where a grid's runs go, and how they are run. */
export interface GridRunOptions {
  /** Folder for the tries' checkpoints and models (one subfolder per grid and try). */
  modelsDir: string;
  /** Folder for the tries' metrics and the grid's summary. */
  resultsDir: string;
  /** Only these tries (default: all). */
  tries?: readonly string[];
  /** Flags appended to every try's command (after the grid's). */
  extra?: readonly string[];
  /** Run finished tries again, replacing their results. */
  overwrite?: boolean;
  /** Print the commands without running them. */
  dryRun?: boolean;
  /** Environment for the training runs (default: this process's). */
  env?: Record<string, string>;
}

const RECORD_FILE = "try.json";
const METRICS_FILE = "valid_metrics.json";

/**
 * A try's training-script arguments (without the output folders): the
 * grid's base flags, the try's, then `extra`.
 *
 * @example
 * ```ts
 * import { tryArgs } from "./mnist_valid.ts";
 * import { VALID_GRIDS } from "./lib/mnist_valid_grids.ts";
 * const g = VALID_GRIDS.map;
 * tryArgs(g, g.tries[0]); // ["experiments/train_map_mnist.ts", "--valid", "10000", "--lr", "1e-3", …]
 * ```
 */
export function tryArgs(grid: ValidGrid, t: ValidTry, extra: readonly string[] = []): string[] {
  return [grid.script, ...grid.base, ...t.flags, ...extra];
}

/**
 * Runs the selected tries of a grid (skipping finished ones, resuming
 * interrupted ones) and returns what every try of the grid has measured
 * under its current command, in the grid's order.
 *
 * @example
 * ```ts
 * import { runGrid } from "./mnist_valid.ts";
 * import { VALID_GRIDS } from "./lib/mnist_valid_grids.ts";
 * // await runGrid(VALID_GRIDS.map, { modelsDir: "models/mnist_valid", resultsDir: "results/mnist_valid" });
 * ```
 */
export async function runGrid(grid: ValidGrid, opts: GridRunOptions): Promise<TryResult[]> {
  const selected = selectTries(grid, opts.tries);
  const extra = opts.extra ?? [];
  // Every command is parsed before anything trains: a bad flag in the last try (or in --extra)
  // fails now, not after hours of the first tries.
  for (const t of selected) await effectiveFlags(tryArgs(grid, t, extra));
  for (const [i, t] of selected.entries()) {
    const args = tryArgs(grid, t, extra);
    const models = join(opts.modelsDir, grid.name, t.name);
    const results = join(opts.resultsDir, grid.name, t.name);
    const { state, diff } = await tryState(results, models, args);
    const head = `[${i + 1}/${selected.length}] ${grid.name}/${t.name}`;
    if (state === "other" && !opts.overwrite) {
      throw new CliError(
        `${results} was run with ${diff.join(", ")}. A grid's flags or a script default ` +
          "changed since: pass --overwrite to run it again, or use another --results_dir",
      );
    }
    if (state === "done" && !opts.overwrite) {
      console.log(`${head}: done earlier (${join(results, METRICS_FILE)})`);
      continue;
    }
    const mode = opts.overwrite ? "--overwrite" : state === "started" ? "--resume" : undefined;
    const full = [
      ...args,
      "--models_dir",
      models,
      "--results_dir",
      results,
      ...(mode ? [mode] : []),
    ];
    console.log(`${head}: ${t.what}\n  deno run -A ${full.join(" ")}`);
    if (opts.dryRun) continue;
    await Deno.mkdir(results, { recursive: true });
    await Deno.remove(join(results, METRICS_FILE)).catch(() => {});
    await writeJson(join(results, RECORD_FILE), {
      grid: grid.name,
      try: t.name,
      args,
      flags: await effectiveFlags(args),
    });
    const child = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", ...full],
      stdout: "inherit",
      stderr: "inherit",
      ...(opts.env ? { env: opts.env } : {}),
    }).output();
    if (!child.success) {
      throw new CliError(
        `${grid.name}/${t.name}: the training script exited with code ${child.code}. Finished ` +
          "tries are kept; run the same command again to resume",
        1,
      );
    }
  }
  return await gridResults(grid, opts, extra);
}

function selectTries(grid: ValidGrid, names?: readonly string[]): readonly ValidTry[] {
  if (!names) return grid.tries;
  return names.map((n) => {
    const t = grid.tries.find((x) => x.name === n);
    if (!t) {
      throw new CliError(
        `--tries: grid ${grid.name} has no try '${n}'; its tries: ${
          grid.tries.map((x) => x.name).join(", ")
        }`,
      );
    }
    return t;
  });
}

// Flags that say where data and outputs are, or how the run proceeds, not what it trains.
const PLACE_FLAGS = new Set([
  "models_dir",
  "results_dir",
  "data_dir",
  "resume",
  "overwrite",
  "backend",
]);

/**
 * What a training command trains: its flags as the script parses them (the
 * script's defaults filled in), without the {@linkcode PLACE_FLAGS}. Two
 * commands that differ only in spelling train the same; the same command
 * after a default changed does not.
 */
async function effectiveFlags(args: readonly string[]): Promise<Record<string, unknown>> {
  return (await parsedTry(args)).flags;
}

/**
 * {@linkcode effectiveFlags}, and the values the script's own flag
 * declarations give (before the registry's preset): what a flag added to a
 * script after a try ran stands for in that try's record, since a new flag's
 * declared default keeps the script's earlier behaviour.
 */
async function parsedTry(
  args: readonly string[],
): Promise<{ flags: Record<string, unknown>; declared: Record<string, unknown> }> {
  const [path, ...rest] = args;
  const url = new URL(`../${path}`, import.meta.url).href;
  const { script } = (await import(url)) as { script: TrainScript };
  try {
    const { specs } = scriptFlags(script, rest);
    const flags = comparable(parseFlags(rest, specs, { name: script.name, description: "" }) ?? {});
    const declared: Record<string, unknown> = {};
    for (const [k, spec] of Object.entries(script.flags)) declared[k] = spec.default;
    return { flags, declared };
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    // Say which command: the flag may come from the grid or from --extra.
    throw new CliError(`${args.join(" ")}: ${e.message.split("\n")[0]}`);
  }
}

function comparable(f: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(f).sort()) {
    if (!PLACE_FLAGS.has(k) && f[k] !== undefined && f[k] !== null) out[k] = f[k];
  }
  return out;
}

/** `--name was (now is)` for each flag whose value differs. */
function flagDiff(was: Record<string, unknown>, now: Record<string, unknown>): string[] {
  const keys = [...new Set([...Object.keys(was), ...Object.keys(now)])].sort();
  return keys.filter((k) => JSON.stringify(was[k]) !== JSON.stringify(now[k])).map((k) =>
    `--${k} ${was[k] ?? "(unset)"} (the grid's command now gives ${now[k] ?? "(unset)"})`
  );
}

/**
 * "new": never started; "started": begun under this command; "done":
 * finished; "other": trained with other flags (`diff` says which). The
 * flags a finished try was trained with are read from its saved model's
 * manifest, so a try stays done under a command spelled differently and
 * is no longer done when a default it relied on changes.
 */
async function tryState(
  results: string,
  models: string,
  args: readonly string[],
): Promise<{ state: "new" | "started" | "done" | "other"; diff: string[] }> {
  const recPath = join(results, RECORD_FILE);
  const rec = await readJsonIfAny(recPath);
  if (rec === undefined) return { state: "new", diff: [] };
  if (typeof rec?.flags !== "object" && !Array.isArray(rec?.args)) {
    throw new CliError(`${recPath}: not a try record (no flags or args); remove it to run again`);
  }
  const finished = (await readJsonIfAny(join(results, METRICS_FILE))) !== undefined;
  const manifest = finished ? await readJsonIfAny(join(models, "manifest.json")) : undefined;
  const recorded = manifest?.info?.flags
    ? comparable(manifest.info.flags)
    : rec.flags ?? await effectiveFlags(rec.args);
  const now = await parsedTry(args);
  // A flag the script gained after the try ran is absent from its record: the try ran with
  // what the flag's declared default gives (e.g. --lr_schedule constant).
  const was = { ...recorded };
  for (const [k, v] of Object.entries(now.declared)) {
    if (!(k in was) && v !== undefined && v !== null) was[k] = v;
  }
  const diff = flagDiff(was, now.flags);
  if (diff.length) return { state: "other", diff };
  return { state: finished ? "done" : "started", diff };
}

// deno-lint-ignore no-explicit-any
async function readJsonIfAny(path: string): Promise<any> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CliError(`${path}: not valid JSON (${(e as Error).message}); remove it to run again`);
  }
}

async function gridResults(
  grid: ValidGrid,
  opts: GridRunOptions,
  extra: readonly string[],
): Promise<TryResult[]> {
  const out: TryResult[] = [];
  for (const t of grid.tries) {
    const dir = join(opts.resultsDir, grid.name, t.name);
    const models = join(opts.modelsDir, grid.name, t.name);
    if ((await tryState(dir, models, tryArgs(grid, t, extra))).state !== "done") continue;
    const m = await readJsonIfAny(join(dir, METRICS_FILE));
    out.push({
      name: t.name,
      logLik: grid.llPer === "sum" ? m.logLikSum : m.logLikMean,
      errorPct: m.errorPct,
      mi: m.epistemicMean,
    });
  }
  return out;
}

/**
 * The grid's table in Markdown: one row per try with its measured figures
 * (blank where not run) beside the recorded ones, the adopted try in bold,
 * then which try has the best log-likelihood and the lowest error.
 *
 * @example
 * ```ts
 * import { gridMarkdown } from "./mnist_valid.ts";
 * import { VALID_GRIDS } from "./lib/mnist_valid_grids.ts";
 * gridMarkdown(VALID_GRIDS.ensemble, [{ name: "all_digits", logLik: -523.5, errorPct: 1.51, mi: 0.001 }]);
 * ```
 */
export function gridMarkdown(
  grid: ValidGrid,
  results: readonly TryResult[],
  extra: readonly string[] = [],
): string {
  const ll = grid.llPer === "sum" ? "LL (sum)" : "LL / digit";
  const digits = grid.llPer === "sum" ? 1 : 3;
  const withMi = grid.tries.some((t) => t.recorded?.mi !== undefined);
  const lines = [
    `${grid.question[0].toUpperCase()}${
      grid.question.slice(1)
    }; adopted in ${grid.adoptedIn}. Validation figures (\`${grid.base.join(" ")}\`)${
      grid.recordedOn ? `; recorded figures from ${grid.recordedOn}` : ", none recorded yet"
    }.`,
    ...(extra.length
      ? [
        "",
        `Every try also ran with \`${
          extra.join(" ")
        }\`: its figures are not comparable with the recorded ones.`,
      ]
      : []),
    "",
    `| try | flags | ${ll} | error % | MI (nats) | recorded ${ll} | recorded error % |${
      withMi ? " recorded MI |" : ""
    }`,
    `| --- | --- | ---: | ---: | ---: | ---: | ---: |${withMi ? " ---: |" : ""}`,
  ];
  for (const t of grid.tries) {
    const r = results.find((x) => x.name === t.name);
    const name = t.name === grid.chosen ? `**${t.name}** (adopted)` : t.name;
    const flags = t.flags.length ? `\`${t.flags.join(" ")}\`` : "(none)";
    lines.push(
      `| ${name} | ${flags} | ${r ? r.logLik.toFixed(digits) : ""} | ${
        r ? r.errorPct.toFixed(2) : ""
      } | ${r ? r.mi.toPrecision(2) : ""} | ${t.recorded?.logLik.toFixed(digits) ?? ""} | ${
        t.recorded?.errorPct.toFixed(2) ?? ""
      } |${withMi ? ` ${t.recorded?.mi?.toPrecision(2) ?? ""} |` : ""}`,
    );
  }
  lines.push("");
  if (results.length) {
    const best = results.reduce((a, b) => (b.logLik > a.logLik ? b : a));
    const lowest = results.reduce((a, b) => (b.errorPct < a.errorPct ? b : a));
    lines.push(
      `Measured (${results.length} of ${grid.tries.length} tries): best log-likelihood ` +
        `${best.name}, lowest error ${lowest.name}; adopted ${grid.chosen}` +
        (grid.why ? ` (${grid.why}).` : "."),
    );
  } else lines.push("No try has been run yet.");
  return lines.join("\n") + "\n";
}

async function writeSummary(
  grid: ValidGrid,
  results: readonly TryResult[],
  resultsDir: string,
  extra: readonly string[],
): Promise<string> {
  const dir = join(resultsDir, grid.name);
  await Deno.mkdir(dir, { recursive: true });
  const rows = grid.tries.map((t) => {
    const r = results.find((x) => x.name === t.name);
    return {
      grid: grid.name,
      try: t.name,
      adopted: t.name === grid.chosen,
      command: `deno run -A ${tryArgs(grid, t, extra).join(" ")}`,
      llPer: grid.llPer,
      logLik: r?.logLik,
      errorPct: r?.errorPct,
      mi: r?.mi,
      recordedLogLik: t.recorded?.logLik,
      recordedErrorPct: t.recorded?.errorPct,
      recordedMi: t.recorded?.mi,
    };
  });
  await writeJson(join(dir, "summary.json"), { grid, extra, rows });
  await writeCsv(join(dir, "summary.csv"), rows);
  const md = gridMarkdown(grid, results, extra);
  await writeTextAtomic(join(dir, "summary.md"), md);
  return md;
}

function listGrids(): string {
  return Object.values(VALID_GRIDS).map((g) =>
    `${g.name}: ${g.question}\n  adopted in ${g.adoptedIn}; ${g.script} ${g.base.join(" ")}\n` +
    g.tries.map((t) =>
      `  ${t.name === g.chosen ? "*" : " "} ${t.name.padEnd(16)} ${
        t.flags.join(" ") || "(no flags)"
      }`
    ).join("\n")
  ).join("\n\n");
}

function gridsFromFlag(value: string): ValidGrid[] {
  if (value === "all") return Object.values(VALID_GRIDS);
  return value.split(",").map((n) => {
    const g = VALID_GRIDS[n.trim()];
    if (!g) {
      throw new CliError(
        `--grid ${n}: no such grid; choose from ${Object.keys(VALID_GRIDS).join(", ")} or all`,
      );
    }
    return g;
  });
}

async function main(f: FlagValues): Promise<void> {
  if (f.list) {
    console.log(listGrids());
    return;
  }
  if (f.grid === undefined) {
    throw new CliError("--grid is required (a name, a comma-separated list or all; see --list)");
  }
  const grids = gridsFromFlag(String(f.grid));
  const tries = f.tries === undefined ? undefined : String(f.tries).split(",").map((s) => s.trim());
  if (tries && grids.length !== 1) throw new CliError("--tries needs a single --grid");
  const extra = f.extra === undefined ? [] : String(f.extra).trim().split(/\s+/).filter(Boolean);
  const opts: GridRunOptions = {
    modelsDir: String(f.models_dir),
    resultsDir: String(f.results_dir),
    tries,
    extra,
    overwrite: Boolean(f.overwrite),
    dryRun: Boolean(f.dry_run),
  };
  for (const grid of grids) {
    const results = await runGrid(grid, opts);
    if (opts.dryRun) continue;
    const md = await writeSummary(grid, results, opts.resultsDir, extra);
    console.log(`\n${grid.name} (${join(opts.resultsDir, grid.name, "summary.md")}):\n${md}`);
  }
}

if (import.meta.main) {
  await runMain(async () => {
    const f = parseFlags(Deno.args, {
      grid: { type: "string", help: "grid name, comma-separated names, or all (see --list)" },
      list: { type: "boolean", default: false, help: "list the grids and their tries" },
      tries: { type: "string", help: "only these tries of the grid, comma separated" },
      extra: {
        type: "string",
        help: 'flags appended to every try, e.g. --extra="--limit 5000" for a quick look ' +
          "(the figures are then not comparable with the recorded ones)",
      },
      models_dir: { type: "string", default: "models/mnist_valid", help: "checkpoints and models" },
      results_dir: {
        type: "string",
        default: "results/mnist_valid",
        help: "metrics and summaries",
      },
      overwrite: { type: "boolean", default: false, help: "run finished tries again" },
      dry_run: { type: "boolean", default: false, help: "print the commands only" },
    }, {
      name: "mnist_valid.ts",
      description: "Runs the validation grids (held-out training digits, never the test set) " +
        "behind the MNIST settings that differ from the reference's, and compares each try " +
        "with the figures recorded when the choice was made.",
    });
    if (f) await main(f);
  });
}
