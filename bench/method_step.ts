/**
 * One method's speed, measured in its own process (so peak memory is its
 * own and the stock-kernel run is isolated): median ms per training step at
 * the given batch sizes, and prediction throughput. Prints one JSON line.
 * Used by `bench/methods.ts`; run alone as
 * `deno run -A bench/method_step.ts --method map --batches 100,128`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../core/backend.ts";
import { parseFlags, runMain } from "../core/cli.ts";
import type { NetSpec, TensorBatch } from "../core/method.ts";
import { disposePrediction } from "../core/likelihood.ts";
import { Rng } from "../core/rng.ts";
import { loadMnist } from "../datasets/mnist.ts";
import { METHODS } from "../methods/registry.ts";
import { median } from "./util.ts";

function peakRssMiB(): number {
  try {
    const s = Deno.readTextFileSync("/proc/self/status");
    const kb = Number(s.match(/VmHWM:\s+(\d+)/)?.[1]);
    if (kb) return kb / 1024;
  } catch { /* not Linux */ }
  return Deno.memoryUsage().rss / 2 ** 20;
}

if (import.meta.main) {
  await runMain(async () => {
    const f = parseFlags(Deno.args, {
      method: { type: "string", default: "map", help: "registry key" },
      batches: { type: "string", default: "100,128", help: "batch sizes" },
      steps: { type: "int", default: 10, min: 1, help: "timed steps per batch size" },
      warmup: { type: "int", default: 3, min: 0, help: "untimed steps first" },
      predict_examples: {
        type: "int",
        default: 1000,
        min: 0,
        help: "test examples for prediction timing",
      },
      predict_samples: {
        type: "int",
        default: 100,
        min: 1,
        help: "posterior samples for prediction timing",
      },
      backend: { type: "string", default: "wasm", help: "backend" },
    }, { name: "method_step.ts", description: "Times one method's training step and prediction." });
    if (!f) return;
    const info = await initBackend({ backend: String(f.backend), quiet: true });
    const entry = METHODS[String(f.method)];
    if (!entry) throw new RangeError(`unknown method ${f.method}`);
    const spec: NetSpec = {
      inputDim: 784,
      hidden: [1200, 1200],
      outputDim: 10,
      task: "classification",
    };
    const dataDir = Deno.env.get("BNN_DATA_DIR");
    const rng = new Rng(0);
    let x: Float32Array, y: Int32Array, n: number;
    try {
      const d = await loadMnist("mnist", "test", { dataDir, download: false });
      x = d.x;
      y = d.y;
      n = d.n;
    } catch {
      // No data: random inputs (timing does not depend on the values).
      n = 2000;
      x = rng.normalArray(n * 784);
      y = Int32Array.from({ length: n }, (_, i) => i % 10);
    }
    const m = entry.build(spec, entry.full.settings);
    m.init(0);
    const out: Record<string, unknown> = {
      method: entry.key,
      label: entry.label,
      backend: info.line,
    };
    const stepMs: Record<string, number> = {};
    for (const b of String(f.batches).split(",").map(Number)) {
      const times: number[] = [];
      const total = Number(f.warmup) + Number(f.steps);
      for (let s = 0; s < total; s++) {
        const start = (s * b) % (n - b);
        const batch: TensorBatch = {
          x: tf.tensor2d(x.subarray(start * 784, (start + b) * 784), [b, 784]),
          y: tf.tensor1d(y.subarray(start, start + b), "int32"),
          n: b,
          indices: Int32Array.from({ length: b }, (_, i) => start + i),
        };
        const t0 = performance.now();
        const r = await m.step(batch, {
          datasetSize: 60000,
          epoch: 1, // mid-training: not BBB's heavier first epoch, past SG-MCMC checks
          step: s,
          batchesPerEpoch: Math.ceil(60000 / b),
          epochs: 1000,
        });
        const dt = performance.now() - t0;
        tf.dispose(Object.values(r).filter((v) => typeof v !== "number") as tf.Tensor[]);
        batch.x.dispose();
        batch.y.dispose();
        if (s >= Number(f.warmup)) times.push(dt);
      }
      stepMs[b] = median(times);
    }
    out.stepMs = stepMs;
    const pn = Math.min(Number(f.predict_examples), n);
    if (pn > 0) {
      // SG-MCMC methods predict from collected samples: let them collect one.
      await m.endEpoch?.(Number.MAX_SAFE_INTEGER, {
        datasetSize: 60000,
        epoch: 1_000_000,
        step: 0,
        batchesPerEpoch: 469,
        epochs: 1_000_001,
      });
      const xs = tf.tensor2d(x.subarray(0, pn * 784), [pn, 784]);
      // Point estimates have one weight set: more samples would repeat it.
      const samples = Math.min(Number(f.predict_samples), m.defaultSamples);
      const t0 = performance.now();
      try {
        const p = m.predict(xs, { samples, seed: 0 });
        const dt = (performance.now() - t0) / 1000;
        disposePrediction(p);
        out.predict = { examples: pn, samples, seconds: dt, examplesPerSec: pn / dt };
      } catch (e) {
        out.predict = { error: (e as Error).message };
      }
      xs.dispose();
    }
    out.peakRssMiB = peakRssMiB();
    m.dispose();
    console.log(JSON.stringify(out));
  });
}
