// The MNIST results table end to end on a small budget, its layout, and bad input.
import assert from "node:assert/strict";
// @ts-types="@types/d3-dsv"
import { csvParse } from "d3-dsv";
import {
  MNIST_TABLE_COLUMNS,
  mnistTable,
  type MnistTableRow,
  REFERENCE_MNIST,
} from "../experiments/mnist_table.ts";
import { runScript } from "./_run_script.ts";

const DATA = Deno.env.get("BNN_DATA_DIR");
if (!DATA) console.warn("SKIP MNIST table study test: BNN_DATA_DIR is not set");

const run = (args: string[]) => runScript("experiments/mnist_table.ts", args);

Deno.test({
  name: "mnist_table.ts: quick run on map + mc_dropout writes the table next to the reference",
  ignore: !DATA,
  async fn() {
    const dir = await Deno.makeTempDir();
    const r = await run([
      "--methods=map,mc_dropout",
      `--models_dir=${dir}/models`,
      `--results_dir=${dir}/res`,
      "--train_limit=1000",
      "--test_limit=500",
      "--samples=4",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const md = await Deno.readTextFile(`${dir}/res/mnist_table.md`);
    const lines = md.split("\n").filter((l) => l.startsWith("|"));
    assert.equal(lines[0], "| MNIST Test | MAP | MC Dropout |");
    assert.deepEqual(lines.slice(2).map((l) => l.split(" | ")[0]), [
      "| Log Like",
      "| Error %",
      "| Log Like (reference)",
      "| Error % (reference)",
    ]);
    assert.equal(lines[4], "| Log Like (reference) | -572.9 | -435.458 |");
    assert.equal(lines[5], "| Error % (reference) | 1.58 | 1.37 |");
    assert.match(md, /Only 500 test digits/);
    assert.match(md, /Mode: quick/);
    const rows = csvParse(await Deno.readTextFile(`${dir}/res/mnist_table.csv`));
    assert.deepEqual(rows.columns, MNIST_TABLE_COLUMNS);
    const json = JSON.parse(await Deno.readTextFile(`${dir}/res/mnist_table.json`));
    assert.deepEqual(json.map((r: { key: string }) => r.key), ["map", "mc_dropout"]);
    for (const row of json) {
      assert.deepEqual(Object.keys(row), MNIST_TABLE_COLUMNS);
      assert.equal(row.n, 500);
      assert.ok(Math.abs(row.log_lik_sum - row.log_lik_mean * 500) < 1e-6);
      assert.ok(row.log_lik_sum < 0 && row.error_pct > 0 && row.error_pct < 40);
      assert.ok(row.ece >= 0 && row.ece <= 1 && row.brier >= 0 && row.brier <= 2);
      // the Markdown shows the same numbers
      assert.ok(lines[2].includes(row.log_lik_sum.toFixed(2)));
    }
    assert.deepEqual(json.map((r: { samples: number }) => r.samples), [1, 4]);
    assert.deepEqual(json.map((r: { ref_error_pct: number }) => r.ref_error_pct), [1.58, 1.37]);
    assert.match(r.stdout, /Log Like \(reference\)/);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("mnistTable: methods as columns, – where the reference has no value", () => {
  const row = (method: string, key: string, ll: number, err: number): MnistTableRow => ({
    method,
    key,
    log_lik_sum: ll,
    error_pct: err,
    ece: 0.01,
    brier: 0.03,
    log_lik_mean: ll / 10000,
    samples: 100,
    n: 10000,
    ref_log_lik_sum: REFERENCE_MNIST[key]?.logLik ?? null,
    ref_error_pct: REFERENCE_MNIST[key]?.errorPct ?? null,
  });
  const t = mnistTable([
    row("BBB Gaussian", "bbb_gaussian", -1000.123, 2.5),
    row("SGHMC", "sghmc", -700, 1.9),
  ]);
  assert.equal(
    t.markdown,
    [
      "| MNIST Test | BBB Gaussian | SGHMC |",
      "| --- | ---: | ---: |",
      "| Log Like | -1000.12 | -700.00 |",
      "| Error % | 2.50 | 1.90 |",
      "| Log Like (reference) | -1100.29 | – |",
      "| Error % (reference) | 2.60 | – |",
      "",
    ].join("\n"),
  );
  // Every reference column of its README is keyed.
  assert.deepEqual(
    Object.values(REFERENCE_MNIST).map((r) => r.name),
    [
      "MAP",
      "MAP Ensemble",
      "BBP Gaussian",
      "BBP GMM",
      "BBP Laplace",
      "BBP Local Reparam",
      "MC Dropout",
      "SGLD",
      "pSGLD",
    ],
  );
});

Deno.test("mnist_table.ts rejects bad flags with exit code 2", async () => {
  const r = await run(["--test_limit", "0"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--test_limit must be ≥ 1, found 0/);
});
