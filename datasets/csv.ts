/**
 * Users' own regression data from CSV/TSV files, columns chosen by name.
 *
 * @module
 */

import { csvParse, dsvFormat, tsvParse } from "d3-dsv";
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
 * const ds = await loadCsv("data.csv", { features: ["a"], target: "b" });
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
 * is an error naming file, line and column.
 *
 * @example
 * ```ts
 * import { loadCsv, standardize } from "@bayes/nn";
 * const ds = await loadCsv("measurements.tsv", {
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
  const parse = opts.delimiter !== undefined
    ? dsvFormat(opts.delimiter).parse
    : /\.(tsv|tab)$/i.test(path)
    ? tsvParse
    : csvParse;
  const rows = parse(text);
  const columns = rows.columns;
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
  const lineOf = recordLines(text);
  const dx = features.length;
  const dy = targets.length;
  const x = new Float32Array(n * dx);
  const y = new Float32Array(n * dy);
  const cell = (i: number, name: string): number => {
    const raw = rows[i][name];
    const s = raw === undefined ? "" : raw.trim();
    const v = s === "" ? NaN : Number(s);
    if (!Number.isFinite(v)) {
      throw new DatasetError(
        `${path}, line ${lineOf[i + 1] ?? i + 2}, column "${name}": ${
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
