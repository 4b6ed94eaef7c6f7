/**
 * Trains one registered method on full MNIST with its registry budget
 * (`entry.full`) and prints its test metrics (100 posterior samples) as one
 * JSON line. Used by `deno task bench --accuracy [--backend webgpu]`.
 *
 * @module
 */
import { initBackend } from "../core/backend.ts";
import { parseFlags, runMain } from "../core/cli.ts";
import { evaluate } from "../core/evaluate.ts";
import type { NetSpec } from "../core/method.ts";
import { fit } from "../core/train.ts";
import { loadMnist } from "../datasets/mnist.ts";
import { METHODS } from "../methods/registry.ts";

if (import.meta.main) {
  await runMain(async () => {
    const f = parseFlags(Deno.args, {
      method: { type: "string", default: "map", help: "registry key" },
      epochs: { type: "int", min: 1, help: "override the registry's epochs" },
      seed: { type: "int", default: 0, help: "seed" },
      backend: { type: "string", help: "backend (default BNN_BACKEND or auto)" },
    }, { name: "method_accuracy.ts", description: "Full-MNIST accuracy of one method." });
    if (!f) return;
    await initBackend({ backend: f.backend as string | undefined, quiet: true });
    const e = METHODS[String(f.method)];
    if (!e) throw new RangeError(`unknown method ${f.method}`);
    const train = await loadMnist("mnist", "train");
    const test = await loadMnist("mnist", "test");
    const spec: NetSpec = {
      inputDim: 784,
      hidden: [1200, 1200],
      outputDim: 10,
      task: "classification",
    };
    const m = e.build(spec, e.full.settings);
    const epochs = (f.epochs as number | undefined) ?? e.full.epochs;
    const t0 = performance.now();
    const { history } = await fit(m, train, {
      epochs,
      batchSize: e.full.batchSize,
      seed: Number(f.seed),
    });
    const r = await evaluate(m, test, { samples: Math.min(100, m.defaultSamples) });
    console.log(JSON.stringify({
      epochs,
      seconds: (performance.now() - t0) / 1000,
      errorPct: r.errorPct,
      logLikSum: r.logLikSum,
      history,
    }));
  });
}
