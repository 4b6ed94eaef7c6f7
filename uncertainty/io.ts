/**
 * Atomic writers for results: the text goes to `<path>.tmp-<pid>` and is then
 * renamed over `path`, so a reader (or a crashed run) never sees a
 * half-written file. Parent directories are created as needed.
 *
 * @module
 */

// @ts-types="@types/d3-dsv"
import { csvFormat } from "d3-dsv";
import { writeJsonAtomic, writeTextAtomic } from "../core/atomic.ts";

/**
 * Writes rows of plain objects as CSV (header from the union of the rows'
 * keys, in first-seen order), atomically.
 *
 * @example
 * ```ts
 * import { writeCsv } from "@bayes/nn";
 * await writeCsv("results/uci.csv", [{ dataset: "boston", method: "vi", rmse: 3.1 }]);
 * ```
 */
export async function writeCsv(
  path: string,
  rows: readonly Record<string, unknown>[],
): Promise<void> {
  await writeTextAtomic(path, toCsv(rows));
}

/**
 * Formats rows of plain objects as CSV text (with `d3-dsv`'s `csvFormat`),
 * ending in a newline.
 *
 * @example
 * ```ts
 * import { toCsv } from "@bayes/nn";
 * toCsv([{ a: 1, b: "x" }]); // "a,b\n1,x\n"
 * ```
 */
export function toCsv(rows: readonly Record<string, unknown>[]): string {
  if (!Array.isArray(rows)) throw new TypeError("toCsv: expected an array of row objects");
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const r of rows) {
    for (const k of Object.keys(r)) {
      if (!seen.has(k)) {
        seen.add(k);
        columns.push(k);
      }
    }
  }
  const plain = rows.map((r) => {
    const o: Record<string, string> = {};
    for (const k of columns) {
      const v = r[k];
      o[k] = v === undefined || v === null
        ? ""
        : typeof v === "object"
        ? JSON.stringify(v)
        : String(v);
    }
    return o;
  });
  return csvFormat(plain, columns) + "\n";
}

/**
 * Writes `obj` as pretty-printed JSON (2-space indent), atomically. Typed
 * arrays are written as plain arrays; `NaN` and infinities become `null`.
 *
 * @example
 * ```ts
 * import { writeJson } from "@bayes/nn";
 * await writeJson("results/run.json", { seed: 1, testLL: -0.98 });
 * ```
 */
export async function writeJson(path: string, obj: unknown): Promise<void> {
  await writeJsonAtomic(path, obj);
}
