import assert from "node:assert/strict";
import { join } from "node:path";
import { Rng } from "../core/rng.ts";
import {
  DatasetError,
  kFold,
  loadUci,
  loadUciTable,
  parseIndexList,
  splitUci,
  UCI_DATASETS,
} from "../datasets/mod.ts";

/** Writes a small UCI-layout set into `<root>/uci/<name>/<sub>`. */
async function writeSet(root: string, name: string, files: Record<string, string>, sub = "") {
  const dir = join(root, "uci", name, sub);
  await Deno.mkdir(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) await Deno.writeTextFile(join(dir, f), text);
}

// 6 rows: x0 = i, x1 constant 5, y = 10 i; column 2 unused.
const ROWS = Array.from({ length: 6 }, (_, i) => `${i}\t5\t${i * 10}  99`).join("\n") + "\n\n";
const BASE = {
  "data.txt": ROWS,
  "index_features.txt": "0\n1\n",
  "index_target.txt": "2\n",
  "n_splits.txt": "2\n",
  "index_train_0.txt": "0\n1\n2\n3\n",
  "index_test_0.txt": "4\n5\n",
  "index_train_1.txt": "2\n3\n4\n5\n",
  "index_test_1.txt": "0\n1\n",
  "n_hidden.txt": "50\n",
  "tau_values.txt": "0.25\n0.5\n",
};
const OFF = { download: false } as const;

Deno.test("loadUci standardises with the training split's statistics", async () => {
  const root = await Deno.makeTempDir();
  try {
    await writeSet(root, "yacht", BASE);
    const s = await loadUci("yacht", { ...OFF, dataDir: root, split: 1 });
    assert.equal(s.split, 1);
    assert.equal(s.nSplits, 2);
    assert.deepEqual(s.train.xShape, [2]);
    assert.deepEqual(s.train.yShape, [1]);
    // Training rows 2..5: x0 mean 3.5, population std sqrt(1.25); x1 constant → std 1.
    assert.ok(Math.abs(s.xMean[0] - 3.5) < 1e-12);
    assert.ok(Math.abs(s.xStd[0] - Math.sqrt(1.25)) < 1e-12);
    assert.equal(s.xStd[1], 1);
    assert.ok(Math.abs(s.yMean - 35) < 1e-12);
    assert.ok(Math.abs(s.yStd - 10 * Math.sqrt(1.25)) < 1e-12);
    let m = 0;
    for (let i = 0; i < s.train.n; i++) m += s.train.y[i];
    assert.ok(Math.abs(m) < 1e-6, "standardised training target has mean 0");
    // Test row 0 in original units: x0 = 0, y = 0.
    assert.ok(Math.abs(s.test.x[0] - (0 - 3.5) / Math.sqrt(1.25)) < 1e-6);
    assert.equal(s.test.x[1], 0);
    assert.ok(Math.abs(s.test.y[0] * s.yStd + s.yMean - 0) < 1e-5);
    assert.deepEqual(s.settings, { nHidden: [50], tauValues: [0.25, 0.5] });
    assert.deepEqual(Array.from(s.testIndices), [0, 1]);
    // Explicit indices variant.
    const e = await loadUci("yacht", {
      ...OFF,
      dataDir: root,
      trainIndices: [0, 1, 2],
      testIndices: [5],
    });
    assert.ok(Math.abs(e.yMean - 10) < 1e-12);
    assert.equal(e.split, undefined);
    await assert.rejects(
      () => loadUci("yacht", { ...OFF, dataDir: root, split: 2 }),
      /split 2 does not exist \(n_splits.txt says 2/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("loadUci accepts the repository's <name>/data/ layout", async () => {
  const root = await Deno.makeTempDir();
  try {
    await writeSet(root, "energy", BASE, "data");
    const t = await loadUciTable("energy", { ...OFF, dataDir: root });
    assert.equal(t.n, 6);
    assert.equal(t.d, 2);
    assert.deepEqual(Array.from(t.y), [0, 10, 20, 30, 40, 50]);
    assert.ok(t.dir.endsWith(join("uci", "energy", "data")));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("UCI files with bad rows are errors naming file and line", async () => {
  const root = await Deno.makeTempDir();
  try {
    const cases: [Record<string, string>, RegExp][] = [
      [{ "data.txt": "1 2 3 4\n1 2 3\n" }, /data\.txt, line 2: 3 columns, expected 4/],
      [{ "data.txt": "1 2 3 4\n\n1 2 x 4\n" }, /data\.txt, line 3, column 3: "x" is not a finite/],
      [{ "index_test_0.txt": "4\n6\n" }, /index_test_0\.txt, line 2: index 6 is out of range/],
      [{ "index_train_0.txt": "0\n1.5\n" }, /index_train_0\.txt, line 2: "1\.5" is not a non-neg/],
      [{ "index_target.txt": "7\n" }, /index_target\.txt, line 1: index 7 is out of range/],
    ];
    for (const [patch, pattern] of cases) {
      await Deno.remove(join(root, "uci"), { recursive: true }).catch(() => {});
      await writeSet(root, "concrete", { ...BASE, ...patch });
      await assert.rejects(
        () => loadUci("concrete", { ...OFF, dataDir: root }),
        (e: unknown) => e instanceof DatasetError && pattern.test(e.message),
        String(pattern),
      );
    }
    await assert.rejects(
      () => loadUci("nope" as "yacht", OFF),
      /unknown UCI data set "nope"; expected one of bostonHousing/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("kFold: seeded folds partition the rows", () => {
  const n = 103;
  const folds = kFold(n, 10, new Rng(5));
  assert.equal(folds.length, 10);
  assert.deepEqual(folds.map((f) => f.test.length), [11, 11, 11, 10, 10, 10, 10, 10, 10, 10]);
  const count = new Int32Array(n);
  for (const f of folds) {
    for (const i of f.test) count[i]++;
    assert.equal(f.train.length + f.test.length, n);
    const all = new Set([...f.train, ...f.test]);
    assert.equal(all.size, n, "train and test are disjoint and cover the rows");
  }
  assert.ok(count.every((c) => c === 1), "each row is in exactly one test fold");
  assert.deepEqual(kFold(n, 10, 5), kFold(n, 10, 5));
  assert.notDeepEqual(kFold(n, 10, 5)[0].test, kFold(n, 10, 6)[0].test);
  assert.throws(() => kFold(5, 6, 0), /k must be an integer in 2\.\.n/);
});

Deno.test("splitUci works with kFold on a loaded table", async () => {
  const root = await Deno.makeTempDir();
  try {
    await writeSet(root, "yacht", BASE);
    const t = await loadUciTable("yacht", { ...OFF, dataDir: root });
    const folds = kFold(t.n, 3, 1);
    const tests = folds.map((f) => splitUci(t, f.train, f.test).test.n);
    assert.deepEqual(tests, [2, 2, 2]);
    assert.throws(() => splitUci(t, [0, 9], [1]), /index 9 at position 1 is outside 0\.\.5/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

const dataDir = Deno.env.get("BNN_DATA_DIR");
const EXPECTED_ROWS: Record<string, number> = {
  bostonHousing: 506,
  concrete: 1030,
  energy: 768,
  kin8nm: 8192,
  "naval-propulsion-plant": 11934,
  "power-plant": 9568,
  "protein-tertiary-structure": 45730,
  "wine-quality-red": 1599,
  yacht: 308,
};

Deno.test({
  name: "real UCI sets: row counts, and every fixed split is disjoint and covers the rows",
  ignore: !dataDir,
  fn: async () => {
    for (const name of UCI_DATASETS) {
      const dir = join(dataDir!, "uci", name);
      const text = await Deno.readTextFile(join(dir, "data.txt"));
      const lines = text.split("\n").filter((l) => l.trim() !== "").length;
      const t = await loadUciTable(name, { dataDir, download: false });
      assert.equal(t.n, lines, name);
      assert.equal(t.n, EXPECTED_ROWS[name], name);
      assert.equal(t.nSplits, name === "protein-tertiary-structure" ? 5 : 20);
      assert.ok(t.settings.nHidden && t.settings.nEpochs, `${name} settings`);
      for (let k = 0; k < t.nSplits; k++) {
        const read = async (f: string) =>
          parseIndexList(await Deno.readTextFile(join(dir, f)), f, t.n);
        const tr = await read(`index_train_${k}.txt`);
        const te = await read(`index_test_${k}.txt`);
        const seen = new Uint8Array(t.n);
        for (const i of tr) seen[i]++;
        for (const i of te) seen[i]++;
        assert.ok(seen.every((c) => c === 1), `${name} split ${k}: disjoint and covering`);
      }
    }
    const s = await loadUci("bostonHousing", { dataDir, download: false, split: 0 });
    assert.equal(s.train.n, 455);
    assert.equal(s.test.n, 51);
    assert.equal(s.train.xShape[0], 13);
  },
});

Deno.test("an empty UCI split is an error naming the split file (not a later 0-feature error)", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const [file, what] of [["index_test_0.txt", "test"], ["index_train_0.txt", "training"]]) {
      await Deno.remove(join(root, "uci"), { recursive: true }).catch(() => {});
      await writeSet(root, "concrete", { ...BASE, [file]: "\n" });
      await assert.rejects(
        () => loadUci("concrete", { ...OFF, dataDir: root }),
        (e: unknown) =>
          e instanceof DatasetError &&
          e.message.startsWith(join(root, "uci", "concrete", file)) &&
          e.message.includes(`the ${what} split of UCI concrete split 0 is empty`),
        file,
      );
    }
    const t = await loadUciTable("concrete", { ...OFF, dataDir: root });
    assert.throws(() => splitUci(t, [0, 1], []), /concrete: the test split is empty/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
