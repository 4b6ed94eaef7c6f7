/**
 * `deno task bench:kernels`: matmul GFLOP/s (BLAS vs stock wasm, measured in
 * the same run), one SGD step of the reference MNIST MLP, and Gaussian
 * sampling speed. Prints a table and writes `bench/results/kernels-<date>.json`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { loadBlas } from "../core/blas.ts";
import { registerWasmBlasKernels } from "../core/wasm_blas.ts";
import { Rng } from "../core/rng.ts";
import { randn } from "../core/tensor_io.ts";
import { machineInfo, median, writeResult } from "./util.ts";

await tf.setBackend("wasm");
await tf.ready();
const rng = new Rng(0);

// name, a shape, b shape, transA, transB
const FORMS: [string, number[], number[], boolean, boolean][] = [
  ["fwd 100x784 · 784x1200", [100, 784], [784, 1200], false, false],
  ["fwd 100x1200 · 1200x1200", [100, 1200], [1200, 1200], false, false],
  ["dW 784x100 · 100x1200 (Aᵀ)", [100, 784], [100, 1200], true, false],
  ["dX 100x1200 · 1200x784 (Bᵀ)", [100, 1200], [784, 1200], false, true],
  ["dW 1200x100 · 100x1200 (Aᵀ)", [100, 1200], [100, 1200], true, false],
  ["dX 100x1200 · 1200x1200 (Bᵀ)", [100, 1200], [1200, 1200], false, true],
];

function timeIt(fn: () => void, minMs = 300, minReps = 5): number {
  fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minReps || performance.now() - start < minMs) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
    if (times.length > 200) break;
  }
  return median(times);
}

function matmulGflops(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, sa, sb, ta, tb] of FORMS) {
    const a = randn(sa, rng), b = randn(sb, rng);
    const m = ta ? sa[1] : sa[0], k = ta ? sa[0] : sa[1], n = tb ? sb[0] : sb[1];
    const ms = timeIt(() => tf.matMul(a, b, ta, tb).dispose());
    out[name] = (2 * m * n * k) / ms / 1e6;
    a.dispose();
    b.dispose();
  }
  return out;
}

function mlpStepMs(): number {
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
    value.dataSync();
    value.dispose();
    tf.dispose(Object.values(grads));
  };
  const ms = timeIt(step, 2000, 5);
  tf.dispose([...ws, ...bs, x, y]);
  opt.dispose();
  return ms;
}

// Stock wasm first (kernel registration is process-global), then BLAS.
console.error("measuring stock wasm kernels…");
const stockMm = matmulGflops();
const stockStep = mlpStepMs();
const { blas, reason } = loadBlas();
let blasMm: Record<string, number> | null = null, blasStep: number | null = null;
if (blas) {
  registerWasmBlasKernels(blas);
  console.error(`measuring ${blas.info.version} (${blas.info.threads} threads)…`);
  blasMm = matmulGflops();
  blasStep = mlpStepMs();
} else console.error(`BLAS unavailable: ${reason}`);

// Gaussian sampling into a tensor
const SAMPLES = 2_400_000;
const oursMs = timeIt(() => randn([SAMPLES], rng).dispose(), 1000, 5);
const tfMs = timeIt(() => tf.randomNormal([SAMPLES]).dispose(), 1000, 3);

const rows: string[] = [];
rows.push("| matmul form | stock wasm GFLOP/s | BLAS GFLOP/s | speed-up |", "|---|---:|---:|---:|");
for (const [name] of FORMS) {
  const s = stockMm[name], b = blasMm?.[name];
  rows.push(
    `| ${name} | ${s.toFixed(1)} | ${b?.toFixed(1) ?? "—"} | ${
      b ? (b / s).toFixed(1) + "×" : "—"
    } |`,
  );
}
rows.push("");
rows.push("| measure | stock wasm | BLAS | target |", "|---|---:|---:|---|");
rows.push(
  `| MLP 784-1200-1200-10 SGD step, batch 100 (ms) | ${stockStep.toFixed(1)} | ${
    blasStep?.toFixed(1) ?? "—"
  } | ≤ 40 |`,
);
rows.push(
  `| Gaussian samples into a tensor (M/s) | tf.randomNormal ${
    (SAMPLES / tfMs / 1e3).toFixed(1)
  } | ours ${(SAMPLES / oursMs / 1e3).toFixed(1)} | ≥ 50 |`,
);
console.log(rows.join("\n"));
const minBlas = blasMm ? Math.min(...Object.values(blasMm)) : null;
console.log(
  `\nmin BLAS matmul ${minBlas?.toFixed(1) ?? "—"} GFLOP/s (target ≥ 60); step ${
    blasStep?.toFixed(1) ?? "—"
  } ms (target ≤ 40)`,
);
const path = await writeResult("kernels", {
  machine: await machineInfo(
    blas ? `wasm + ${blas.info.version} (${blas.info.threads} threads)` : "wasm",
  ),
  matmulGflops: { stockWasm: stockMm, blas: blasMm },
  mlpStepMs: { stockWasm: stockStep, blas: blasStep },
  gaussianMSamplesPerSec: { tfRandomNormal: SAMPLES / tfMs / 1e3, rng: SAMPLES / oursMs / 1e3 },
});
console.log(`saved ${path}`);
