/**
 * Command-line flags for the experiment scripts: snake_case names as the reference (`--weight_decay`) with
 * kebab-case accepted too (`--weight-decay`), typed and range-checked values,
 * `-h` listing every flag with its default, and exit code 2 with a one-line
 * message for bad input — before any work starts.
 *
 * @module
 */
import { join } from "node:path";

/** One flag. */
export interface FlagSpec {
  /** Value type. `int` and `number` are checked to be finite numbers. */
  type: "number" | "int" | "string" | "boolean";
  /** Default value (shown by `-h`). */
  default?: number | string | boolean;
  /** One-line explanation. */
  help: string;
  /** Inclusive lower bound (numbers). */
  min?: number;
  /** Exclusive lower bound (numbers). */
  gt?: number;
  /** Inclusive upper bound (numbers). */
  max?: number;
  /** Allowed values (strings). */
  choices?: readonly string[];
  /** Accept an empty string (strings; default: an empty value is an error). */
  allowEmpty?: boolean;
}

/** Flags by canonical snake_case name. */
export type FlagSpecs = Record<string, FlagSpec>;

/** Parsed values (`undefined` when a flag without default was not given). */
export type FlagValues = Record<string, number | string | boolean | undefined>;

/** A usage error: printed as one line, exit code 2. */
export class CliError extends Error {
  /** Process exit code. */
  readonly exitCode: number;
  /** Creates the error. */
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** Help text for a script. */
export function helpText(name: string, description: string, specs: FlagSpecs): string {
  const lines = [`${name}\n\n${description}\n`, "Options:"];
  const entries = Object.entries(specs);
  const width = Math.max(...entries.map(([k, s]) => k.length + (s.type === "boolean" ? 0 : 8))) + 4;
  for (const [k, s] of entries) {
    const left = `  --${k}${
      s.type === "boolean" ? "" : ` <${s.type === "string" ? "str" : s.type}>`
    }`;
    // A switch that is off unless given needs no "(default: false)".
    const shownDefault = s.default !== undefined && !(s.type === "boolean" && s.default === false);
    const extra = [
      s.choices ? `one of ${s.choices.join("|")}` : "",
      shownDefault ? `default: ${s.default}` : "",
    ].filter(Boolean).join("; ");
    lines.push(`${left.padEnd(width + 2)}${s.help}${extra ? ` (${extra})` : ""}`);
  }
  lines.push(`  -h, --help${" ".repeat(Math.max(1, width - 8))}show this help`);
  lines.push(
    "\nFlags are accepted in snake_case (--batch_size) or kebab-case (--batch-size), " +
      "as --flag value or --flag=value;\na leading -- (as in `deno task <name> -- --flag`) " +
      "is ignored.",
  );
  return lines.join("\n");
}

const kebab = (s: string) => s.replaceAll("_", "-");
const TRUE = /^(true|1|yes)$/i, FALSE = /^(false|0|no)$/i;
/** Plain decimal numbers only: no hex/octal/binary literals, no `Infinity`. */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const HELP_HINT = "\nRun with -h to list the flags.";

/**
 * Parses `args` against `specs`. Throws {@linkcode CliError} for unknown
 * flags, missing, empty or non-numeric values and out-of-range numbers;
 * returns `null` when help was requested (after printing it). A leading `--`
 * (what `deno task <name> -- --flag` passes on) is ignored. Error messages
 * quote flags as they were typed (`--batch-size` stays `--batch-size`).
 *
 * @example
 * ```ts
 * import { parseFlags } from "./cli.ts";
 * const v = parseFlags(["--epochs", "3"], {
 *   epochs: { type: "int", default: 10, min: 0, help: "training epochs" },
 * }, { name: "train", description: "demo" });
 * v?.epochs; // 3
 * ```
 */
export function parseFlags(
  args: string[],
  specs: FlagSpecs,
  meta: { name: string; description: string },
): FlagValues | null {
  const alias = new Map<string, string>();
  for (const k of Object.keys(specs)) {
    alias.set(k, k);
    alias.set(kebab(k), k);
  }
  const raw = new Map<string, { typed: string; value: string }>();
  const rest = args[0] === "--" ? args.slice(1) : args;
  let help = false;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === "-h" || a === "--help") {
      help = true;
      continue;
    }
    const m = a.match(/^--([^=]+)(?:=(.*))?$/s);
    if (!m) {
      throw new CliError(
        a.startsWith("-")
          ? `unknown flag '${a}'${HELP_HINT}`
          : `unexpected argument '${a}' (flags are written --name value)${HELP_HINT}`,
      );
    }
    const typed = `--${m[1]}`;
    const canon = alias.get(m[1]);
    if (!canon) throw new CliError(`unknown flag '${typed}'${HELP_HINT}`);
    let value = m[2];
    if (value === undefined) {
      const next = rest[i + 1];
      if (specs[canon].type === "boolean") {
        // Booleans may be written "--flag", "--flag=false" or "--flag True" (the reference's style).
        if (next !== undefined && (TRUE.test(next) || FALSE.test(next))) {
          value = next;
          i++;
        } else value = "true";
      } else if (next === undefined || (next.startsWith("-") && !/^-\.?\d/.test(next))) {
        // A following flag is not a value; negative numbers are.
        throw new CliError(`${typed} expects a value${HELP_HINT}`);
      } else {
        value = next;
        i++;
      }
    }
    raw.set(canon, { typed, value });
  }
  if (help) {
    console.log(helpText(meta.name, meta.description, specs));
    return null;
  }
  const out: FlagValues = {};
  for (const [k, s] of Object.entries(specs)) {
    const r = raw.get(k);
    out[k] = r === undefined ? s.default : convert(r.typed, s, r.value);
  }
  return out;
}

function convert(flag: string, s: FlagSpec, raw: string): number | string | boolean {
  switch (s.type) {
    case "boolean":
      if (TRUE.test(raw)) return true;
      if (FALSE.test(raw)) return false;
      throw new CliError(`${flag} expects true or false, found "${raw}"`);
    case "string":
      if (s.choices && !s.choices.includes(raw)) {
        throw new CliError(`${flag} must be one of ${s.choices.join(", ")}, found "${raw}"`);
      }
      if (raw.trim() === "" && !s.allowEmpty) {
        throw new CliError(`${flag} must not be empty (${s.help})`);
      }
      return raw;
    default: {
      const t = raw.trim();
      const v = DECIMAL.test(t) ? Number(t) : NaN;
      if (!Number.isFinite(v)) {
        throw new CliError(
          `${flag} expects a number, found "${raw}"` +
            (/^[+-]?0[xob]/i.test(t) ? " (write numbers in decimal)" : ""),
        );
      }
      if (s.type === "int" && !Number.isInteger(v)) {
        throw new CliError(`${flag} expects an integer, found "${raw}"`);
      }
      if (s.min !== undefined && v < s.min) {
        throw new CliError(`${flag} must be ≥ ${s.min}, found ${raw}`);
      }
      if (s.gt !== undefined && !(v > s.gt)) {
        throw new CliError(`${flag} must be > ${s.gt}, found ${raw}`);
      }
      if (s.max !== undefined && v > s.max) {
        throw new CliError(`${flag} must be ≤ ${s.max}, found ${raw}`);
      }
      return v;
    }
  }
}

/**
 * Checks that `path` is a folder we can write to, creating it when missing:
 * an empty path, an existing file, a folder that cannot be created and a
 * folder without write permission are each a {@linkcode CliError} naming the
 * flag — before any work starts, not at the first write after an epoch.
 *
 * @example
 * ```ts
 * import { ensureWritableDir } from "./cli.ts";
 * await ensureWritableDir("models", "--models_dir");
 * ```
 */
export async function ensureWritableDir(path: string, flag: string): Promise<void> {
  if (typeof path !== "string" || path.trim() === "") {
    throw new CliError(`${flag} must not be empty (give a folder)`);
  }
  try {
    const st = await Deno.stat(path);
    if (!st.isDirectory) throw new CliError(`${flag} ${path} is a file, expected a folder`);
  } catch (e) {
    if (e instanceof CliError) throw e;
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new CliError(`${flag} ${path}: ${(e as Error).message}`);
    }
  }
  try {
    await Deno.mkdir(path, { recursive: true });
  } catch (e) {
    throw new CliError(`${flag} ${path} cannot be created: ${(e as Error).message}`);
  }
  // Permission bits do not tell (root, ACLs, read-only mounts): try a write.
  const probe = join(path, `.write-test-${Deno.pid}`);
  try {
    await Deno.writeFile(probe, new Uint8Array(0));
  } catch (e) {
    throw new CliError(`${flag} ${path} is not writable: ${(e as Error).message}`);
  }
  await Deno.remove(probe).catch(() => {});
}

/**
 * Checks that `path` is an existing folder (e.g. `--data_dir`): a missing
 * one is an error rather than a silent fall-back to other folders.
 *
 * @example
 * ```ts
 * import { ensureExistingDir } from "./cli.ts";
 * await ensureExistingDir("/tmp", "--data_dir");
 * ```
 */
export async function ensureExistingDir(path: string, flag: string): Promise<void> {
  if (typeof path !== "string" || path.trim() === "") {
    throw new CliError(`${flag} must not be empty (give a folder)`);
  }
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(path);
  } catch (e) {
    throw new CliError(
      e instanceof Deno.errors.NotFound
        ? `${flag} ${path} does not exist (create it first if data should be downloaded there)`
        : `${flag} ${path}: ${(e as Error).message}`,
    );
  }
  if (!st.isDirectory) throw new CliError(`${flag} ${path} is a file, expected a folder`);
}

function memoryHint(err: Error): string {
  return /Array buffer allocation failed|out of memory|Cannot allocate/i.test(err.message)
    ? " (out of memory: try a smaller network, batch or --limit; BNN_DEBUG=1 shows where)"
    : "";
}

/**
 * Runs a script's main function: usage and input errors print one line
 * (`error: …`) and exit with code 2 (1 for other failures), without a stack
 * trace unless `BNN_DEBUG=1`.
 *
 * @example
 * ```ts
 * import { runMain } from "./cli.ts";
 * await runMain(async () => {
 *   // parse flags, train, write results
 * });
 * ```
 */
export async function runMain(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    const err = e as Error;
    // An interrupted run (exit code 128 + signal) is not an error: it says where it stopped.
    const stopped = err instanceof CliError && err.exitCode > 128;
    if (Deno.env.get("BNN_DEBUG")) console.error(err);
    else console.error(stopped ? err.message : `error: ${err.message}${memoryHint(err)}`);
    const usage = err instanceof CliError || err instanceof RangeError ||
      err.name === "DatasetError" ||
      err.name === "NetSpecError" || err.name === "BackendError" || err.name === "ModelFileError";
    Deno.exit(err instanceof CliError ? err.exitCode : usage ? 2 : 1);
  }
}
