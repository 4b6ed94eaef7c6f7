/**
 * Parsers for whitespace-separated numeric text files (the UCI benchmark
 * layout): a table of numbers, a list of numbers, a list of row indices.
 *
 * @module
 */

import { DatasetError } from "./types.ts";

/**
 * A numeric table read from text: `rows × cols` values, row-major.
 *
 * @example
 * ```ts
 * import { parseNumericTable } from "@bayes/nn/datasets";
 * const t = parseNumericTable("1 2\n3 4\n", "inline");
 * t.values; // Float64Array [1, 2, 3, 4]
 * ```
 */
export interface NumericTable {
  /** Number of (non-blank) rows. */
  rows: number;
  /** Number of columns. */
  cols: number;
  /** Values, row-major. */
  values: Float64Array;
}

/**
 * Parses whitespace-separated numbers, one row per line (blank lines are
 * skipped, like `numpy.loadtxt`). A row with a different number of columns
 * than the first, or a non-numeric field, is a {@linkcode DatasetError}
 * naming `file` and the line.
 *
 * @example
 * ```ts
 * import { parseNumericTable } from "@bayes/nn/datasets";
 * try {
 *   parseNumericTable("1 2 3\n4 5\n", "data.txt");
 * } catch (e) {
 *   console.log((e as Error).message); // data.txt, line 2: 2 columns, expected 3 (as on the first row)
 * }
 * ```
 */
export function parseNumericTable(text: string, file: string): NumericTable {
  const lines = text.split("\n");
  let cols = -1;
  let rows = 0;
  let values = new Float64Array(1024);
  let k = 0;
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li].trim();
    if (line === "") continue;
    const fields = line.split(/\s+/);
    if (cols < 0) cols = fields.length;
    else if (fields.length !== cols) {
      throw new DatasetError(
        `${file}, line ${li + 1}: ${fields.length} columns, expected ${cols} (as on the first row)`,
        { file },
      );
    }
    if (k + cols > values.length) {
      const grown = new Float64Array(Math.max(values.length * 2, k + cols));
      grown.set(values);
      values = grown;
    }
    for (let j = 0; j < cols; j++) {
      const v = Number(fields[j]);
      if (!Number.isFinite(v)) {
        throw new DatasetError(
          `${file}, line ${li + 1}, column ${j + 1}: "${fields[j]}" is not a finite number`,
          { file },
        );
      }
      values[k++] = v;
    }
    rows++;
  }
  if (rows === 0) throw new DatasetError(`${file}: no data rows`, { file });
  return { rows, cols, values: values.slice(0, k) };
}

/**
 * Parses a list of numbers, whitespace- or newline-separated.
 *
 * @example
 * ```ts
 * import { parseNumberList } from "@bayes/nn/datasets";
 * parseNumberList("0.25\n0.5\n", "tau_values.txt"); // [0.25, 0.5]
 * ```
 */
export function parseNumberList(text: string, file: string): number[] {
  const out: number[] = [];
  const lines = text.split("\n");
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li].trim();
    if (line === "") continue;
    for (const f of line.split(/\s+/)) {
      const v = Number(f);
      if (!Number.isFinite(v)) {
        throw new DatasetError(`${file}, line ${li + 1}: "${f}" is not a finite number`, { file });
      }
      out.push(v);
    }
  }
  return out;
}

/**
 * Parses a list of 0-based row indices; each must be an integer in
 * `[0, limit)` (no upper check when `limit` is omitted).
 *
 * @example
 * ```ts
 * import { parseIndexList } from "@bayes/nn/datasets";
 * parseIndexList("3\n0\n2\n", "index_train_0.txt", 5); // Int32Array [3, 0, 2]
 * ```
 */
export function parseIndexList(text: string, file: string, limit?: number): Int32Array {
  const out: number[] = [];
  const lines = text.split("\n");
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li].trim();
    if (line === "") continue;
    for (const f of line.split(/\s+/)) {
      const v = Number(f);
      if (!Number.isInteger(v) || v < 0) {
        throw new DatasetError(
          `${file}, line ${li + 1}: "${f}" is not a non-negative integer index`,
          { file },
        );
      }
      if (limit !== undefined && v >= limit) {
        throw new DatasetError(
          `${file}, line ${li + 1}: index ${v} is out of range (the data has ${limit} rows)`,
          { file },
        );
      }
      out.push(v);
    }
  }
  return Int32Array.from(out);
}
