// The out-of-distribution study end to end on a small budget, OOD normalisation, bad input.
import assert from "node:assert/strict";
// @ts-types="@types/d3-dsv"
import { csvParse } from "d3-dsv";
import { DOMParser } from "linkedom";
import { loadOodSet, OOD_COLUMNS } from "../experiments/ood.ts";
import { runScript, runStudy } from "./_run_script.ts";

const DATA = Deno.env.get("BNN_DATA_DIR");
if (!DATA) console.warn("SKIP OOD study test: BNN_DATA_DIR is not set");
const hasKmnist = DATA !== undefined &&
  await Deno.stat(`${DATA}/kmnist/t10k-images-idx3-ubyte.gz`).then(() => true, () => false);

const run = (args: string[]) => runScript("experiments/ood.ts", args);

Deno.test({
  name: "ood.ts: quick run on map + mc_dropout writes the AUROC table and histograms",
  ignore: !DATA,
  async fn() {
    const r = await runStudy("experiments/ood.ts", [
      "--train_limit=1000",
      "--test_limit=300",
      "--samples=4",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const sets = hasKmnist ? ["fashion-mnist", "kmnist"] : ["fashion-mnist"];
    if (!hasKmnist) {
      assert.match(r.stdout, /note: skipped KMNIST/);
      assert.match(await Deno.readTextFile(`${r.res}/ood.md`), /Skipped KMNIST/);
      // Said once, in the study's terms.
      const notes = `${r.stdout}\n${r.stderr}`.split("\n").filter((l) => /KMNIST/.test(l));
      assert.equal(notes.length, 1, notes.join("\n"));
      assert.doesNotMatch(notes[0], /download: false/);
      assert.match(notes[0], /run with --download to fetch them/);
    }
    assert.match(await Deno.readTextFile(`${r.res}/ood.md`), /^## .*\(quick budget\)$/m);
    const rows = csvParse(await Deno.readTextFile(`${r.res}/ood.csv`));
    assert.deepEqual(rows.columns, OOD_COLUMNS);
    const json = JSON.parse(await Deno.readTextFile(`${r.res}/ood.json`));
    assert.equal(json.length, 2 * sets.length * 2);
    assert.deepEqual(Object.keys(json[0]), OOD_COLUMNS);
    for (const row of json) {
      assert.ok(sets.includes(row.ood_set), row.ood_set);
      assert.ok(row.auroc >= 0 && row.auroc <= 1 && row.aupr >= 0 && row.aupr <= 1);
      assert.equal(row.n_in, 300);
      assert.equal(row.n_out, 300);
    }
    const get = (m: string, score: string) =>
      json.find((r: { method: string; score: string; ood_set: string }) =>
        r.method === m && r.score === score && r.ood_set === "fashion-mnist"
      );
    // A point estimate has no epistemic uncertainty: a constant score, AUROC exactly ½.
    assert.equal(get("MAP", "epistemic").auroc, 0.5);
    assert.equal(get("MAP", "epistemic").out_mean, 0);
    // Fashion-MNIST looks more uncertain than MNIST digits to every model.
    for (const m of ["MAP", "MC Dropout"]) {
      assert.ok(get(m, "total").auroc > 0.6, `${m} total AUROC ${get(m, "total").auroc}`);
      assert.ok(get(m, "total").out_mean > get(m, "total").in_mean);
    }
    assert.ok(get("MC Dropout", "epistemic").auroc > 0.55);
    const md = await Deno.readTextFile(`${r.res}/ood.md`);
    assert.match(md, /\| method \| OOD set \| score \| AUROC \| AUPR \|/);
    for (const s of sets) {
      const svg = await Deno.readTextFile(`${r.res}/ood_${s}.svg`);
      const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
      assert.equal(doc.documentElement?.tagName.toLowerCase(), "svg");
      const text = doc.documentElement.textContent;
      for (const t of ["MAP: total", "MC Dropout: epistemic", "MNIST test (in, 300)"]) {
        assert.ok(text.includes(t), t);
      }
    }
    await Deno.remove(r.dir, { recursive: true });
  },
});

Deno.test({
  name: "OOD images are normalised with MNIST's statistics; a missing set is skipped",
  ignore: !DATA,
  async fn() {
    const mnist = { mean: 0.1307, std: 0.3081 };
    const r = await loadOodSet("fashion-mnist", mnist, { dataDir: DATA, limit: 50 });
    assert.ok("ds" in r);
    const ds = r.ds;
    let min = Infinity, max = -Infinity;
    for (const v of ds.x) [min, max] = [Math.min(min, v), Math.max(max, v)];
    // Black and white pixels map where MNIST's do, not to Fashion-MNIST's own standard scores.
    assert.ok(Math.abs(min - (0 - mnist.mean) / mnist.std) < 1e-5, `min ${min}`);
    assert.ok(Math.abs(max - (1 - mnist.mean) / mnist.std) < 1e-5, `max ${max}`);
    assert.deepEqual(ds.normalization, mnist);
    const empty = await Deno.makeTempDir();
    const k = await loadOodSet("kmnist", mnist, { dataDir: empty, download: false });
    if (!hasKmnist) {
      assert.ok("skipped" in k);
      assert.match(k.skipped, /KMNIST \(test split\): 2 file\(s\) not found/);
    }
    await Deno.remove(empty, { recursive: true });
  },
});

Deno.test("ood.ts rejects an unknown OOD set with exit code 2", async () => {
  const r = await run(["--ood_sets", "cifar10"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--ood_sets: unknown set\(s\) cifar10/);
});
