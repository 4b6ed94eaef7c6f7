// The rotated-MNIST study end to end on a small budget, and its bad-input handling.
import assert from "node:assert/strict";
// @ts-types="@types/d3-dsv"
import { csvParse } from "d3-dsv";
import { DOMParser } from "linkedom";
import { ROTATION_COLUMNS } from "../experiments/rotations.ts";
import { runScript, runStudy } from "./_run_script.ts";

const DATA = Deno.env.get("BNN_DATA_DIR");
if (!DATA) console.warn("SKIP rotations study test: BNN_DATA_DIR is not set");

const run = (args: string[]) => runScript("experiments/rotations.ts", args);

async function svgRoot(path: string) {
  const doc = new DOMParser().parseFromString(await Deno.readTextFile(path), "image/svg+xml");
  assert.equal(doc.documentElement?.tagName.toLowerCase(), "svg", path);
  return doc;
}

Deno.test({
  name: "rotations.ts: quick run on map + mc_dropout writes metrics and both figures",
  ignore: !DATA,
  async fn() {
    const r = await runStudy("experiments/rotations.ts", [
      "--train_limit=1000",
      "--test_limit=200",
      "--samples=4",
      "--angle_step=45",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const rows = csvParse(await Deno.readTextFile(`${r.res}/rotations.csv`));
    assert.deepEqual(rows.columns, ROTATION_COLUMNS);
    const json = JSON.parse(await Deno.readTextFile(`${r.res}/rotations.json`));
    assert.equal(json.length, 2 * 5);
    assert.deepEqual(Object.keys(json[0]), ROTATION_COLUMNS);
    assert.deepEqual(json.map((r: { angle: number }) => r.angle), [
      0,
      45,
      90,
      135,
      180,
      0,
      45,
      90,
      135,
      180,
    ]);
    for (const row of json) {
      assert.ok(row.error_pct >= 0 && row.error_pct <= 100);
      assert.ok(row.aleatoric_entropy >= 0 && row.epistemic_entropy >= 0);
      // total = aleatoric + epistemic, and ≤ log 10
      assert.ok(Math.abs(row.total_entropy - row.aleatoric_entropy - row.epistemic_entropy) < 1e-9);
      assert.ok(row.total_entropy <= Math.log(10) + 1e-9);
      assert.equal(row.n, 200);
    }
    const map = json.filter((r: { method: string }) => r.method === "MAP");
    const mcd = json.filter((r: { method: string }) => r.method === "MC Dropout");
    assert.ok(map.every((r: { epistemic_entropy: number }) => r.epistemic_entropy === 0));
    assert.ok(mcd.every((r: { epistemic_entropy: number }) => r.epistemic_entropy > 0));
    assert.deepEqual([map[0].samples, mcd[0].samples], [1, 4]);
    // Rotating by 90° makes digits much harder than upright ones.
    assert.ok(
      map[2].error_pct > map[0].error_pct + 20,
      `${map[0].error_pct} → ${map[2].error_pct}`,
    );
    const fig = await svgRoot(`${r.res}/rotations.svg`);
    const text = fig.documentElement.textContent;
    for (const t of ["Test error", "Total entropy", "Aleatoric entropy", "Epistemic entropy"]) {
      assert.ok(text.includes(t), t);
    }
    const digit = await svgRoot(`${r.res}/rotated_digit.svg`);
    assert.ok(digit.documentElement.textContent.includes("MC Dropout"));
    assert.equal(digit.querySelectorAll("image").length, 5, "one image per angle");
    assert.match(r.stdout, /Rotated MNIST/);
    // Quick budgets say so; angle ticks at multiples of 45°.
    for (const doc of [fig, digit]) {
      assert.match(doc.querySelector(".figure-title").textContent, /\(quick budget\)$/);
      const ticks = Array.from(
        doc.querySelectorAll('g[aria-label="x-axis tick label"] text'),
        (t: { textContent: string }) => Number(t.textContent),
      );
      assert.ok(ticks.length >= 5 && ticks.every((a) => a % 45 === 0), `ticks ${ticks}`);
    }
    assert.match(
      r.stdout,
      /^wrote rotations\.csv, rotations\.json, rotations\.svg, rotated_digit\.svg to .* in [\d.]+ s$/m,
    );
    await Deno.remove(r.dir, { recursive: true });
  },
});

Deno.test("rotations.ts rejects bad flags with exit code 2 before any work", async () => {
  const cases: [string[], RegExp][] = [
    [["--angle_step", "0"], /--angle_step must be > 0, found 0/],
    [["--methods", "nope"], /--methods: unknown method\(s\) nope/],
    [["--samples", "0"], /--samples must be ≥ 1, found 0/],
  ];
  for (const [args, msg] of cases) {
    const r = await run(args);
    assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, msg);
  }
});
