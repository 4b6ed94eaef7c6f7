/**
 * Runs the UCI study's rows, in this process or in parallel child
 * processes. A row's fits are small (a 50-unit network, batch 128: a step is
 * about 2 ms, most of it per-op overhead that more threads cannot shorten),
 * so the way to use every core is several rows at once, one process each:
 * `--jobs N` starts N workers (`uci_worker.ts`), each with
 * `⌊cores / N⌋` threads (at least 1; `BNN_THREADS` when set), and hands them
 * the rows one at a time. The engine is deterministic for any thread count,
 * so a row's numbers do not depend on `--jobs`.
 *
 * A job is plain JSON ({@linkcode UciJobSpec}): the worker loads the data set
 * itself (the standard split files, or the cross-validation fold's row
 * indices given in the spec) and looks the method up in the registry.
 * Rows come back in the order they finish; `onRow` is called for one at a
 * time (the study saves its files there). A worker that fails (a job throws,
 * or the process dies) stops the run after the other workers' current rows
 * are delivered, with an error naming the row.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import type { NetSpec } from "../../core/method.ts";
import {
  loadUci,
  loadUciTable,
  splitUci,
  type UciName,
  type UciTable,
} from "../../datasets/uci.ts";
import { METHODS } from "../../methods/registry.ts";
import type { RegressionBudget } from "./regression_study_train.ts";
import type { GridSize, UciCandidate } from "./uci_grid.ts";
import { runUciJob, type UciJob, type UciRow } from "./uci_job.ts";

/**
 * One row as plain JSON: what {@linkcode resolveJob} turns into a
 * {@linkcode UciJob}.
 *
 * @example
 * ```ts
 * import type { UciJobSpec } from "./uci_pool.ts";
 * const s: UciJobSpec = {
 *   protocol: "splits", fold: 0, dataset: "yacht", split: 0, key: "map",
 *   spec: { inputDim: 6, hidden: [50], outputDim: 1, task: "regression", noise: "heteroscedastic" },
 *   budget: { epochs: 40, batchSize: 128, settings: {}, fromRegistry: true },
 *   samples: 1, seed: 0, maxRestarts: 3, config: "0000abcd", what: "splits yacht split 1/20 MAP",
 * };
 * ```
 */
export interface UciJobSpec {
  /** `cv` or `splits`. */
  protocol: string;
  /** Fold or split index (the row's `fold`). */
  fold: number;
  /** The data set. */
  dataset: UciName;
  /** Data folder (`--data_dir`), else the default. */
  dataDir?: string;
  /** The standard split's index, or a fold's training and test row indices. */
  split: number | { train: number[]; test: number[] };
  /** Registry key of the method. */
  key: string;
  /** The regression network. */
  spec: NetSpec;
  /** This set's epochs, batch size and settings. */
  budget: RegressionBudget;
  /** Posterior samples per prediction. */
  samples: number;
  /** The grid to tune over (absent: no tuning). */
  grid?: { size: GridSize; candidates: UciCandidate[] };
  /** Seed of the inner split and the fits. */
  seed: number;
  /** Retries after a divergence. */
  maxRestarts: number;
  /** Networks of the final fit, pooled (default 1). */
  members?: number;
  /** Hash of the settings (for resuming). */
  config: string;
  /** Names the row in progress and error lines. */
  what: string;
}

/**
 * Turns a spec into a runnable job: loads the table (cached in `tables`) and
 * the outer split, looks up the method. An unknown method key is an error
 * naming it.
 *
 * @example
 * ```ts
 * import { resolveJob } from "./uci_pool.ts";
 * // const job = await resolveJob(spec, new Map()); const row = await runUciJob(job);
 * ```
 */
export async function resolveJob(
  s: UciJobSpec,
  tables: Map<string, UciTable>,
): Promise<UciJob> {
  const entry = METHODS[s.key];
  if (!entry) throw new RangeError(`${s.what}: unknown method key "${s.key}"`);
  let table = tables.get(s.dataset);
  if (!table) {
    table = await loadUciTable(s.dataset, { dataDir: s.dataDir });
    tables.set(s.dataset, table);
  }
  const outer = typeof s.split === "number"
    ? await loadUci(s.dataset, { split: s.split, dataDir: s.dataDir })
    : splitUci(table, s.split.train, s.split.test);
  return {
    protocol: s.protocol,
    fold: s.fold,
    table,
    outer,
    base: { entry, spec: s.spec, budget: s.budget, samples: s.samples },
    grid: s.grid,
    seed: s.seed,
    maxRestarts: s.maxRestarts,
    members: s.members,
    config: s.config,
    what: s.what,
  };
}

/**
 * Options of {@linkcode runUciJobs}.
 *
 * @example
 * ```ts
 * import type { PoolOptions } from "./uci_pool.ts";
 * const o: PoolOptions = { jobs: 2, onRow: (row) => console.log(row.test_log_lik) };
 * ```
 */
export interface PoolOptions {
  /** Rows run at once (1: in this process, no workers). */
  jobs: number;
  /** Called with each finished row, one at a time (awaited). */
  onRow: (row: UciRow, spec: UciJobSpec) => void | Promise<void>;
  /** Threads per worker (default `BNN_THREADS`, else ⌊cores / jobs⌋, at least 1). */
  threads?: number;
  /** The tfjs backend the workers start (default `BNN_BACKEND`, else auto). */
  backend?: string;
}

/** Marks a worker's result lines on its stdout (other output is passed to stderr). */
export const ROW_MARK = "@@uci-row ";

/**
 * Runs every spec and calls `onRow` with each row as it finishes: in this
 * process when `jobs` is 1 (or there is one spec), else in
 * `min(jobs, specs)` worker processes.
 *
 * @example
 * ```ts
 * import { runUciJobs } from "./uci_pool.ts";
 * await runUciJobs([], { jobs: 2, onRow: () => {} }); // nothing to do
 * ```
 */
export async function runUciJobs(
  specs: readonly UciJobSpec[],
  opts: PoolOptions,
): Promise<void> {
  if (!Number.isInteger(opts.jobs) || opts.jobs < 1) {
    throw new RangeError(`--jobs: expected a positive integer, found ${opts.jobs}`);
  }
  if (specs.length === 0) return;
  if (opts.jobs === 1 || specs.length === 1) {
    const tables = new Map<string, UciTable>();
    for (const s of specs) await opts.onRow(await runUciJob(await resolveJob(s, tables)), s);
    return;
  }
  const n = Math.min(opts.jobs, specs.length);
  const envThreads = Deno.env.get("BNN_THREADS");
  const threads = opts.threads ??
    (envThreads ? Number(envThreads) : Math.max(1, Math.floor(navigator.hardwareConcurrency / n)));
  const queue = [...specs];
  let delivered = Promise.resolve();
  let failure: Error | undefined;
  const deliver = (row: UciRow, s: UciJobSpec) => {
    delivered = delivered.then(() => opts.onRow(row, s));
    return delivered;
  };
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        runWorker(queue, { threads, backend: opts.backend }, deliver, () => failure !== undefined)
          .catch((e) => {
            failure ??= e as Error;
          }),
    ),
  );
  await delivered;
  if (failure) throw failure;
}

/** One worker: takes specs from `queue` until it is empty or `stop()`. */
async function runWorker(
  queue: UciJobSpec[],
  env: { threads: number; backend?: string },
  deliver: (row: UciRow, s: UciJobSpec) => Promise<void>,
  stop: () => boolean,
): Promise<void> {
  const workerPath = fileURLToPath(new URL("./uci_worker.ts", import.meta.url));
  const backend = env.backend ?? Deno.env.get("BNN_BACKEND");
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", workerPath],
    env: { BNN_THREADS: String(env.threads), ...(backend ? { BNN_BACKEND: backend } : {}) },
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const lines = readLines(child.stdout);
  const enc = new TextEncoder();
  let current: UciJobSpec | undefined;
  try {
    while (!stop()) {
      current = queue.shift();
      if (!current) break;
      await writer.write(enc.encode(JSON.stringify(current) + "\n"));
      const reply = await nextReply(lines);
      if (reply === undefined) {
        const status = await child.status;
        throw new Error(
          `${current.what}: the worker process exited (code ${status.code}) before ` +
            "finishing this row; rows finished so far are saved, rerun to resume",
        );
      }
      if ("error" in reply) throw new Error(`${current.what}: ${reply.error}`);
      await deliver(reply.row, current);
      current = undefined;
    }
  } finally {
    await writer.close().catch(() => {});
    // Drain what is left (the worker exits at the end of its input).
    for await (const line of lines) if (line) console.error(line);
    await child.status;
  }
}

type Reply = { row: UciRow } | { error: string };

/** The next result line of a worker (other stdout lines go to stderr); undefined at its end. */
async function nextReply(lines: AsyncIterator<string>): Promise<Reply | undefined> {
  for (;;) {
    const { value, done } = await lines.next();
    if (done) return undefined;
    if (value.startsWith(ROW_MARK)) return decodeReply(value.slice(ROW_MARK.length)) as Reply;
    if (value) console.error(value);
  }
}

/**
 * A worker's answer as JSON text, keeping the rows' `NaN` and `±Infinity`
 * (plain JSON would turn them into `null`, and the study's files would differ
 * from a run without `--jobs`).
 *
 * @example
 * ```ts
 * import { decodeReply, encodeReply } from "./uci_pool.ts";
 * decodeReply(encodeReply({ row: { valid_log_lik: NaN } })); // { row: { valid_log_lik: NaN } }
 * ```
 */
export function encodeReply(answer: unknown): string {
  return JSON.stringify(
    answer,
    (_k, v) => typeof v === "number" && !Number.isFinite(v) ? { $number: String(v) } : v,
  );
}

/**
 * Reads {@linkcode encodeReply}'s text back.
 *
 * @example
 * ```ts
 * import { decodeReply } from "./uci_pool.ts";
 * decodeReply('{"x":{"$number":"NaN"}}'); // { x: NaN }
 * ```
 */
export function decodeReply(text: string): unknown {
  return JSON.parse(
    text,
    (_k, v) =>
      v !== null && typeof v === "object" && typeof v.$number === "string" &&
        Object.keys(v).length === 1
        ? Number(v.$number)
        : v,
  );
}

/**
 * The lines of a byte stream (without their `\n`).
 *
 * @example
 * ```ts
 * import { readLines } from "./uci_pool.ts";
 * const s = new Blob(["a\nb"]).stream();
 * const out: string[] = [];
 * for await (const l of readLines(s)) out.push(l); // ["a", "b"]
 * ```
 */
export async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  // Written here: node:readline over a web stream needs an adapter, and jsr:@std/streams is
  // not reachable from this project's machines.
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    let i: number;
    while ((i = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, i);
      rest = rest.slice(i + 1);
    }
  }
  if (rest) yield rest;
}
