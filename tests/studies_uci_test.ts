// The UCI study end to end on two small sets and a tiny budget, resuming, and bad input.
import assert from "node:assert/strict";
// @ts-types="@types/d3-dsv"
import { csvParse } from "d3-dsv";
import { DOMParser } from "linkedom";
import { parseDatasets, UCI_COLUMNS, UCI_METRICS } from "../experiments/uci.ts";
import { fmtMarkdown } from "../experiments/readme_table.ts";
import { runScript } from "./_run_script.ts";

const DATA = Deno.env.get("BNN_DATA_DIR");
if (!DATA) console.warn("SKIP UCI study run: BNN_DATA_DIR is not set");

const run = (args: string[]) => runScript("experiments/uci.ts", args);

Deno.test("parseDatasets accepts the nine names and names unknown ones", () => {
  assert.deepEqual(parseDatasets("yacht, energy,yacht"), ["yacht", "energy"]);
  assert.throws(() => parseDatasets("yacht,boston"), /--datasets: unknown data set\(s\) boston/);
});

Deno.test({
  name: "uci.ts: both protocols on yacht + energy, tables, figures, and a resumed rerun",
  ignore: !DATA,
  async fn() {
    const dir = await Deno.makeTempDir();
    const args = [
      "--methods=map,mc_dropout",
      `--models_dir=${dir}/models`,
      `--results_dir=${dir}/res`,
      "--datasets=yacht,energy",
      "--max_folds=2",
      "--splits=2",
      "--epochs=40",
      "--test_samples=5",
    ];
    const r = await run(args);
    assert.equal(r.code, 0, r.stderr);
    const csv = csvParse(await Deno.readTextFile(`${dir}/res/uci.csv`));
    assert.deepEqual(csv.columns, [...UCI_COLUMNS]);
    const { rows } = JSON.parse(await Deno.readTextFile(`${dir}/res/uci.json`));
    assert.equal(rows.length, 2 * 2 * 2 * 2); // protocols × sets × folds × methods
    const sizes: Record<string, number> = { yacht: 308, energy: 768 };
    for (const x of rows) {
      assert.equal(x.n_train + x.n_test, sizes[x.dataset], JSON.stringify(x));
      assert.equal(x.hidden, 50); // n_hidden.txt
      assert.equal(x.epochs, 40);
      assert.equal(x.samples, x.method === "MAP" ? 1 : 5);
      for (const m of UCI_METRICS) assert.ok(Number.isFinite(x[m]), `${m}: ${JSON.stringify(x)}`);
      // Original units: yacht's resistance spans 0–62, energy's heating load 6–43.
      assert.ok(x.test_rmse > 0.05 && x.test_rmse < 20, JSON.stringify(x));
    }
    // 10-fold CV: test folds of 31 (yacht, 308 rows) and 77 (energy, 768 rows).
    const cvYacht = rows.filter((x: { protocol: string; dataset: string }) =>
      x.protocol === "cv" && x.dataset === "yacht"
    );
    assert.deepEqual(cvYacht.map((x: { n_test: number }) => x.n_test), [31, 31, 31, 31]);
    // Rows are ordered protocol, data set, method, fold (mergeRows).
    assert.deepEqual(
      cvYacht.map((x: { key: string; fold: number }) => `${x.key}:${x.fold}`),
      ["map:0", "map:1", "mc_dropout:0", "mc_dropout:1"],
    );
    const summary = csvParse(await Deno.readTextFile(`${dir}/res/uci_summary.csv`));
    assert.equal(summary.length, 2 * 2 * 2);
    for (
      const c of [
        "protocol",
        "dataset",
        "method",
        "n",
        "diverged",
        "test_log_lik_mean",
        "test_rmse_std",
        "test_rmse_sem",
      ]
    ) {
      assert.ok(summary.columns.includes(c), c);
    }
    const md = await Deno.readTextFile(`${dir}/res/uci.md`);
    assert.match(md, /10-fold cross-validation \(first 2 folds\)/);
    assert.match(md, /fixed splits: mean ± s\.e\. over splits/);
    assert.match(md, /mean ± s\.e\. over folds/);
    // Quick mode does not tune: the registry's settings, one fit per row.
    for (const x of rows) assert.equal(x.tune, "none");
    assert.match(md, /\| dataset \| method \| n \| test_log_lik \| test_rmse \|/);
    assert.match(md, /\| yacht \| MC Dropout \| 2 \| -?\d+\.\d{3} ± \d+\.\d{3} \|/);
    for (const f of ["uci_log_lik", "uci_rmse", "uci_splits_log_lik", "uci_splits_rmse"]) {
      const svg = await Deno.readTextFile(`${dir}/res/${f}.svg`);
      const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
      assert.equal(doc.documentElement?.tagName.toLowerCase(), "svg", f);
      const text = doc.documentElement.textContent;
      for (const t of ["yacht", "energy", "MAP", "MC Dropout", "train", "test"]) {
        assert.ok(text.includes(t), `${f}: ${t}`);
      }
      // One error bar per data set × method × train/test.
      assert.equal(doc.querySelectorAll("line").length >= 8, true, f);
    }
    // A rerun with the same settings reuses every row instead of training again.
    const again = await run(args);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /reused 16 result\(s\)/);
    const rows2 = JSON.parse(await Deno.readTextFile(`${dir}/res/uci.json`)).rows;
    assert.deepEqual(rows2, rows);
    // Another seed in the same folder would replace all 16 rows: refused, nothing written.
    const before = await Deno.readTextFile(`${dir}/res/uci.json`);
    const other = await run([...args, "--seed=7"]);
    assert.equal(other.code, 2, other.stderr);
    assert.match(
      other.stderr,
      /holds 16 row\(s\) from a run with other settings \(mode quick, budget quick, max_steps \d+, seed 0, noise heteroscedastic; this run: .*seed 7, noise heteroscedastic\)\. Writing here would replace them all: choose another --results_dir, or pass --retrain/,
    );
    assert.equal(await Deno.readTextFile(`${dir}/res/uci.json`), before);
    // So would the other noise model: its rows never share a table with these.
    const homo = await run([...args, "--noise=homoscedastic"]);
    assert.equal(homo.code, 2, homo.stderr);
    assert.match(homo.stderr, /seed 0, noise heteroscedastic; this run: .*noise homoscedastic\)/);
    assert.equal(await Deno.readTextFile(`${dir}/res/uci.json`), before);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "uci.ts --noise homoscedastic: trains, and the table names the noise model",
  ignore: !DATA,
  async fn() {
    const dir = await Deno.makeTempDir();
    const r = await run([
      "--methods=map",
      `--models_dir=${dir}/models`,
      `--results_dir=${dir}/res`,
      "--datasets=yacht",
      "--protocol=splits",
      "--epochs=40",
      "--noise=homoscedastic",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const { rows } = JSON.parse(await Deno.readTextFile(`${dir}/res/uci.json`));
    assert.equal(rows.length, 1);
    for (const m of UCI_METRICS) assert.ok(Number.isFinite(rows[0][m]), m);
    assert.ok(rows[0].test_rmse > 0.05 && rows[0].test_rmse < 20, JSON.stringify(rows[0]));
    const md = await Deno.readTextFile(`${dir}/res/uci.md`);
    assert.match(md, /# UCI regression \(homoscedastic, one hidden layer\)/);
    // A bad value is named, with the choices.
    const bad = await run([
      "--noise=gaussian",
      `--results_dir=${dir}/r2`,
      `--models_dir=${dir}/m2`,
    ]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--noise/);
    assert.match(bad.stderr, /homoscedastic/);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "uci.ts --grid_axis: tunes over the given values, and refuses what it cannot use",
  ignore: !DATA,
  async fn() {
    const dir = await Deno.makeTempDir();
    const common = [`--models_dir=${dir}/models`, "--datasets=yacht", "--protocol=splits"];
    const r = await run([
      ...common,
      "--methods=mc_dropout",
      `--results_dir=${dir}/res`,
      "--epochs=4",
      "--test_samples=5",
      "--tune=grid",
      "--grid_axis=dropout=0.02,0.05,0.2; lr=0.004",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const { rows } = JSON.parse(await Deno.readTextFile(`${dir}/res/uci.json`));
    assert.equal(rows.length, 1);
    // 3 dropout rates × 2 weight decays (the grid's own) × 1 learning rate.
    const scores = JSON.parse(rows[0].grid_scores);
    assert.equal(scores.length, 6, rows[0].grid_scores);
    const chosen = JSON.parse(rows[0].chosen);
    assert.ok([0.02, 0.05, 0.2].includes(chosen.dropout), rows[0].chosen);
    assert.equal(chosen.lr, 0.004);
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/res/uci.json`));
    assert.equal(saved.grid_axis, "dropout=0.02,0.05,0.2;lr=0.004");
    assert.match(
      await Deno.readTextFile(`${dir}/res/uci.md`),
      /grid `small` with dropout \{0\.02, 0\.05, 0\.2\}, lr \{0\.004\} \(`--grid_axis`\)/,
    );
    // Rows of another grid never share the folder: refused, nothing written.
    const before = await Deno.readTextFile(`${dir}/res/uci.json`);
    const other = await run([
      ...common,
      "--methods=mc_dropout",
      `--results_dir=${dir}/res`,
      "--epochs=4",
      "--test_samples=5",
      "--tune=grid",
    ]);
    assert.equal(other.code, 2, other.stderr);
    assert.match(
      other.stderr,
      /noise heteroscedastic, grid_axis dropout=0\.02,0\.05,0\.2;lr=0\.004; this run: .*noise heteroscedastic\)/,
    );
    assert.equal(await Deno.readTextFile(`${dir}/res/uci.json`), before);
    // Without tuning the flag would do nothing: refused. So is an axis no method run has.
    for (
      const [extra, msg] of [
        [["--methods=mc_dropout", "--tune=none"], /this run does not tune: add --tune grid/],
        [["--methods=map", "--tune=grid"], /axis "dropout" is in none of the grids .*\(map\)/],
      ] as const
    ) {
      const bad = await run([
        ...common,
        ...extra,
        `--results_dir=${dir}/r2`,
        "--grid_axis=dropout=0.1",
      ]);
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, msg);
    }
    await assert.rejects(Deno.stat(`${dir}/r2/uci.json`));
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "uci.ts --records: rows travel to another results folder without training again",
  ignore: !DATA,
  async fn() {
    const dir = await Deno.makeTempDir();
    const recs = `${dir}/records/uci.json`;
    const args = (res: string, extra: string[] = []) => [
      "--methods=map,mc_dropout",
      `--models_dir=${dir}/models`,
      `--results_dir=${dir}/${res}`,
      "--datasets=yacht",
      "--protocol=splits",
      "--epochs=4",
      "--test_samples=5",
      `--records=${recs}`,
      ...extra,
    ];
    const r = await run(args("a"));
    assert.equal(r.code, 0, r.stderr);
    const rowsA = JSON.parse(await Deno.readTextFile(`${dir}/a/uci.json`)).rows;
    const recorded = JSON.parse(await Deno.readTextFile(recs));
    assert.equal(Object.keys(recorded).length, 2);
    for (const x of rowsA) {
      const rec = recorded[`splits|yacht|${x.key}|0|${x.config}`];
      assert.deepEqual(rec.row, x);
      assert.match(rec.run, /^mode quick, budget quick, .*seed 0, noise heteroscedastic$/);
    }
    // An empty results folder with the records: nothing trained, the same rows and table.
    const b = await run(args("b"));
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stderr, /took 2 result\(s\) from --records/);
    assert.doesNotMatch(b.stderr, /row\(s\) to train/);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/b/uci.json`)).rows, rowsA);
    assert.equal(
      await Deno.readTextFile(`${dir}/b/uci.md`),
      await Deno.readTextFile(`${dir}/a/uci.md`),
    );
    assert.deepEqual(JSON.parse(await Deno.readTextFile(recs)), recorded);
    // A record that fails today's divergence check (here: a training RMSE above the targets'
    // spread, about 15 on yacht) is trained again, not reused; training is deterministic, so
    // the fit comes back as it was and replaces the bad record.
    const mapId = Object.keys(recorded).find((id) => id.startsWith("splits|yacht|map|"))!;
    const poisoned = structuredClone(recorded);
    poisoned[mapId].row.train_rmse = 20;
    await Deno.writeTextFile(recs, JSON.stringify(poisoned));
    const e = await run(args("e"));
    assert.equal(e.code, 0, e.stderr);
    assert.match(
      e.stderr,
      /split 1\/20 MAP: the row from --records .* fails the check \(training RMSE 20 > training-target std [\d.]+ \(worse than predicting their mean\)\): retrained/,
    );
    assert.match(e.stderr, /took 1 result\(s\) from --records/);
    assert.match(e.stderr, /1 row\(s\) to train/);
    /** A row without its timings (the only columns a retraining changes). */
    const untimed = (r: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(r).filter(([k]) => !k.endsWith("seconds")));
    assert.deepEqual(
      JSON.parse(await Deno.readTextFile(`${dir}/e/uci.json`)).rows.map(untimed),
      rowsA.map(untimed),
    );
    assert.deepEqual(
      untimed(JSON.parse(await Deno.readTextFile(recs))[mapId].row),
      untimed(recorded[mapId].row),
    );
    // A row kept from an earlier part of a run (a method not run now) is not checked again,
    // so it never replaces a record: a stale failing copy in a results folder leaves the
    // retrained record above as it is.
    await Deno.mkdir(`${dir}/f`);
    const stale = JSON.parse(await Deno.readTextFile(`${dir}/a/uci.json`));
    stale.rows.find((x: { key: string }) => x.key === "map").train_rmse = 20;
    await Deno.writeTextFile(`${dir}/f/uci.json`, JSON.stringify(stale));
    const fixed = await Deno.readTextFile(recs);
    const f = await run(
      args("f").map((a) => a.startsWith("--methods=") ? "--methods=mc_dropout" : a),
    );
    assert.equal(f.code, 0, f.stderr);
    assert.doesNotMatch(f.stderr, /row\(s\) to train/);
    assert.equal(await Deno.readTextFile(recs), fixed);
    // Other settings (more test samples) are other rows: trained, and recorded beside the first.
    const c = await run(args("c", ["--test_samples=6"]));
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stderr, /2 row\(s\) to train/);
    assert.doesNotMatch(c.stderr, /from --records/);
    assert.equal(Object.keys(JSON.parse(await Deno.readTextFile(recs))).length, 4);
    // A bad records file is named, with exit code 2, and nothing is written.
    await Deno.writeTextFile(`${dir}/bad.json`, '{"x": {"row": {}}}');
    const bad = await run([...args("d").slice(0, -1), `--records=${dir}/bad.json`]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(
      bad.stderr,
      new RegExp(`--records ${dir}/bad\\.json: entry "x" lacks recorded, run`),
    );
    await assert.rejects(Deno.stat(`${dir}/d/uci.json`));
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "uci.ts --members: the final fit pools N networks; tuning and other rows unchanged",
  ignore: !DATA,
  async fn() {
    const dir = await Deno.makeTempDir();
    const args = (res: string, extra: string[] = []) => [
      "--methods=mc_dropout",
      `--models_dir=${dir}/models`,
      `--results_dir=${dir}/${res}`,
      "--datasets=yacht",
      "--protocol=splits",
      "--epochs=4",
      "--test_samples=5",
      "--tune=grid",
      ...extra,
    ];
    const one = await run(args("one"));
    assert.equal(one.code, 0, one.stderr);
    const three = await run(args("three", ["--members=3"]));
    assert.equal(three.code, 0, three.stderr);
    const [a] = JSON.parse(await Deno.readTextFile(`${dir}/one/uci.json`)).rows;
    const [b] = JSON.parse(await Deno.readTextFile(`${dir}/three/uci.json`)).rows;
    assert.equal(a.members, 1);
    assert.equal(a.samples, 5);
    assert.equal(a.method, "MC Dropout");
    assert.equal(b.members, 3);
    assert.equal(b.samples, 15);
    assert.equal(b.method, "MC Dropout ×3");
    // Tuning scores candidates with one network either way: the same scores and choice.
    const scores = (r: { grid_scores: string }) =>
      JSON.parse(r.grid_scores).map(({ seconds: _, ...rest }: { seconds: number }) => rest);
    assert.deepEqual(scores(b), scores(a));
    assert.equal(b.chosen, a.chosen);
    // The pooled prediction is another one: members 1 and 2 count.
    for (const m of UCI_METRICS) assert.ok(Number.isFinite(b[m]), m);
    assert.notEqual(b.test_log_lik, a.test_log_lik);
    assert.notEqual(b.train_rmse, a.train_rmse);
    assert.match(
      await Deno.readTextFile(`${dir}/three/uci.md`),
      /\| yacht +\| MC Dropout ×3 +\| +1 \|/,
    );
    // --members=1 is the single-network run: its row is reused as is.
    const same = await run(args("one", ["--members=1"]));
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stderr, /reused 1 result\(s\)/);
    // Ensemble rows never share a folder with single-network rows.
    const mixed = await run(args("one", ["--members=3"]));
    assert.equal(mixed.code, 2, mixed.stderr);
    assert.match(mixed.stderr, /noise heteroscedastic; this run: .*members 3\)/);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "README's recorded UCI blocks are what their commands give from --records, untrained",
  ignore: !DATA,
  async fn() {
    const readme = await Deno.readTextFile("README.md");
    const tableLines = (md: string) => md.split("\n").filter((l) => l.startsWith("|"));
    for (
      const [name, folder, rows] of [
        ["uci_table", "results/uci", 825],
        ["uci_concrete_members_table", "results/uci_concrete_members", 20],
        ["uci_members_table", "results/uci_members", 165],
      ] as const
    ) {
      const dir = await Deno.makeTempDir();
      // The README's own command, with a fresh results folder.
      const line = readme.split("\n").find((l) =>
        l.startsWith("`deno task study:uci -- ") && l.includes(`${folder}\``)
      );
      assert.ok(line, `the README has the command of ${folder}`);
      // …and a copy of its records file: a row this run had to train would be added to it.
      const recs = `${dir}/records.json`;
      const args = line.slice("`deno task study:uci -- ".length, line.lastIndexOf("`"))
        .split(" ").map((a) => (a === folder ? `${dir}/res` : a));
      const at = args.indexOf("--records");
      assert.ok(at >= 0, line);
      await Deno.copyFile(args[at + 1], recs);
      args[at + 1] = recs;
      const r = await run([...args, `--models_dir=${dir}/models`]);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /row\(s\) to train/);
      assert.match(r.stderr, new RegExp(`took ${rows} result\\(s\\) from --records`));
      const made = tableLines(await fmtMarkdown(await Deno.readTextFile(`${dir}/res/uci.md`)));
      const block = readme.split(`<!-- ${name}:start -->`)[1].split(`<!-- ${name}:end -->`)[0];
      assert.ok(made.length > 4, made.join("\n"));
      assert.deepEqual(tableLines(block), made, name);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("uci.ts rejects an unknown data set with exit code 2", async () => {
  const dir = await Deno.makeTempDir();
  const r = await run(["--datasets", "boston", `--results_dir=${dir}/r`, `--models_dir=${dir}/m`]);
  await Deno.remove(dir, { recursive: true });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--datasets: unknown data set\(s\) boston/);
});
