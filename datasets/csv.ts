/**
 * Users' own regression data from CSV/TSV files, columns chosen by name.
 *
 * @module
 */

import { dsvFormat } from "d3-dsv";
import { type ArrayDataset, DatasetError } from "./types.ts";

/**
 * Options of {@linkcode loadCsv}.
 *
 * @example
 * ```ts
 * import type { CsvOptions } from "@bayes/nn";
 * const opts: CsvOptions = { features: ["x1", "x2"], target: "y" };
 * ```
 */
export interface CsvOptions {
  /** Header names of the input columns, in the order wanted. */
  features: string[];
  /** Header name(s) of the target column(s). */
  target: string | string[];
  /**
   * Field separator. Default: tab for `.tsv`/`.tab` files, comma otherwise.
   */
  delimiter?: string;
}

/**
 * A regression set read from a CSV file, in original units (use
 * `standardize` to standardise), with the column names.
 *
 * @example
 * ```ts
 * import { loadCsv } from "@bayes/nn";
 * const path = `${await Deno.makeTempDir()}/data.csv`;
 * await Deno.writeTextFile(path, "a,b\n1,2\n3,4\n");
 * const ds = await loadCsv(path, { features: ["a"], target: "b" });
 * ds.featureNames; // ["a"]
 * ```
 */
export interface CsvDataset extends ArrayDataset {
  /** Targets, `n * targetNames.length` values. */
  y: Float32Array;
  /** Names of the feature columns (order of `x`'s columns). */
  featureNames: string[];
  /** Names of the target columns. */
  targetNames: string[];
}

/** 1-based line number where each record (0 = header) starts, honouring quotes. */
function recordLines(text: string): number[] {
  const starts = [1];
  let line = 1;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) quoted = !quoted; // '"' (an escaped "" toggles twice)
    else if (c === 10) {
      line++;
      if (!quoted && i + 1 < text.length) starts.push(line);
    }
  }
  return starts;
}

/**
 * Reads a CSV (or TSV, by extension) file with a header row and returns the
 * chosen numeric columns as a regression {@linkcode ArrayDataset}
 * (`xShape [features.length]`, `yShape [targets]`). A missing column is an
 * error naming it and listing the available ones; a non-numeric or empty cell
 * is an error naming file, line and column; so is a row with more or fewer
 * fields than the header, and a file without data rows. Blank lines are
 * skipped.
 *
 * @example
 * ```ts
 * import { loadCsv, standardize } from "@bayes/nn";
 * const path = `${await Deno.makeTempDir()}/measurements.tsv`;
 * await Deno.writeTextFile(path, "temperature\tpressure\tyield\n20\t1.0\t0.5\n25\t1.2\t0.7\n");
 * const ds = await loadCsv(path, {
 *   features: ["temperature", "pressure"],
 *   target: "yield",
 * });
 * const { train, yMean, yStd } = standardize(ds);
 * ```
 */
export async function loadCsv(path: string, opts: CsvOptions): Promise<CsvDataset> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new DatasetError(`${path}: cannot read (${e instanceof Error ? e.message : e})`, {
      file: path,
      cause: e,
    });
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // byte-order mark
  const features = opts.features;
  const targets = typeof opts.target === "string" ? [opts.target] : opts.target;
  if (features.length === 0) throw new DatasetError(`${path}: no feature columns requested`);
  if (targets.length === 0) throw new DatasetError(`${path}: no target column requested`);
  const delimiter = opts.delimiter ?? (/\.(tsv|tab)$/i.test(path) ? "\t" : ",");
  const records = dsvFormat(delimiter).parseRows(text);
  const lineOf = recordLines(text);
  if (records.length === 0) {
    throw new DatasetError(`${path}: the file is empty (expected a header row and data rows)`, {
      file: path,
    });
  }
  const columns = records[0];
  // Data records with their 1-based line numbers; blank lines hold no data and are skipped.
  const rows: { fields: string[]; line: number }[] = [];
  for (let i = 1; i < records.length; i++) {
    const fields = records[i];
    if (fields.length === 1 && fields[0].trim() === "") continue;
    const line = lineOf[i] ?? i + 1;
    if (fields.length !== columns.length) {
      throw new DatasetError(
        `${path}, line ${line}: ${fields.length} fields, but the header (line 1) has ` +
          `${columns.length}${
            fields.length > columns.length ? " (extra fields would be dropped)" : ""
          }; check the separator ${JSON.stringify(delimiter)} and quoting`,
        { file: path },
      );
    }
    rows.push({ fields, line });
  }
  if (rows.length === 0) {
    throw new DatasetError(`${path}: no data rows after the header (line 1)`, { file: path });
  }
  for (const name of [...features, ...targets]) {
    if (!columns.includes(name)) {
      throw new DatasetError(
        `${path}: no column "${name}"; available columns: ${
          columns.map((c) => `"${c}"`).join(", ")
        }`,
        { file: path },
      );
    }
  }
  const n = rows.length;
  const dx = features.length;
  const dy = targets.length;
  const x = new Float32Array(n * dx);
  const y = new Float32Array(n * dy);
  const index = new Map(columns.map((c, j) => [c, j]));
  const cell = (i: number, name: string): number => {
    const s = rows[i].fields[index.get(name)!].trim();
    const v = s === "" ? NaN : Number(s);
    if (!Number.isFinite(v)) {
      throw new DatasetError(
        `${path}, line ${rows[i].line}, column "${name}": ${
          s === "" ? "empty cell" : `"${s}" is not a number`
        }`,
        { file: path },
      );
    }
    return v;
  };
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dx; j++) x[i * dx + j] = cell(i, features[j]);
    for (let j = 0; j < dy; j++) y[i * dy + j] = cell(i, targets[j]);
  }
  return {
    x,
    y,
    n,
    xShape: [dx],
    yShape: [dy],
    featureNames: features.slice(),
    targetNames: targets.slice(),
  };
}
