// The toy regression study end to end on a small budget (no data files needed), and bad input.
import assert from "node:assert/strict";
// @ts-types="@types/d3-dsv"
import { csvParse } from "d3-dsv";
import { DOMParser } from "linkedom";
import { METHODS } from "../methods/registry.ts";
import { parseKinds, TOY_COLUMNS } from "../experiments/regression_toy.ts";
import {
  REGRESSION_FALLBACK,
  regressionBudget,
  withEpochs,
} from "../experiments/lib/regression_study_train.ts";
import { runScript } from "./_run_script.ts";

const run = (args: string[]) => runScript("experiments/regression_toy.ts", args);

Deno.test("parseKinds and regressionBudget", () => {
  assert.deepEqual(parseKinds("hetero, homoscedastic,hetero"), ["hetero", "homo"]);
  assert.throws(
    () => parseKinds("homo,cubic"),
    /--kinds: expected homo and\/or hetero, found "cubic"/,
  );
  const map = regressionBudget(METHODS.map);
  assert.equal(map.fromRegistry, true);
  assert.equal(map.epochs, METHODS.map.regression!.epochs);
  assert.deepEqual(map.settings, METHODS.map.regression!.settings);
  assert.equal(regressionBudget(METHODS.map, { epochs: 7, batch_size: 16 }).epochs, 7);
  assert.equal(regressionBudget(METHODS.map, { epochs: 7, batch_size: 16 }).batchSize, 16);
  const bare = regressionBudget({ ...METHODS.map, regression: undefined });
  assert.equal(bare.fromRegistry, false);
  assert.equal(bare.epochs, REGRESSION_FALLBACK.epochs);
  assert.deepEqual(bare.settings, {});
  // Settings counted in epochs follow a changed epoch budget.
  const sg = {
    ...METHODS.map,
    regression: { epochs: 400, batchSize: 32, settings: { burnIn: 100, sampleFreq: 3, lr: 1 } },
  };
  assert.deepEqual(regressionBudget(sg, { epochs: 40 }).settings, {
    burnIn: 10,
    sampleFreq: 1,
    lr: 1,
  });
  assert.deepEqual(withEpochs(regressionBudget(sg), 800).settings, {
    burnIn: 200,
    sampleFreq: 6,
    lr: 1,
  });
  assert.equal(withEpochs(regressionBudget(sg), 400).settings.burnIn, 100);
});

Deno.test("regression_toy.ts: small run on map + mc_dropout writes both figures and metrics", async () => {
  const dir = await Deno.makeTempDir();
  const r = await run([
    "--methods=map,mc_dropout",
    `--models_dir=${dir}/models`,
    `--results_dir=${dir}/res`,
    "--epochs=60",
    "--n_train=120",
    "--n_test=80",
    "--test_samples=10",
    "--grid_points=60",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const csv = csvParse(await Deno.readTextFile(`${dir}/res/regression_toy.csv`));
  assert.deepEqual(csv.columns, [...TOY_COLUMNS]);
  const { rows } = JSON.parse(await Deno.readTextFile(`${dir}/res/regression_toy.json`));
  assert.equal(rows.length, 2 * 3);
  const get = (kind: string, m: string) =>
    rows.find((x: { kind: string; method: string }) => x.kind === kind && x.method === m);
  for (const kind of ["homoscedastic", "heteroscedastic"]) {
    for (const m of ["GP", "MAP", "MC Dropout"]) {
      const x = get(kind, m);
      assert.ok(Number.isFinite(x.test_log_lik) && x.rmse > 0, `${kind} ${m}`);
      assert.equal(x.n_train, 120);
      assert.equal(x.n_test, 80);
    }
    assert.equal(get(kind, "MAP").samples, 1);
    assert.equal(get(kind, "MC Dropout").samples, 10);
    assert.equal(get(kind, "MAP").epochs, 60);
    // The exact GP with the true kernel and noise is the best predictor there is.
    const gp = get(kind, "GP");
    for (const m of ["MAP", "MC Dropout"]) {
      assert.ok(get(kind, m).test_log_lik < gp.test_log_lik + 0.05, `${kind} ${m} vs GP`);
    }
  }
  // Noise 0.3·|x + 2| on [-4, 4] is mostly larger than 0.3: lower likelihood, larger error.
  assert.ok(get("heteroscedastic", "GP").test_log_lik < get("homoscedastic", "GP").test_log_lik);
  assert.ok(get("homoscedastic", "GP").rmse < 0.45, `GP RMSE ${get("homoscedastic", "GP").rmse}`);
  for (const kind of ["homoscedastic", "heteroscedastic"]) {
    const svg = await Deno.readTextFile(`${dir}/res/toy_${kind}.svg`);
    const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
    assert.equal(doc.documentElement?.tagName.toLowerCase(), "svg");
    const text = doc.documentElement.textContent;
    for (const t of ["GP posterior (ground truth)", "MAP", "MC Dropout", "±2σ epistemic", "data"]) {
      assert.ok(text.includes(t), `${kind}: ${t}`);
    }
    assert.match(doc.querySelector(".figure-title").textContent, /\(quick budget\)$/);
    // Bands stay near the panel: no path coordinates far outside it.
    const coords = Array.from(
      doc.querySelectorAll("path"),
      (p: { getAttribute(n: string): string }) =>
        (p.getAttribute("d") ?? "").match(/-?\d+(\.\d+)?(e[+-]?\d+)?/g) ?? [],
    ).flat().map(Number);
    assert.ok(Math.max(...coords.map(Math.abs)) < 5000, "clamped bands");
  }
  assert.match(
    r.stdout,
    /^wrote toy_homoscedastic\.svg, toy_heteroscedastic\.svg, regression_toy\.csv, regression_toy\.json to .* in [\d.]+ s$/m,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("regression_toy.ts rejects an unknown noise kind with exit code 2", async () => {
  const dir = await Deno.makeTempDir();
  const r = await run(["--kinds", "cubic", `--results_dir=${dir}/r`, `--models_dir=${dir}/m`]);
  await Deno.remove(dir, { recursive: true });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--kinds: expected homo and\/or hetero, found "cubic"/);
});
