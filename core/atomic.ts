/**
 * Atomic file writes: write a temporary file beside the target, then rename
 * it over the target, so a crash never leaves a half-written file under the
 * final name and a previous good file stays intact until the new one is
 * complete.
 *
 * @module
 */
import { dirname } from "node:path";

function tmpName(path: string): string {
  return `${path}.tmp-${Deno.pid}-${Math.floor(performance.now() * 1000) % 1e9}`;
}

/**
 * Writes bytes atomically (temp file + rename), creating parent folders.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "@bayes/nn";
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
 * import { writeTextAtomic } from "@bayes/nn";
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
 * import { writeJsonAtomic } from "@bayes/nn";
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
