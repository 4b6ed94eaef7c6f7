/**
 * `deno task bench`: speed and memory of every registered method on the
 * reference MNIST network (784-1200-1200-10), each measured in its own
 * process — ms per training step at batch 100 and 128 (median after
 * warm-up), the implied epoch time, prediction throughput with 100 posterior
 * samples, peak resident memory — next to the same step on the stock tfjs
 * wasm kernels (`BNN_BLAS=off`) and the BLAS matmul ceiling, all in the same
 * run. `--accuracy` also trains each method on full MNIST with its registry
 * budget and reports test error and log-likelihood next to the reference
 * table. Prints markdown; writes `bench/results/methods-<date>.json`.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { loadBlas } from "../core/blas.ts";
import { parseFlags, runMain } from "../core/cli.ts";
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

async function child(script: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", here(script), ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  if (out.code !== 0) {
    return {
      error: new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? `exit ${out.code}`,
    };
  }
  return JSON.parse(text);
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
      steps: { type: "int", default: 10, min: 1, help: "timed steps per batch size" },
      stock_steps: {
        type: "int",
        default: 3,
        min: 1,
        help: "timed steps on the stock wasm kernels",
      },
      predict_examples: {
        type: "int",
        default: 1000,
        min: 0,
        help: "test examples for the prediction timing",
      },
      accuracy: {
        type: "boolean",
        default: false,
        help: "also train every method on full MNIST (hours)",
      },
    }, { name: "bench/methods.ts", description: "Speed, memory (and accuracy) of every method." });
    if (!f) return;
    const entries = selectMethods(String(f.methods));
    const t0 = performance.now();
    const ceiling = gemmCeiling();
    const rows: Record<string, unknown>[] = [];
    for (const e of entries) {
      console.error(`${e.label}: BLAS…`);
      const fast = await child("./method_step.ts", [
        "--method",
        e.key,
        "--steps",
        String(f.steps),
        "--predict_examples",
        String(f.predict_examples),
      ]);
      console.error(`${e.label}: stock wasm…`);
      const stock = await child("./method_step.ts", [
        "--method",
        e.key,
        "--batches",
        "100",
        "--steps",
        String(f.stock_steps),
        "--warmup",
        "1",
        "--predict_examples",
        "0",
      ], { BNN_BLAS: "off" });
      rows.push({ key: e.key, label: e.label, fast, stock });
    }
    const table = [
      "| method | ms/step b100 | ms/step b128 | epoch est. (s, b128) | stock wasm ms/step b100 | speed-up | predict ex/s | samples | peak RSS (MiB) |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ];
    for (const r of rows) {
      // deno-lint-ignore no-explicit-any
      const fast = r.fast as any, stock = r.stock as any;
      const s100 = fast.stepMs?.["100"], s128 = fast.stepMs?.["128"], st = stock.stepMs?.["100"];
      const fmt = (
        v: number | undefined,
        d = 1,
      ) => (v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(d));
      table.push(
        `| ${r.label} | ${fmt(s100)} | ${fmt(s128)} | ${
          fmt(s128 ? (s128 * 469) / 1000 : undefined, 0)
        } | ${fmt(st)} | ${st && s100 ? (st / s100).toFixed(1) + "×" : "—"} | ${
          fmt(fast.predict?.examplesPerSec, 0)
        } | ${fast.predict?.samples ?? "—"} | ${fmt(fast.peakRssMiB, 0)} |` +
          (fast.error ? ` error: ${fast.error}` : ""),
      );
    }
    console.log(table.join("\n"));
    if (ceiling) {
      console.log(
        "\nBLAS sgemm ceiling: " +
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
        const r = await child("./method_accuracy.ts", ["--method", e.key]);
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
      machine: await machineInfo(
        (rows[0]?.fast as { backend?: string } | undefined)?.backend ?? "wasm",
      ),
      blasCeilingGflops: ceiling,
      methods: rows,
      accuracy,
      seconds,
    });
    console.log(`saved ${path}`);
  });
}
