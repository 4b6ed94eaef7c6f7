/**
 * Test helpers around other processes: one that holds a models-folder lock,
 * and the PID of one that has exited.
 *
 * @module
 */

const LOCK_MOD = new URL("../core/lock.ts", import.meta.url).href;

/**
 * A child Deno process that takes the lock on `dir`, says "locked" and then waits.
 *
 * @example
 * ```ts
 * const child = await lockHolder("/tmp/models");
 * child.kill("SIGKILL");
 * ```
 */
export async function lockHolder(dir: string): Promise<Deno.ChildProcess> {
  const code = `import { acquireDirLock } from ${JSON.stringify(LOCK_MOD)};
    await acquireDirLock(${JSON.stringify(dir)});
    console.log("locked");
    await new Promise((r) => setTimeout(r, 120_000));`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", code],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("locked")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("lock holder exited early");
    seen += value;
  }
  reader.releaseLock();
  return child;
}

/**
 * The PID of a process that has exited.
 *
 * @example
 * ```ts
 * const pid = await deadPid();
 * ```
 */
export async function deadPid(): Promise<number> {
  const p = new Deno.Command("true").spawn();
  await p.status;
  return p.pid;
}
