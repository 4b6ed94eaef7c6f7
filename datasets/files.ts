/**
 * Finding a data set's files in the data folders, downloading the missing
 * ones, and the error messages when that is not possible.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import { type DataDirOptions, readEnv, resolveDataDirs } from "./dirs.ts";
import { downloadFile } from "./download.ts";
import { DatasetError } from "./types.ts";

/**
 * Options shared by loaders that may download their files.
 *
 * @example
 * ```ts
 * import { loadMnist, type FetchOptions } from "@bayes/nn";
 * const opts: FetchOptions = { dataDir: Deno.env.get("BNN_DATA_DIR") ?? "./data", download: false };
 * await loadMnist("mnist", "test", opts);
 * ```
 */
export interface FetchOptions extends DataDirOptions {
  /**
   * Download missing files (default: true unless `BNN_OFFLINE=1`). When false,
   * a missing file is an error listing what to place where.
   */
  download?: boolean;
  /** Connect / first-byte time-out for downloads (default 15 000 ms). */
  connectTimeoutMs?: number;
  /** Longest pause between chunks of a download (default 30 000 ms). */
  stallTimeoutMs?: number;
  /** Progress bar on stderr while downloading (default: when stderr is a terminal). */
  progress?: boolean;
  /**
   * Receives warnings (e.g. a checksum mismatch of a file you placed yourself).
   * Default: printed on stderr, once per file per process.
   */
  onWarning?: (message: string) => void;
}

/**
 * One file of a data set.
 *
 * @example
 * ```ts
 * import type { RemoteFile } from "@bayes/nn/datasets";
 * const f: RemoteFile = {
 *   name: "t10k-labels-idx1-ubyte.gz",
 *   urls: ["https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz"],
 *   md5: "ec29112dd5afa0611ce80d1b7f02629c",
 * };
 * ```
 */
export interface RemoteFile {
  /** File name inside the set's folder. */
  name: string;
  /** Where it can be downloaded from, in order of preference. */
  urls: string[];
  /** Published MD5 (hex) of the file, if any. */
  md5?: string;
  /** Optional files are downloaded only along with required ones; failures are ignored. */
  optional?: boolean;
  /** Other local names accepted instead (e.g. the un-gzipped file); no checksum applies. */
  alternatives?: string[];
  /** Structural check of a freshly downloaded file (throw to reject it). */
  validate?: (path: string) => void | Promise<void>;
}

/**
 * A data set as a group of files that live in one folder.
 *
 * @example
 * ```ts
 * import type { FileSet } from "@bayes/nn/datasets";
 * const set: FileSet = { title: "my set", folders: ["myset"], files: [] };
 * ```
 */
export interface FileSet {
  /** Human-readable name used in messages, e.g. "MNIST (train split)". */
  title: string;
  /** Folder(s) relative to each data folder; the first is where downloads go. */
  folders: string[];
  /** The files. */
  files: RemoteFile[];
  /** Extra absolute folders searched last (e.g. a system-wide install). */
  systemDirs?: string[];
}

/**
 * Where a file of a {@linkcode FileSet} was found.
 *
 * @example
 * ```ts
 * import { ensureFiles } from "@bayes/nn/datasets";
 * const found = await ensureFiles({ title: "t", folders: ["t"], files: [] });
 * for (const [name, f] of found) console.log(name, f.path, f.origin);
 * ```
 */
export interface ResolvedFile {
  /** The file's description. */
  file: RemoteFile;
  /** Path on disk. */
  path: string;
  /**
   * `local`: placed by the user in a data folder (checksum mismatch = warning);
   * `system`: from a system-wide install (structure checked only);
   * `downloaded`: downloaded now and verified.
   */
  origin: "local" | "system" | "downloaded";
  /** True when the path is the canonical name (not one of `alternatives`). */
  canonical: boolean;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** Whether downloads are allowed for these options, and why not. */
function downloadPolicy(opts: FetchOptions): { allowed: boolean; why: string } {
  if (opts.download !== undefined) {
    return { allowed: opts.download, why: "downloads are disabled (download: false)" };
  }
  const off = readEnv("BNN_OFFLINE");
  const offline = off !== undefined && off !== "0" && off.toLowerCase() !== "false";
  return { allowed: !offline, why: `downloads are disabled (BNN_OFFLINE=${off})` };
}

function listing(missing: RemoteFile[], target: string, folder: string): string {
  const width = Math.max(...missing.map((f) => f.name.length));
  const lines = missing.map((f) => `  ${f.name.padEnd(width)}  ${f.urls.join("  or  ")}`);
  return `Download these files and put them in ${target}:\n${lines.join("\n")}\n` +
    `(or point dataDir / --data-dir or BNN_DATA_DIR at a folder that has them in ${folder}/)`;
}

/**
 * Finds the files of `set` in `<data folder>/<set.folders[i]>` for each data
 * folder (see `resolveDataDirs`), then in `set.systemDirs`. All files come
 * from one folder: the first, in lookup order, that has any of the required
 * files; files missing there are downloaded into it (into the first data
 * folder when none has any) unless downloads are disabled. Throws one
 * {@linkcode DatasetError} listing the missing files, their URLs and the
 * folder to put them in when they cannot be had.
 *
 * @example
 * ```ts
 * import { ensureFiles } from "@bayes/nn/datasets";
 * const found = await ensureFiles({
 *   title: "MNIST test labels",
 *   folders: ["mnist"],
 *   files: [{
 *     name: "t10k-labels-idx1-ubyte.gz",
 *     urls: ["https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz"],
 *     md5: "ec29112dd5afa0611ce80d1b7f02629c",
 *   }],
 * });
 * console.log(found.get("t10k-labels-idx1-ubyte.gz")!.path);
 * ```
 */
export async function ensureFiles(
  set: FileSet,
  opts: FetchOptions = {},
): Promise<Map<string, ResolvedFile>> {
  const dirs = resolveDataDirs(opts);
  const candidates: { dir: string; origin: "local" | "system" }[] = [];
  for (const d of dirs) {
    for (const f of set.folders) candidates.push({ dir: join(d.path, f), origin: "local" });
  }
  for (const dir of set.systemDirs ?? []) candidates.push({ dir, origin: "system" });
  const searched = candidates.map((c) => c.dir);

  // All files of a set come from one folder: the first (in lookup order)
  // that has any of the required files. Missing ones are downloaded next to
  // them; when no folder has any, into the first data folder.
  const scan = async (dir: string, origin: "local" | "system") => {
    const found = new Map<string, ResolvedFile>();
    for (const file of set.files) {
      for (const name of [file.name, ...(file.alternatives ?? [])]) {
        const path = join(dir, name);
        if (await isFile(path)) {
          found.set(file.name, { file, path, origin, canonical: name === file.name });
          break;
        }
      }
    }
    return found;
  };
  const requiredNames = set.files.filter((f) => !f.optional).map((f) => f.name);
  let partial: { dir: string; found: Map<string, ResolvedFile> } | undefined;
  for (const c of candidates) {
    const found = await scan(c.dir, c.origin);
    if (requiredNames.every((n) => found.has(n))) return found;
    if (requiredNames.some((n) => found.has(n)) && c.origin === "local") {
      partial = { dir: c.dir, found };
      break;
    }
  }
  const found = partial?.found ?? new Map<string, ResolvedFile>();
  const missing = set.files.filter((f) => !found.has(f.name));
  const required = missing.filter((f) => !f.optional);

  const target = partial?.dir ??
    (dirs.length > 0 ? join(dirs[0].path, set.folders[0]) : undefined);
  const where = (searched.length > 0 ? `Searched: ${searched.join(", ")}.` : "") +
    (partial ? ` ${partial.dir} has ${found.size} of the files.` : "");
  if (!target) {
    throw new DatasetError(
      `${set.title}: ${required.length} file(s) not found and no data folder is known ` +
        `(no dataDir, BNN_DATA_DIR or home folder). ${
          listing(required, "<your data folder>/" + set.folders[0], set.folders[0])
        }`,
    );
  }
  const policy = downloadPolicy(opts);
  if (!policy.allowed) {
    throw new DatasetError(
      `${set.title}: ${required.length} file(s) not found and ${policy.why}. ${where}\n` +
        listing(required, target, set.folders[0]),
      { file: target },
    );
  }
  // Required files first; optional ones only ride along.
  const queue = [...required, ...missing.filter((f) => f.optional)];
  for (let i = 0; i < queue.length; i++) {
    const file = queue[i];
    const dest = join(target, file.name);
    try {
      await downloadFile(file.urls, dest, {
        md5: file.md5,
        validate: file.validate,
        connectTimeoutMs: opts.connectTimeoutMs,
        stallTimeoutMs: opts.stallTimeoutMs,
        progress: opts.progress,
      });
      found.set(file.name, { file, path: dest, origin: "downloaded", canonical: true });
    } catch (e) {
      if (file.optional) continue;
      const still = queue.slice(i).filter((f) => !f.optional);
      throw new DatasetError(
        `${set.title}: ${e instanceof Error ? e.message : e}\n` +
          listing(still, target, set.folders[0]),
        { file: dest, cause: e },
      );
    }
  }
  return found;
}

const warned = new Set<string>();

/**
 * Environment variable that accepts every local file whose checksum differs
 * (structure still checked): `BNN_ACCEPT_CHECKSUM=1`.
 *
 * @example
 * ```ts
 * import { ACCEPT_CHECKSUM_ENV } from "./files.ts";
 * console.log(`${ACCEPT_CHECKSUM_ENV}=1 deno task study:weights`);
 * ```
 */
export const ACCEPT_CHECKSUM_ENV: string = "BNN_ACCEPT_CHECKSUM";

/**
 * Whether the user accepted `path` with MD5 `md5`: `BNN_ACCEPT_CHECKSUM=1`,
 * or a file `<path>.md5` next to it whose first word is that MD5 (what
 * `md5sum FILE > FILE.md5` writes). A recorded checksum accepts only those
 * exact bytes: a file changed later warns again.
 *
 * @example
 * ```ts
 * import { checksumAccepted } from "./files.ts";
 * checksumAccepted("/data/mnist/train-images-idx3-ubyte.gz", "a0800b9e8c812b9e45b911451b965316");
 * ```
 */
export function checksumAccepted(path: string, md5: string): boolean {
  const env = readEnv(ACCEPT_CHECKSUM_ENV);
  if (env !== undefined && /^(1|true|yes)$/i.test(env)) return true;
  try {
    const recorded = Deno.readTextFileSync(`${path}.md5`).trim().split(/\s+/)[0]?.toLowerCase();
    return recorded === md5;
  } catch {
    return false;
  }
}

/**
 * Checks a found file's bytes against its published MD5. Downloaded files
 * were verified already and system installs are trusted (structure is still
 * checked by the parser); for files the user placed in a data folder a
 * mismatch is a warning — through `onWarning`, or printed once per file per
 * process on stderr — not an error. A user can accept such a file for good
 * (no more warnings): record its checksum as `<file>.md5` next to it, or set
 * `BNN_ACCEPT_CHECKSUM=1` (see {@linkcode checksumAccepted}).
 *
 * @example
 * ```ts
 * import { checkLocalChecksum, ensureFiles } from "@bayes/nn/datasets";
 * const set = { title: "t", folders: ["t"], files: [] };
 * for (const f of (await ensureFiles(set)).values()) {
 *   checkLocalChecksum(await Deno.readFile(f.path), f);
 * }
 * ```
 */
export function checkLocalChecksum(
  bytes: Uint8Array,
  found: ResolvedFile,
  onWarning?: (message: string) => void,
): boolean {
  if (found.origin !== "local" || !found.canonical || !found.file.md5) return true;
  const md5 = createHash("md5").update(bytes).digest("hex");
  if (md5 === found.file.md5.toLowerCase()) return true;
  if (checksumAccepted(found.path, md5)) return true;
  const msg = `Warning: ${found.path} has MD5 ${md5}, not the published ${found.file.md5}; ` +
    `using it anyway since its structure is valid (delete it to download the original). ` +
    `To accept this file for good: md5sum ${found.path} > ${found.path}.md5 ` +
    `(or set ${ACCEPT_CHECKSUM_ENV}=1).`;
  if (onWarning) onWarning(msg);
  else {
    const key = resolve(found.path); // one warning per file, however the folder was named
    if (!warned.has(key)) {
      warned.add(key);
      console.warn(msg);
    }
  }
  return false;
}
