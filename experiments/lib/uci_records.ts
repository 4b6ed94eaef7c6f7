/**
 * Recorded rows of the UCI study (`experiments/uci.ts --records FILE`): every
 * row a run trains or reuses, kept in a JSON file that travels with the
 * repository, so that the README's UCI tables can be regenerated on a
 * machine that does not hold the (uncommitted, hours-to-make) results
 * folders.
 *
 * A row is recorded under its protocol, data set, method, fold/split and
 * `config` (the hash of everything that decides its numbers: seed, epochs,
 * batch size, samples, settings, grid, restarts, noise model), so a record
 * stands in for a row only when the run would train it with the same
 * settings; a changed setting trains the row again.
 *
 * @module
 */
import { isDeepStrictEqual } from "node:util";
import type { UciRow } from "./uci_job.ts";
import { readRecordFile, writeRecordFile } from "./records_file.ts";

/**
 * One recorded row.
 *
 * @example
 * ```ts
 * import type { UciRecord } from "./uci_records.ts";
 * const when = (r: UciRecord) => r.recorded;
 * ```
 */
export interface UciRecord {
  /** The row, as `uci.json` has it. */
  row: UciRow;
  /** Date the row was first recorded (`YYYY-MM-DD`). */
  recorded: string;
  /** The settings of the run it came from (mode, budget, step cap, seed, noise, grid axes). */
  run: string;
}

/** The file: recorded rows by {@linkcode uciRecordId}. */
export type UciRecords = Record<string, UciRecord>;

/**
 * The id of a row in a records file: protocol, data set, method key,
 * fold/split and config hash.
 *
 * @example
 * ```ts
 * import { uciRecordId } from "./uci_records.ts";
 * uciRecordId({ protocol: "splits", dataset: "yacht", key: "mc_dropout", fold: 3, config: "0a1b2c3d" });
 * // "splits|yacht|mc_dropout|3|0a1b2c3d"
 * ```
 */
export function uciRecordId(row: UciRow): string {
  return [row.protocol, row.dataset, row.key, row.fold, row.config].join("|");
}

/**
 * Reads a UCI records file; a missing file is empty, a bad one a
 * `CliError` naming the file and the first bad entry.
 *
 * @example
 * ```ts
 * import { readUciRecords } from "./uci_records.ts";
 * Object.keys(await readUciRecords("/nonexistent/uci.json")).length; // 0
 * ```
 */
export function readUciRecords(path: string): Promise<UciRecords> {
  return readRecordFile<UciRecord>(
    path,
    'a JSON object of rows by "protocol|dataset|key|fold|config"',
    (id, r) => {
      const rec = r as Partial<UciRecord> | null;
      const missing = (["row", "recorded", "run"] as const).filter((f) => rec?.[f] === undefined);
      if (missing.length) return `lacks ${missing.join(", ")}`;
      if (typeof rec?.row !== "object" || rec.row === null) {
        return "has a row that is not an object";
      }
      const got = uciRecordId(rec.row);
      return got === id ? null : `holds the row of "${got}"`;
    },
  );
}

/**
 * Adds `rows` (those with a `config`) to `records` from the run `run`; an
 * entry whose row is unchanged keeps its first date and run. Returns
 * whether anything changed. Write the file with {@linkcode writeUciRecords}.
 *
 * @example
 * ```ts
 * import { addUciRecords } from "./uci_records.ts";
 * const recs = {};
 * const row = { protocol: "splits", dataset: "yacht", key: "map", fold: 0, config: "ab", test_rmse: 1 };
 * addUciRecords(recs, [row], "seed 0", "2026-12-03"); // true
 * addUciRecords(recs, [row], "seed 0", "2026-12-04"); // false
 * ```
 */
export function addUciRecords(
  records: UciRecords,
  rows: readonly UciRow[],
  run: string,
  date: string,
): boolean {
  let changed = false;
  for (const row of rows) {
    if (row.config === undefined) continue;
    const id = uciRecordId(row);
    const old = records[id];
    if (old && isDeepStrictEqual(old.row, row)) continue;
    records[id] = { row, recorded: date, run };
    changed = true;
  }
  return changed;
}

/**
 * Writes a UCI records file atomically, keys in code-unit order.
 *
 * @example
 * ```ts
 * import { readUciRecords, writeUciRecords } from "./uci_records.ts";
 * const path = `${await Deno.makeTempDir()}/uci.json`;
 * await writeUciRecords(path, {});
 * Object.keys(await readUciRecords(path)).length; // 0
 * ```
 */
export function writeUciRecords(path: string, records: UciRecords): Promise<void> {
  return writeRecordFile(path, records);
}
