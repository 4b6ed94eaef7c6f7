/**
 * Bootstrap ensemble training: seconds per epoch in this thread through
 * `fit` (OpenBLAS with every core) against `trainEnsembleParallel` with
 * several workers (cores/workers BLAS threads each), on MNIST rows with the
 * reference 784-1200-1200-10 network. With `--backend webgpu` only the
 * in-thread path runs (workers are CPU only).
 *
 *     deno run -A bench/ensemble.ts [--limit 6000] [--n_nets 2] [--epochs 2] [--backend wasm]
 *
 * Needs MNIST (`BNN_DATA_DIR` or the user cache). Prints a markdown table
 * and writes `bench/results/ensemble-<date>.json`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { initBackend } from "../core/backend.ts";
import { getEngine } from "../core/engine/current.ts";
import { fit } from "../core/train.ts";
import { loadMnist } from "../datasets/mnist.ts";
import { buildEnsemble } from "../methods/ensemble.ts";
import { trainEnsembleParallel } from "../methods/ensemble_parallel.ts";
import { machineInfo, median, writeResult } from "./util.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    limit: { type: "string", default: "6000" },
    n_nets: { type: "string", default: "2" },
    epochs: { type: "string", default: "2" },
    workers: { type: "string", default: "2" },
    backend: { type: "string", default: "wasm" },
  },
});
const limit = Number(args.values.limit), nNets = Number(args.values.n_nets);
const epochs = Number(args.values.epochs), workers = Number(args.values.workers);
const info = await initBackend({ backend: args.values.backend, quiet: true });
const cpu = getEngine().kind === "cpu";
const train = await loadMnist("mnist", "train", { limit });
const spec = {
  inputDim: 784,
  hidden: [1200, 1200],
  outputDim: 10,
  task: "classification" as const,
};
const fitOpts = { epochs, batchSize: 128, seed: 0, progress: false };

interface Row {
  path: string;
  workers: number;
  blasThreadsEach: number;
  wallSeconds: number;
  epochSeconds: number[];
  medianEpochSeconds: number;
}
const rows: Row[] = [];
const cores = navigator.hardwareConcurrency || 1;

{
  const m = buildEnsemble(spec, { nNets });
  const t0 = performance.now();
  const { history } = await fit(m, train, fitOpts);
  const wall = (performance.now() - t0) / 1000;
  m.dispose();
  const secs = history.map((h) => h.seconds);
  rows.push({
    path: "sequential (fit)",
    workers: 1,
    blasThreadsEach: info.blas?.threads ?? 0,
    wallSeconds: wall,
    epochSeconds: secs,
    medianEpochSeconds: median(secs),
  });
}
for (const threads of cpu ? [Math.max(1, Math.floor(cores / workers)), cores] : []) {
  const m = buildEnsemble(spec, { nNets });
  const t0 = performance.now();
  const { history } = await trainEnsembleParallel(m, train, {
    ...fitOpts,
    workers,
    threadsPerWorker: threads,
  });
  const wall = (performance.now() - t0) / 1000;
  m.dispose();
  const secs = history.map((h) => h.seconds);
  rows.push({
    path: "workers",
    workers,
    blasThreadsEach: info.blas ? threads : 0,
    wallSeconds: wall,
    epochSeconds: secs,
    medianEpochSeconds: median(secs),
  });
  if (threads === cores) break;
}

console.log(
  `\nBootstrap ensemble, ${nNets} nets × ${epochs} epochs on ${train.n} MNIST rows ` +
    `(784-1200-1200-10, batch 128), ${info.line}, ${cores} cores\n`,
);
console.log("| path | workers | BLAS threads each | s/epoch (median) | wall s (all epochs) |");
console.log("| --- | --- | --- | --- | --- |");
for (const r of rows) {
  console.log(
    `| ${r.path} | ${r.workers} | ${r.blasThreadsEach} | ${r.medianEpochSeconds.toFixed(2)} | ${
      r.wallSeconds.toFixed(2)
    } |`,
  );
}
if (!cpu) console.log("\n(workers: not measured, they run on the CPU engine only)");
const path = await writeResult("ensemble", {
  machine: await machineInfo(info.line),
  setup: { limit: train.n, nNets, epochs, batchSize: 128, hidden: spec.hidden },
  rows,
});
console.log(`\nwrote ${path}`);
