// Study models (issue 16, items 1, 2, 5 and 9): a saved model is reused only when it was trained
// with the same settings (seed, data limit, budget…, recorded in its manifest); a study whose
// models are all saved reads no training data; the models folder is locked; --methods "" is
// rejected; the "wrote …" line has one format.
import assert from "node:assert/strict";
import { modelDifference, recordDifference } from "../experiments/lib/study.ts";
import { buildMap, MAP_DEFAULTS } from "../methods/map.ts";
import { wroteLine } from "../experiments/lib/report.ts";
import { lockHolder } from "./_process.ts";
import { runScript } from "./_run_script.ts";

const DATA = Deno.env.get("BNN_DATA_DIR");
if (!DATA) console.warn("SKIP study model tests that train: BNN_DATA_DIR is not set");

const run = (args: string[], env: Record<string, string> = {}) =>
  runScript("experiments/weights.ts", args, { BNN_BACKEND: "wasm", ...env });

Deno.test("recordDifference names what differs; a missing record never matches", () => {
  const a = { seed: 0, settings: { lr: 1e-3, optimizer: "adam" }, data: { limit: 300 } };
  assert.equal(recordDifference({ ...a, settings: { optimizer: "adam", lr: 1e-3 } }, a), null);
  assert.equal(
    recordDifference({ ...a, seed: 1 }, a),
    "seed 1 → 0",
  );
  assert.equal(
    recordDifference({ ...a, data: { limit: null } }, a),
    'data {"limit":null} → {"limit":300}',
  );
  assert.match(String(recordDifference(undefined, a)), /records no training settings/);
});

Deno.test("modelDifference: an explicit default is the same model, another value is not", () => {
  const spec = { inputDim: 4, hidden: [3], outputDim: 2, task: "classification" as const };
  const resolve = (settings: Record<string, unknown>) => {
    const m = buildMap(spec, settings);
    const out = { ...m.settings };
    m.dispose();
    return out;
  };
  // A model saved with no settings in its record, i.e. every default.
  const saved = { study: { seed: 0, settings: {} }, settings: resolve({}) };
  assert.equal(modelDifference(saved, { seed: 0, settings: {} }, resolve), null);
  assert.equal(
    modelDifference(saved, { seed: 0, settings: { lr: MAP_DEFAULTS.lr } }, resolve),
    null,
  );
  assert.equal(
    modelDifference(saved, { seed: 0, settings: { lr: 0.5 } }, resolve),
    'settings {} → {"lr":0.5}',
  );
  // A setting added to the method after the model was saved (absent from its manifest) is its
  // default; another value of it is another model.
  const { lrSchedule: _, ...older } = saved.settings;
  const oldSaved = { study: { seed: 0, settings: { lr: 2e-3 } }, settings: { ...older, lr: 2e-3 } };
  assert.equal(
    modelDifference(oldSaved, { seed: 0, settings: { lr: 2e-3, lrSchedule: "constant" } }, resolve),
    null,
  );
  assert.equal(
    modelDifference(oldSaved, { seed: 0, settings: { lr: 2e-3, lrSchedule: "cosine" } }, resolve),
    'settings {"lr":0.002} → {"lr":0.002,"lrSchedule":"cosine"}',
  );
  // Other fields count whatever the settings resolve to.
  assert.equal(
    modelDifference(saved, { seed: 1, settings: { lr: MAP_DEFAULTS.lr } }, resolve),
    'seed 0 → 1, settings {} → {"lr":0.001}',
  );
  // A manifest without resolved settings is compared as recorded.
  assert.match(
    String(modelDifference({ study: saved.study }, { seed: 0, settings: { lr: 1e-3 } }, resolve)),
    /^settings \{\} → \{"lr":0.001\}$/,
  );
});

Deno.test("wroteLine: one format for every script", () => {
  assert.equal(
    wroteLine("results/x", ["a.csv", "b.svg"], 1.234),
    "wrote a.csv, b.svg to results/x in 1.2 s",
  );
  assert.equal(wroteLine("r", ["a.csv"]), "wrote a.csv to r");
});

Deno.test("--methods must name at least one method", async () => {
  for (const m of ["", " , "]) {
    const r = await run(["--methods", m]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--methods (must not be empty|is empty)/);
  }
});

Deno.test({
  name: "weights.ts: saved models are reused only with matching settings, and need no data",
  ignore: !DATA,
  async fn() {
    const dir = await Deno.makeTempDir();
    const common = [
      "--methods=map",
      `--models_dir=${dir}/models`,
      `--results_dir=${dir}/res`,
      "--samples=2",
    ];
    try {
      const first = await run([...common, "--train_limit=300"]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, /MAP: training 3 epoch\(s\) on 300 examples/);
      const manifest = JSON.parse(
        await Deno.readTextFile(`${dir}/models/quick/seed0/map/manifest.json`),
      );
      assert.deepEqual(manifest.info.study.data, { dataset: "mnist", limit: 300 });
      assert.equal(manifest.info.study.seed, 0);
      assert.equal(manifest.info.study.epochs, 3);
      assert.match(
        first.stdout,
        /^wrote weights\.svg, weights\.csv, weights\.json to .* in [\d.]+ s$/m,
      );

      // Same settings: loaded, without reading any training data (none is reachable here).
      const empty = await Deno.makeTempDir();
      const again = await run([...common, "--train_limit=300", `--data_dir=${empty}`], {
        BNN_DATA_DIR: "",
        BNN_OFFLINE: "1",
        XDG_CACHE_HOME: empty,
      });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /MAP: loaded .*quick\/seed0\/map/);
      assert.doesNotMatch(again.stderr, /training|MD5/);
      await Deno.remove(empty, { recursive: true });

      // Another seed is another model: trained in its own folder, the first one kept.
      const seed1 = await run([...common, "--train_limit=300", "--seed=1"]);
      assert.equal(seed1.code, 0, seed1.stderr);
      assert.match(seed1.stderr, /MAP: training 3 epoch\(s\)/);
      await Deno.stat(`${dir}/models/quick/seed1/map/weights.safetensors`);
      await Deno.stat(`${dir}/models/quick/seed0/map/weights.safetensors`);

      // Other training data: retrained, and the log says why.
      const other = await run([...common, "--train_limit=200"]);
      assert.equal(other.code, 0, other.stderr);
      assert.match(
        other.stderr,
        /MAP: the model saved in .*seed0\/map was trained differently \(data \{"dataset":"mnist","limit":300\} → \{"dataset":"mnist","limit":200\}\); training one/,
      );
      assert.match(other.stderr, /MAP: training 3 epoch\(s\) on 200 examples/);
      // The first run's checkpoint (300 examples) is not resumed: it is discarded, all 3 epochs run.
      assert.match(
        other.stderr,
        /MAP: discarded the checkpoint in .*seed0\/map \(it was for other settings: data /,
      );
      assert.match(other.stderr, /epoch 3\/3/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("a study refuses a models folder another live process holds", async () => {
  const dir = await Deno.makeTempDir();
  const holder = await lockHolder(`${dir}/models`);
  try {
    const r = await run([
      "--methods=map",
      `--models_dir=${dir}/models`,
      `--results_dir=${dir}/res`,
      "--train_limit=300",
    ]);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      new RegExp(`--models_dir ${dir}/models is in use by process ${holder.pid}`),
    );
  } finally {
    holder.kill("SIGKILL");
    await holder.status;
    await holder.stdout.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
