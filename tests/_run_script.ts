/**
 * Test helper: runs a script in a child Deno process and collects its exit
 * code and output (the script tests check both the files a run writes and
 * what it prints).
 *
 * @module
 */

/** What a finished child process returned. */
export interface ScriptResult {
  /** Exit code. */
  code: number;
  /** Standard output, decoded. */
  stdout: string;
  /** Standard error, decoded. */
  stderr: string;
}

/**
 * Runs `deno run -A <path> ...args` from the project root, on the wasm
 * backend unless `env` says otherwise.
 *
 * @example
 * ```ts
 * const r = await runScript("experiments/ood.ts", ["-h"]);
 * console.log(r.code, r.stdout);
 * ```
 */
export async function runScript(
  path: string,
  args: string[],
  env: Record<string, string> = { BNN_BACKEND: "wasm" },
): Promise<ScriptResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", path, ...args],
    stdout: "piped",
    stderr: "piped",
    env,
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
