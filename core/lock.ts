/**
 * A lock on an output folder (a models folder): one file holding the owner's
 * PID, host and start time, so two runs never write into the same folder at
 * once (their checkpoints, models and SG-MCMC sample files would mix). A lock
 * whose process is gone (killed, crashed) is taken over, with a note; the
 * lock is released when the run ends, on error, on Ctrl-C / SIGTERM and on
 * `Deno.exit`.
 *
 * @module
 */
import { join } from "node:path";
import { onSignalExit } from "./interrupt.ts";

/**
 * Name of the lock file inside a locked folder.
 *
 * @example
 * ```ts
 * import { LOCK_FILE } from "./lock.ts";
 * console.log(`models/map/${LOCK_FILE}`); // "models/map/.bayes-nn.lock"
 * ```
 */
export const LOCK_FILE: string = ".bayes-nn.lock";

/**
 * What a lock file records about its owner.
 *
 * @example
 * ```ts
 * import type { LockOwner } from "./lock.ts";
 * const describe = (o: LockOwner) => `process ${o.pid} on ${o.host} since ${o.started}`;
 * ```
 */
export interface LockOwner {
  /** Process id. */
  pid: number;
  /** Host name (a lock from another host cannot be checked). */
  host: string;
  /** ISO time the lock was taken. */
  started: string;
  /** Linux: the process start time in clock ticks (tells a reused PID apart). */
  startTicks?: number;
  /** The command that took it. */
  command: string;
}

/**
 * Raised when a folder is locked by a running process (or cannot be locked).
 *
 * @example
 * ```ts
 * import { acquireDirLock, LockError } from "./lock.ts";
 * try {
 *   (await acquireDirLock(await Deno.makeTempDir())).release();
 * } catch (e) {
 *   if (e instanceof LockError) console.error(e.message);
 * }
 * ```
 */
export class LockError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "LockError";
  }
}

function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown-host";
  }
}

/** Start time (clock ticks since boot) from a `/proc/<pid>/stat` line, and the state letter. */
function parseStat(text: string): { state: string; startTicks?: number } {
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const t = Number(fields[19]);
  return { state: fields[0], startTicks: Number.isFinite(t) ? t : undefined };
}

async function ownStartTicks(): Promise<number | undefined> {
  if (Deno.build.os !== "linux") return undefined;
  try {
    return parseStat(await Deno.readTextFile("/proc/self/stat")).startTicks;
  } catch {
    return undefined;
  }
}

/**
 * Whether process `pid` on this host is running: `true`, `false`, or
 * `undefined` when that cannot be told. On Linux a `startTicks` that differs
 * from the running process's start time means the PID was reused (the
 * recorded process is gone); zombies count as gone.
 *
 * @example
 * ```ts
 * import { processAlive } from "./lock.ts";
 * await processAlive(Deno.pid); // true
 * ```
 */
export async function processAlive(pid: number, startTicks?: number): Promise<boolean | undefined> {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === Deno.pid) return true;
  if (Deno.build.os === "linux") {
    try {
      const st = parseStat(await Deno.readTextFile(`/proc/${pid}/stat`));
      if (st.state === "Z" || st.state === "X") return false;
      if (startTicks !== undefined && st.startTicks !== undefined) {
        return st.startTicks === startTicks;
      }
      return true;
    } catch (e) {
      return e instanceof Deno.errors.NotFound ? false : undefined;
    }
  }
  try {
    const out = Deno.build.os === "windows"
      ? await new Deno.Command("tasklist", {
        args: ["/FI", `PID eq ${pid}`, "/NH"],
        stdout: "piped",
        stderr: "null",
      }).output()
      : await new Deno.Command("ps", { args: ["-p", String(pid)], stdout: "piped", stderr: "null" })
        .output();
    const text = new TextDecoder().decode(out.stdout);
    return new RegExp(`\\b${pid}\\b`).test(text);
  } catch {
    return undefined;
  }
}

async function readOwner(path: string): Promise<{ text: string; owner?: LockOwner } | null> {
  // A lock being written right now may be empty for a moment: look again.
  for (let attempt = 0;; attempt++) {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw new LockError(`cannot read the lock file ${path}: ${(e as Error).message}`);
    }
    try {
      const o = JSON.parse(text) as LockOwner;
      if (Number.isInteger(o.pid)) return { text, owner: o };
    } catch {
      // partial or foreign content
    }
    if (attempt >= 5) return { text }; // unreadable: treated as stale
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Removes the lock file at `path` only if it still holds `text` (a stale owner). */
async function removeIfUnchanged(path: string, text: string): Promise<void> {
  const aside = `${path}.stale-${Deno.pid}`;
  try {
    await Deno.rename(path, aside);
  } catch {
    return; // someone else removed it first
  }
  const moved = await Deno.readTextFile(aside).catch(() => "");
  if (moved !== text) {
    // A fresh lock was taken in between: put it back.
    await Deno.link(aside, path).catch(() => {});
  }
  await Deno.remove(aside).catch(() => {});
}

/**
 * A held lock. `release()` removes the lock file (only while it is still
 * ours); it runs by itself on `Deno.exit`, SIGINT, SIGTERM and SIGHUP.
 *
 * @example
 * ```ts
 * import { acquireDirLock } from "./lock.ts";
 * const lock = await acquireDirLock(await Deno.makeTempDir());
 * console.log(lock.owner.pid === Deno.pid); // true
 * lock.release();
 * ```
 */
export class DirLock {
  /** The lock file. */
  readonly path: string;
  /** The owner recorded (this process). */
  readonly owner: LockOwner;
  /** The stale owner whose lock was taken over, if any. */
  readonly tookOverFrom?: LockOwner;
  #released = false;
  #onUnload = () => this.release();
  #offSignal: () => void;

  /** Wraps a freshly written lock file (use {@linkcode acquireDirLock}). */
  constructor(path: string, owner: LockOwner, tookOverFrom?: LockOwner) {
    this.path = path;
    this.owner = owner;
    this.tookOverFrom = tookOverFrom;
    globalThis.addEventListener("unload", this.#onUnload);
    // A signal that ends the process removes the lock first (core/interrupt.ts).
    this.#offSignal = onSignalExit(this.#onUnload);
  }

  /**
   * Removes the lock file if it is still this process's; idempotent.
   *
   * @example
   * ```ts
   * import { acquireDirLock } from "./lock.ts";
   * const lock = await acquireDirLock(await Deno.makeTempDir());
   * lock.release();
   * ```
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    globalThis.removeEventListener("unload", this.#onUnload);
    this.#offSignal();
    try {
      const o = JSON.parse(Deno.readTextFileSync(this.path)) as LockOwner;
      if (o.pid === this.owner.pid && o.started === this.owner.started) Deno.removeSync(this.path);
    } catch {
      // gone already, or not ours any more
    }
  }
}

/**
 * Locks folder `dir` (created when missing) for this process. Throws
 * {@linkcode LockError} naming the folder and the owner's PID while another
 * running process holds it; a lock left by a process that no longer runs is
 * taken over and `log` says so. `what` names the folder in messages (e.g. a
 * flag: `--models_dir`).
 *
 * @example
 * ```ts
 * import { acquireDirLock } from "./lock.ts";
 * const dir = await Deno.makeTempDir();
 * const lock = await acquireDirLock(dir, { what: "--models_dir" });
 * try {
 *   // … write checkpoints into dir …
 * } finally {
 *   lock.release();
 * }
 * ```
 */
export async function acquireDirLock(
  dir: string,
  opts: { what?: string; log?: (line: string) => void } = {},
): Promise<DirLock> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const label = opts.what ? `${opts.what} ${dir}` : dir;
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const host = hostName();
  const mine: LockOwner = {
    pid: Deno.pid,
    host,
    started: new Date().toISOString(),
    startTicks: await ownStartTicks(),
    command: [Deno.mainModule.replace(/^file:\/\//, ""), ...Deno.args].join(" "),
  };
  let stale: LockOwner | undefined;
  for (let attempt = 0; attempt < 8; attempt++) {
    try {
      const f = await Deno.open(path, { createNew: true, write: true });
      try {
        await f.write(new TextEncoder().encode(JSON.stringify(mine) + "\n"));
      } finally {
        f.close();
      }
      if (stale) {
        log(
          `note: ${label}: took over the lock of process ${stale.pid} (started ${stale.started}), ` +
            "which is no longer running",
        );
      }
      return new DirLock(path, mine, stale);
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) {
        throw new LockError(
          `${label}: cannot create the lock file ${path}: ${(e as Error).message}`,
        );
      }
    }
    const found = await readOwner(path);
    if (found === null) continue; // released meanwhile: try again
    const o = found.owner;
    if (o) {
      if (o.pid === Deno.pid && o.host === host) {
        throw new LockError(`${label} is already locked by this process (${o.pid})`);
      }
      const alive = o.host === host ? await processAlive(o.pid, o.startTicks) : undefined;
      if (alive !== false) {
        const who = `process ${o.pid} on ${o.host} (since ${o.started}: ${o.command})`;
        throw new LockError(
          alive
            ? `${label} is in use by ${who}. Two runs writing one models folder mix or ` +
              "replace each other's checkpoints, models and samples: wait for it to finish, " +
              `or give this run another folder.`
            : `${label} is locked by ${who}, which cannot be checked from this host; ` +
              `if that process has ended, delete ${path}.`,
        );
      }
    }
    stale = o ?? { pid: 0, host: "?", started: "?", command: "unreadable lock file" };
    await removeIfUnchanged(path, found.text);
  }
  throw new LockError(`${label}: could not take the lock ${path} (it keeps changing hands)`);
}
