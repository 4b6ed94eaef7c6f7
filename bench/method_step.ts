/**
 * One method's speed, measured in its own process (so peak memory is its
 * own and the stock-kernel run is isolated): ms per training step at the
 * given batch sizes, prediction throughput, and on WebGPU the dispatches
 * per step. Prints one JSON line. Used by `bench/methods.ts`; run alone as
 * `deno run -A bench/method_step.ts --method map --batches 100,128 [--backend webgpu]`.
 *
 * Timing on an asynchronous device: a step only issues work, so each batch
 * size is timed as a block — warm-up steps, a wait for the device, then
 * `steps` steps and one awaited read of the last step's loss before the
 * clock stops; ms/step = elapsed / steps. On the CPU engine work is done
 * when issued and the same code measures the same thing. Minibatches are
 * gathered from a training table held by the engine, as `fit` does.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../core/backend.ts";
import { parseFlags, runMain } from "../core/cli.ts";
import { getEngine } from "../core/engine/current.ts";
import type { Engine } from "../core/engine/engine.ts";
import { disposePrediction } from "../core/likelihood.ts";
import type { Method, NetSpec, Prediction, StepInfo, StepResult } from "../core/method.ts";
import { Rng } from "../core/rng.ts";
import { deviceData } from "../core/train.ts";
import { loadMnist } from "../datasets/mnist.ts";
import { METHODS } from "../methods/registry.ts";
import { countDispatches, median, settle } from "./util.ts";

function peakRssMiB(): number {
  try {
    const s = Deno.readTextFileSync("/proc/self/status");
    const kb = Number(s.match(/VmHWM:\s+(\d+)/)?.[1]);
    if (kb) return kb / 1024;
  } catch { /* not Linux */ }
  return Deno.memoryUsage().rss / 2 ** 20;
}

/** Frees a step's tensor scalars except its loss, which it returns. */
function keepLoss(r: StepResult): tf.Tensor | number {
  for (const [k, v] of Object.entries(r)) if (k !== "loss" && typeof v !== "number") v.dispose();
  return r.loss;
}

function dropScalar(v: tf.Tensor | number | undefined): void {
  if (v !== undefined && typeof v !== "number") v.dispose();
}

/** Reads every value of a prediction (the host has the result when this resolves). */
async function readPrediction(engine: Engine, p: Prediction): Promise<void> {
  const ts = p.task === "classification" ? [p.logProbs] : [p.mean, p.logSigma];
  await Promise.all(ts.map((t) => engine.read(t)));
}

/** Mid-training step info: not BBB's heavier first epoch, past SG-MCMC checks. */
function stepInfo(b: number, step: number): StepInfo {
  return {
    datasetSize: 60000,
    epoch: 1,
    step,
    batchesPerEpoch: Math.ceil(60000 / b),
    epochs: 1000,
  };
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
      predict_warmup: {
        type: "boolean",
        help: "predict once untimed first, which compiles a GPU's shaders for the timed call " +
          "(default: on with the WebGPU engine, off on the CPU)",
      },
      backend: { type: "string", default: "wasm", help: "backend (wasm, webgpu, cpu, …)" },
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
      y = d.y as Int32Array;
      n = d.n;
    } catch {
      // No data: random inputs (timing does not depend on the values).
      n = 2000;
      x = rng.normalArray(n * 784);
      y = Int32Array.from({ length: n }, (_, i) => i % 10);
    }
    const engine = getEngine();
    const m: Method = entry.build(spec, entry.full.settings);
    m.init(0);
    const out: Record<string, unknown> = {
      method: entry.key,
      label: entry.label,
      backend: info.line,
      engine: engine.kind,
    };
    const why: { why?: string } = {};
    const data = deviceData(engine, { x, y, n, xShape: [784], yShape: [] });
    const stepMs: Record<string, number> = {};
    const hostMs: Record<string, number> = {};
    const dispatches: Record<string, number> = {};
    const engineDispatches: Record<string, number> = {};
    try {
      for (const b of String(f.batches).split(",").map(Number)) {
        let s = 0;
        const step = async (): Promise<tf.Tensor | number> => {
          const start = (s * b) % (n - b);
          const batch = data.batch(Int32Array.from({ length: b }, (_, i) => start + i));
          try {
            return keepLoss(await m.step(batch, stepInfo(b, s++)));
          } finally {
            batch.x.dispose();
            batch.y.dispose();
          }
        };
        let last: tf.Tensor | number | undefined;
        for (let i = 0; i < Number(f.warmup); i++) {
          dropScalar(last);
          last = await step();
        }
        await settle(engine, last);
        last = undefined;
        const counter = countDispatches(engine, why);
        const host: number[] = [];
        const t0 = performance.now();
        for (let i = 0; i < Number(f.steps); i++) {
          const h0 = performance.now();
          dropScalar(last);
          last = await step();
          host.push(performance.now() - h0);
        }
        await settle(engine, last);
        const elapsed = performance.now() - t0;
        stepMs[b] = elapsed / Number(f.steps);
        hostMs[b] = median(host);
        if (counter) {
          dispatches[b] = counter.total() / Number(f.steps);
          engineDispatches[b] = counter.engine() / Number(f.steps);
          counter.stop();
        }
      }
    } finally {
      data.dispose();
    }
    out.stepMs = stepMs;
    // Host time to issue one step (median): on a GPU, the part the device cannot hide.
    out.hostMs = hostMs;
    if (engine.kind === "webgpu") {
      // All dispatches, and those of them that are the engine's kernels (the rest are tfjs's).
      out.dispatchesPerStep = Object.keys(dispatches).length ? dispatches : null;
      out.engineDispatchesPerStep = Object.keys(dispatches).length ? engineDispatches : null;
      if (why.why) out.dispatchesNote = why.why;
    }
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
      try {
        if ((f.predict_warmup as boolean | undefined) ?? engine.kind === "webgpu") {
          const p = m.predict(xs, { samples, seed: 1 });
          await readPrediction(engine, p);
          disposePrediction(p);
        }
        await settle(engine);
        const counter = countDispatches(engine);
        const t0 = performance.now();
        const p = m.predict(xs, { samples, seed: 0 });
        await readPrediction(engine, p);
        const dt = (performance.now() - t0) / 1000;
        disposePrediction(p);
        out.predict = {
          examples: pn,
          samples,
          seconds: dt,
          examplesPerSec: pn / dt,
          ...(counter ? { dispatches: counter.total() } : {}),
        };
        counter?.stop();
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
