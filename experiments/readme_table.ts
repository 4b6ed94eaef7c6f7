/**
 * Pastes a study's Markdown output into the README: replaces what stands
 * between `<!-- NAME:start -->` and `<!-- NAME:end -->` in `--readme` with
 * the contents of `--table` (see `lib/readme_block.ts`), atomically. Running
 * it again with the same table changes nothing.
 *
 *     deno run -A experiments/mnist_table.ts --full
 *     deno run -A experiments/readme_table.ts     # results/mnist_table/mnist_table.md → README.md
 *     deno run -A experiments/readme_table.ts --table other.md --readme docs/x.md --name x
 *
 * The result is formatted with `deno fmt` (Markdown, the project's
 * settings from the working directory's `deno.json`) unless `--fmt false`,
 * so the README stays `deno fmt`-clean and a second run, or `deno fmt`
 * after it, changes nothing. Prints `README.md: replaced the mnist_table
 * block …` or `… (unchanged)`; exit code 2 with a one-line message when a
 * file or a marker is missing. With `--if_present` a missing `--table`
 * leaves its block as it is (a note on stderr, exit code 0), so a task
 * pasting several studies' tables pastes those that have been run.
 *
 * @module
 */
import { writeTextAtomic } from "../core/atomic.ts";
import { CliError, parseFlags, runMain } from "../core/cli.ts";
import { replaceBlock } from "./lib/readme_block.ts";

/**
 * Formats Markdown text with `deno fmt` (the settings of the `deno.json`
 * found from the working directory).
 *
 * @example
 * ```ts
 * import { fmtMarkdown } from "./readme_table.ts";
 * await fmtMarkdown("| a | bb |\n| --- | ---: |\n| 1 | 2 |\n"); // "| a | bb |\n| - | -: |\n| 1 |  2 |\n"
 * ```
 */
export async function fmtMarkdown(text: string): Promise<string> {
  const p = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext=md", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const out = await p.output();
  if (!out.success) {
    throw new CliError(
      `deno fmt could not format the result (${new TextDecoder().decode(out.stderr).trim()}); ` +
        "pass --fmt false to paste it unformatted",
    );
  }
  return new TextDecoder().decode(out.stdout);
}

/**
 * Replaces block `name` of the file `readme` by the text of the file
 * `table` (then formats it with {@linkcode fmtMarkdown} unless `format` is
 * false); returns whether the file changed (it is written only then).
 *
 * @example
 * ```ts
 * import { updateReadme } from "./readme_table.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/t.md`, "| a |\n");
 * await Deno.writeTextFile(`${dir}/R.md`, "<!-- t:start -->\n<!-- t:end -->\n");
 * await updateReadme(`${dir}/t.md`, `${dir}/R.md`, "t", false); // true
 * await updateReadme(`${dir}/t.md`, `${dir}/R.md`, "t", false); // false
 * ```
 */
export async function updateReadme(
  table: string,
  readme: string,
  name: string,
  format = true,
): Promise<boolean> {
  const read = (path: string, flag: string) =>
    Deno.readTextFile(path).catch((e) => {
      throw new CliError(`${flag} ${path}: cannot read it (${(e as Error).message})`);
    });
  const block = await read(table, "--table");
  if (block.trim() === "") throw new CliError(`--table ${table} is empty`);
  const text = await read(readme, "--readme");
  let next: string;
  try {
    next = replaceBlock(text, name, block, readme);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  if (format) next = await fmtMarkdown(next);
  if (next === text) return false;
  await writeTextAtomic(readme, next);
  return true;
}

/** Whether `path` exists (any other error, e.g. permission, is a CLI error naming it). */
async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw new CliError(`--table ${path}: cannot read it (${(e as Error).message})`);
  }
}

/** Fails with the markers' own message unless block `name` of `readme` is there exactly once. */
async function blockIsThere(readme: string, name: string): Promise<void> {
  const text = await Deno.readTextFile(readme).catch((e) => {
    throw new CliError(`--readme ${readme}: cannot read it (${(e as Error).message})`);
  });
  try {
    replaceBlock(text, name, "-", readme);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

if (import.meta.main) {
  await runMain(async () => {
    const f = parseFlags(Deno.args, {
      table: {
        type: "string",
        default: "results/mnist_table/mnist_table.md",
        help: "Markdown file to paste (a study's output)",
      },
      readme: { type: "string", default: "README.md", help: "file holding the markers" },
      name: {
        type: "string",
        default: "mnist_table",
        help: "block name: the text between <!-- NAME:start --> and <!-- NAME:end --> is replaced",
      },
      fmt: { type: "boolean", default: true, help: "format the result with deno fmt" },
      if_present: {
        type: "boolean",
        default: false,
        help: "when --table does not exist, leave the block as it is and say so (exit 0) " +
          "instead of failing; the markers must still be there",
      },
    }, {
      name: "readme_table.ts",
      description: "Replaces the block between <!-- NAME:start --> and <!-- NAME:end --> in " +
        "--readme with the contents of --table.",
    });
    if (!f) return;
    const [table, readme, name] = [String(f.table), String(f.readme), String(f.name)];
    if (f.if_present && !(await exists(table))) {
      await blockIsThere(readme, name);
      console.error(
        `${readme}: left the ${name} block as it is: ${table} is not there ` +
          "(run the study that writes it first)",
      );
      return;
    }
    const changed = await updateReadme(table, readme, name, Boolean(f.fmt));
    const lines = (await Deno.readTextFile(table)).trim().split("\n").length;
    console.log(
      changed
        ? `${readme}: replaced the ${name} block with ${table} (${lines} lines)`
        : `${readme}: the ${name} block already holds ${table} (unchanged)`,
    );
  });
}
