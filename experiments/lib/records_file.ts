/**
 * Files of recorded results that travel with the repository
 * (`experiments/records/*.json`): one JSON object of entries by id, read
 * with every entry checked and written atomically with its keys in
 * code-unit order, so the same records give the same bytes on every
 * machine. The MNIST table and the UCI study keep their evaluated rows in
 * such files (`--records`), since the models and results folders behind
 * them are not committed.
 *
 * @module
 */
import { writeJsonAtomic } from "../../core/atomic.ts";
import { CliError } from "../../core/cli.ts";

/**
 * Reads a records file; a missing file is empty. A file that is not a JSON
 * object, or an entry that `check` finds wrong, is a {@linkcode CliError}
 * naming `--records`, the file and the entry.
 *
 * @param path The file.
 * @param shape What the file should hold, for the message when it is not an object
 *   (e.g. `a JSON object of rows by "key:variant"`).
 * @param check Returns what is wrong with an entry (completing `entry "<id>" …`), or `null`.
 *
 * @example
 * ```ts
 * import { readRecordFile } from "./records_file.ts";
 * const recs = await readRecordFile("/nonexistent/records.json", "rows", () => null);
 * Object.keys(recs).length; // 0
 * ```
 */
export async function readRecordFile<T>(
  path: string,
  shape: string,
  check: (id: string, entry: unknown) => string | null,
): Promise<Record<string, T>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return {};
    throw new CliError(`--records ${path}: cannot read it (${(e as Error).message})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new CliError(`--records ${path}: not valid JSON (${(e as Error).message})`);
  }
  if (!data || typeof data !== "object" || Array.isArray(data)) {
    throw new CliError(`--records ${path}: expected ${shape}`);
  }
  for (const [id, entry] of Object.entries(data as Record<string, unknown>)) {
    const bad = check(id, entry);
    if (bad !== null) throw new CliError(`--records ${path}: entry "${id}" ${bad}`);
  }
  return data as Record<string, T>;
}

/**
 * Writes a records file atomically (temp file + rename), keys in code-unit order.
 *
 * @example
 * ```ts
 * import { readRecordFile, writeRecordFile } from "./records_file.ts";
 * const path = `${await Deno.makeTempDir()}/records.json`;
 * await writeRecordFile(path, { b: 1, a: 2 });
 * Object.keys(await readRecordFile(path, "numbers", () => null)); // ["a", "b"]
 * ```
 */
export async function writeRecordFile(
  path: string,
  records: Record<string, unknown>,
): Promise<void> {
  // Code-unit order, not the locale's: the same file on every machine.
  const sorted = Object.fromEntries(
    Object.entries(records).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0),
  );
  await writeJsonAtomic(path, sorted);
}
