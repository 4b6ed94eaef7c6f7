// The FGSM study end to end on a small budget, and its bad-input handling (the FGSM
// helpers themselves are tested in studies_classification_lib_test.ts).
import assert from "node:assert/strict";
// @ts-types="@types/d3-dsv"
import { csvParse } from "d3-dsv";
import { DOMParser } from "linkedom";
import { ADVERSARIAL_COLUMNS, parseEpsilons } from "../experiments/adversarial.ts";
import { runScript, runStudy } from "./_run_script.ts";

const DATA = Deno.env.get("BNN_DATA_DIR");
if (!DATA) console.warn("SKIP adversarial study test: BNN_DATA_DIR is not set");

const run = (args: string[]) => runScript("experiments/adversarial.ts", args);

Deno.test({
  name: "adversarial.ts: quick run on map + mc_dropout writes metrics and the figure",
  ignore: !DATA,
  async fn() {
    const r = await runStudy("experiments/adversarial.ts", [
      "--train_limit=1000",
      "--test_limit=200",
      "--samples=4",
      "--epsilons=0,0.1,0.3",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const rows = csvParse(await Deno.readTextFile(`${r.res}/adversarial.csv`));
    assert.deepEqual(rows.columns, ADVERSARIAL_COLUMNS);
    const json = JSON.parse(await Deno.readTextFile(`${r.res}/adversarial.json`));
    assert.equal(json.length, 2 * 3);
    assert.deepEqual(Object.keys(json[0]), ADVERSARIAL_COLUMNS);
    for (const m of ["MAP", "MC Dropout"]) {
      const rs = json.filter((r: { method: string }) => r.method === m);
      assert.deepEqual(rs.map((r: { epsilon: number }) => r.epsilon), [0, 0.1, 0.3]);
      assert.ok(rs.every((r: { gradient: string }) => r.gradient === "predict"));
      // The attack works: accuracy falls steeply with ε.
      assert.ok(rs[0].accuracy_pct > 60, `${m} clean accuracy ${rs[0].accuracy_pct}`);
      assert.ok(
        rs[2].accuracy_pct < rs[1].accuracy_pct && rs[1].accuracy_pct < rs[0].accuracy_pct - 10,
        `${m}: ${rs.map((r: { accuracy_pct: number }) => r.accuracy_pct)}`,
      );
      for (const r of rs) {
        assert.ok(Math.abs(r.total_entropy - r.aleatoric_entropy - r.epistemic_entropy) < 1e-9);
        assert.equal(r.n, 200);
      }
    }
    const mcd = json.find((r: { method: string }) => r.method === "MC Dropout");
    assert.deepEqual([mcd.samples, mcd.attack_samples], [4, 4]);
    const svg = await Deno.readTextFile(`${r.res}/adversarial.svg`);
    const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
    assert.equal(doc.documentElement?.tagName.toLowerCase(), "svg");
    for (const t of ["Test accuracy", "Epistemic entropy", "FGSM ε (pixel units)"]) {
      assert.ok(doc.documentElement.textContent.includes(t), t);
    }
    await Deno.remove(r.dir, { recursive: true });
  },
});

Deno.test("parseEpsilons sorts, de-duplicates and range-checks", () => {
  assert.deepEqual(parseEpsilons("0.3, 0, 0.1,0.1"), [0, 0.1, 0.3]);
  assert.throws(() => parseEpsilons("0,1.5"), /--epsilons must be in \[0, 1\].*1\.5/);
  assert.throws(() => parseEpsilons("0,x"), /--epsilons: "x" is not a number/);
  assert.throws(() => parseEpsilons(" , "), /--epsilons is empty/);
});

Deno.test("adversarial.ts rejects bad ε with exit code 2 before any work", async () => {
  const r = await run(["--epsilons", "0,2"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--epsilons must be in \[0, 1\] \(pixel units\), found 2/);
});
