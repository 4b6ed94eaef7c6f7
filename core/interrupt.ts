/**
 * Ctrl-C (SIGINT), SIGTERM and SIGHUP for long runs, in one place. While a
 * run holds an {@linkcode interruptible} stop, the first signal aborts its
 * `AbortSignal` (training stops after the current step and writes its
 * checkpoint) and says so on stderr; a second signal, or the first when no
 * stop is held, runs the {@linkcode onSignalExit} clean-ups (lock files) and
 * exits at once with 128 + the signal's number. Listeners are installed
 * only while something is registered, so an idle process is not kept alive.
 *
 * @module
 */

const SIGNALS: readonly [Deno.Signal, number][] = [
  ["SIGINT", 130],
  ["SIGTERM", 143],
  ["SIGHUP", 129],
];

/**
 * The exit code of a run ended by `signal` (128 + its number; 130 if unknown).
 *
 * @example
 * ```ts
 * import { signalExitCode } from "./interrupt.ts";
 * console.log(signalExitCode("SIGTERM")); // 143
 * ```
 */
export function signalExitCode(signal: string): number {
  return SIGNALS.find(([s]) => s === signal)?.[1] ?? 130;
}

const cleanups = new Set<() => void>();
const stops = new Set<AbortController>();
let installed: [Deno.Signal, () => void][] = [];

function handle(sig: Deno.Signal, code: number): void {
  const live = [...stops].filter((c) => !c.signal.aborted);
  if (live.length > 0) {
    console.error(
      `\n${sig}: stopping after the current step and saving the checkpoint ` +
        `(${sig === "SIGINT" ? "Ctrl-C" : sig} again to quit at once)`,
    );
    for (const c of live) c.abort(sig);
    return;
  }
  for (const f of [...cleanups]) {
    try {
      f();
    } catch {
      // exiting anyway
    }
  }
  Deno.exit(code);
}

function sync(): void {
  const want = cleanups.size + stops.size > 0 && Deno.build.os !== "windows";
  if (want && installed.length === 0) {
    for (const [sig, code] of SIGNALS) {
      const h = () => handle(sig, code);
      try {
        Deno.addSignalListener(sig, h);
        installed.push([sig, h]);
      } catch {
        // signal not available here
      }
    }
  } else if (!want && installed.length > 0) {
    for (const [sig, h] of installed) {
      try {
        Deno.removeSignalListener(sig, h);
      } catch {
        // ignore
      }
    }
    installed = [];
  }
}

/**
 * Runs `cleanup` if a signal ends the process (before it exits); returns a
 * function that unregisters it.
 *
 * @example
 * ```ts
 * import { onSignalExit } from "./interrupt.ts";
 * const off = onSignalExit(() => console.error("removing the lock file"));
 * off(); // the work finished: nothing to clean up any more
 * ```
 */
export function onSignalExit(cleanup: () => void): () => void {
  cleanups.add(cleanup);
  sync();
  return () => {
    cleanups.delete(cleanup);
    sync();
  };
}

/** A stop requested by a signal: see {@linkcode interruptible}. */
export interface Interruptible {
  /** Aborted (reason: the signal's name, e.g. `"SIGINT"`) by the first signal. */
  readonly signal: AbortSignal;
  /** Stops listening: later signals exit at once again. */
  dispose(): void;
}

/**
 * A stop for a long run: until `dispose()`, the first SIGINT / SIGTERM /
 * SIGHUP aborts `signal` instead of exiting, so the run can stop after its
 * current step and save a checkpoint; a second signal exits at once.
 *
 * @example
 * ```ts
 * import { interruptible } from "./interrupt.ts";
 * const stop = interruptible();
 * try {
 *   // await fit(method, data, { ..., checkpointDir, signal: stop.signal });
 * } finally {
 *   stop.dispose();
 * }
 * console.log(stop.signal.aborted); // false: no signal came
 * ```
 */
export function interruptible(): Interruptible {
  const c = new AbortController();
  stops.add(c);
  sync();
  return {
    signal: c.signal,
    dispose() {
      stops.delete(c);
      sync();
    },
  };
}
