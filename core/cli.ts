/**
 * Command-line flags for the experiment scripts, on `node:util`'s
 * `parseArgs`: snake_case names as the reference (`--weight_decay`) with
 * kebab-case accepted too (`--weight-decay`), typed and range-checked values,
 * `-h` listing every flag with its default, and exit code 2 with a one-line
 * message for bad input — before any work starts.
 *
 * @module
 */
import { parseArgs } from "node:util";

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
    const extra = [
      s.choices ? `one of ${s.choices.join("|")}` : "",
      s.default !== undefined ? `default: ${s.default}` : "",
    ].filter(Boolean).join("; ");
    lines.push(`${left.padEnd(width + 2)}${s.help}${extra ? ` (${extra})` : ""}`);
  }
  lines.push(`  -h, --help${" ".repeat(Math.max(1, width - 8))}show this help`);
  lines.push("\nFlags are accepted in snake_case (--batch_size) or kebab-case (--batch-size).");
  return lines.join("\n");
}

const kebab = (s: string) => s.replaceAll("_", "-");
const TRUE = /^(true|1|yes)$/i, FALSE = /^(false|0|no)$/i;

/**
 * Parses `args` against `specs`. Throws {@linkcode CliError} for unknown
 * flags, missing or non-numeric values and out-of-range numbers; returns
 * `null` when help was requested (after printing it).
 *
 * @example
 * ```ts
 * import { parseFlags } from "@bayes/nn";
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
  // Booleans may be written "--flag", "--flag=false" or "--flag True" (the reference's style).
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  const alias = new Map<string, string>();
  for (const [k, s] of Object.entries(specs)) {
    for (const name of new Set([k, kebab(k)])) {
      options[name] = { type: "string" };
      alias.set(name, k);
    }
    void s;
  }
  const norm: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const m = a.match(/^--([^=]+)$/);
    const canon = m ? alias.get(m[1]) : undefined;
    if (canon && specs[canon].type === "boolean") {
      const next = args[i + 1];
      if (next !== undefined && (TRUE.test(next) || FALSE.test(next))) {
        norm.push(`--${m![1]}=${next}`);
        i++;
      } else norm.push(`--${m![1]}=true`);
    } else if (canon && /^-\d|^-\.\d/.test(args[i + 1] ?? "")) {
      norm.push(`--${m![1]}=${args[i + 1]}`); // negative numbers are values, not flags
      i++;
    } else norm.push(a);
  }
  let parsed;
  try {
    parsed = parseArgs({ args: norm, options, strict: true, allowPositionals: false });
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify.*$/s, "").replace(
      /^Unknown option/,
      "unknown flag",
    );
    throw new CliError(`${msg}\nRun with -h to list the flags.`);
  }
  if (parsed.values.help) {
    console.log(helpText(meta.name, meta.description, specs));
    return null;
  }
  const out: FlagValues = {};
  for (const [k, s] of Object.entries(specs)) {
    const raw = (parsed.values[k] ?? parsed.values[kebab(k)]) as string | undefined;
    if (raw === undefined) {
      out[k] = s.default;
      continue;
    }
    out[k] = convert(k, s, raw);
  }
  return out;
}

function convert(k: string, s: FlagSpec, raw: string): number | string | boolean {
  const flag = `--${k}`;
  switch (s.type) {
    case "boolean":
      if (TRUE.test(raw)) return true;
      if (FALSE.test(raw)) return false;
      throw new CliError(`${flag} expects true or false, found "${raw}"`);
    case "string":
      if (s.choices && !s.choices.includes(raw)) {
        throw new CliError(`${flag} must be one of ${s.choices.join(", ")}, found "${raw}"`);
      }
      return raw;
    default: {
      const v = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(v)) {
        throw new CliError(`${flag} expects a number, found "${raw}"`);
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
 * Checks that `path` is a folder or can become one (not an existing file).
 *
 * @example
 * ```ts
 * import { ensureWritableDir } from "@bayes/nn";
 * await ensureWritableDir("models", "--models_dir");
 * ```
 */
export async function ensureWritableDir(path: string, flag: string): Promise<void> {
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
}

/**
 * Runs a script's main function: usage and input errors print one line
 * (`error: …`) and exit with code 2 (1 for other failures), without a stack
 * trace unless `BNN_DEBUG=1`.
 *
 * @example
 * ```ts
 * import { runMain } from "@bayes/nn";
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
    if (Deno.env.get("BNN_DEBUG")) console.error(err);
    else console.error(`error: ${err.message}`);
    const usage = err instanceof CliError || err instanceof RangeError ||
      err.name === "DatasetError" ||
      err.name === "NetSpecError" || err.name === "BackendError" || err.name === "ModelFileError";
    Deno.exit(err instanceof CliError ? err.exitCode : usage ? 2 : 1);
  }
}
