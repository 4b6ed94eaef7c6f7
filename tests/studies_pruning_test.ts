// The pruning study: global masks, state restoration, then end to end on a small budget.
import assert from "node:assert/strict";
// @ts-types="@types/d3-dsv"
import { csvParse } from "d3-dsv";
import { DOMParser } from "linkedom";
import { initBackend } from "../core/backend.ts";
import { evaluate } from "../core/evaluate.ts";
import type { Method } from "../core/method.ts";
import { fit } from "../core/train.ts";
import { Rng } from "../core/rng.ts";
import { globalPruner, pruningSweep } from "../experiments/lib/weight_study_pruning.ts";
import { parseFractions, PRUNING_COLUMNS } from "../experiments/pruning.ts";
import { buildMap } from "../methods/map.ts";
import { runScript, runStudy } from "./_run_script.ts";

const DATA = Deno.env.get("BNN_DATA_DIR");
if (!DATA) console.warn("SKIP pruning study run: BNN_DATA_DIR is not set");

const run = (args: string[]) => runScript("experiments/pruning.ts", args);

Deno.test("globalPruner: one threshold over all layers, exact counts with ties", () => {
  const prune = globalPruner({
    "l0.w": new Float32Array([0.1, 3, 0.2, 0.5]),
    "l1.w": new Float32Array([2, 0.05]),
  });
  const half = prune(0.5);
  assert.equal(half.total, 6);
  assert.equal(half.removed, 3);
  // The three smallest (0.05, 0.1, 0.2) go, wherever they are.
  assert.deepEqual(Array.from(half.keep["l0.w"]), [0, 1, 0, 1]);
  assert.deepEqual(Array.from(half.keep["l1.w"]), [1, 0]);
  assert.deepEqual(Array.from(prune(0).keep["l0.w"]), [1, 1, 1, 1]);
  assert.equal(prune(1).removed, 6);
  // Ties at the threshold: exactly round(f·n) removed, in order.
  const ties = globalPruner({ a: new Float32Array([1, 1, 1, 1, 2]) })(0.4);
  assert.equal(ties.removed, 2);
  assert.deepEqual(Array.from(ties.keep.a), [0, 0, 1, 1, 1]);
  assert.throws(() => prune(1.5), /pruning fraction must be in \[0, 1\]/);
  assert.throws(() => globalPruner({ a: new Float32Array([NaN]) }), /score 0 of a is NaN/);
});

Deno.test("parseFractions sorts, de-duplicates and names bad entries", () => {
  assert.deepEqual(parseFractions("0.9, 0,0.5,0.9"), [0, 0.5, 0.9]);
  assert.throws(() => parseFractions("0.5,1"), /--fractions: .* in \[0, 1\), found "1"/);
  assert.throws(() => parseFractions("x"), /found "x"/);
});

Deno.test("pruningSweep restores the weights between fractions and at the end", async () => {
  await initBackend({ backend: "wasm", quiet: true });
  const rng = new Rng(0);
  const n = 256;
  const x = rng.normalArray(n * 4);
  const y = new Int32Array(n).map((_, i) => (x[i * 4] + x[i * 4 + 1] > 0 ? 1 : 0));
  const ds = { x, y, n, xShape: [4], yShape: [] };
  const m = buildMap({ inputDim: 4, hidden: [32], outputDim: 2, task: "classification" }, {
    optimizer: "adam",
    lr: 1e-2,
  });
  await fit(m, ds, { epochs: 5, batchSize: 64, seed: 0, progress: false });
  const ev = (mm: Method) => evaluate(mm, ds, { samples: 1 });
  const before = await ev(m);
  const weightsBefore = (await m.sampleWeights(1))[0];
  // Unsorted on purpose: the 0 after 0.99 must see the restored network.
  const rs = await pruningSweep(m, [0.99, 0, 0.5], ev);
  assert.ok(rs);
  assert.deepEqual(rs.map((r) => r.fraction), [0.99, 0, 0.5]);
  assert.equal(rs[0].total, 4 * 32 + 32 * 2);
  assert.equal(rs[0].removed, Math.round(0.99 * 192));
  assert.equal(rs[1].removed, 0);
  assert.equal(rs[1].metrics.logLikMean, before.logLikMean);
  assert.ok(rs[0].metrics.errorPct! > before.errorPct! + 10, JSON.stringify(rs));
  assert.deepEqual((await m.sampleWeights(1))[0], weightsBefore);
  m.dispose();
});

Deno.test({
  name: "pruning.ts: quick run on map + mc_dropout writes the sweep and figure",
  ignore: !DATA,
  async fn() {
    const r = await runStudy("experiments/pruning.ts", [
      "--train_limit=1000",
      "--test_limit=300",
      "--test_samples=3",
      "--fractions=0,0.5,0.99",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const csv = csvParse(await Deno.readTextFile(`${r.res}/pruning.csv`));
    assert.deepEqual(csv.columns, [...PRUNING_COLUMNS]);
    const { rows } = JSON.parse(await Deno.readTextFile(`${r.res}/pruning.json`));
    assert.equal(rows.length, 2 * 3);
    const total = 784 * 1200 + 1200 * 1200 + 1200 * 10;
    for (const m of ["MAP", "MC Dropout"]) {
      const rs = rows.filter((x: { method: string }) => x.method === m);
      assert.deepEqual(rs.map((x: { fraction_removed: number }) => x.fraction_removed), [
        0,
        Math.round(0.5 * total) / total,
        Math.round(0.99 * total) / total,
      ]);
      for (const x of rs) {
        assert.equal(x.weights_total, total);
        assert.equal(x.n_test, 300);
        assert.ok(x.error_pct >= 0 && x.error_pct <= 100 && x.log_lik_mean < 0);
      }
      assert.equal(rs[0].samples, m === "MAP" ? 1 : 3);
      // Removing 99% of the weights hurts; the trained net is far better than chance.
      assert.ok(rs[0].error_pct < 40, `${m} unpruned error ${rs[0].error_pct}`);
      assert.ok(rs[2].error_pct > rs[0].error_pct + 5, `${m}: ${JSON.stringify(rs)}`);
    }
    const svg = await Deno.readTextFile(`${r.res}/pruning.svg`);
    const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
    assert.equal(doc.documentElement?.tagName.toLowerCase(), "svg");
    const text = doc.documentElement.textContent;
    for (const t of ["MAP", "MC Dropout", "test error (%)", "weights kept"]) {
      assert.ok(text.includes(t), t);
    }
    // Which ranking each method was pruned by: in the legend and in the rows.
    for (const t of ["MAP (ranked by |w|)", "MC Dropout (ranked by |w|)", "(quick budget)"]) {
      assert.ok(text.includes(t), t);
    }
    assert.ok(csv.every((row) => row.ranking === "|w|"), "ranking column");
    await Deno.remove(r.dir, { recursive: true });
  },
});

Deno.test("pruning.ts rejects a fraction of 1 with exit code 2", async () => {
  const dir = await Deno.makeTempDir();
  const r = await run(["--fractions", "0,1", `--results_dir=${dir}/r`, `--models_dir=${dir}/m`]);
  await Deno.remove(dir, { recursive: true });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--fractions: each fraction must be a number in \[0, 1\), found "1"/);
});
