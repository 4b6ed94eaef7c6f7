/**
 * Where data sets are looked for and downloaded to.
 *
 * Lookup order: the `dataDir` option (the scripts' `--data-dir` flag), the
 * `BNN_DATA_DIR` environment variable, then the per-user cache folder
 * ({@linkcode userCacheDir}). Downloads go to the first of these.
 *
 * @module
 */

import { join } from "node:path";

/** Where a data folder came from. */
export type DataDirSource = "option" | "env" | "cache";

/**
 * One folder searched for data, with its origin.
 *
 * @example
 * ```ts
 * import { resolveDataDirs } from "@bayes/nn/datasets";
 * const dirs = resolveDataDirs({ dataDir: "./data" });
 * dirs[0]; // { path: "./data", source: "option" }
 * ```
 */
export interface DataDir {
  /** The folder (set folders such as `mnist/` live inside it). */
  path: string;
  /** Which rule gave it. */
  source: DataDirSource;
}

/** Reads an environment variable; `undefined` when unset or not permitted. */
export function readEnv(name: string): string | undefined {
  try {
    const v = Deno.env.get(name);
    return v === "" ? undefined : v;
  } catch {
    return undefined;
  }
}

/**
 * The per-user cache folder for downloaded data:
 * `%LOCALAPPDATA%\bayes-nn` on Windows; otherwise `$XDG_CACHE_HOME/bayes-nn`
 * when `XDG_CACHE_HOME` is set, else `~/Library/Caches/bayes-nn` on macOS and
 * `~/.cache/bayes-nn` elsewhere. `undefined` when no home folder is known.
 * `os` and `env` can be given to compute it for another platform.
 *
 * @example
 * ```ts
 * import { userCacheDir } from "@bayes/nn/datasets";
 * userCacheDir("linux", (k) => ({ HOME: "/home/ada" } as Record<string, string>)[k]);
 * // "/home/ada/.cache/bayes-nn"
 * ```
 */
export function userCacheDir(
  os: string = Deno.build.os,
  env: (name: string) => string | undefined = readEnv,
): string | undefined {
  if (os === "windows") {
    const local = env("LOCALAPPDATA");
    if (local) return `${local.replace(/[\\/]+$/, "")}\\bayes-nn`;
    const profile = env("USERPROFILE");
    return profile ? `${profile.replace(/[\\/]+$/, "")}\\AppData\\Local\\bayes-nn` : undefined;
  }
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return join(xdg, "bayes-nn");
  const home = env("HOME");
  if (!home) return undefined;
  return os === "darwin"
    ? join(home, "Library", "Caches", "bayes-nn")
    : join(home, ".cache", "bayes-nn");
}

/**
 * Options shared by every loader that reads files from the data folders.
 *
 * @example
 * ```ts
 * import { loadMnist, type DataDirOptions } from "@bayes/nn";
 * const opts: DataDirOptions = { dataDir: Deno.env.get("BNN_DATA_DIR") ?? "./data" };
 * const test = await loadMnist("mnist", "test", opts);
 * ```
 */
export interface DataDirOptions {
  /** Data folder given by the caller (e.g. a `--data-dir` flag); searched first. */
  dataDir?: string;
}

/**
 * The folders searched for data, in lookup order: `dataDir` option,
 * `BNN_DATA_DIR`, per-user cache. Duplicates are removed.
 *
 * @example
 * ```ts
 * import { resolveDataDirs } from "@bayes/nn/datasets";
 * for (const d of resolveDataDirs()) console.log(d.source, d.path);
 * ```
 */
export function resolveDataDirs(opts: DataDirOptions = {}): DataDir[] {
  const out: DataDir[] = [];
  const add = (path: string | undefined, source: DataDirSource) => {
    if (path && !out.some((d) => d.path === path)) out.push({ path, source });
  };
  add(opts.dataDir, "option");
  add(readEnv("BNN_DATA_DIR"), "env");
  add(userCacheDir(), "cache");
  return out;
}
