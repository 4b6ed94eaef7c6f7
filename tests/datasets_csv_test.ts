import assert from "node:assert/strict";
import { join } from "node:path";
import { DatasetError, loadCsv, standardize } from "../datasets/mod.ts";

async function withFile(name: string, text: string, fn: (path: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, name);
    await Deno.writeTextFile(path, text);
    await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("loadCsv picks columns by name, in the order asked", async () => {
  const text = 'id,b,a,"label, quoted"\n1,2.5,3,10\n2,-1e-3,4,20\n3,0,5,30\n';
  await withFile("d.csv", text, async (path) => {
    const ds = await loadCsv(path, { features: ["a", "b"], target: "label, quoted" });
    assert.equal(ds.n, 3);
    assert.deepEqual(ds.xShape, [2]);
    assert.deepEqual(ds.yShape, [1]);
    assert.deepEqual(Array.from(ds.x), [3, 2.5, 4, Math.fround(-1e-3), 5, 0]);
    assert.deepEqual(Array.from(ds.y), [10, 20, 30]);
    assert.deepEqual(ds.featureNames, ["a", "b"]);
    const two = await loadCsv(path, { features: ["id"], target: ["a", "b"] });
    assert.deepEqual(two.yShape, [2]);
    assert.deepEqual(Array.from(two.y.subarray(0, 2)), [3, 2.5]);
    // Standardising with the training statistics.
    const s = standardize(ds);
    assert.ok(Math.abs(s.yMean[0] - 20) < 1e-9);
    assert.ok(Math.abs(s.yStd[0] - Math.sqrt(200 / 3)) < 1e-6);
  });
});

Deno.test("loadCsv reads TSV by extension", async () => {
  await withFile("d.tsv", "x\ty\n1\t2\n3\t4\n", async (path) => {
    const ds = await loadCsv(path, { features: ["x"], target: "y" });
    assert.deepEqual(Array.from(ds.x), [1, 3]);
    assert.deepEqual(Array.from(ds.y), [2, 4]);
  });
});

Deno.test("loadCsv: a missing column names it and lists the available ones", async () => {
  await withFile("d.csv", "x,y\n1,2\n", async (path) => {
    await assert.rejects(
      () => loadCsv(path, { features: ["x", "z"], target: "y" }),
      (e: unknown) =>
        e instanceof DatasetError && e.message.includes(path) &&
        e.message.includes(`no column "z"; available columns: "x", "y"`),
    );
  });
});

Deno.test("loadCsv: a non-numeric or empty cell names file, line and column", async () => {
  const text = 'x,y,note\n1,2,"multi\nline"\n3,oops,z\n';
  await withFile("d.csv", text, async (path) => {
    await assert.rejects(
      () => loadCsv(path, { features: ["x"], target: "y" }),
      (e: unknown) =>
        e instanceof DatasetError &&
        e.message === `${path}, line 4, column "y": "oops" is not a number`,
    );
  });
  await withFile("e.csv", "x,y\n1,2\n,4\n", async (path) => {
    await assert.rejects(
      () => loadCsv(path, { features: ["x"], target: "y" }),
      /e\.csv, line 3, column "x": empty cell/,
    );
  });
});

Deno.test("loadCsv: a header-only file and rows with extra or missing fields are errors", async () => {
  await withFile("h.csv", "x,y\n", async (path) => {
    await assert.rejects(
      () => loadCsv(path, { features: ["x"], target: "y" }),
      (e: unknown) =>
        e instanceof DatasetError &&
        e.message === `${path}: no data rows after the header (line 1)`,
    );
  });
  await withFile("b.csv", "x,y\n\n\n", async (path) => {
    await assert.rejects(() => loadCsv(path, { features: ["x"], target: "y" }), /no data rows/);
  });
  await withFile("empty.csv", "", async (path) => {
    await assert.rejects(
      () => loadCsv(path, { features: ["x"], target: "y" }),
      /the file is empty/,
    );
  });
  await withFile("x.csv", "x,y\n1,2\n3,4,5\n", async (path) => {
    await assert.rejects(
      () => loadCsv(path, { features: ["x"], target: "y" }),
      (e: unknown) =>
        e instanceof DatasetError &&
        e.message.startsWith(
          `${path}, line 3: 3 fields, but the header (line 1) has 2 (extra fields would be dropped)`,
        ),
    );
  });
  await withFile("m.tsv", "x\ty\tz\n1\t2\n", async (path) => {
    await assert.rejects(
      () => loadCsv(path, { features: ["x"], target: "y" }),
      /m\.tsv, line 2: 2 fields, but the header \(line 1\) has 3; check the separator "\\t"/,
    );
  });
  // Blank lines hold no data: skipped, and line numbers still count them.
  await withFile("g.csv", "x,y\n1,2\n\n3,oops\n", async (path) => {
    await assert.rejects(
      () => loadCsv(path, { features: ["x"], target: "y" }),
      /g\.csv, line 4, column "y": "oops" is not a number/,
    );
  });
  await withFile("ok.csv", "x,y\n1,2\n\n3,4\n\n", async (path) => {
    const ds = await loadCsv(path, { features: ["x"], target: "y" });
    assert.deepEqual(Array.from(ds.y), [2, 4]);
  });
});
