// The training scripts run without flags train what the MNIST table reports: their defaults are
// the registry's full budgets (epochs, batch size, every setting), and flags still win.
import assert from "node:assert/strict";
import { parseFlags } from "../core/cli.ts";
import type { NetSpec } from "../core/method.ts";
import { METHODS } from "../methods/registry.ts";
import { type ChainSettings, checkCollects } from "../methods/sgmcmc/chain.ts";
import { samplesCollected } from "../methods/sgmcmc/schedule.ts";
import { scriptFlags, type TrainScript } from "../experiments/lib/train_script.ts";
import { script as map } from "../experiments/train_map_mnist.ts";
import { script as mcDropout } from "../experiments/train_mc_dropout_mnist.ts";
import { script as ensemble } from "../experiments/train_bootstrap_ensemble_mnist.ts";
import { script as kfac } from "../experiments/train_kf_laplace_mnist.ts";
import { script as sgld } from "../experiments/train_sgld_mnist.ts";
import { script as sghmc } from "../experiments/train_sghmc_mnist.ts";
import { script as bbb } from "../experiments/train_bayes_by_backprop_mnist.ts";
import { runScript } from "./_run_script.ts";

const SPEC: NetSpec = {
  inputDim: 784,
  hidden: [1200, 1200],
  outputDim: 10,
  task: "classification",
};
const META = { name: "t.ts", description: "" };

// Settings that say how the script drives the method, not what it trains: the SG-MCMC sample
// folder, and KFAC's curvature pass and τ tuning, which the script runs itself after training
// (its --tune flag is checked against the registry below).
const MECHANISM = new Set(["sampleDir", "autoCurvature", "tune"]);

const CASES: [string, TrainScript, string[]][] = [
  ["map", map, []],
  ["mc_dropout", mcDropout, []],
  ["ensemble", ensemble, []],
  ["kfac_laplace", kfac, []],
  ["sgld", sgld, []],
  ["psgld", sgld, ["--use_preconditioning", "True"]],
  ["sghmc", sghmc, []],
  ["bbb_gaussian", bbb, ["--model", "Gaussian_prior"]],
  ["bbb_laplace", bbb, ["--model", "Laplace_prior"]],
  ["bbb_gmm", bbb, ["--model", "GMM_prior"]],
  ["bbb_local", bbb, []],
  ["bbb_flipout", bbb, ["--model", "Gaussian_prior", "--estimator", "flipout"]],
];

const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

for (const [key, script, args] of CASES) {
  Deno.test(`${script.name} ${args.join(" ")}: defaults are the table's ${key} budget`, () => {
    const { specs, preset, description } = scriptFlags(script, args);
    assert.equal(preset, key);
    assert.match(description, new RegExp(`MNIST table's ${METHODS[key].label} row`));
    const f = parseFlags(args, specs, META)!;
    const full = METHODS[key].full;
    assert.equal(f.epochs, full.epochs, "epochs");
    assert.equal(f.batch_size, full.batchSize, "batch size");
    for (const [k, v] of Object.entries(full.settings ?? {})) {
      assert.deepEqual(f[snake(k)], Array.isArray(v) ? v.join(",") : v, `--${snake(k)}`);
    }
    const fromScript = script.build(SPEC, f).settings;
    const fromTable = METHODS[key].build(SPEC, full.settings ?? {}).settings;
    for (const k of new Set([...Object.keys(fromScript), ...Object.keys(fromTable)])) {
      if (MECHANISM.has(k)) continue;
      assert.deepEqual(fromScript[k], fromTable[k], `setting ${k}`);
    }
  });
}

Deno.test("flags on the command line replace the preset's defaults", () => {
  const args = ["--epochs", "3", "--weight_decay", "0", "--lr_schedule", "constant"];
  const { specs } = scriptFlags(map, args);
  const f = parseFlags(args, specs, META)!;
  assert.equal(f.epochs, 3);
  const s = map.build(SPEC, f).settings;
  assert.equal(s.weightDecay, 0);
  assert.equal(s.lrSchedule, "constant");
});

Deno.test("a preset setting without a flag is a programming error naming both", () => {
  const { lr_schedule: _, ...flags } = map.flags;
  assert.throws(
    () => scriptFlags({ ...map, flags }, []),
    /train_map_mnist\.ts: the registry's map\.full\.lrSchedule has no flag --lr_schedule/,
  );
  assert.throws(() => scriptFlags({ ...map, preset: "nope" }, []), /preset nope is not a registry/);
});

Deno.test("-h shows the preset's defaults and says where they come from", async () => {
  const r = await runScript("experiments/train_sgld_mnist.ts", ["--use_preconditioning", "-h"]);
  assert.equal(r.code, 0, r.stderr);
  const full = METHODS.psgld.full;
  assert.match(
    r.stdout,
    new RegExp(`--epochs <int>\\s+training epochs \\(default: ${full.epochs}\\)`),
  );
  assert.match(r.stdout, /--schedule <str>[^\n]*default: cyclical\)/);
  assert.match(r.stdout, /MNIST table's pSGLD row/);
});

Deno.test("the samplers' full MNIST budgets collect the samples the registry states", () => {
  // The registry's comments and the README give these counts (60,000 training digits).
  const want: Record<string, number> = { sgld: 12, psgld: 24, sghmc: 58 };
  for (const [key, n] of Object.entries(want)) {
    const e = METHODS[key];
    const s = e.build(SPEC, e.full.settings).settings as unknown as ChainSettings;
    const bpe = Math.ceil(60000 / e.full.batchSize);
    assert.equal(samplesCollected(s, e.full.epochs, bpe), n, key);
    checkCollects(s, e.full.epochs, bpe);
  }
});
