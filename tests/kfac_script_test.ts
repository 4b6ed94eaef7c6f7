// experiments/train_kf_laplace_mnist.ts end to end (1 epoch on 2000 MNIST
// examples) and its bad-input handling.
import assert from "node:assert/strict";
import { readSaved } from "../core/persist.ts";
import { runScript } from "./_run_script.ts";

const DATA = Deno.env.get("BNN_DATA_DIR");
if (!DATA) console.warn("SKIP KFAC Laplace script run: BNN_DATA_DIR is not set");

const run = (args: string[]) => runScript("experiments/train_kf_laplace_mnist.ts", args);

Deno.test({
  name: "train_kf_laplace_mnist.ts: 1 epoch on 2000 examples, curvature, marglik tuning, outputs",
  ignore: !DATA,
  async fn() {
    const dir = await Deno.makeTempDir();
    const r = await run([
      "--limit",
      "2000",
      "--test_limit",
      "500",
      "--epochs",
      "1",
      "--test_samples",
      "5",
      "--hidden",
      "100,100",
      "--tune",
      "marglik",
      "--models_dir",
      `${dir}/m`,
      "--results_dir",
      `${dir}/r`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /kfac_laplace: test error [\d.]+%/);
    assert.match(r.stderr, /curvature pass: 2000 examples/);
    const history = JSON.parse(await Deno.readTextFile(`${dir}/r/history.json`));
    assert.equal(history.length, 1);
    const metrics = JSON.parse(await Deno.readTextFile(`${dir}/r/test_metrics.json`));
    assert.equal(metrics.samples, 5);
    assert.ok(metrics.errorPct < 50, `error ${metrics.errorPct}%`);
    const lap = JSON.parse(await Deno.readTextFile(`${dir}/r/laplace.json`));
    assert.equal(lap.curvature.n, 2000);
    assert.equal(lap.tune.method, "marglik");
    assert.equal(lap.prior.priorPrecision, lap.tune.priorPrecision);
    assert.equal(typeof lap.map.errorPct, "number");
    await Deno.stat(`${dir}/r/training_curve.svg`);
    const { manifest, state } = await readSaved(`${dir}/m`);
    assert.equal(manifest.method, "kfac_laplace");
    assert.equal(manifest.settings.priorPrecision, lap.prior.priorPrecision);
    assert.deepEqual(state.tensors["kfac.l0.q"].shape, [785, 785]);
    assert.deepEqual(state.tensors["kfac.l2.h"].shape, [10, 10]);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("train_kf_laplace_mnist.ts rejects bad input with exit code 2", async () => {
  const cases: [string[], RegExp][] = [
    [["--predictive", "nuts"], /--predictive must be one of sample, glm, found "nuts"/],
    [["--hessian_diag_sig", "0"], /--hessian_diag_sig must be > 0, found 0/],
    [["--tune", "grid"], /--tune must be one of none, marglik, val/],
  ];
  for (const [args, msg] of cases) {
    const r = await run(args);
    assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
});
