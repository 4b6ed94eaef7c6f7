import assert from "node:assert/strict";
import {
  aggregate,
  formatMarkdown,
  formatText,
  summarize,
  tableRows,
  toCsv,
  writeCsv,
  writeJson,
  writeMarkdown,
} from "../uncertainty/mod.ts";

const rows = [
  { dataset: "boston", method: "vi", fold: 0, rmse: 3, ll: -2.5 },
  { dataset: "boston", method: "vi", fold: 1, rmse: 4, ll: -2.7 },
  { dataset: "boston", method: "vi", fold: 2, rmse: 5, ll: NaN },
  { dataset: "boston", method: "map", fold: 0, rmse: 2.5, ll: -3 },
  { dataset: "wine", method: "vi", fold: 0, rmse: 0.6, ll: -0.9 },
  { dataset: "wine", method: "vi", fold: 1, rmse: 0.7, ll: -1.1 },
];

Deno.test("aggregate: mean and sample standard deviation per group", () => {
  const t = aggregate(rows, { by: ["dataset", "method"], metrics: ["rmse", "ll"] });
  assert.deepEqual(t.by, ["dataset", "method"]);
  assert.equal(t.rows.length, 3);
  // groups in order of first appearance
  assert.deepEqual(t.rows.map((r) => r.group), [
    { dataset: "boston", method: "vi" },
    { dataset: "boston", method: "map" },
    { dataset: "wine", method: "vi" },
  ]);
  const [bv, bm, wv] = t.rows;
  assert.equal(bv.count, 3);
  // rmse 3, 4, 5: mean 4, std √(((−1)² + 0 + 1²)/2) = 1
  assert.deepEqual(bv.stats.rmse, { mean: 4, std: 1, n: 3 });
  // ll: NaN left out → −2.5, −2.7: mean −2.6, std √(2·0.01/1) = 0.1414…
  assert.equal(bv.stats.ll.n, 2);
  assert.ok(Math.abs(bv.stats.ll.mean + 2.6) < 1e-12);
  assert.ok(Math.abs(bv.stats.ll.std - Math.sqrt(0.02)) < 1e-12);
  // single value: std 0
  assert.deepEqual(bm.stats.rmse, { mean: 2.5, std: 0, n: 1 });
  assert.ok(Math.abs(wv.stats.rmse.mean - 0.65) < 1e-12);
  // standard error = std / √n
  const s = aggregate(rows, { by: ["dataset", "method"], metrics: ["rmse"], spread: "sem" });
  assert.ok(Math.abs(s.rows[0].stats.rmse.std - 1 / Math.sqrt(3)) < 1e-12);
  // grouping by one column pools the methods
  const d = aggregate(rows, { by: ["dataset"], metrics: ["rmse"] });
  assert.equal(d.rows[0].count, 4);
  assert.equal(d.rows[0].stats.rmse.mean, 14.5 / 4);
});

Deno.test("aggregate: bad input is a clear error", () => {
  assert.throws(
    () => aggregate(rows, { by: ["dataset"], metrics: ["rsme"] }),
    /metric "rsme" is in none of the 6 rows \(columns found: dataset, method, fold, rmse, ll\)/,
  );
  assert.throws(
    () => aggregate([{ d: "a", x: "1.5" }], { by: ["d"], metrics: ["x"] }),
    /row 0 column "x" should be a number, found string "1.5"/,
  );
  assert.throws(
    () => aggregate([{ x: 1 }], { by: ["d"], metrics: ["x"] }),
    /row 0 has no group column "d"/,
  );
});

Deno.test("markdown, text and CSV renderings", () => {
  const t = aggregate(rows, { by: ["dataset", "method"], metrics: ["rmse", "ll"] });
  assert.equal(
    formatMarkdown(t, { digits: { rmse: 2 } }),
    [
      "| dataset | method | n | rmse | ll |",
      "| --- | --- | ---: | ---: | ---: |",
      "| boston | vi | 3 | 4.00 ± 1.00 | -2.600 ± 0.141 |",
      "| boston | map | 1 | 2.50 | -3.000 |",
      "| wine | vi | 2 | 0.65 ± 0.07 | -1.000 ± 0.141 |",
      "",
    ].join("\n"),
  );
  const text = formatText(t, { digits: 2 });
  const lines = text.trimEnd().split("\n");
  assert.equal(lines.length, 5);
  // aligned: text columns padded on the right, numbers on the left, two spaces between
  assert.deepEqual(lines, [
    "dataset  method  n         rmse            ll",
    "-------  ------  -  -----------  ------------",
    "boston   vi      3  4.00 ± 1.00  -2.60 ± 0.14",
    "boston   map     1         2.50         -3.00",
    "wine     vi      2  0.65 ± 0.07  -1.00 ± 0.14",
  ]);
  assert.equal(summarize(t, { digits: 2 }), text);
  const flat = tableRows(t);
  assert.deepEqual(Object.keys(flat[0]), [
    "dataset",
    "method",
    "n",
    "rmse_mean",
    "rmse_std",
    "rmse_n",
    "ll_mean",
    "ll_std",
    "ll_n",
  ]);
  assert.equal(
    toCsv([{ a: 1, b: "x,y" }, { a: 2, c: true }]),
    'a,b,c\n1,"x,y",\n2,,true\n',
  );
});

Deno.test("atomic writers leave only the final files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bnn_tables_" });
  try {
    const t = aggregate(rows, { by: ["dataset", "method"], metrics: ["rmse"] });
    await writeCsv(`${dir}/sub/table.csv`, tableRows(t));
    await writeMarkdown(`${dir}/sub/table.md`, t, { title: "UCI" });
    await writeJson(`${dir}/run.json`, { a: new Float64Array([1, 2]), b: NaN, c: "x" });
    const names = [...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name).sort();
    assert.deepEqual(names, ["table.csv", "table.md"]);
    const csv = await Deno.readTextFile(`${dir}/sub/table.csv`);
    assert.equal(csv.split("\n")[0], "dataset,method,n,rmse_mean,rmse_std,rmse_n");
    assert.equal(csv.split("\n")[1], "boston,vi,3,4,1,3");
    const md = await Deno.readTextFile(`${dir}/sub/table.md`);
    assert.ok(md.startsWith("## UCI\n\n| dataset | method | n | rmse |"));
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/run.json`)), {
      a: [1, 2],
      b: null,
      c: "x",
    });
    // overwrite in place
    await writeJson(`${dir}/run.json`, [1]);
    assert.equal(await Deno.readTextFile(`${dir}/run.json`), "[\n  1\n]\n");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["run.json", "sub"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
