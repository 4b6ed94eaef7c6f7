// The MNIST results table: end to end on a small budget (columns and ranges, tuned rows, reuse
// and resume of models, reuse of evaluated rows), the --full plan, the table's reference values
// and "beats reference" marker for constructed numbers, and bad input.
import assert from "node:assert/strict";
// @ts-types="@types/d3-dsv"
import { csvParse } from "d3-dsv";
import {
  REFERENCE_MNIST,
  tableEntries,
  TUNED,
  tunedEntry,
  tunedNotes,
} from "../experiments/mnist_table.ts";
import {
  beatsReference,
  MNIST_TABLE_COLUMNS,
  mnistTableMarkdown,
  type MnistTableRow,
} from "../experiments/lib/mnist_table_rows.ts";
import { METHODS } from "../methods/registry.ts";
import { fmtMarkdown } from "../experiments/readme_table.ts";
import { runScript } from "./_run_script.ts";

const DATA = Deno.env.get("BNN_DATA_DIR");
if (!DATA) console.warn("SKIP MNIST table study tests that read MNIST: BNN_DATA_DIR is not set");

const run = (args: string[]) => runScript("experiments/mnist_table.ts", args);
const mtime = async (p: string) => (await Deno.stat(p)).mtime?.getTime();

Deno.test({
  name: "mnist_table.ts: quick run writes every column in range, reuses models and rows, resumes",
  ignore: !DATA,
  async fn() {
    const dir = await Deno.makeTempDir();
    const models = `${dir}/models/quick/seed0`;
    const args = [
      "--methods=map,bbb_gaussian",
      `--models_dir=${dir}/models`,
      `--results_dir=${dir}/res`,
      "--train_limit=300",
      "--test_limit=200",
      "--samples=3",
    ];
    const r = await run(args);
    assert.equal(r.code, 0, r.stderr);
    for (const label of ["MAP", "BBB Gaussian", "BBB Gaussian \\(tuned\\)"]) {
      assert.match(r.stderr, new RegExp(`^${label}: training 3 epoch\\(s\\) on 300 examples`, "m"));
    }
    const csv = csvParse(await Deno.readTextFile(`${dir}/res/mnist_table.csv`));
    assert.deepEqual(csv.columns, MNIST_TABLE_COLUMNS);
    const rows: MnistTableRow[] = JSON.parse(
      await Deno.readTextFile(`${dir}/res/mnist_table.json`),
    );
    assert.deepEqual(rows.map((x) => [x.key, x.variant]), [
      ["map", "reference"],
      ["bbb_gaussian", "reference"],
      ["bbb_gaussian", "tuned"],
    ]);
    for (const row of rows) {
      assert.deepEqual(Object.keys(row), MNIST_TABLE_COLUMNS);
      assert.equal(row.n, 200);
      assert.equal(row.n_ood, 200);
      assert.ok(Math.abs(row.log_lik_sum - row.log_lik_mean * 200) < 1e-6);
      assert.ok(row.log_lik_sum < 0 && row.error_pct >= 0 && row.error_pct <= 100);
      assert.ok(row.ece >= 0 && row.ece <= 1, `ECE ${row.ece}`);
      assert.ok(row.mutual_info >= 0, `MI ${row.mutual_info}`);
      assert.ok(row.ood_auroc !== null && row.ood_auroc >= 0 && row.ood_auroc <= 1);
      assert.deepEqual([row.epochs, row.batch_size, row.train_examples], [3, 128, 300]);
      assert.ok(typeof row.train_seconds === "number" && row.train_seconds > 0);
      assert.match(String(row.train_backend), /wasm/);
      assert.equal(row.beats_reference, null); // 200 digits: not comparable
    }
    const [map, bbb, tuned] = rows;
    assert.deepEqual([map.samples, map.mutual_info], [1, 0]);
    assert.deepEqual([bbb.samples, tuned.samples], [3, 3]);
    assert.ok(bbb.mutual_info > 0 && tuned.mutual_info > 0);
    assert.deepEqual([map.ref_log_lik_sum, map.ref_error_pct], [-572.9, 1.58]);
    assert.deepEqual([tuned.ref_log_lik_sum, tuned.ref_error_pct], [-1100.29, 2.6]);
    // The tuned model was trained with the TUNED settings over the quick budget's, in its own folder.
    assert.deepEqual(tuned.settings, {
      ...METHODS.bbb_gaussian.quick.settings,
      ...TUNED.bbb_gaussian.settings,
    });
    const manifest = (k: string) =>
      Deno.readTextFile(`${models}/${k}/manifest.json`).then(JSON.parse);
    assert.deepEqual((await manifest("bbb_gaussian_tuned")).settings.rhoInit, [-5, -4]);
    assert.deepEqual((await manifest("bbb_gaussian")).settings.rhoInit, [-3, -2]);
    assert.equal((await manifest("map")).info.training.seconds, map.train_seconds);

    const md = await Deno.readTextFile(`${dir}/res/mnist_table.md`);
    assert.match(
      md.split("\n")[0],
      /^\*\*MNIST test results\*\* — mode: quick; posterior samples: 3 \(MAP: 1\); test digits: 200; OOD: Fashion-MNIST test, 200 images; seed 0; \d{4}-\d{2}-\d{2}\.$/,
    );
    const lines = md.split("\n").filter((l) => l.startsWith("|"));
    assert.equal(lines.length, 2 + 3);
    assert.match(lines[2], /^\| MAP \| reference \| 3 × 128 \| \d+s \| -[\d.]+ \| [\d.]+ \|/);
    assert.match(lines[4], /^\| BBB Gaussian \| tuned \| .* \| -1100\.29 \| 2\.60 \| – \|$/);
    assert.match(md, /Quick mode/);
    assert.match(md, /Fewer than 10000 test digits/);
    // Quick mode trains the tuned row on the quick budget: no "own budget" in its note.
    assert.match(md, /tuned bbb_gaussian: settings \{"rhoInit":\[-5,-4\]\} — initial σ/);
    assert.doesNotMatch(md, /own budget/);
    const svg = await Deno.readTextFile(`${dir}/res/mnist_table.svg`);
    assert.match(svg, /<svg/);
    assert.match(svg, />BBB Gaussian \(tuned\)</);
    assert.match(
      r.stdout,
      /^wrote mnist_table\.md, mnist_table\.csv, mnist_table\.json, mnist_table\.svg/m,
    );

    // Second run: nothing trained, no model even loaded: every row's evaluation is reused, and
    // --records keeps the rows with what they were evaluated with.
    const weights = `${models}/bbb_gaussian_tuned/weights.safetensors`;
    const before = await mtime(weights);
    const recs = `${dir}/records.json`;
    const again = await run([...args, `--records=${recs}`]);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /training/);
    assert.equal(again.stderr.match(/evaluation reused/g)?.length, 3, again.stderr);
    assert.equal(await mtime(weights), before);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/res/mnist_table.json`)), rows);
    const recorded = JSON.parse(await Deno.readTextFile(recs));
    assert.deepEqual(Object.keys(recorded), [
      "bbb_gaussian:reference",
      "bbb_gaussian:tuned",
      "map:reference",
    ]);
    const mapRec = recorded["map:reference"];
    assert.deepEqual(mapRec.row, map);
    assert.deepEqual([mapRec.full, mapRec.seed, mapRec.samples_requested], [false, 0, 3]);
    assert.equal(mapRec.model_saved_at, (await manifest("map")).savedAt);
    assert.equal(mapRec.source, "mnist_table.ts");
    const recsText = await Deno.readTextFile(recs);

    // Other evaluation settings: the saved models are loaded (not retrained) and evaluated again.
    const other = await run([...args, "--samples=2", "--variants=tuned"]);
    assert.equal(other.code, 0, other.stderr);
    assert.doesNotMatch(other.stderr, /training/);
    assert.match(other.stderr, /^BBB Gaussian \(tuned\): loaded /m);
    const otherRows = JSON.parse(await Deno.readTextFile(`${dir}/res/mnist_table.json`));
    assert.deepEqual(otherRows.map((x: MnistTableRow) => [x.variant, x.samples]), [["tuned", 2]]);
    assert.equal(await mtime(weights), before);

    // An interrupted training resumes from its checkpoint: the plan says so, and the run finishes
    // it without starting over (here the checkpoint holds all 3 epochs).
    await Deno.remove(`${models}/map/weights.safetensors`);
    await Deno.remove(`${models}/map/manifest.json`);
    const plan = await run([...args, "--dry_run"]);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /^MAP: resume .*map after epoch 3: 3 epochs × batch 128/m);
    assert.match(plan.stdout, /^BBB Gaussian: reuse /m);
    // --trained_only trains nothing: the unfinished MAP row is left out and named in the notes.
    const ckpt = `${models}/map/checkpoint.safetensors`;
    const ckptBefore = await mtime(ckpt);
    const onlyPlan = await run([...args, "--dry_run", "--trained_only"]);
    assert.equal(onlyPlan.code, 0, onlyPlan.stderr);
    assert.match(
      onlyPlan.stdout,
      /^MAP: left out \(--trained_only\): training stopped after epoch 3$/m,
    );
    const only = await run([...args, "--trained_only"]);
    assert.equal(only.code, 0, only.stderr);
    assert.doesNotMatch(only.stderr, /: training \d+ epoch|trained in|resum/);
    const onlyRows: MnistTableRow[] = JSON.parse(
      await Deno.readTextFile(`${dir}/res/mnist_table.json`),
    );
    assert.deepEqual(onlyRows.map((x) => [x.key, x.variant]), [
      ["bbb_gaussian", "reference"],
      ["bbb_gaussian", "tuned"],
    ]);
    assert.match(
      await Deno.readTextFile(`${dir}/res/mnist_table.md`),
      /^- Not in this table \(--trained_only; no finished model yet\): MAP \(reference\)\.$/m,
    );
    // With --records, the unfinished MAP row is the recorded one, and the notes say so; the
    // records are left as they were. Recorded with other evaluation settings, it is left out.
    const withRecs = await run([...args, "--trained_only", `--records=${recs}`]);
    assert.equal(withRecs.code, 0, withRecs.stderr);
    assert.match(withRecs.stderr, /^MAP: recorded row \(evaluated \d{4}-\d{2}-\d{2}\)$/m);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/res/mnist_table.json`)), rows);
    assert.match(
      await Deno.readTextFile(`${dir}/res/mnist_table.md`),
      /^- Recorded rows \(--records .*records\.json; .*\): MAP \(reference\) \(\d{4}-\d{2}-\d{2}, evaluated by mnist_table\.ts\)\.$/m,
    );
    assert.equal(await Deno.readTextFile(recs), recsText);
    const otherPlan = await run([
      ...args,
      "--dry_run",
      "--trained_only",
      `--records=${recs}`,
      "--samples=2",
    ]);
    assert.equal(otherPlan.code, 0, otherPlan.stderr);
    assert.match(
      otherPlan.stdout,
      /^MAP: left out \(--trained_only\): training stopped after epoch 3; recorded with posterior samples 3, this run's 2$/m,
    );
    await Deno.writeTextFile(`${dir}/bad.json`, "{");
    const badRecs = await run([...args, "--trained_only", `--records=${dir}/bad.json`]);
    assert.equal(badRecs.code, 2, badRecs.stderr);
    assert.match(badRecs.stderr, /--records .*bad\.json: not valid JSON/);
    const none = await run([...args, "--methods=map", "--trained_only"]);
    assert.equal(none.code, 2, none.stderr);
    assert.match(
      none.stderr,
      /--trained_only: no selected row has a finished model \(MAP \(reference\)\); run without it/,
    );
    assert.equal(await mtime(ckpt), ckptBefore, "--trained_only wrote a checkpoint");
    // A full-mode record on all 10 000 digits is kept when a quick run evaluates the same row.
    const asFull = JSON.parse(recsText);
    asFull["bbb_gaussian:reference"].full = true;
    asFull["bbb_gaussian:reference"].row.n = 10000;
    await Deno.writeTextFile(recs, JSON.stringify(asFull));
    const keep = await run([
      ...args,
      "--methods=bbb_gaussian",
      "--variants=reference",
      `--records=${recs}`,
    ]);
    assert.equal(keep.code, 0, keep.stderr);
    assert.match(
      keep.stderr,
      /^BBB Gaussian: --records keeps its full-mode row of \d{4}-\d{2}-\d{2} \(this run: quick, 200 test digits\)$/m,
    );
    assert.deepEqual(JSON.parse(await Deno.readTextFile(recs)), asFull);
    const resumed = await run([...args, "--methods=map"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /^MAP: trained in \d+ s \(resumed after epoch 3\)/m);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "mnist_table.ts --full --dry_run: the full budgets, tuned rows and 100 samples",
  ignore: !DATA,
  async fn() {
    const dir = await Deno.makeTempDir();
    const r = await run([
      "--full",
      "--dry_run",
      "--methods=map,bbb_laplace",
      `--models_dir=${dir}/models`,
      `--results_dir=${dir}/res`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 4, r.stdout);
    assert.match(
      lines[0],
      /^MAP: train \(no saved model\): 10 epochs × batch 128 on all training .*"lrSchedule":"cosine"/,
    );
    assert.match(
      lines[1],
      /^BBB Laplace: train .*: 140 epochs × batch 100 .* settings \{"muInit":\[-0.2,0.2\],"firstEpochSamples":3\} → /,
    );
    assert.match(
      lines[2],
      /^BBB Laplace \(tuned\): train .*: 40 epochs × batch 100 .*"rhoInit":\[-5,-4\].*full\/seed0\/bbb_laplace_tuned$/,
    );
    assert.match(
      lines[3],
      /^evaluation: 100 posterior samples .* on 10000 MNIST test digits and 10000 Fashion-MNIST/,
    );
    // Nothing was trained or written.
    assert.equal(await Deno.stat(`${dir}/models/full`).then(() => true, () => false), false);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "README's MNIST table rows are what --records gives on a machine without the models",
  ignore: !DATA,
  async fn() {
    const dir = await Deno.makeTempDir();
    const r = await run([
      "--full",
      "--trained_only",
      "--records=experiments/records/mnist_table.json",
      `--models_dir=${dir}/models`,
      `--results_dir=${dir}/res`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /evaluation|loaded/);
    const tableLines = (md: string) => md.split("\n").filter((l) => l.startsWith("|"));
    const made = tableLines(
      await fmtMarkdown(await Deno.readTextFile(`${dir}/res/mnist_table.md`)),
    );
    const readme = await Deno.readTextFile("README.md");
    const block =
      readme.split("<!-- mnist_table:start -->")[1].split("<!-- mnist_table:end -->")[0];
    assert.ok(made.length > 2, made.join("\n"));
    assert.deepEqual(tableLines(block), made);
    await Deno.remove(dir, { recursive: true });
  },
});

const row = (
  key: string,
  variant: "reference" | "tuned",
  ll: number,
  err: number,
  n = 10000,
): MnistTableRow => {
  const ref = {
    log_lik_sum: ll,
    error_pct: err,
    n,
    ref_log_lik_sum: REFERENCE_MNIST[key]?.logLik ?? null,
    ref_error_pct: REFERENCE_MNIST[key]?.errorPct ?? null,
  };
  return {
    method: METHODS[key].label,
    key,
    variant,
    ...ref,
    ece: 0.01,
    mutual_info: 0.02,
    ood_auroc: 0.9,
    brier: 0.03,
    log_lik_mean: ll / n,
    samples: 100,
    n_ood: 10000,
    epochs: 200,
    batch_size: 100,
    train_examples: 60000,
    train_seconds: variant === "tuned" ? null : 7500,
    train_backend: null,
    beats_reference: beatsReference(ref),
    settings: {},
  };
};

Deno.test("beatsReference: log-likelihood and error both better, at 10 000 digits only", () => {
  const ref = { ref_log_lik_sum: -1100.29, ref_error_pct: 2.6 };
  assert.equal(beatsReference({ ...ref, log_lik_sum: -900, error_pct: 2.3, n: 10000 }), true);
  assert.equal(beatsReference({ ...ref, log_lik_sum: -900, error_pct: 2.6, n: 10000 }), false);
  assert.equal(beatsReference({ ...ref, log_lik_sum: -1200, error_pct: 2.0, n: 10000 }), false);
  assert.equal(beatsReference({ ...ref, log_lik_sum: -90, error_pct: 2.3, n: 1000 }), null);
  assert.equal(
    beatsReference({
      log_lik_sum: -500,
      error_pct: 1,
      n: 10000,
      ref_log_lik_sum: null,
      ref_error_pct: null,
    }),
    null,
  );
});

Deno.test("mnistTableMarkdown: reference values, markers, n/a training time, header", () => {
  const md = mnistTableMarkdown([
    row("bbb_gaussian", "reference", -1069.2, 2.59),
    row("bbb_gaussian", "tuned", -790.3, 2.34),
    row("sghmc", "reference", -504.8, 1.53),
    row("mc_dropout", "reference", -509.2, 1.57),
  ], { full: true, seed: 0, date: "2025-01-31", notes: ["tuned: why."] });
  const lines = md.split("\n");
  assert.equal(
    lines[0],
    "**MNIST test results** — mode: full; posterior samples: 100; test digits: 10000; " +
      "OOD: Fashion-MNIST test, 10000 images; seed 0; 2025-01-31.",
  );
  const table = lines.filter((l) => l.startsWith("|"));
  assert.equal(
    table[0],
    "| method | variant | epochs × batch | train time | test LL (sum) | error % | ECE | MI (nats) " +
      "| OOD AUROC | ref. LL | ref. error % | beats ref. |",
  );
  assert.deepEqual(table.slice(2), [
    "| BBB Gaussian | reference | 200 × 100 | 2h05m | -1069.2 | 2.59 | 0.0100 | 0.0200 | 0.900 " +
    "| -1100.29 | 2.60 | **yes** |",
    "| BBB Gaussian | tuned | 200 × 100 | n/a | -790.3 | 2.34 | 0.0100 | 0.0200 | 0.900 " +
    "| -1100.29 | 2.60 | **yes** |",
    "| SGHMC | reference | 200 × 100 | 2h05m | -504.8 | 1.53 | 0.0100 | 0.0200 | 0.900 | – | – | – |",
    "| MC Dropout | reference | 200 × 100 | 2h05m | -509.2 | 1.57 | 0.0100 | 0.0200 | 0.900 " +
    "| -435.458 | 1.37 | no |",
  ]);
  assert.ok(lines.includes("- tuned: why."));
  assert.doesNotMatch(md, /Quick mode|Fewer than/);
  // The variant note names the tuned variant only when a tuned row is there.
  const variantNote = (m: string) => m.split("\n").find((l) => l.startsWith("- variant:"));
  assert.match(variantNote(md) ?? "", /`reference` is the registry's `full` budget.*`tuned`/);
  const refOnly = mnistTableMarkdown([row("sghmc", "reference", -504.8, 1.53)], {
    full: true,
    seed: 0,
    date: "2025-01-31",
    notes: [],
  });
  assert.match(variantNote(refOnly) ?? "", /comments say how each was chosen\)\.$/);
  // Every reference column of its README is keyed.
  assert.deepEqual(Object.values(REFERENCE_MNIST).map((r) => r.name), [
    "MAP",
    "MAP Ensemble",
    "BBP Gaussian",
    "BBP GMM",
    "BBP Laplace",
    "BBP Local Reparam",
    "MC Dropout",
    "SGLD",
    "pSGLD",
  ]);
});

Deno.test("tableEntries: every registry method, a tuned row under each BBB method", () => {
  const all = tableEntries(Object.values(METHODS), ["reference", "tuned"]);
  const bbb = Object.keys(METHODS).filter((k) => k.startsWith("bbb_"));
  assert.deepEqual(Object.keys(TUNED).sort(), bbb.sort());
  assert.equal(all.length, Object.keys(METHODS).length + bbb.length);
  for (const [i, e] of all.entries()) {
    if (e.variant === "tuned") {
      assert.equal(all[i - 1].base.key, e.base.key); // right under its reference row
      assert.equal(e.entry.key, `${e.base.key}_tuned`);
    } else assert.equal(e.entry, e.base);
  }
  const t = tunedEntry(METHODS.bbb_local, TUNED.bbb_local);
  // Full mode: the tuned settings over the builder's defaults, not over the reference row's
  // (its notebook's μ range and samples per step).
  assert.deepEqual(t.full.settings, TUNED.bbb_local.settings);
  // The tuned rows' own budget: 20 epochs, the reference's batch size.
  assert.deepEqual([t.full.epochs, t.full.batchSize], [20, 100]);
  assert.deepEqual([METHODS.bbb_local.full.epochs, METHODS.bbb_local.full.batchSize], [140, 100]);
  assert.deepEqual(METHODS.bbb_local.full.settings, {
    muInit: [-0.2, 0.2],
    nSamples: 1,
    firstEpochSamples: 1,
    samplesAfter: [60, 3],
  });
  assert.equal(t.quick.settings?.nSamples, METHODS.bbb_local.quick.settings?.nSamples);
  // The tuned settings build: the builder accepts them.
  const m = t.build(
    { inputDim: 4, hidden: [3], outputDim: 2, task: "classification" },
    t.full.settings,
  );
  assert.equal(m.name, "bbb_local");
  assert.deepEqual(tableEntries([METHODS.map], ["tuned"]), []);
});

Deno.test("mnist_table.ts rejects bad flags with exit code 2", async () => {
  const r = await run(["--test_limit", "0"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--test_limit must be ≥ 1, found 0/);
  const dir = await Deno.makeTempDir();
  const v = await run([
    "--variants",
    "best",
    `--results_dir=${dir}/res`,
    `--models_dir=${dir}/models`,
  ]);
  assert.equal(v.code, 2, v.stderr);
  assert.match(v.stderr, /--variants: expected a comma list of reference, tuned; found "best"/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("tunedNotes: one note per tuned configuration, the Laplace prior's own", () => {
  const keys = ["bbb_gaussian", "bbb_laplace", "bbb_gmm"];
  const full = tunedNotes(keys, TUNED, true);
  assert.equal(full.length, 2);
  assert.match(
    full[0],
    /^tuned \(bbb_gaussian, bbb_gmm\): settings \{"rhoInit":\[-5,-4\]\}, own budget — .*20 epochs/,
  );
  assert.match(
    full[1],
    /^tuned bbb_laplace: settings \{"rhoInit":\[-5,-4\]\}, own budget — .*40 epochs/,
  );
  assert.deepEqual([TUNED.bbb_laplace.epochs, TUNED.bbb_gaussian.epochs], [40, 20]);
  // Quick mode trains on the quick budget: no "own budget".
  assert.ok(tunedNotes(keys, TUNED, false).every((n) => !n.includes("own budget")));
  assert.deepEqual(tunedNotes([], TUNED, true), []);
});
