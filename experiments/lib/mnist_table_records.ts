/**
 * Recorded rows of the MNIST results table (`experiments/mnist_table.ts
 * --records FILE`): the evaluated rows kept in a JSON file that travels
 * with the repository, so that the README table can be regenerated on a
 * machine that does not hold the (uncommitted, hours-to-train) models.
 *
 * A recorded row stands in for a row only when what it was evaluated with
 * — mode, seed, posterior samples asked for, test and OOD sizes, epochs,
 * batch size and builder settings — equals what the run would evaluate;
 * otherwise the row is left out with the difference named.
 *
 * @module
 */
import { isDeepStrictEqual } from "node:util";
import { readRecordFile, writeRecordFile } from "./records_file.ts";
import type { MnistTableRow } from "./mnist_table_rows.ts";

/**
 * One recorded row with what it was evaluated with.
 *
 * @example
 * ```ts
 * import type { MnistRecord } from "./mnist_table_records.ts";
 * const when = (r: MnistRecord) => r.recorded;
 * ```
 */
export interface MnistRecord {
  /** The table row, as `mnist_table.json` has it. */
  row: MnistTableRow;
  /** Date the row was evaluated or imported (`YYYY-MM-DD`). */
  recorded: string;
  /** `--full` (true) or quick. */
  full: boolean;
  /** Seed of training and evaluation. */
  seed: number;
  /** Posterior samples asked for (`--samples` or the mode's default). */
  samples_requested: number;
  /** The model's save time (its manifest's), `null` when not known. */
  model_saved_at: string | null;
  /** Where the row came from: `mnist_table.ts`, or how it was imported. */
  source: string;
}

/** The file: recorded rows by `key:variant`. */
export type MnistRecords = Record<string, MnistRecord>;

/**
 * What a run would evaluate a row with (compared with a record's).
 *
 * @example
 * ```ts
 * import type { RecordWant } from "./mnist_table_records.ts";
 * const want: RecordWant = {
 *   full: true, seed: 0, samples: 100, n: 10000, nOod: 10000, epochs: 10, batchSize: 128,
 *   settings: {},
 * };
 * ```
 */
export interface RecordWant {
  /** `--full`. */
  full: boolean;
  /** Seed. */
  seed: number;
  /** Posterior samples asked for. */
  samples: number;
  /** MNIST test digits. */
  n: number;
  /** Fashion-MNIST test images (0 when missing). */
  nOod: number;
  /** Budget epochs. */
  epochs: number;
  /** Budget batch size. */
  batchSize: number;
  /** Builder settings of the budget. */
  settings: Record<string, unknown>;
}

/**
 * Reads a records file; a missing file is empty. A file that is not a JSON
 * object of records is an error naming the file and the first bad entry.
 *
 * @example
 * ```ts
 * import { readRecords } from "./mnist_table_records.ts";
 * const recs = await readRecords("/nonexistent/mnist_table.json");
 * Object.keys(recs).length; // 0
 * ```
 */
export function readRecords(path: string): Promise<MnistRecords> {
  return readRecordFile<MnistRecord>(
    path,
    'a JSON object of rows by "key:variant"',
    (id, r) => {
      const rec = r as Partial<MnistRecord> | null;
      const fields = ["row", "recorded", "full", "seed", "samples_requested", "source"] as const;
      const missing = fields.filter((f) => rec?.[f] === undefined);
      if (missing.length) return `lacks ${missing.join(", ")}`;
      if (typeof rec?.row !== "object" || `${rec.row?.key}:${rec.row?.variant}` !== id) {
        return "holds the row of another method";
      }
      return null;
    },
  );
}

/**
 * Writes a records file atomically (temp file + rename), keys in code-unit order.
 *
 * @example
 * ```ts
 * import { readRecords, writeRecords } from "./mnist_table_records.ts";
 * const path = `${await Deno.makeTempDir()}/records.json`;
 * await writeRecords(path, {});
 * Object.keys(await readRecords(path)).length; // 0
 * ```
 */
export function writeRecords(path: string, records: MnistRecords): Promise<void> {
  return writeRecordFile(path, records);
}

/**
 * Why a record cannot stand in for the row a run would evaluate, or `null`
 * when it can.
 *
 * @example
 * ```ts
 * import { recordMismatch } from "./mnist_table_records.ts";
 * const want = {
 *   full: true, seed: 0, samples: 100, n: 10000, nOod: 10000, epochs: 10, batchSize: 128,
 *   settings: {},
 * };
 * const rec = {
 *   recorded: "2025-01-31", full: true, seed: 0, samples_requested: 100, model_saved_at: null,
 *   source: "mnist_table.ts",
 *   row: { n: 10000, n_ood: 10000, epochs: 20, batch_size: 128, settings: {} },
 * };
 * // deno-lint-ignore no-explicit-any
 * recordMismatch(rec as any, want); // "recorded with epochs 20, this run's 10"
 * ```
 */
export function recordMismatch(rec: MnistRecord, want: RecordWant): string | null {
  const pairs: [string, unknown, unknown][] = [
    ["mode", rec.full ? "full" : "quick", want.full ? "full" : "quick"],
    ["seed", rec.seed, want.seed],
    ["posterior samples", rec.samples_requested, want.samples],
    ["test digits", rec.row.n, want.n],
    ["OOD images", rec.row.n_ood, want.nOod],
    ["epochs", rec.row.epochs, want.epochs],
    ["batch size", rec.row.batch_size, want.batchSize],
  ];
  for (const [what, had, now] of pairs) {
    if (had !== now) return `recorded with ${what} ${had}, this run's ${now}`;
  }
  if (!isDeepStrictEqual(rec.row.settings, want.settings)) {
    return `recorded with settings ${JSON.stringify(rec.row.settings)}, this run's ${
      JSON.stringify(want.settings)
    }`;
  }
  return null;
}
