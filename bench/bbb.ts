/**
 * Bayes by Backprop benchmarks.
 *
 * Speed (default): median ms per training step of the 784-1200-1200-10
 * network at batch 100 with 3 samples, for each estimator and prior, next to
 * a plain MLP step of the same network (the machine's baseline). The
 * configurations are timed round robin, one step each in turn, so a change in
 * machine load hits all of them alike; the ratio to the MLP step is the
 * load-independent figure. Also reports CPU time per step (BLAS threads
 * included) and the load average. Prints a markdown table and writes
 * `bench/results/bbb-<date>.json`.
 *
 *     deno run -A bench/bbb.ts [--steps 10] [--warmup 3] [--configs weight,local]
 *
 * Accuracy (`--accuracy`): trains on full MNIST with the reference settings
 * (SGD, lr 1e-3, batch 100, 3 samples, 10 in the first epoch) and reports the
 * test error after every epoch (10 samples) and at the end (100 samples).
 * Long: run it in the background.
 *
 *     nohup deno run -A bench/bbb.ts --accuracy --model laplace --epochs 30 > bbb.log &
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import process from "node:process";
import { initBackend } from "../core/backend.ts";
import { parseFlags, runMain } from "../core/cli.ts";
import { evaluate } from "../core/evaluate.ts";
import { nllSum } from "../core/likelihood.ts";
import type { NetSpec, StepInfo } from "../core/method.ts";
import { initLayers, mlpForward } from "../core/mlp.ts";
import { Rng } from "../core/rng.ts";
import { randn } from "../core/tensor_io.ts";
import { fit } from "../core/train.ts";
import { loadMnist } from "../datasets/mnist.ts";
import { type BbbSettings, buildBbb } from "../methods/bbb.ts";
import { machineInfo, median, writeResult } from "./util.ts";

const SPEC: NetSpec = {
  inputDim: 784,
  hidden: [1200, 1200],
  outputDim: 10,
  task: "classification",
};

/** The benchmarked configurations: label → settings. */
export const CONFIGS: Record<string, BbbSettings> = {
  weight: { estimator: "weight", prior: "gaussian" },
  "weight-laplace": { estimator: "weight", prior: "laplace" },
  "weight-gmm": { estimator: "weight", prior: "gmm" },
  local: { estimator: "local", prior: "gaussian" },
  flipout: { estimator: "flipout", prior: "gaussian" },
};

function loadAvg(): number {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return NaN;
  }
}

async function speed(f: Record<string, unknown>): Promise<void> {
  const backend = await initBackend({ backend: String(f.backend), quiet: true });
  const rng = new Rng(0);
  const x = randn([100, 784], rng) as tf.Tensor2D;
  const y = tf.tensor1d(Array.from({ length: 100 }, (_, i) => i % 10), "int32");
  const batch = { x, y, n: 100 };
  const info: StepInfo = { datasetSize: 60000, epoch: 1, step: 0, batchesPerEpoch: 600, epochs: 2 };
  const warmup = Number(f.warmup), steps = Number(f.steps);

  // Baseline: one plain SGD step of the same network (forward + backward, no sampling).
  const host = initLayers(SPEC, rng);
  const ws = [0, 1, 2].map((i) =>
    tf.variable(tf.tensor(host[`l${i}.w`].data, host[`l${i}.w`].shape))
  );
  const bs = [0, 1, 2].map((i) =>
    tf.variable(tf.tensor(host[`l${i}.b`].data, host[`l${i}.b`].shape))
  );
  const opt = tf.train.sgd(1e-3);
  const mlpStep = () => {
    const { value, grads } = tf.variableGrads(() =>
      nllSum(
        SPEC,
        mlpForward({ w: ws as unknown as tf.Tensor2D[], b: bs as unknown as tf.Tensor1D[] }, x),
        y,
      )
    );
    opt.applyGradients(grads);
    tf.dispose(Object.values(grads));
    return value.data().then(() => value.dispose());
  };
  const wanted = String(f.configs).split(",").map((s) => s.trim()).filter(Boolean);
  const runs: {
    config: string;
    method: string;
    samples: number;
    /** One step, resolved when its loss has been read (the device has finished it). */
    step: () => Promise<void>;
  }[] = [
    { config: "MLP step (baseline)", method: "", samples: 1, step: mlpStep },
  ];
  const methods = [];
  for (const key of wanted) {
    const settings = CONFIGS[key];
    if (!settings) {
      throw new RangeError(`unknown config "${key}": expected ${Object.keys(CONFIGS).join(", ")}`);
    }
    const m = buildBbb(SPEC, { ...settings, nSamples: Number(f.n_samples) });
    m.init(0);
    methods.push(m);
    runs.push({
      config: key,
      method: m.name,
      samples: Number(f.n_samples),
      step: async () => {
        const r = await m.step(batch, info);
        const loss = r.loss as tf.Tensor;
        await loss.data();
        tf.dispose(Object.values(r).filter((v) => typeof v !== "number") as tf.Tensor[]);
      },
    });
  }
  for (const r of runs) for (let i = 0; i < warmup; i++) await r.step();
  // Round robin: a change in machine load during the run hits every configuration alike.
  const walls = runs.map(() => [] as number[]);
  const cpu = runs.map(() => 0);
  for (let i = 0; i < steps; i++) {
    for (const [k, r] of runs.entries()) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await r.step();
      walls[k].push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu[k] += (c.user + c.system) / 1000;
    }
  }
  const load = loadAvg();
  const rows: Record<string, unknown>[] = runs.map((r, k) => ({
    config: r.config,
    method: r.method,
    samples: r.samples,
    wallMs: median(walls[k]),
    cpuMs: cpu[k] / steps,
    load,
  }));
  const base = rows[0] as { wallMs: number };
  for (const m of methods) m.dispose();
  tf.dispose([x, y, ...ws, ...bs]);
  opt.dispose();

  const targets: Record<string, string> = { weight: "≤ 250", local: "≤ 150" };
  const reference: Record<string, string> = { weight: "590", local: "674" };
  const lines = [
    "| config | samples | median ms/step | × MLP step | CPU ms/step | load avg | target (ms) | PyTorch reference (ms) |",
    "|---|---:|---:|---:|---:|---:|---|---:|",
  ];
  for (const r of rows) {
    const k = String(r.config);
    r.relativeToMlp = (r.wallMs as number) / base.wallMs;
    lines.push(
      `| ${k} | ${r.samples} | ${(r.wallMs as number).toFixed(1)} | ${
        (r.relativeToMlp as number).toFixed(2)
      } | ${(r.cpuMs as number).toFixed(1)} | ${(r.load as number).toFixed(1)} | ${
        targets[k] ?? ""
      } | ${reference[k] ?? ""} |`,
    );
  }
  console.log(lines.join("\n"));
  const path = await writeResult("bbb", {
    machine: await machineInfo(backend.line),
    batch: 100,
    steps,
    warmup,
    rows,
  });
  console.log(`saved ${path}`);
}

async function accuracy(f: Record<string, unknown>): Promise<void> {
  const backend = await initBackend({ backend: String(f.backend), quiet: true });
  const prior = String(f.model) as "gaussian" | "laplace" | "gmm";
  const estimator = String(f.estimator) as "weight" | "local" | "flipout";
  const m = buildBbb(SPEC, { prior, estimator, rhoInit: parseRho(String(f.rho_init)) });
  const dataDir = f.data_dir as string | undefined;
  const train = await loadMnist("mnist", "train", { dataDir });
  const test = await loadMnist("mnist", "test", { dataDir });
  const t0 = performance.now();
  const { history } = await fit(m, train, {
    epochs: Number(f.epochs),
    batchSize: 100,
    seed: Number(f.seed),
    valid: test,
    evalSamples: 10,
    onEpoch: (r) => {
      console.log(
        `epoch ${r.epoch}: test error ${r.validErrorPct?.toFixed(2)}% (10 samples), ` +
          `train error ${r.trainErrorPct?.toFixed(2)}%, ${r.seconds.toFixed(0)} s`,
      );
    },
  });
  const final = await evaluate(m, test, { samples: 100 });
  console.log(
    `${m.name}: test error ${
      final.errorPct?.toFixed(2)
    }% with 100 samples after ${history.length} ` +
      `epochs, log-likelihood ${final.logLikSum.toFixed(1)}`,
  );
  const path = await writeResult(`bbb-accuracy-${m.name}`, {
    machine: await machineInfo(backend.line),
    method: m.name,
    settings: m.settings,
    epochs: history.length,
    seconds: (performance.now() - t0) / 1000,
    final,
    history,
  });
  console.log(`saved ${path}`);
}

function parseRho(s: string): [number, number] {
  const p = s.split(",").map(Number);
  if (p.length !== 2 || !p.every(Number.isFinite)) {
    throw new RangeError(`--rho_init expects "lo,hi", found "${s}"`);
  }
  return [p[0], p[1]];
}

if (import.meta.main) {
  await runMain(async () => {
    const f = parseFlags(Deno.args, {
      accuracy: { type: "boolean", default: false, help: "full-MNIST accuracy run instead" },
      configs: {
        type: "string",
        default: Object.keys(CONFIGS).join(","),
        help: "speed: configurations to time",
      },
      n_samples: { type: "int", default: 3, min: 1, help: "speed: samples per step" },
      steps: { type: "int", default: 10, min: 1, help: "speed: timed steps per configuration" },
      warmup: { type: "int", default: 3, min: 0, help: "speed: untimed steps first" },
      model: {
        type: "string",
        default: "gaussian",
        choices: ["gaussian", "laplace", "gmm"],
        help: "accuracy: prior",
      },
      estimator: {
        type: "string",
        default: "weight",
        choices: ["weight", "local", "flipout"],
        help: "accuracy: estimator",
      },
      rho_init: { type: "string", default: "-3,-2", help: "accuracy: ρ initial range" },
      epochs: { type: "int", default: 30, min: 1, help: "accuracy: epochs" },
      seed: { type: "int", default: 0, help: "accuracy: seed" },
      data_dir: { type: "string", help: "accuracy: folder holding mnist/" },
      backend: { type: "string", default: "wasm", help: "backend" },
    }, {
      name: "bench/bbb.ts",
      description: "Bayes-by-Backprop step time per estimator, or full-MNIST accuracy.",
    });
    if (!f) return;
    if (f.accuracy) await accuracy(f);
    else await speed(f);
  });
}
