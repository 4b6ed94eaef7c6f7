/**
 * `deno task bench:kernels`: the building blocks' speed on one backend —
 * matmul GFLOP/s, one SGD step of the reference MNIST MLP, the parameter
 * engine's fused Adam update over that network's 2.4 M parameters, and
 * Gaussian sampling into a tensor. On wasm (default) the matmuls and the
 * step are measured on the stock tfjs wasm kernels and with OpenBLAS, in the
 * same run; `--backend webgpu` measures the WebGPU engine (and counts its
 * dispatches). Every figure is a timed block of repetitions ended by an
 * awaited read, so asynchronous GPU work is counted. Prints a table and
 * writes `bench/results/kernels-<date>.json`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../core/backend.ts";
import { loadBlas } from "../core/blas.ts";
import { parseFlags, runMain } from "../core/cli.ts";
import { getEngine } from "../core/engine/current.ts";
import type { Engine } from "../core/engine/engine.ts";
import { defineKernel } from "../core/engine/kernel.ts";
import { initFlat, netLayout } from "../core/mlp.ts";
import { OptimizerState, updateRule } from "../core/optim.ts";
import { Rng } from "../core/rng.ts";
import { randn } from "../core/tensor_io.ts";
import { registerWasmBlasKernels } from "../core/wasm_blas.ts";
import { countDispatches, machineInfo, settle, writeResult } from "./util.ts";

// name, a shape, b shape, transA, transB
const FORMS: [string, number[], number[], boolean, boolean][] = [
  ["fwd 100x784 · 784x1200", [100, 784], [784, 1200], false, false],
  ["fwd 100x1200 · 1200x1200", [100, 1200], [1200, 1200], false, false],
  ["dW 784x100 · 100x1200 (Aᵀ)", [100, 784], [100, 1200], true, false],
  ["dX 100x1200 · 1200x784 (Bᵀ)", [100, 1200], [784, 1200], false, true],
  ["dW 1200x100 · 100x1200 (Aᵀ)", [100, 1200], [100, 1200], true, false],
  ["dX 100x1200 · 1200x1200 (Bᵀ)", [100, 1200], [1200, 1200], false, true],
];

/**
 * ms per call of `fn`: one untimed call, then blocks of calls (doubling)
 * until a block lasts `minMs`, each ended by waiting for the device (a read
 * of the block's last result); the last block's mean.
 */
async function timeIt(
  engine: Engine,
  fn: () => tf.Tensor | void | Promise<tf.Tensor | void>,
  minMs = 300,
  maxReps = 256,
): Promise<number> {
  await settle(engine, (await fn()) ?? undefined);
  for (let reps = 1;; reps *= 2) {
    const t0 = performance.now();
    let last: tf.Tensor | void = undefined;
    for (let i = 0; i < reps; i++) {
      last?.dispose();
      last = await fn();
    }
    await settle(engine, last ?? undefined);
    const ms = performance.now() - t0;
    if (ms >= minMs || reps >= maxReps) return ms / reps;
  }
}

async function matmulGflops(engine: Engine, rng: Rng): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, sa, sb, ta, tb] of FORMS) {
    const a = randn(sa, rng), b = randn(sb, rng);
    const m = ta ? sa[1] : sa[0], k = ta ? sa[0] : sa[1], n = tb ? sb[0] : sb[1];
    const ms = await timeIt(engine, () => tf.matMul(a, b, ta, tb));
    out[name] = (2 * m * n * k) / ms / 1e6;
    a.dispose();
    b.dispose();
  }
  return out;
}

/** One SGD step of the reference MLP with tfjs ops (the loss is what a block's read waits for). */
async function mlpStepMs(engine: Engine, rng: Rng): Promise<number> {
  const dims = [784, 1200, 1200, 10];
  const ws = dims.slice(1).map((d, i) => tf.variable(randn([dims[i], d], rng, 0, 0.03)));
  const bs = dims.slice(1).map((d) => tf.variable(tf.zeros([d])));
  const x = randn([100, 784], rng);
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: 100 }, (_, i) => i % 10), "int32"), 10);
  const opt = tf.train.sgd(1e-3);
  const step = () => {
    const { value, grads } = tf.variableGrads(() => {
      let h: tf.Tensor2D = x as tf.Tensor2D;
      for (let i = 0; i < 3; i++) {
        h = tf.fused.matMul({
          a: h,
          b: ws[i] as tf.Tensor2D,
          bias: bs[i],
          activation: i < 2 ? "relu" : "linear",
        }) as tf.Tensor2D;
      }
      return tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(h)))) as tf.Scalar;
    });
    opt.applyGradients(grads);
    tf.dispose(Object.values(grads));
    return value;
  };
  const ms = await timeIt(engine, step, 2000, 64);
  tf.dispose([...ws, ...bs, x, y]);
  opt.dispose();
  return ms;
}

const ADAM = (() => {
  const r = updateRule("adam", "p", "g");
  return defineKernel({
    name: "bench_adam",
    inputs: ["g"],
    inouts: ["p", ...r.slots],
    scalars: r.scalars,
    body: r.body,
  });
})();

/** The engine's fused Adam update of the reference network (one kernel, every segment). */
async function engineAdam(engine: Engine, rng: Rng) {
  const spec = {
    inputDim: 784,
    hidden: [1200, 1200],
    outputDim: 10,
    task: "classification" as const,
  };
  const layout = netLayout(spec);
  const p = engine.vector(layout, initFlat(spec, layout, rng));
  const g = engine.vector(layout, 1e-3);
  const opt = new OptimizerState({ optimizer: "adam", lr: 1e-3 }, engine, layout, ["p"]);
  const counter = countDispatches(engine);
  let calls = 0;
  const ms = await timeIt(engine, () => {
    calls++;
    engine.run(ADAM, layout, { arrays: { g, p, ...opt.slots }, scalars: opt.scalars() });
    // Something this update wrote, for the block's closing read.
    return tf.slice(p.tensors[layout.segments.length - 1], [0], [1]);
  }, 1000);
  const dispatches = counter ? counter.engine() / calls : undefined;
  counter?.stop();
  // Reads g, p, m, v; writes p, m, v.
  const gbps = (layout.total * 4 * 7) / ms / 1e6;
  p.dispose();
  g.dispose();
  opt.dispose();
  return { params: layout.total, ms, gbps, dispatches };
}

if (import.meta.main) {
  await runMain(async () => {
    const f = parseFlags(Deno.args, {
      backend: { type: "string", default: "wasm", help: "wasm (stock vs BLAS) or webgpu" },
    }, { name: "bench/kernels.ts", description: "Matmul, MLP step, engine update, sampling." });
    if (!f) return;
    const backend = String(f.backend);
    const rng = new Rng(0);
    const rows: string[] = [];
    const result: Record<string, unknown> = {};
    let line: string;
    if (backend === "wasm") {
      // Stock wasm first (kernel registration is process-global), then BLAS: the backend is
      // started directly (initBackend would register the BLAS kernels at once).
      if (!(await tf.setBackend("wasm"))) throw new Error("tfjs's wasm backend did not start");
      await tf.ready();
      const engine = getEngine();
      console.error("measuring stock wasm kernels…");
      const stockMm = await matmulGflops(engine, rng);
      const stockStep = await mlpStepMs(engine, rng);
      const { blas, reason } = loadBlas();
      let blasMm: Record<string, number> | null = null, blasStep: number | null = null;
      if (blas) {
        registerWasmBlasKernels(blas);
        console.error(`measuring ${blas.info.version} (${blas.info.threads} threads)…`);
        blasMm = await matmulGflops(engine, rng);
        blasStep = await mlpStepMs(engine, rng);
      } else console.error(`BLAS unavailable: ${reason}`);
      line = blas
        ? `backend: wasm + ${blas.info.version} (${blas.info.threads} threads)`
        : `backend: wasm, stock kernels (no BLAS: ${reason})`;
      rows.push(
        "| matmul form | stock wasm GFLOP/s | BLAS GFLOP/s | speed-up |",
        "|---|---:|---:|---:|",
      );
      for (const [name] of FORMS) {
        const s = stockMm[name], b = blasMm?.[name];
        rows.push(
          `| ${name} | ${s.toFixed(1)} | ${b?.toFixed(1) ?? "—"} | ${
            b ? (b / s).toFixed(1) + "×" : "—"
          } |`,
        );
      }
      rows.push("", "| measure | stock wasm | BLAS | target |", "|---|---:|---:|---|");
      rows.push(
        `| MLP 784-1200-1200-10 SGD step, batch 100 (ms) | ${stockStep.toFixed(1)} | ${
          blasStep?.toFixed(1) ?? "—"
        } | ≤ 40 |`,
      );
      const minBlas = blasMm ? Math.min(...Object.values(blasMm)) : null;
      result.matmulGflops = { stockWasm: stockMm, blas: blasMm };
      result.mlpStepMs = { stockWasm: stockStep, blas: blasStep };
      result.summary = `min BLAS matmul ${minBlas?.toFixed(1) ?? "—"} GFLOP/s (target ≥ 60); ` +
        `step ${blasStep?.toFixed(1) ?? "—"} ms (target ≤ 40)`;
    } else {
      const info = await initBackend({ backend, quiet: true });
      line = info.line;
      const engine = getEngine();
      console.error(`measuring ${info.line}…`);
      const mm = await matmulGflops(engine, rng);
      const step = await mlpStepMs(engine, rng);
      rows.push("| matmul form | GFLOP/s |", "|---|---:|");
      for (const [name] of FORMS) rows.push(`| ${name} | ${mm[name].toFixed(1)} |`);
      rows.push("", "| measure | value |", "|---|---:|");
      rows.push(`| MLP 784-1200-1200-10 SGD step, batch 100 (ms, tfjs ops) | ${step.toFixed(1)} |`);
      result.matmulGflops = { [backend]: mm };
      result.mlpStepMs = { [backend]: step };
    }
    const engine = getEngine();
    const adam = await engineAdam(engine, rng);
    // Gaussian samples into a tensor: tfjs, the engine's stream, and (CPU) the library's Rng.
    const SAMPLES = 2_400_000;
    const tfMs = await timeIt(engine, () => tf.randomNormal([SAMPLES]), 1000, 32);
    const stream = engine.noise(0, 1);
    const engineMs = await timeIt(engine, () => stream.normalTensor([SAMPLES]), 1000, 32);
    const rngMs = engine.kind === "cpu"
      ? await timeIt(engine, () => randn([SAMPLES], rng), 1000, 32)
      : undefined;
    const rate = (ms: number) => (SAMPLES / ms / 1e3).toFixed(1);
    rows.push("", `| ${engine.kind} engine | value | target |`, "|---|---:|---|");
    rows.push(
      `| fused Adam update, ${(adam.params / 1e6).toFixed(2)} M params (ms) | ${
        adam.ms.toFixed(2)
      } | |`,
      `| … effective bandwidth (GB/s) | ${adam.gbps.toFixed(1)} | |`,
    );
    if (adam.dispatches !== undefined) {
      rows.push(`| … dispatches per update | ${adam.dispatches.toFixed(0)} | |`);
    }
    rows.push(
      `| Gaussian samples into a tensor, engine stream (M/s) | ${rate(engineMs)} | ≥ 50 |`,
      `| … tf.randomNormal (M/s) | ${rate(tfMs)} | |`,
    );
    if (rngMs) rows.push(`| … library Rng, host fill (M/s) | ${rate(rngMs)} | |`);
    console.log(line + "\n");
    console.log(rows.join("\n"));
    if (result.summary) console.log(`\n${result.summary}`);
    const path = await writeResult("kernels", {
      machine: await machineInfo(line),
      ...result,
      engineAdam: adam,
      gaussianMSamplesPerSec: {
        tfRandomNormal: SAMPLES / tfMs / 1e3,
        engine: SAMPLES / engineMs / 1e3,
        ...(rngMs ? { rng: SAMPLES / rngMs / 1e3 } : {}),
      },
    });
    console.log(`saved ${path}`);
  });
}
