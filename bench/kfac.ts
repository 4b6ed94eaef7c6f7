/**
 * `deno run -A bench/kfac.ts`: the KFAC Laplace approximation on full MNIST
 * with the reference network (784-1200-1200-10, weight decay 0.01, 10
 * epochs of SGD with momentum):
 *
 * - speed: seconds of the curvature pass against one training epoch run
 *   right before it in the same process (the bar: at most 3×);
 * - quality: test error and log-likelihood of the MAP network the posterior
 *   starts from, and of the Laplace predictives with `τ` chosen on a held-out
 *   part of the training set (the MAP trains on the rest) or by the Laplace
 *   marginal likelihood (bar: error within 0.1 points of the MAP, higher
 *   log-likelihood, with τ tuned).
 *
 * - speed of prediction: seconds of a 100-sample prediction of 1000 test
 *   digits with the sampled predictive (weight draws and forward passes).
 *
 * Flags: `--epochs` (10), `--valid_size` (5000), `--test_samples` (100),
 * `--tune_samples` (10), `--ggn_tol` (1e-3), `--data_dir`, `--models_dir`
 * (where the trained model is saved, default `/tmp/bnn-bench-kfac`), `--from`
 * (reuse a model saved there: skips training but still times one epoch and a
 * fresh curvature pass), `--quick` (2 epochs, 10 test samples, 2000 test
 * digits: a smoke run). Prints a markdown table; writes
 * `bench/results/kfac-<date>.json`.
 *
 * @module
 */
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../core/backend.ts";
import { parseFlags, runMain } from "../core/cli.ts";
import { getEngine } from "../core/engine/current.ts";
import { predictDataset, readPrediction } from "../core/evaluate.ts";
import { disposePrediction } from "../core/likelihood.ts";
import type { Method, MethodState, NetSpec } from "../core/method.ts";
import { loadMethod, saveMethod } from "../core/persist.ts";
import { fit } from "../core/train.ts";
import { loadMnist } from "../datasets/mnist.ts";
import type { ArrayDataset } from "../datasets/types.ts";
import { buildMap } from "../methods/map.ts";
import {
  buildKfacLaplace,
  type KfacLaplaceMethod,
  type KfacLaplaceSettings,
} from "../methods/kfac_laplace.ts";
import { classificationMetrics } from "../uncertainty/metrics.ts";
import { machineInfo, writeResult } from "./util.ts";

const SPEC: NetSpec = {
  inputDim: 784,
  hidden: [1200, 1200],
  outputDim: 10,
  task: "classification",
};

/** One evaluated variant. */
interface Row {
  variant: string;
  tune: string;
  priorPrecision: number;
  dataScale: number;
  errorPct: number;
  logLikMean: number;
  ece: number;
  samples: number;
  dErrorPct: number;
  dLogLik: number;
  tuneSeconds: number;
  predictSeconds: number;
  tuneTable?: unknown;
}

function rows(ds: ArrayDataset, start: number, end: number): ArrayDataset {
  const d = ds.x.length / ds.n;
  return {
    ...ds,
    x: ds.x.subarray(start * d, end * d),
    y: ds.y.subarray(start, end),
    n: end - start,
  };
}

async function testMetrics(m: Method, test: ArrayDataset, samples: number) {
  const t0 = performance.now();
  const pred = predictDataset(m, test, samples, 0);
  const host = await readPrediction(pred);
  disposePrediction(pred);
  if (host.task !== "classification") throw new Error("expected classification");
  const r = classificationMetrics(host.logProbs, test.y);
  return { ...r, samples, predictSeconds: (performance.now() - t0) / 1000 };
}

/** Seconds of one `samples`-sample prediction of the first `n` test digits (read back). */
async function predictSpeed(m: Method, test: ArrayDataset, n: number, samples: number) {
  const x = tf.tensor2d(test.x.subarray(0, n * SPEC.inputDim), [n, SPEC.inputDim]);
  const t0 = performance.now();
  const pred = m.predict(x, { samples, seed: 0 });
  if (pred.task === "classification") await getEngine().read(pred.logProbs);
  const seconds = (performance.now() - t0) / 1000;
  disposePrediction(pred);
  x.dispose();
  return seconds;
}

async function main() {
  const f = parseFlags(Deno.args, {
    epochs: { type: "int", default: 10, min: 1, help: "MAP training epochs" },
    valid_size: { type: "int", default: 5000, min: 100, help: "held-out training examples" },
    test_samples: { type: "int", default: 100, min: 1, help: "samples for the test metrics" },
    tune_samples: { type: "int", default: 10, min: 1, help: "samples per tuning candidate" },
    ggn_tol: { type: "number", default: 1e-3, min: 0, max: 0.5, help: "Gauss–Newton truncation" },
    data_dir: { type: "string", help: "folder holding mnist/" },
    models_dir: { type: "string", default: "/tmp/bnn-bench-kfac", help: "model folder" },
    from: { type: "boolean", default: false, help: "reuse the model in --models_dir" },
    quick: { type: "boolean", default: false, help: "smoke run" },
  }, { name: "bench/kfac.ts", description: "KFAC Laplace speed and quality on MNIST" });
  if (!f) return;
  const quick = Boolean(f.quick);
  const epochs = quick ? 2 : Number(f.epochs);
  const testSamples = quick ? 10 : Number(f.test_samples);
  const backend = await initBackend({ backend: "wasm" });
  const dataDir = (f.data_dir as string | undefined) ?? Deno.env.get("BNN_DATA_DIR");
  const all = await loadMnist("mnist", "train", { dataDir });
  const test = await loadMnist("mnist", "test", { dataDir, limit: quick ? 2000 : undefined });
  const v = Number(f.valid_size);
  const train = rows(all, 0, all.n - v), valid = rows(all, all.n - v, all.n);
  const modelsDir = String(f.models_dir);
  const base: KfacLaplaceSettings = { weightDecay: 0.01, ggnTol: Number(f.ggn_tol) };
  const build = (s: KfacLaplaceSettings = {}) =>
    buildKfacLaplace(SPEC, { ...base, autoCurvature: false, ...s });

  // 1. MAP training (or reload).
  const kf = build();
  let trainEpochSeconds: number[] = [];
  if (f.from) await loadMethod(modelsDir, kf);
  else {
    const h = await fit(kf, train, { epochs, batchSize: 128, seed: 0 });
    trainEpochSeconds = h.history.map((r) => r.seconds);
  }
  const map = await testMetrics(kf.map, test, 1);
  console.error(`MAP: error ${map.errorPct.toFixed(2)}%, ll ${map.logLikMean.toFixed(4)}`);

  // 2. The curvature pass, timed against a training epoch run right before it
  //    (the machine's load changes over a long run; adjacent timings compare).
  const probe = buildMap(SPEC, { weightDecay: 0.01 });
  const epochMean = (await fit(probe, train, { epochs: 1, batchSize: 128, seed: 1 }))
    .history[0].seconds;
  probe.dispose();
  const curv = await kf.fitCurvature(train, { progress: true });
  console.error(
    `curvature ${curv.seconds.toFixed(1)} s vs epoch ${epochMean.toFixed(1)} s ` +
      `(${(curv.seconds / epochMean).toFixed(2)}×), columns ${curv.rowsKept}/${curv.rowsTotal}`,
  );
  await saveMethod(modelsDir, kf, { bench: "kfac", trainExamples: train.n });
  const state = await kf.getState();
  const predict100 = await predictSpeed(kf, test, Math.min(1000, test.n), 100);
  console.error(
    `prediction: 100 samples of ${Math.min(1000, test.n)} digits in ${predict100.toFixed(1)} s`,
  );

  // 3. Predictives and tuning rules (all share the one set of factors).
  const rowsOut: Row[] = [];
  const variant = async (
    label: string,
    settings: KfacLaplaceSettings,
    tune: "val" | "marglik" | "none",
    st: MethodState = state,
  ) => {
    const m = build(settings) as KfacLaplaceMethod;
    m.init(0);
    await m.setState(st);
    const t0 = performance.now();
    let tuneInfo = null;
    if (tune !== "none") {
      const r = await m.tune({
        method: tune,
        valid,
        samples: Number(f.tune_samples),
        progress: true,
      });
      tuneInfo = { method: r.method, seconds: r.seconds, table: r.table };
    }
    const tuneSeconds = (performance.now() - t0) / 1000;
    const r = await testMetrics(m, test, Math.min(testSamples, m.defaultSamples));
    const row: Row = {
      variant: label,
      tune,
      priorPrecision: m.prior().priorPrecision,
      dataScale: m.prior().dataScale,
      errorPct: r.errorPct,
      logLikMean: r.logLikMean,
      ece: r.ece,
      samples: r.samples,
      dErrorPct: r.errorPct - map.errorPct,
      dLogLik: r.logLikMean - map.logLikMean,
      tuneSeconds,
      predictSeconds: r.predictSeconds,
      tuneTable: tuneInfo?.table,
    };
    console.error(
      `${label}: τ ${row.priorPrecision.toPrecision(3)} error ${r.errorPct.toFixed(2)}% ` +
        `ll ${r.logLikMean.toFixed(4)} (tune ${tuneSeconds.toFixed(0)} s, ` +
        `predict ${r.predictSeconds.toFixed(0)} s)`,
    );
    rowsOut.push(row);
    m.dispose();
  };
  await variant("GLM probit, τ by validation", { predictive: "glm" }, "val");
  await variant("GLM probit, τ by marginal likelihood", { predictive: "glm" }, "marglik");
  await variant("GLM Monte Carlo, τ by marginal likelihood", {
    predictive: "glm",
    link: "mc",
  }, "marglik");
  await variant("sampled weights, τ by validation", { predictive: "sample" }, "val");
  await variant("sampled weights, τ by marginal likelihood", { predictive: "sample" }, "marglik");
  await variant("sampled weights, reference τ = 1/0.15²", { predictive: "sample" }, "none");

  // Last layer only: its own (cheap) curvature pass on the same MAP.
  const ll = build({ lastLayer: true, predictive: "glm" });
  ll.init(0);
  await ll.setState({
    tensors: Object.fromEntries(
      Object.entries(state.tensors).filter(([k]) => !k.startsWith("kfac.")),
    ),
    extra: { ...state.extra, kfac: null },
  });
  const llCurv = await ll.fitCurvature(train);
  const llState = await ll.getState();
  ll.dispose();
  const last = { lastLayer: true };
  await variant(
    "last layer, GLM probit, τ by validation",
    { ...last, predictive: "glm" },
    "val",
    llState,
  );
  await variant(
    "last layer, sampled, τ by validation",
    { ...last, predictive: "sample" },
    "val",
    llState,
  );
  kf.dispose();

  const result = {
    machine: await machineInfo(backend.line),
    settings: { epochs, validSize: v, testSamples, ggnTol: Number(f.ggn_tol), quick, from: f.from },
    trainEpochSeconds,
    epochSeconds: epochMean,
    curvature: { ...curv, overEpoch: curv.seconds / epochMean },
    predict100Seconds: predict100,
    lastLayerCurvatureSeconds: llCurv.seconds,
    map,
    variants: rowsOut,
  };
  const path = await writeResult("kfac", result);
  console.log(`\n## KFAC Laplace on MNIST (${train.n} train, ${test.n} test)\n`);
  console.log(
    `curvature pass ${curv.seconds.toFixed(1)} s = ${(curv.seconds / epochMean).toFixed(2)}× ` +
      `one training epoch (${epochMean.toFixed(1)} s); Gauss–Newton columns kept ` +
      `${curv.rowsKept}/${curv.rowsTotal}; last-layer pass ${llCurv.seconds.toFixed(1)} s; ` +
      `100-sample prediction of ${Math.min(1000, test.n)} digits ${predict100.toFixed(1)} s\n`,
  );
  console.log("| variant | τ | test error % | Δ error | test ll | Δ ll | ECE | S |");
  console.log("|---|---|---|---|---|---|---|---|");
  console.log(
    `| MAP | – | ${map.errorPct.toFixed(2)} | – | ${map.logLikMean.toFixed(4)} | – | ` +
      `${map.ece.toFixed(4)} | 1 |`,
  );
  for (const r of rowsOut) {
    console.log(
      `| ${r.variant} | ${Number(r.priorPrecision).toPrecision(3)} | ${r.errorPct.toFixed(2)} | ` +
        `${r.dErrorPct >= 0 ? "+" : ""}${r.dErrorPct.toFixed(2)} | ${r.logLikMean.toFixed(4)} | ` +
        `${r.dLogLik >= 0 ? "+" : ""}${r.dLogLik.toFixed(4)} | ${
          r.ece.toFixed(4)
        } | ${r.samples} |`,
    );
  }
  console.log(`\nresults: ${path}; model: ${join(modelsDir, "weights.safetensors")}`);
}

await runMain(main);
