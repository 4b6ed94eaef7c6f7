// The weight-distribution study: pooling and statistics, then end to end on a small budget.
import assert from "node:assert/strict";
// @ts-types="@types/d3-dsv"
import { csvParse } from "d3-dsv";
import { DOMParser } from "linkedom";
import { Rng } from "../core/rng.ts";
import {
  histogramRange,
  poolWeights,
  quantiles,
  quantileSorted,
  splitZeros,
  weightStats,
} from "../experiments/lib/weight_study_stats.ts";
import { WEIGHT_COLUMNS } from "../experiments/weights.ts";
import { runScript, runStudy } from "./_run_script.ts";

const DATA = Deno.env.get("BNN_DATA_DIR");
if (!DATA) console.warn("SKIP weights study run: BNN_DATA_DIR is not set");

const run = (args: string[]) => runScript("experiments/weights.ts", args);

Deno.test("quantiles by quickselect equal the sorted-array quantiles", () => {
  const rng = new Rng(5);
  for (const n of [1, 2, 7, 1000]) {
    const v = rng.normalArray(n);
    // Ties: many repeated values.
    for (let i = 0; i < n; i += 3) v[i] = 0.25;
    const sorted = v.slice().sort();
    const qs = [0, 0.01, 0.1, 0.333, 0.5, 0.9, 0.99, 1];
    assert.deepEqual(quantiles(v, qs), qs.map((q) => quantileSorted(sorted, q)));
  }
  assert.deepEqual(quantiles(new Float32Array([4, 1, 3, 2]), [0, 0.5, 1]), [1, 2.5, 4]);
  assert.throws(() => quantiles(new Float32Array([1]), [1.5]), /quantile must be in \[0, 1\]/);
});

Deno.test("weightStats: mean, std, quantiles and the near-zero share", () => {
  const v = new Rng(1).normalArray(200_001, 0.5, 2);
  v[0] = 0;
  v[1] = 5e-4;
  const s = weightStats(v);
  assert.equal(s.n, 200_001);
  assert.ok(Math.abs(s.mean - 0.5) < 0.02, `mean ${s.mean}`);
  assert.ok(Math.abs(s.std - 2) < 0.02, `std ${s.std}`);
  assert.ok(Math.abs(s.q50 - 0.5) < 0.03, `median ${s.q50}`);
  // N(0.5, 2²): 1% and 99% quantiles at 0.5 ∓ 2·2.326.
  assert.ok(Math.abs(s.q01 - (0.5 - 4.653)) < 0.1, `q01 ${s.q01}`);
  assert.ok(Math.abs(s.q99 - (0.5 + 4.653)) < 0.1, `q99 ${s.q99}`);
  // P(|w| < 1e-3) under N(0.5, 4) is ≈ 2e-3·φ(0.25)/2 ≈ 4e-4.
  assert.ok(s.fractionAbsLt1e3 > 1e-4 && s.fractionAbsLt1e3 < 1e-3, `${s.fractionAbsLt1e3}`);
  assert.equal(weightStats(new Float32Array([0, 0.5, -0.5, 1])).fractionAbsLt1e3, 0.25);
  assert.throws(() => weightStats(new Float32Array([1, NaN])), /value 1 is NaN/);
});

Deno.test("poolWeights pools weight matrices over sets (biases optional, per layer)", () => {
  const set = (k: number) => ({
    "l0.w": new Float32Array([k, k + 1]),
    "l0.b": new Float32Array([100]),
    "l1.w": new Float32Array([k + 2]),
    "l1.b": new Float32Array([200]),
    "log_noise": new Float32Array([-1]),
  });
  const all = poolWeights([set(0), set(10)]);
  assert.deepEqual([...all.keys()], ["all"]);
  assert.deepEqual(Array.from(all.get("all")!), [0, 1, 2, 10, 11, 12]);
  const per = poolWeights([set(0), set(10)], { perLayer: true });
  assert.deepEqual([...per.keys()], ["l0.w", "l1.w"]);
  assert.deepEqual(Array.from(per.get("l0.w")!), [0, 1, 10, 11]);
  const withB = poolWeights([set(0)], { biases: true }).get("all")!;
  assert.deepEqual(Array.from(withB), [0, 1, 100, 2, 200]);
  assert.throws(() => poolWeights([{ x: new Float32Array(1) }]), /no weight matrices/);
});

Deno.test("splitZeros and histogramRange", () => {
  const { nonZero, zeroFraction } = splitZeros(new Float32Array([0, 1, 0, -2]));
  assert.deepEqual(Array.from(nonZero), [1, -2]);
  assert.equal(zeroFraction, 0.5);
  // Symmetric, and covering the central quantiles of the widest group.
  const wide = new Rng(2).normalArray(10_000, 0, 3);
  const narrow = new Rng(3).normalArray(10_000, 1, 0.1);
  const [lo, hi] = histogramRange([narrow, wide], 0.005);
  assert.equal(lo, -hi);
  assert.ok(hi > 7 && hi < 8.5, `3·2.576 ≈ 7.7, found ${hi}`);
  assert.deepEqual(histogramRange([new Float32Array([-1, 0, 2])], 0), [-2, 2]);
});

Deno.test({
  name: "weights.ts: quick run on map + mc_dropout writes histograms and stats",
  ignore: !DATA,
  async fn() {
    const r = await runStudy("experiments/weights.ts", [
      "--train_limit=500",
      "--samples=3",
      "--per_layer",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const csv = csvParse(await Deno.readTextFile(`${r.res}/weights.csv`));
    assert.deepEqual(csv.columns, [...WEIGHT_COLUMNS]);
    const json = JSON.parse(await Deno.readTextFile(`${r.res}/weights.json`));
    assert.equal(json.rows.length, 2 * 4); // (all, l0.w, l1.w, l2.w) × 2 methods
    const row = (m: string, layer: string) =>
      json.rows.find((x: { method: string; layer: string }) => x.method === m && x.layer === layer);
    const sizes = { "l0.w": 784 * 1200, "l1.w": 1200 * 1200, "l2.w": 1200 * 10 };
    for (const m of ["MAP", "MC Dropout"]) {
      let total = 0;
      for (const [layer, size] of Object.entries(sizes)) {
        assert.equal(row(m, layer).n, 3 * size, `${m} ${layer}`);
        total += 3 * size;
      }
      assert.equal(row(m, "all").n, total);
      const s = row(m, "all");
      assert.ok(s.q01 < s.q50 && s.q50 < s.q99 && s.std > 0, JSON.stringify(s));
    }
    // MC dropout zeroes the rows of dropped units (p = 0.5 into layers 1 and 2), MAP does not.
    assert.ok(row("MC Dropout", "l1.w")["fraction_abs_lt_1e-3"] > 0.4);
    assert.ok(row("MC Dropout", "l0.w")["fraction_abs_lt_1e-3"] < 0.1);
    assert.ok(row("MAP", "all")["fraction_abs_lt_1e-3"] < 0.1);
    for (const f of ["weights", "weights_l0", "weights_l1", "weights_l2"]) {
      const svg = await Deno.readTextFile(`${r.res}/${f}.svg`);
      const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
      assert.equal(doc.documentElement?.tagName.toLowerCase(), "svg", f);
      const text = doc.documentElement.textContent;
      assert.ok(text.includes("MAP") && text.includes("weight value"), f);
      // Layer 0's inputs are not dropped: no zeros there.
      if (f === "weights_l0") assert.ok(!text.includes("exact zeros"), f);
      else assert.match(text, /MC Dropout \(\d+% exact zeros not drawn\)/, f);
    }
    await Deno.remove(r.dir, { recursive: true });
  },
});

Deno.test("weights.ts rejects a bad --samples with exit code 2", async () => {
  const r = await run(["--samples", "0"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--samples must be ≥ 1, found 0/);
});
