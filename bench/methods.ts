/**
 * `deno task bench`: speed and memory of every registered method on the
 * reference MNIST network (784-1200-1200-10), each measured in its own
 * process — ms per training step at batch 100 and 128 (a timed block of
 * steps after warm-up, ended by an awaited read, so asynchronous GPU work is
 * counted), the implied epoch time, prediction throughput with 100 posterior
 * samples, peak resident memory — and, on wasm, the same step on the stock
 * tfjs wasm kernels (`BNN_BLAS=off`) and the BLAS matmul ceiling, all in the
 * same run. On wasm, `--threads 1,2` (default: 1 and the machine's cores)
 * repeats the b100 step and the prediction with each `BNN_THREADS` value —
 * the main columns use the largest — and adds a column per thread count
 * and the speed-up of the most threads over the fewest.
 * `--backend webgpu` times the WebGPU engine and adds the
 * dispatches per step (what predicts speed on a real GPU). A method that
 * fails is reported with a one-line reason and the run goes on.
 * `--accuracy` also trains each method on full MNIST with its registry
 * budget and reports test error and log-likelihood next to the reference
 * table. Prints markdown; writes `bench/results/methods-<date>.json`.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { BACKEND_NAMES } from "../core/backend.ts";
import { loadBlas } from "../core/blas.ts";
import { CliError, parseFlags, runMain } from "../core/cli.ts";
import { METHODS, selectMethods } from "../methods/registry.ts";
import { machineInfo, median, writeResult } from "./util.ts";

/** Reference table (the original project's README): test log-likelihood (sum over 10k) and error %. */
export const REFERENCE: Record<string, { logLik: number; errorPct: number }> = {
  map: { logLik: -572.9, errorPct: 1.58 },
  ensemble: { logLik: -496.54, errorPct: 1.53 },
  bbb_gaussian: { logLik: -1100.29, errorPct: 2.60 },
  bbb_gmm: { logLik: -1008.28, errorPct: 2.38 },
  bbb_laplace: { logLik: -892.85, errorPct: 2.28 },
  bbb_local: { logLik: -1086.43, errorPct: 2.61 },
  mc_dropout: { logLik: -435.458, errorPct: 1.37 },
  sgld: { logLik: -828.29, errorPct: 1.76 },
  psgld: { logLik: -661.25, errorPct: 1.76 },
};

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/** What a child run printed: its JSON line, or `{ error }` with a one-line reason. */
// deno-lint-ignore no-explicit-any
export type ChildResult = Record<string, any> & { error?: string };

async function child(
  script: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<ChildResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", here(script), ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  const lastLine = (b: Uint8Array) =>
    dec.decode(b).trim().split("\n").filter((l) => l.trim() && !/XDG_RUNTIME_DIR/.test(l))
      .at(-1) ?? "";
  if (out.code !== 0) {
    return { error: lastLine(out.stderr).replace(/^error: /, "") || `exit code ${out.code}` };
  }
  try {
    return JSON.parse(lastLine(out.stdout));
  } catch {
    return { error: `no result line (last output: ${lastLine(out.stdout).slice(0, 120)})` };
  }
}

/** A table column: header and how a row shows in it. */
interface Column {
  header: string;
  /** Right-aligned numbers. */
  numeric?: boolean;
  cell(r: Row): string;
}

/** One measured method: the main run and (wasm) the stock-kernel run. */
export interface Row {
  key: string;
  label: string;
  fast: ChildResult;
  stock?: ChildResult;
  /** wasm: the b100 step and prediction per `BNN_THREADS` value (the largest is `fast`). */
  threads?: Record<string, ChildResult>;
}

const fmt = (v: number | undefined, d = 1) =>
  v === undefined || v === null || !Number.isFinite(v) ? "—" : v.toFixed(d);

/** The table's columns for a backend and the thread counts measured (wasm). */
function columns(webgpu: boolean, threads: number[] = []): Column[] {
  const cols: Column[] = [
    { header: "method", cell: (r) => r.label },
    { header: "ms/step b100", numeric: true, cell: (r) => fmt(r.fast.stepMs?.["100"]) },
    { header: "ms/step b128", numeric: true, cell: (r) => fmt(r.fast.stepMs?.["128"]) },
    {
      header: "epoch est. (s, b128)",
      numeric: true,
      cell: (r) => {
        const s = r.fast.stepMs?.["128"];
        return fmt(s ? (s * 469) / 1000 : undefined, 0);
      },
    },
  ];
  if (webgpu) {
    cols.push(
      {
        header: "dispatches/step b100",
        numeric: true,
        cell: (r) => fmt(r.fast.dispatchesPerStep?.["100"], 0),
      },
      {
        header: "host ms/step b100",
        numeric: true,
        cell: (r) => fmt(r.fast.hostMs?.["100"]),
      },
    );
  } else {
    cols.push(
      {
        header: "stock wasm ms/step b100",
        numeric: true,
        cell: (r) => fmt(r.stock?.stepMs?.["100"]),
      },
      {
        header: "speed-up",
        numeric: true,
        cell: (r) => {
          const st = r.stock?.stepMs?.["100"], s100 = r.fast.stepMs?.["100"];
          return st && s100 ? (st / s100).toFixed(1) + "×" : "—";
        },
      },
    );
  }
  if (threads.length > 1) {
    const lo = String(threads[0]), hi = String(threads.at(-1));
    for (const t of threads) {
      cols.push({
        header: `${t} thr ms/step b100`,
        numeric: true,
        cell: (r) => fmt(r.threads?.[String(t)]?.stepMs?.["100"]),
      });
    }
    cols.push({
      header: `${hi} vs ${lo} thr`,
      numeric: true,
      cell: (r) => {
        const a = r.threads?.[lo]?.stepMs?.["100"], b = r.threads?.[hi]?.stepMs?.["100"];
        return a && b ? (a / b).toFixed(2) + "×" : "—";
      },
    });
    cols.push({
      header: `${lo} thr predict ex/s`,
      numeric: true,
      cell: (r) => fmt(r.threads?.[lo]?.predict?.examplesPerSec, 0),
    });
  }
  cols.push(
    {
      header: "predict ex/s",
      numeric: true,
      cell: (r) => fmt(r.fast.predict?.examplesPerSec, 0),
    },
    { header: "samples", numeric: true, cell: (r) => String(r.fast.predict?.samples ?? "—") },
  );
  if (webgpu) {
    cols.push({
      header: "predict dispatches",
      numeric: true,
      cell: (r) => fmt(r.fast.predict?.dispatches, 0),
    });
  }
  cols.push({ header: "peak RSS (MiB)", numeric: true, cell: (r) => fmt(r.fast.peakRssMiB, 0) });
  return cols;
}

/**
 * The markdown table; a method whose run failed gets a row with its
 * one-line reason. WebGPU tables show dispatches instead of the stock
 * wasm comparison.
 *
 * @example
 * ```ts
 * import { table } from "./methods.ts";
 * table([{ key: "sgld", label: "SGLD", fast: { error: "not ported" } }], true);
 * table([], false, [1, 2]); // with "1 thr ms/step b100", "2 thr …" and "2 vs 1 thr" columns
 * // header, separator, "| SGLD | skipped: not ported |"
 * ```
 */
export function table(rows: Row[], webgpu: boolean, threads: number[] = []): string {
  const cols = columns(webgpu, threads);
  const lines = [
    `| ${cols.map((c) => c.header).join(" | ")} |`,
    `|${cols.map((c) => (c.numeric ? "---:" : "---")).join("|")}|`,
  ];
  for (const r of rows) {
    if (r.fast.error) {
      lines.push(`| ${r.label} | skipped: ${r.fast.error.replaceAll("|", "\\|")} |`);
      continue;
    }
    const predictError = r.fast.predict?.error ? ` predict error: ${r.fast.predict.error}` : "";
    lines.push(`| ${cols.map((c) => c.cell(r)).join(" | ")} |${predictError}`);
  }
  return lines.join("\n");
}

/** One `method_step.ts` run of method `key` (its own process) with `env`. */
function step(
  key: string,
  o: {
    backend?: string;
    batches?: string;
    steps: unknown;
    warmup: unknown;
    predict: unknown;
    predictWarmup?: unknown;
  },
  env: Record<string, string>,
): Promise<ChildResult> {
  return child("./method_step.ts", [
    "--method",
    key,
    ...(o.backend ? ["--backend", o.backend] : []),
    ...(o.batches ? ["--batches", o.batches] : []),
    "--steps",
    String(o.steps),
    "--warmup",
    String(o.warmup),
    "--predict_examples",
    String(o.predict),
    ...(o.predictWarmup === undefined ? [] : ["--predict_warmup", String(o.predictWarmup)]),
  ], env);
}

/** `--threads` as sorted distinct counts (default: 1 and the machine's cores). */
function threadList(flag: string | undefined): number[] {
  const cores = navigator.hardwareConcurrency || 1;
  if (flag === undefined) return cores > 1 ? [1, cores] : [1];
  const ts = flag.split(",").map((v) => Number(v.trim()));
  const bad = ts.find((t) => !Number.isInteger(t) || t < 1);
  if (bad !== undefined || ts.length === 0) {
    throw new CliError(`--threads: expected a comma list of positive integers, found "${flag}"`);
  }
  return [...new Set(ts)].sort((a, b) => a - b);
}

function gemmCeiling(): Record<string, number> | null {
  const { blas } = loadBlas();
  if (!blas) return null;
  const res: Record<string, number> = {};
  for (const [m, n, k] of [[100, 1200, 1200], [2048, 2048, 2048]]) {
    const a = new Float32Array(m * k).fill(0.5), b = new Float32Array(k * n).fill(0.25);
    const c = new Float32Array(m * n);
    const times: number[] = [];
    for (let i = 0; i < 8; i++) {
      const t0 = performance.now();
      blas.sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n);
      times.push(performance.now() - t0);
    }
    res[`${m}x${k}·${k}x${n}`] = (2 * m * n * k) / median(times.slice(2)) / 1e6;
  }
  return res;
}

if (import.meta.main) {
  await runMain(async () => {
    const f = parseFlags(Deno.args, {
      methods: {
        type: "string",
        default: "all",
        help: `comma list of ${Object.keys(METHODS).join(", ")}`,
      },
      backend: {
        type: "string",
        default: "wasm",
        choices: BACKEND_NAMES.filter((b) => b !== "auto"),
        help: "backend the methods run on (webgpu: adds dispatches per step)",
      },
      steps: { type: "int", default: 10, min: 1, help: "timed steps per batch size" },
      warmup: { type: "int", default: 3, min: 0, help: "untimed steps before each timed block" },
      stock_steps: {
        type: "int",
        default: 3,
        min: 1,
        help: "timed steps on the stock wasm kernels (wasm only)",
      },
      predict_examples: {
        type: "int",
        default: 1000,
        min: 0,
        help: "test examples for the prediction timing",
      },
      predict_warmup: {
        type: "boolean",
        help: "predict once untimed before the timed call (default: on with webgpu)",
      },
      threads: {
        type: "string",
        help: "wasm: comma list of BNN_THREADS values to time (default: 1 and the machine's cores)",
      },
      accuracy: {
        type: "boolean",
        default: false,
        help: "also train every method on full MNIST (hours)",
      },
    }, { name: "bench/methods.ts", description: "Speed, memory (and accuracy) of every method." });
    if (!f) return;
    const entries = selectMethods(String(f.methods));
    const backend = String(f.backend);
    const wasm = backend === "wasm";
    const threads = wasm ? threadList(f.threads as string | undefined) : [];
    const t0 = performance.now();
    const ceiling = wasm ? gemmCeiling() : null;
    const rows: Row[] = [];
    const most: Record<string, string> = threads.length
      ? { BNN_THREADS: String(threads.at(-1)) }
      : {};
    for (const e of entries) {
      console.error(`${e.label}: ${backend}${wasm ? " + BLAS" : ""}…`);
      const fast = await step(e.key, {
        backend,
        steps: f.steps,
        warmup: f.warmup,
        predict: f.predict_examples,
        predictWarmup: f.predict_warmup,
      }, most);
      if (fast.error) {
        console.error(`${e.label}: skipped: ${fast.error}`);
        rows.push({ key: e.key, label: e.label, fast });
        continue;
      }
      let stock: ChildResult | undefined;
      if (wasm) {
        console.error(`${e.label}: stock wasm…`);
        stock = await step(e.key, {
          batches: "100",
          steps: f.stock_steps,
          warmup: 1,
          predict: 0,
        }, { BNN_BLAS: "off", ...most });
      }
      let byThreads: Record<string, ChildResult> | undefined;
      if (threads.length > 1) {
        byThreads = { [String(threads.at(-1))]: fast };
        for (const t of threads.slice(0, -1)) {
          console.error(`${e.label}: ${t} thread${t > 1 ? "s" : ""}…`);
          byThreads[String(t)] = await step(e.key, {
            batches: "100",
            steps: f.steps,
            warmup: f.warmup,
            predict: f.predict_examples,
          }, { BNN_THREADS: String(t) });
        }
      }
      rows.push({ key: e.key, label: e.label, fast, stock, threads: byThreads });
    }
    const backendLine = rows.find((r) => !r.fast.error)?.fast.backend as string | undefined;
    if (backendLine) console.log(backendLine + "\n");
    console.log(table(rows, backend === "webgpu", threads));
    if (ceiling) {
      console.log(
        "\nBLAS sgemm ceiling (one call, OpenBLAS on 1 thread): " +
          Object.entries(ceiling).map(([k, v]) => `${k} ${v.toFixed(0)} GFLOP/s`).join(", "),
      );
    }
    let accuracy: Record<string, unknown>[] | undefined;
    if (f.accuracy) {
      accuracy = [];
      const acc = [
        "| method | epochs | test error % | reference | test log-lik (sum) | reference |",
        "|---|---:|---:|---:|---:|---:|",
      ];
      for (const e of entries) {
        console.error(`${e.label}: training on full MNIST (${e.full.epochs} epochs)…`);
        const r = await child("./method_accuracy.ts", ["--method", e.key, "--backend", backend]);
        accuracy.push({ key: e.key, ...r });
        const ref = REFERENCE[e.key];
        acc.push(
          `| ${e.label} | ${r.epochs ?? "—"} | ${r.errorPct?.toFixed(2) ?? r.error} | ${
            ref?.errorPct ?? "—"
          } | ${r.logLikSum?.toFixed(1) ?? "—"} | ${ref?.logLik ?? "—"} |`,
        );
      }
      console.log("\n" + acc.join("\n"));
    }
    const seconds = (performance.now() - t0) / 1000;
    console.log(`\n(${seconds.toFixed(0)} s)`);
    const path = await writeResult("methods", {
      machine: await machineInfo(backendLine ?? `backend: ${backend}`),
      settings: {
        backend,
        steps: f.steps,
        warmup: f.warmup,
        predictExamples: f.predict_examples,
        threads,
        timing: "ms/step = elapsed / steps over a block ended by an awaited read",
      },
      blasCeilingGflops: ceiling,
      methods: rows,
      accuracy,
      seconds,
    });
    console.log(`saved ${path}`);
  });
}
