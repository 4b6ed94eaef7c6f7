/**
 * A worker process of the UCI study's `--jobs` (started by `uci_pool.ts`):
 * reads one {@linkcode UciJobSpec} per line on stdin, runs the row, and
 * answers one line on stdout, `@@uci-row {"row": …}` or
 * `@@uci-row {"error": "…"}`; exits at the end of its input. The backend is
 * `BNN_BACKEND` (else auto) with `BNN_THREADS` threads.
 *
 *     echo '<spec JSON>' | deno run -A experiments/lib/uci_worker.ts
 *
 * @module
 */
import { initBackend } from "../../core/backend.ts";
import type { UciTable } from "../../datasets/uci.ts";
import { runUciJob } from "./uci_job.ts";
import { encodeReply, readLines, resolveJob, ROW_MARK, type UciJobSpec } from "./uci_pool.ts";

/**
 * Serves the specs read from `input` until it ends, writing one answer line
 * per spec with `write`. A job that throws is answered with its error's
 * message; the worker goes on with the next.
 *
 * @example
 * ```ts
 * import { serveJobs } from "./uci_worker.ts";
 * await serveJobs(new Blob([""]).stream(), (line) => console.log(line)); // no input: returns
 * ```
 */
export async function serveJobs(
  input: ReadableStream<Uint8Array>,
  write: (line: string) => void | Promise<void>,
): Promise<void> {
  const tables = new Map<string, UciTable>();
  for await (const line of readLines(input)) {
    if (!line.trim()) continue;
    let answer: unknown;
    try {
      let spec: UciJobSpec;
      try {
        spec = JSON.parse(line) as UciJobSpec;
      } catch (e) {
        throw new SyntaxError(
          `uci_worker: an input line is not a job spec (one JSON object per line): ` +
            `${(e as Error).message}`,
        );
      }
      answer = { row: await runUciJob(await resolveJob(spec, tables)) };
    } catch (e) {
      answer = { error: (e as Error).message ?? String(e) };
    }
    await write(ROW_MARK + encodeReply(answer));
  }
}

if (import.meta.main) {
  await initBackend({ backend: Deno.env.get("BNN_BACKEND") ?? "auto", quiet: true });
  const enc = new TextEncoder();
  await serveJobs(Deno.stdin.readable, async (line) => {
    const bytes = enc.encode(line + "\n");
    for (let off = 0; off < bytes.length;) off += await Deno.stdout.write(bytes.subarray(off));
  });
  // The engine's worker threads are unref'd; tfjs keeps nothing alive, but be explicit.
  Deno.exit(0);
}
