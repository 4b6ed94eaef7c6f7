// The UCI splits protocol: the test rows never reach the tuner, the inner 80/20 split, the
// standard split files, the standard error, and divergence restarts / exclusion.
import assert from "node:assert/strict";
import { join } from "node:path";
// @ts-types="@types/d3-dsv"
import { csvParse } from "d3-dsv";
import { initBackend } from "../core/backend.ts";
import { loadUci, parseIndexList, splitUci, type UciTable } from "../datasets/mod.ts";
import { buildMap } from "../methods/map.ts";
import { type MethodEntry, METHODS } from "../methods/registry.ts";
import { hasGridAxis, parseGridAxes, uciGrid } from "../experiments/lib/uci_grid.ts";
import { innerSplit } from "../experiments/lib/uci_inner_split.ts";
import {
  evalRegression,
  predictUncertainty,
  type RegressionBudget,
  regressionBudget,
  trainRegression,
} from "../experiments/lib/regression_study_train.ts";
import { mergeRows, tuningNote, UCI_MAX_STEPS, uciEpochs } from "../experiments/uci.ts";
import { PUBLISHED_MC_DROPOUT, uciVsPublished } from "../experiments/lib/uci_published.ts";
import { runUciJob, type UciJob, type UciRow } from "../experiments/lib/uci_job.ts";
import {
  attemptFor,
  divergenceReason,
  rowDivergenceReason,
  withRestarts,
} from "../experiments/lib/uci_restarts.ts";
import { standardError, uciMarkdown, uciSummaryRows } from "../experiments/lib/uci_summary.ts";
import { DivergenceError } from "../core/train.ts";
import type { PredictOptions } from "../core/method.ts";
import * as tf from "@tensorflow/tfjs";
import { runScript } from "./_run_script.ts";

const DATA = Deno.env.get("BNN_DATA_DIR");
if (!DATA) console.warn("SKIP UCI protocol runs on yacht: BNN_DATA_DIR is not set");
const close = (a: number, b: number, tol = 1e-12) =>
  Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

/** A copy of the real yacht set (split 0 only) in `<root>/uci/yacht`, test targets × `poison`. */
async function yachtCopy(root: string, poison?: number): Promise<{ test: Int32Array }> {
  const src = join(DATA!, "uci", "yacht");
  const dst = join(root, "uci", "yacht");
  await Deno.mkdir(dst, { recursive: true });
  const files = ["index_features.txt", "index_target.txt", "n_hidden.txt", "index_train_0.txt"];
  for (const f of [...files, "index_test_0.txt", "n_splits.txt"]) {
    await Deno.copyFile(join(src, f), join(dst, f));
  }
  const text = await Deno.readTextFile(join(src, "data.txt"));
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const test = parseIndexList(await Deno.readTextFile(join(src, "index_test_0.txt")), "test");
  const target = parseIndexList(await Deno.readTextFile(join(src, "index_target.txt")), "t")[0];
  if (poison !== undefined) {
    for (const i of test) {
      const cells = lines[i].trim().split(/\s+/);
      cells[target] = String(Number(cells[target]) * poison + poison);
      lines[i] = cells.join(" ");
    }
  }
  await Deno.writeTextFile(join(dst, "data.txt"), lines.join("\n") + "\n");
  return { test };
}

/** The tuning columns of a row, with the candidates' timings dropped. */
function tuning(row: Record<string, unknown>) {
  const scores = JSON.parse(String(row.grid_scores)) as Record<string, unknown>[];
  return {
    chosen: row.chosen,
    valid_log_lik: row.valid_log_lik,
    valid_rmse: row.valid_rmse,
    n_valid: row.n_valid,
    scores: scores.map(({ seconds: _, ...s }) => s),
  };
}

Deno.test({
  name: "splits --tune grid: poisoned test targets change nothing in the tuning; the poisoned " +
    "run diverges, is restarted, counted and left out of the summary",
  ignore: !DATA,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const run = async (name: string, poison?: number) => {
        const root = join(dir, name);
        if (!await Deno.stat(root).then(() => true, () => false)) await yachtCopy(root, poison);
        const r = await runScript("experiments/uci.ts", [
          "--protocol=splits",
          "--datasets=yacht",
          "--splits=1",
          "--methods=mc_dropout",
          "--tune=grid",
          "--grid=small",
          "--epochs=4",
          "--test_samples=3",
          "--max_restarts=1",
          `--data_dir=${root}`,
          `--results_dir=${root}/res`,
          `--models_dir=${root}/models`,
        ]);
        assert.equal(r.code, 0, r.stderr);
        const rows = JSON.parse(await Deno.readTextFile(`${root}/res/uci.json`)).rows;
        assert.equal(rows.length, 1);
        return { row: rows[0], r, res: `${root}/res` };
      };
      const clean = await run("clean");
      // A rerun with the same settings reuses the finished split instead of tuning again.
      const again = await run("clean");
      assert.match(again.r.stderr, /reused 1 result\(s\)/);
      assert.deepEqual(again.row, clean.row);
      const poisoned = await run("poisoned", 1e6);
      assert.equal(clean.row.tune, "small");
      assert.equal(JSON.parse(clean.row.grid_scores).length, 8); // MC dropout: 2 × 2 × 2
      assert.ok(Number.isFinite(clean.row.valid_log_lik), clean.row.grid_scores);
      assert.deepEqual(tuning(poisoned.row), tuning(clean.row));
      // The standard split: yacht split 0 trains on 277 rows and tests on 31; the inner split
      // validates on 20% of the 277.
      assert.equal(clean.row.n_train, 277);
      assert.equal(clean.row.n_test, 31);
      assert.equal(clean.row.n_valid, 55);
      // The poison did reach the final evaluation: the test RMSE is absurd, so the final fit
      // is retrained once and then given up.
      assert.equal(clean.row.diverged, false);
      assert.ok(Number.isFinite(clean.row.test_log_lik));
      assert.equal(poisoned.row.diverged, true);
      assert.equal(poisoned.row.restarts, 1);
      assert.equal(poisoned.row.test_rmse, null); // no metrics kept (NaN → null in JSON)
      assert.match(poisoned.row.failure, /^test RMSE \d.* > 10 × training-target std/);
      assert.match(
        poisoned.r.stderr,
        /diverged: splits yacht split 1\/20 MC Dropout .*restart 1\/1/,
      );
      assert.match(poisoned.r.stderr, /1 run\(s\) diverged after every restart/);
      const summary = csvParse(await Deno.readTextFile(`${poisoned.res}/uci_summary.csv`));
      assert.equal(summary[0].n, "0");
      assert.equal(summary[0].diverged, "1");
      assert.match(
        await Deno.readTextFile(`${poisoned.res}/uci.md`),
        /left out of the means: 1 run\(s\) — yacht \/ MC Dropout: 1 of 1/,
      );
      assert.match(clean.r.stderr, /split 1\/20 MC Dropout: chosen \{"epochs":4,/);
      assert.match(clean.r.stderr, /test LL -?\d+\.\d{3}, RMSE [\d.]+; [\d.]+ s \(tuning/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("uciEpochs: the step cap shortens large sets; SGHMC's minSteps lengthens small ones up to the cap", () => {
  // yacht's 277 training rows are 3 batches of 128, protein's 36,584 are 286.
  assert.equal(uciEpochs(400, 277, 128, 5000), 400);
  assert.equal(uciEpochs(400, 36584, 128, 5000), Math.ceil(5000 / 286));
  assert.equal(uciEpochs(400, 36584, 128, 50), 10); // never under 10 epochs
  const sghmc = regressionBudget(METHODS.sghmc);
  assert.equal(sghmc.minSteps, 5000);
  assert.equal(regressionBudget(METHODS.mc_dropout).minSteps, undefined);
  const yacht = uciEpochs(sghmc.epochs, 277, sghmc.batchSize, 5000, sghmc.minSteps);
  assert.equal(yacht, Math.ceil(5000 / 3));
  assert.ok(yacht * 3 >= 5000 && (yacht - 1) * 3 < 5000);
  // the quick budget's cap (2000 steps) also caps the floor; registry (no cap) keeps it
  assert.equal(uciEpochs(400, 277, 128, 2000, 5000), 667);
  assert.equal(uciEpochs(400, 277, 128, Infinity, 5000), 1667);
  // a large set already has more steps than the floor asks
  assert.equal(uciEpochs(400, 36584, 128, 5000, 5000), Math.ceil(5000 / 286));
});

Deno.test("the capped budget (10,000 steps) shortens only the four large sets; the five small ones keep 400 epochs", () => {
  const cap = UCI_MAX_STEPS.capped;
  assert.equal(cap, 10000);
  // training rows of a standard split (90%): the small sets stay at the registry's 400 epochs
  for (const n of [277, 455, 691, 927, 1439]) assert.equal(uciEpochs(400, n, 128, cap), 400);
  // kin8nm, naval, power-plant, protein: about 10,000 steps
  const large: [number, number][] = [[7373, 173], [10741, 120], [8611, 148], [41157, 32]];
  for (const [n, epochs] of large) assert.equal(uciEpochs(400, n, 128, cap), epochs, `${n} rows`);
  // SGHMC's 5,000-step floor is under the cap: unchanged on the small sets
  const sghmc = regressionBudget(METHODS.sghmc);
  assert.equal(uciEpochs(400, 277, 128, cap, sghmc.minSteps), Math.ceil(5000 / 3));
});

Deno.test("uciVsPublished: best mean test LL per set among the methods with the most splits (diverged rows out), s.e., difference to the published figure", () => {
  const row = (dataset: string, method: string, ll: number, rmse: number, diverged = false) => ({
    dataset,
    method,
    test_log_lik: ll,
    test_rmse: rmse,
    diverged,
  });
  const rows = [
    row("yacht", "MAP", -0.5, 0.6),
    row("yacht", "MAP", -0.7, 0.8),
    row("yacht", "SGHMC", 5, 0.1, true), // diverged: never the best
    row("yacht", "SGHMC", -2, 3),
    row("concrete", "MC Dropout", -3.1, 5.0),
    row("concrete", "MC Dropout", -3.0, 5.2),
    row("concrete", "MAP", -3.2, 4.8),
    row("concrete", "MAP", -3.3, 4.9),
    row("concrete", "KFAC", -2.0, 1.0), // one split against two: competes for neither column
    row("toy", "MAP", -1, 1),
  ];
  const lines = uciVsPublished(rows).trim().split("\n");
  assert.equal(lines.length, 2 + 3);
  const cells = (i: number) => lines[i].split("|").slice(1, -1).map((c) => c.trim());
  // yacht: MAP mean −0.6, s.e. = std(−0.5, −0.7)/√2 = 0.1414/1.414 = 0.1; published −1.38
  assert.deepEqual(cells(2).slice(0, 5), ["yacht", "MAP", "-0.600 ± 0.100", "-1.38", "+0.78"]);
  assert.equal(cells(2)[7], "2");
  // concrete: the best LL (MC dropout −3.05) and the best RMSE (MAP 4.85) are different methods
  assert.deepEqual(cells(3).slice(0, 5), [
    "concrete",
    "MC Dropout",
    "-3.050 ± 0.050",
    "-2.97",
    "-0.08",
  ]);
  assert.equal(cells(3)[5], "4.850 ± 0.050 (MAP)");
  assert.equal(cells(3)[7], "2");
  assert.equal(cells(4)[3], "—"); // no published figure
  assert.equal(Object.keys(PUBLISHED_MC_DROPOUT).length, 9);
  assert.equal(uciVsPublished([]), "");
});

Deno.test("mergeRows: a run in parts keeps the other parts' rows; a redone row replaces its old one", () => {
  const r = (protocol: string, dataset: string, key: string, fold: number, v: number) =>
    ({ protocol, dataset, key, fold, test_rmse: v }) as unknown as UciRow;
  const earlier = [
    r("splits", "yacht", "map", 0, 1),
    r("splits", "yacht", "map", 1, 1),
    r("splits", "kin8nm", "mc_dropout", 0, 3),
    r("cv", "yacht", "map", 0, 4),
  ];
  const now = [r("splits", "yacht", "map", 1, 2), r("splits", "bostonHousing", "map", 0, 5)];
  const all = mergeRows(now, earlier);
  assert.deepEqual(all.map((x) => [x.protocol, x.dataset, x.key, x.fold, x.test_rmse]), [
    ["cv", "yacht", "map", 0, 4],
    ["splits", "bostonHousing", "map", 0, 5],
    ["splits", "kin8nm", "mc_dropout", 0, 3],
    ["splits", "yacht", "map", 0, 1],
    ["splits", "yacht", "map", 1, 2], // the new row, not the old one
  ]);
  assert.deepEqual(mergeRows(now, []).length, 2);
  const t = (tune: string) => ({ tune }) as unknown as UciRow;
  assert.match(tuningNote([t("none")], "splits"), /no tuning/);
  assert.match(
    tuningNote([t("small"), t("small")], "splits"),
    /per split .*grid `small`, `chosen`/,
  );
  assert.match(tuningNote([t("small"), t("none")], "folds"), /per fold .*some rows/);
});

Deno.test("innerSplit: 80/20 of the training rows, disjoint, covering, deterministic by seed", () => {
  const rows = Int32Array.from({ length: 277 }, (_, i) => 3 * i + 1); // outer training rows
  const a = innerSplit(rows, 7);
  assert.equal(a.train.length, Math.round(0.8 * 277));
  assert.equal(a.valid.length, 277 - Math.round(0.8 * 277));
  const all = [...a.train, ...a.valid].sort((x, y) => x - y);
  assert.deepEqual(all, [...rows], "disjoint and exactly the training rows");
  assert.deepEqual(innerSplit(rows, 7), a);
  assert.notDeepEqual(innerSplit(rows, 8).valid, a.valid);
  // Sorted, and a shuffle (not the last 20% of the rows).
  assert.ok(a.valid.every((v, i) => i === 0 || a.valid[i - 1] < v));
  assert.ok(a.valid[0] < rows[200]);
  assert.throws(() => innerSplit([5], 0), /has 1 row\(s\); tuning needs at least 2/);
});

Deno.test({
  name: "the outer splits are the standard files: loadUci's indices are index_train/test_K.txt",
  ignore: !DATA,
  async fn() {
    const dir = join(DATA!, "uci", "yacht");
    for (const k of [0, 7, 19]) {
      const s = await loadUci("yacht", { split: k, dataDir: DATA, download: false });
      const read = async (f: string) => parseIndexList(await Deno.readTextFile(join(dir, f)), f);
      assert.deepEqual([...s.trainIndices], [...await read(`index_train_${k}.txt`)]);
      assert.deepEqual([...s.testIndices], [...await read(`index_test_${k}.txt`)]);
    }
  },
});

Deno.test("standardError and the summary: s.e. = sample std / √n; diverged rows left out", () => {
  assert.ok(close(standardError([1, 2, 3, 4]), Math.sqrt(5 / 3) / 2));
  // Sample variance of 2,4,4,4,5,5,7,9 is 32/7.
  assert.ok(close(standardError([2, 4, 4, 4, 5, 5, 7, 9]), Math.sqrt(32 / 7) / Math.sqrt(8)));
  assert.ok(Number.isNaN(standardError([3])));
  const rows: UciRow[] = [1, 2, 3, 4].map((v, fold) => ({
    protocol: "splits",
    dataset: "yacht",
    method: "MAP",
    fold,
    test_rmse: v,
    diverged: false,
  }));
  rows.push({ ...rows[0], fold: 4, test_rmse: 1000, diverged: true });
  const [s] = uciSummaryRows(rows, ["test_rmse"]);
  assert.equal(s.n, 4);
  assert.equal(s.diverged, 1);
  assert.ok(close(Number(s.test_rmse_mean), 2.5));
  assert.ok(close(Number(s.test_rmse_std), Math.sqrt(5 / 3)));
  assert.ok(close(Number(s.test_rmse_sem), Math.sqrt(5 / 3) / 2));
  const md = uciMarkdown(rows, ["test_rmse"], { title: "t" });
  assert.match(md, /\| yacht \| MAP \| 4 \| 2\.500 ± 0\.645 \|/);
  assert.match(md, /yacht \/ MAP: 1 of 5/);
  assert.doesNotMatch(md, /restarted/i);
  // Restarts are reported too: final fits per set and method, tuning candidates in total.
  rows[1] = { ...rows[1], restarts: 1 };
  rows[2] = { ...rows[2], tune_restarts: 2 };
  rows[3] = { ...rows[3], tune_restarts: 1 };
  assert.match(
    uciMarkdown(rows, ["test_rmse"]),
    /^Restarted after a failed try \(a new seed; the row is the try that passed\): yacht \/ MAP: 1 of 5\. Tuning candidates restarted: 3 \(in 2 row\(s\)\)\.$/m,
  );
});

Deno.test("withRestarts: new seed, then half the learning rate; counts; gives up", async () => {
  const lines: string[] = [];
  const seen: { seed: number; lrScale: number }[] = [];
  let calls = 0;
  const ok = await withRestarts(
    (a) => {
      seen.push({ seed: a.seed, lrScale: a.lrScale });
      calls++;
      if (calls === 1) return Promise.reject(new DivergenceError(3, 2, NaN));
      return Promise.resolve(calls === 2 ? Infinity : 1.5);
    },
    (v) => (Number.isFinite(v) ? null : `loss ${v}`),
    { seed: 100, maxRestarts: 3, what: "yacht split 1/20 MAP", log: (l) => lines.push(l) },
  );
  assert.equal(ok.value, 1.5);
  assert.equal(ok.restarts, 2);
  assert.equal(ok.diverged, false);
  assert.deepEqual(seen, [
    { seed: 100, lrScale: 1 },
    { seed: 100 + 7919, lrScale: 1 },
    { seed: 100 + 2 * 7919, lrScale: 0.5 },
  ]);
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^diverged: yacht split 1\/20 MAP \(seed 100\): loss became NaN/);
  assert.match(lines[1], /restart 2\/3 with seed 15938, learning rate × 0\.5$/);
  const bad = await withRestarts(() => Promise.resolve(NaN), () => "always", {
    seed: 0,
    maxRestarts: 2,
    what: "x",
    log: () => {},
  });
  assert.equal(bad.diverged, true);
  assert.equal(bad.restarts, 2);
  assert.deepEqual(bad.failures, ["always", "always", "always"]);
  assert.equal(attemptFor(0, 3).lrScale, 0.25);
  // Other errors are not divergence.
  await assert.rejects(
    withRestarts(() => Promise.reject(new TypeError("bug")), () => null, {
      seed: 0,
      maxRestarts: 3,
      what: "x",
      log: () => {},
    }),
    TypeError,
  );
  const m = { n: 1, logLikSum: -1, logLikMean: -1, rmse: 1, aleatoricVarMean: 1 } as const;
  const full = { ...m, epistemicVarMean: 0, totalVarMean: 1 };
  assert.equal(divergenceReason({ test: full }, 1), null);
  assert.match(divergenceReason({ test: { ...full, rmse: 11 } }, 1)!, /test RMSE 11 > 10 ×/);
  assert.match(divergenceReason({ train: { ...full, logLikMean: NaN } }, 1)!, /train log-lik/);
  // A final fit worse on its own training rows than their mean: restarted. Only `train` is
  // held to it (a test set may be harder; tuning's `valid` just scores low).
  assert.match(
    divergenceReason({ train: { ...full, rmse: 1.5 }, test: full }, 1)!,
    /^training RMSE 1\.5 > training-target std 1 \(worse than predicting their mean\)$/,
  );
  assert.equal(divergenceReason({ train: full, test: { ...full, rmse: 1.5 } }, 1), null);
  assert.equal(divergenceReason({ valid: { ...full, rmse: 1.5 } }, 1), null);
});

Deno.test("rowDivergenceReason: a reused row is held to today's check; JSON's null is not 0", () => {
  const row = {
    diverged: false,
    train_log_lik: -2,
    train_rmse: 3,
    test_log_lik: -2.5,
    test_rmse: 4,
  };
  assert.equal(rowDivergenceReason(row, 5), null);
  assert.match(rowDivergenceReason(row, 2.5)!, /^training RMSE 3 > training-target std 2\.5/);
  // Read back from CSV, the same numbers as strings.
  assert.match(rowDivergenceReason({ ...row, train_rmse: "3" }, 2.5)!, /training RMSE 3 >/);
  // A NaN written to JSON comes back null: a failed fit, not an RMSE of 0.
  assert.match(rowDivergenceReason({ ...row, test_rmse: null }, 5)!, /^test RMSE is NaN$/);
  // A row already marked diverged failed every try: nothing to redo.
  assert.equal(rowDivergenceReason({ ...row, diverged: true, train_rmse: null }, 2.5), null);
  assert.equal(rowDivergenceReason({ ...row, diverged: "true", train_rmse: 99 }, 2.5), null);
});

/** A small regression table: y = sin(x0) + x1 / 2 + noise. */
function toyTable(n = 60): UciTable {
  const x = new Float64Array(n * 2);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[2 * i] = (i % 13) / 3;
    x[2 * i + 1] = (i % 7) - 3;
    y[i] = Math.sin(x[2 * i]) + x[2 * i + 1] / 2 + 0.1 * Math.cos(7 * i);
  }
  return {
    name: "yacht",
    x,
    y,
    n,
    d: 2,
    nSplits: 1,
    featureColumns: [0, 1],
    targetColumn: 2,
    settings: {},
    dir: ".",
  };
}

Deno.test("evalRegression of several networks: one equal-weight mixture of their predictions", async () => {
  await initBackend({ backend: "wasm", quiet: true });
  const outer = splitUci(
    toyTable(),
    Int32Array.from({ length: 50 }, (_, i) => i),
    Int32Array.from({ length: 10 }, (_, i) => 50 + i),
  );
  const scale = { yMean: outer.yMean, yStd: outer.yStd };
  const spec = { inputDim: 2, hidden: [8], outputDim: 1, task: "regression" as const };
  const nets = [1, 2].map(() => buildMap(spec, { optimizer: "adam", lr: 1e-2 }));
  for (const [k, m] of nets.entries()) {
    await trainRegression(m, outer.train, { epochs: 20, batchSize: 16 }, 10 + k, scale);
  }
  const [a, b] = nets;
  const single = await evalRegression(a, outer.test, 1, 0, scale);
  // A mixture of a network with itself is that network.
  const twice = await evalRegression([a, a], outer.test, 1, 0, scale);
  assert.ok(close(twice.rmse, single.rmse, 1e-9), `${twice.rmse} vs ${single.rmse}`);
  assert.ok(close(twice.logLikMean, single.logLikMean, 1e-9));
  // Two networks: the predictive mean is the average of theirs, the likelihood the mixture's.
  const pooled = await evalRegression([a, b], outer.test, 1, 0, scale);
  const ua = await predictUncertainty(a, outer.test.x, outer.test.n, 1, 0, scale);
  const ub = await predictUncertainty(b, outer.test.x, outer.test.n, 1, 0, scale);
  let se = 0, ll = 0;
  const normal = (y: number, m: number, v: number) =>
    Math.exp(-0.5 * (y - m) ** 2 / v) / Math.sqrt(2 * Math.PI * v);
  for (let i = 0; i < outer.test.n; i++) {
    const y = outer.yMean + outer.yStd * outer.test.y[i];
    se += (y - (ua.mean[i] + ub.mean[i]) / 2) ** 2;
    ll += Math.log(
      (normal(y, ua.mean[i], ua.aleatoricVar[i]) + normal(y, ub.mean[i], ub.aleatoricVar[i])) / 2,
    );
  }
  assert.ok(close(pooled.rmse, Math.sqrt(se / outer.test.n), 1e-5), `${pooled.rmse}`);
  assert.ok(close(pooled.logLikMean, ll / outer.test.n, 1e-5), `${pooled.logLikMean}`);
  assert.ok(Math.abs(pooled.rmse - single.rmse) > 1e-6);
  for (const m of nets) m.dispose();
});

Deno.test("a real divergence (huge learning rate → NaN loss) is restarted with half the lr, and a permanent one is excluded", async () => {
  await initBackend({ backend: "wasm", quiet: true });
  const table = toyTable();
  const train = Int32Array.from({ length: 50 }, (_, i) => i);
  const test = Int32Array.from({ length: 10 }, (_, i) => 50 + i);
  const outer = splitUci(table, train, test);
  /** One row of `entry` on the toy split (5 epochs of Adam, no restarts unless given). */
  const toyJob = (
    entry: MethodEntry,
    budget: Partial<RegressionBudget>,
    extra: Partial<UciJob> = {},
  ) =>
    runUciJob({
      protocol: "splits",
      fold: 0,
      table,
      outer,
      base: {
        entry,
        spec: { inputDim: 2, hidden: [8], outputDim: 1, task: "regression" },
        budget: {
          epochs: 5,
          batchSize: 16,
          settings: { optimizer: "adam" },
          fromRegistry: true,
          ...budget,
        },
        samples: 1,
      },
      seed: 3,
      maxRestarts: 0,
      config: "test",
      log: () => {},
      ...extra,
    });
  // lr ≥ 1 trains with lr 1e8 (the loss overflows); below 1 with a sane 1e-2 (which beats the
  // targets' mean on the training rows in 5 epochs; 1e-3 does not, and would be restarted).
  const touchy: MethodEntry = {
    ...METHODS.map,
    build: (spec, s) =>
      buildMap(spec, { ...s, lr: Number(s?.lr) >= 1 ? 1e8 : 1e-2 } as Record<string, number>),
  };
  const job = (lr: number, maxRestarts: number) => {
    const lines: string[] = [];
    return {
      lines,
      run: toyJob(touchy, { settings: { optimizer: "adam", lr, weightDecay: 0 } }, {
        maxRestarts,
        log: (l) => lines.push(l),
      }),
    };
  };
  const recovers = job(1, 3);
  const row = await recovers.run;
  assert.equal(row.diverged, false, row.failure as string);
  assert.equal(row.restarts, 2);
  assert.equal(row.lr_scale, 0.5);
  assert.ok(Number.isFinite(row.test_rmse));
  assert.equal(recovers.lines.length, 2);
  assert.match(recovers.lines[0], /diverged: splits yacht #0 MAP \(seed 3\): loss became/);

  const hopeless = job(8, 2); // 8, 8, 4: always ≥ 1
  const bad = await hopeless.run;
  assert.equal(bad.diverged, true);
  assert.equal(bad.restarts, 2);
  assert.ok(Number.isNaN(bad.test_log_lik));
  assert.match(bad.failure as string, /loss became/);
  assert.match(hopeless.lines.at(-1)!, /gave up after 2 restart\(s\)/);
  const [s] = uciSummaryRows([row, bad], ["test_rmse"]);
  assert.equal(s.n, 1);
  assert.equal(s.diverged, 1);
  assert.equal(s.test_rmse_mean, row.test_rmse);

  // With a grid: a candidate that diverges is left out of the choice.
  const grid = {
    size: "small" as const,
    candidates: [{ epochs: 5, settings: { lr: 5 } }, { epochs: 4, settings: { lr: 0.5 } }],
  };
  const lines: string[] = [];
  const tuned = await toyJob(touchy, {}, { grid, log: (l) => lines.push(l) });
  assert.equal(tuned.diverged, false);
  const scores = JSON.parse(String(tuned.grid_scores));
  assert.deepEqual(scores.map((c: { diverged: boolean }) => c.diverged), [true, false]);
  assert.equal(scores[0].valid_log_lik, null);
  assert.equal(tuned.chosen, '{"epochs":4,"lr":0.5}');
  assert.equal(tuned.epochs, 4);
  assert.equal(tuned.valid_log_lik, scores[1].valid_log_lik);
  assert.match(lines[0], /^diverged: splits yacht #0 MAP candidate 1\/2 \{"lr":5\}: loss/);

  // A network whose loss stays finite but whose prediction overflows (protein split 1, lr
  // 1e-2: log σ = Infinity on one test row) is a divergence of that try, not a crash of the
  // study.
  const overflows: MethodEntry = {
    ...METHODS.map,
    build: (spec, s) => {
      const m = buildMap(spec, s as Record<string, number>);
      return new Proxy(m, {
        get(t, k) {
          if (k !== "predict") return Reflect.get(t, k);
          return (x: tf.Tensor2D, o: PredictOptions) => {
            const p = t.predict(x, o);
            if (p.task !== "regression") return p;
            const logSigma = tf.tidy(() => tf.mul(p.logSigma, Infinity)) as tf.Tensor3D;
            p.logSigma.dispose();
            return { ...p, logSigma };
          };
        },
      });
    },
  };
  const inf = await toyJob(overflows, { epochs: 2 }, { maxRestarts: 1 });
  assert.equal(inf.diverged, true);
  assert.equal(inf.restarts, 1);
  assert.match(String(inf.failure), /log-likelihood is NaN/);

  // tuneSettings (e.g. a one-member ensemble) replace the settings while candidates are
  // scored, and only then: this entry trains only with its stand-in setting.
  const standInOnly: MethodEntry = {
    ...METHODS.map,
    build: (spec, s) =>
      buildMap(spec, { ...s, lr: s?.standIn ? 1e-3 : 1e8 } as Record<string, number>),
  };
  const standIn = await toyJob(standInOnly, { tuneSettings: { standIn: 1 } }, {
    grid: { size: "small", candidates: [{ epochs: 4, settings: { weightDecay: 0 } }] },
  });
  assert.deepEqual(
    JSON.parse(String(standIn.grid_scores)).map((c: { diverged: boolean }) => c.diverged),
    [false],
  );
  assert.equal(standIn.chosen, '{"epochs":4,"weightDecay":0}');
  assert.equal(standIn.diverged, true); // the final fit has no stand-in
  assert.deepEqual(regressionBudget(METHODS.ensemble).tuneSettings, { nNets: 1 });

  assert.equal(uciGrid("map", "small", 5).length, 4);
  assert.equal(uciGrid("bbb_local", "full", 400).length, 8);
  assert.deepEqual(uciGrid("sghmc", "full", 7).map((c) => c.epochs), [
    4,
    7,
    4,
    7,
    4,
    7,
    4,
    7,
    4,
    7,
    4,
    7,
  ]);
  assert.deepEqual(uciGrid("sghmc", "small", 7).map((c) => c.settings.lr), [
    3e-3,
    3e-3,
    1e-2,
    1e-2,
    3e-2,
    3e-2,
  ]);
  assert.throws(() => uciGrid("nope", "small", 5), /no UCI grid for method "nope"/);
});

Deno.test("--grid_axis: parsed, checked, and replaces only the axes of that name", () => {
  const axes = parseGridAxes(" dropout=0.01, 0.03 ,0.1 ; lr=1e-3");
  assert.deepEqual(axes, { dropout: [0.01, 0.03, 0.1], lr: [0.001] });
  const grid = uciGrid("mc_dropout", "small", 10, axes);
  // dropout (3) × the grid's own weight decays (2) × lr (1), first axis slowest.
  assert.deepEqual(
    grid.map((c) => [c.settings.dropout, c.settings.weightDecay, c.settings.lr]),
    [
      [0.01, 1e-4, 1e-3],
      [0.01, 1e-3, 1e-3],
      [0.03, 1e-4, 1e-3],
      [0.03, 1e-3, 1e-3],
      [0.1, 1e-4, 1e-3],
      [0.1, 1e-3, 1e-3],
    ],
  );
  // A method without a dropout axis keeps its grid's values, lr replaced.
  assert.deepEqual(uciGrid("sghmc", "small", 10, axes).map((c) => c.settings), [
    { lr: 1e-3, friction: 0.05 },
    { lr: 1e-3, friction: 0.2 },
  ]);
  assert.ok(hasGridAxis("bbb_flipout", "priorSigma"));
  assert.ok(!hasGridAxis("map", "dropout"));
  for (
    const [text, msg] of [
      ["", /expected name=v1,v2,…, found ""/],
      ["0.1,0.2", /expected name=v1,v2,…, found "0.1,0.2"/],
      ["dropout_rate=0.1", /no grid has an axis "dropout_rate"; axes: .*dropout/],
      ["dropout=0.1,", /axis "dropout" expects comma-separated numbers, found "0.1,"/],
      ["dropout=0.1,abc", /expects comma-separated numbers, found "0.1,abc"/],
      ["dropout=0.1,0.1", /axis "dropout" repeats a value: 0.1,0.1/],
      ["lr=1e-3;lr=3e-3", /axis "lr" given twice/],
    ] as const
  ) {
    assert.throws(() => parseGridAxes(text), msg, text);
  }
});
