/**
 * Atomic file writes: write a temporary file beside the target, then rename
 * it over the target, so a crash never leaves a half-written file under the
 * final name and a previous good file stays intact until the new one is
 * complete.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { processAlive } from "./lock.ts";

function tmpName(path: string): string {
  return `${path}.tmp-${Deno.pid}-${Math.floor(performance.now() * 1000) % 1e9}`;
}

/**
 * Writes bytes atomically (temp file + rename), creating parent folders.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic.ts";
 * await writeFileAtomic("/tmp/out.bin", new Uint8Array([1, 2, 3]));
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  if (typeof path !== "string" || path === "") {
    throw new TypeError(`expected a file path, found ${JSON.stringify(path)}`);
  }
  const tmp = tmpName(path);
  try {
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`could not write ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Writes text atomically (temp file + rename), creating parent folders.
 *
 * @example
 * ```ts
 * import { writeTextAtomic } from "./atomic.ts";
 * await writeTextAtomic("/tmp/out.txt", "hello\n");
 * ```
 */
export async function writeTextAtomic(path: string, text: string): Promise<void> {
  await writeFileAtomic(path, new TextEncoder().encode(text));
}

/**
 * Writes a value as pretty JSON atomically.
 *
 * @example
 * ```ts
 * import { writeJsonAtomic } from "./atomic.ts";
 * await writeJsonAtomic("/tmp/metrics.json", { error: 1.5 });
 * ```
 */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  // Typed arrays become plain arrays; NaN/Infinity become null (JSON has neither).
  const text = JSON.stringify(
    value,
    (
      _k,
      v,
    ) => (ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as Float64Array) : v),
    2,
  );
  if (text === undefined) {
    throw new TypeError(`writeJsonAtomic: value for ${path} is not serialisable`);
  }
  await writeTextAtomic(path, text + "\n");
}

/** Temporary names left by {@linkcode writeFileAtomic} and the other writers: `<file>.tmp-<pid>[-<n>]`. */
const TMP_NAME = /\.tmp-(\d+)(?:-\d+)?$/;

/**
 * Removes the temporary files (`<file>.tmp-<pid>-<n>`) that runs killed
 * mid-write left in `dir` and its subfolders (down to `depth` levels), when
 * their process is no longer running; files of running processes and of
 * processes that cannot be checked stay. Returns the removed paths and
 * their total size in bytes.
 *
 * @example
 * ```ts
 * import { removeStaleTemps } from "./atomic.ts";
 * const { removed, bytes } = await removeStaleTemps("models/map");
 * if (removed.length) console.error(`removed ${removed.length} temporary files (${bytes} B)`);
 * ```
 */
export async function removeStaleTemps(
  dir: string,
  depth = 2,
): Promise<{ removed: string[]; bytes: number }> {
  const removed: string[] = [];
  let bytes = 0;
  const alive = new Map<number, boolean | undefined>();
  const walk = async (d: string, level: number) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(d));
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory && level < depth) await walk(p, level + 1);
      const m = e.isFile ? e.name.match(TMP_NAME) : null;
      if (!m) continue;
      const pid = Number(m[1]);
      if (!alive.has(pid)) alive.set(pid, await processAlive(pid));
      if (alive.get(pid) !== false) continue;
      try {
        const size = (await Deno.stat(p)).size;
        await Deno.remove(p);
        removed.push(p);
        bytes += size;
      } catch {
        // raced with another cleaner, or not ours to remove
      }
    }
  };
  await walk(dir, 0);
  return { removed, bytes };
}
