/**
 * The SG-MCMC training scripts end to end on real MNIST (skipped without
 * `BNN_DATA_DIR`), and their refusal of bad input before any work.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runScript } from "./_run_script.ts";

const dataDir = Deno.env.get("BNN_DATA_DIR");

const run = (script: string, args: string[]) => runScript(`experiments/${script}`, args);

Deno.test({
  name:
    "train_sgld_mnist.ts (pSGLD): 1 epoch on 2000 MNIST examples writes results, model, samples",
  ignore: !dataDir,
  fn: async () => {
    const tmp = await Deno.makeTempDir();
    const models = join(tmp, "models"), results = join(tmp, "results");
    const r = await run("train_sgld_mnist.ts", [
      "--use_preconditioning",
      "True",
      "--limit",
      "2000",
      "--test_limit",
      "500",
      "--epochs",
      "1",
      "--burn_in",
      "0",
      "--cycles", // the table's cyclical schedule, one cycle in the one epoch
      "1",
      "--test_samples",
      "5",
      "--models_dir",
      models,
      "--results_dir",
      results,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /psgld: test error/);
    const metrics = JSON.parse(await Deno.readTextFile(join(results, "test_metrics.json")));
    assert.equal(metrics.method, "psgld");
    assert.equal(metrics.samples, 1);
    assert.ok(metrics.errorPct < 60, `error ${metrics.errorPct}%`);
    for (const f of ["history.json", "history.csv", "training_curve.svg"]) {
      await Deno.stat(join(results, f));
    }
    for (const f of ["weights.safetensors", "manifest.json", "samples/sample_0000.safetensors"]) {
      await Deno.stat(join(models, f));
    }
    await Deno.remove(tmp, { recursive: true });
  },
});

Deno.test({
  name: "train_sghmc_mnist.ts: 2 epochs on 1000 MNIST examples collect samples and predict",
  ignore: !dataDir,
  fn: async () => {
    const tmp = await Deno.makeTempDir();
    const r = await run("train_sghmc_mnist.ts", [
      "--limit=1000",
      "--test_limit=300",
      "--epochs=2",
      "--burn_in=1",
      "--sample_freq=1",
      "--cycles=1",
      "--models_dir",
      join(tmp, "m"),
      "--results_dir",
      join(tmp, "r"),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const metrics = JSON.parse(await Deno.readTextFile(join(tmp, "r", "test_metrics.json")));
    assert.equal(metrics.method, "sghmc");
    assert.equal(metrics.samples, 1);
    assert.ok(Number.isFinite(metrics.logLikSum));
    const history = JSON.parse(await Deno.readTextFile(join(tmp, "r", "history.json")));
    assert.equal(history.length, 2);
    assert.ok(history[1].priorSig > 0, "the Gibbs-sampled prior σ is recorded");
    await Deno.stat(join(tmp, "m", "samples", "sample_0000.safetensors"));
    await Deno.remove(tmp, { recursive: true });
  },
});

Deno.test("SG-MCMC scripts refuse bad input with exit code 2 naming the flag", async () => {
  const r1 = await run("train_sghmc_mnist.ts", ["--epochs", "10", "--burn_in", "10"]);
  assert.equal(r1.code, 2);
  assert.match(r1.stderr, /--burn_in \(10\) must be smaller than --epochs \(10\)/);
  const r2 = await run("train_sgld_mnist.ts", ["--sample_freq", "0"]);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /--sample_freq must be ≥ 1/);
  // The table's 12 cycles do not fit 3 epochs.
  const r3 = await run("train_sgld_mnist.ts", ["--epochs", "3"]);
  assert.equal(r3.code, 2);
  assert.match(r3.stderr, /--cycles \(12\) must be at most the epochs after burn-in \(3\)/);
});
