// experiments/train_bayes_by_backprop_mnist.ts end to end (1 epoch on 2000 MNIST examples) and
// its bad-input handling.
import assert from "node:assert/strict";
import { parseFlags } from "../core/cli.ts";
import { MODELS, script, settingsFromFlags } from "../experiments/train_bayes_by_backprop_mnist.ts";
import { COMMON_FLAGS } from "../experiments/lib/train_script.ts";
import { runScript } from "./_run_script.ts";

const DATA = Deno.env.get("BNN_DATA_DIR");
if (!DATA) console.warn("SKIP Bayes-by-Backprop script run: BNN_DATA_DIR is not set");

const run = (args: string[]) => runScript("experiments/train_bayes_by_backprop_mnist.ts", args);

Deno.test({
  name: "train_bayes_by_backprop_mnist.ts: 1 epoch on 2000 examples writes metrics and model",
  ignore: !DATA,
  async fn() {
    const dir = await Deno.makeTempDir();
    const r = await run([
      "--model",
      "Laplace_prior",
      "--limit=2000",
      "--test_limit=500",
      "--epochs=1",
      "--first_epoch_samples=2",
      "--n_samples=2",
      "--test_samples=5",
      "--lr=1e-3",
      "--eval_mean",
      `--models_dir=${dir}/m`,
      `--results_dir=${dir}/r`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /bbb_laplace: test error [\d.]+%/);
    const history = JSON.parse(await Deno.readTextFile(`${dir}/r/history.json`));
    assert.equal(history.length, 1);
    const keys = ["trainLoss", "nll", "kl", "sigmaMean", "validErrorPct", "meanErrorPct"];
    for (const k of [...keys, "meanLogLik"]) {
      assert.equal(typeof history[0][k], "number", k);
    }
    // Chance is 90%; the reference settings learn slowly (50–66% after this epoch across seeds,
    // before and after the engine port).
    assert.ok(history[0].validErrorPct < 75, `error after 1 epoch: ${history[0].validErrorPct}%`);
    assert.match(r.stderr, /mean-net err [\d.]+%/); // --eval_mean on the progress line
    assert.match(await Deno.readTextFile(`${dir}/r/history.csv`), /meanErrorPct/);
    const metrics = JSON.parse(await Deno.readTextFile(`${dir}/r/test_metrics.json`));
    assert.equal(metrics.method, "bbb_laplace");
    assert.equal(metrics.samples, 5);
    assert.equal(metrics.settings.prior, "laplace");
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/m/manifest.json`));
    assert.equal(manifest.method, "bbb_laplace");
    await Deno.stat(`${dir}/m/weights.safetensors`);
    await Deno.stat(`${dir}/r/training_curve.svg`);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("bad flags exit with code 2 and name the flag, before any work", async () => {
  const cases: [string[], RegExp][] = [
    [["--model", "Cauchy_prior"], /--model must be one of Gaussian_prior, Laplace_prior/],
    [["--prior_sig", "0"], /--prior_sig must be > 0, found 0/],
    [["--n_samples", "0"], /--n_samples must be ≥ 1, found 0/],
    [
      ["--model", "Local_Reparam", "--estimator", "flipout"],
      /Local_Reparam means --estimator local/,
    ],
    [["--rho_init", "-2,-3"], /--rho_init expects "lo,hi" with lo ≤ hi/],
    [["--samples_after", "60"], /--samples_after expects "none" or "epochs,samples".*found "60"/],
    [["--samples_after", "0,3"], /--samples_after expects/],
  ];
  for (const [args, msg] of cases) {
    const r = await run(args);
    assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
});

Deno.test("--model maps to prior and estimator as the reference", () => {
  const specs = { ...script.flags, ...COMMON_FLAGS };
  const meta = { name: script.name, description: "" };
  const parse = (args: string[]) => parseFlags(args, specs, meta)!;
  assert.deepEqual(
    Object.fromEntries(Object.entries(MODELS).map(([k, v]) => [k, `${v.prior}/${v.estimator}`])),
    {
      Gaussian_prior: "gaussian/weight",
      Laplace_prior: "laplace/weight",
      GMM_prior: "gmm/weight",
      Local_Reparam: "gaussian/local",
    },
  );
  const s = settingsFromFlags(parse(["--model", "GMM_prior", "--prior_sig", "0.2"]));
  assert.equal(s.prior, "gmm");
  assert.equal(s.priorSigma, 0.2);
  assert.deepEqual(s.rhoInit, [-3, -2]);
  const f = settingsFromFlags(
    parse(["--model", "Gaussian_prior", "--estimator", "flipout", "--rho_init", "-8,-7"]),
  );
  assert.equal(f.estimator, "flipout");
  assert.deepEqual(f.rhoInit, [-8, -7]);
  assert.equal(settingsFromFlags(parse([])).estimator, "local"); // the reference's default model
  assert.deepEqual(settingsFromFlags(parse(["--samples_after", "60,5"])).samplesAfter, [60, 5]);
  assert.equal(settingsFromFlags(parse(["--samples_after", "none"])).samplesAfter, null);
});
