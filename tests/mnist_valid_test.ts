// The validation grids (experiments/lib/mnist_valid_grids.ts) and their runner
// (experiments/mnist_valid.ts): every try is a valid command of its script, the adopted try is the
// settings the library uses, and a grid run skips finished tries, resumes started ones and
// refuses results of another command.
import assert from "node:assert/strict";
import { parseFlags } from "../core/cli.ts";
import type { NetSpec } from "../core/method.ts";
import { scriptFlags, type TrainScript } from "../experiments/lib/train_script.ts";
import { VALID_GRIDS, type ValidGrid } from "../experiments/lib/mnist_valid_grids.ts";
import { gridMarkdown, runGrid, tryArgs } from "../experiments/mnist_valid.ts";
import { TUNED } from "../experiments/mnist_table.ts";
import { runScript, trainOnlyMnist } from "./_run_script.ts";

const DATA = Deno.env.get("BNN_DATA_DIR");
const SMALL: NetSpec = { inputDim: 784, hidden: [8], outputDim: 10, task: "classification" };
const META = { name: "t.ts", description: "" };

/** The script module's declaration and the flags a try's command parses to. */
async function parseTry(grid: ValidGrid, flags: readonly string[]) {
  const [path, ...args] = tryArgs(grid, { name: "t", what: "", flags });
  const { script } = await import(`../${path}`) as { script: TrainScript };
  const { specs } = scriptFlags(script, args);
  const f = parseFlags(args, specs, META)!;
  script.validate?.(f);
  return { script, f };
}

Deno.test("every try of every grid is a valid command of its script, holding digits out", async () => {
  for (const grid of Object.values(VALID_GRIDS)) {
    const names = grid.tries.map((t) => t.name);
    assert.equal(new Set(names).size, names.length, `${grid.name}: try names repeat`);
    assert.ok(names.includes(grid.chosen), `${grid.name}: adopted try ${grid.chosen} missing`);
    assert.equal(grid.recordedOn !== undefined, grid.tries.some((t) => t.recorded), grid.name);
    for (const t of grid.tries) {
      const { script, f } = await parseTry(grid, t.flags);
      assert.ok(Number(f.valid) > 0, `${grid.name}/${t.name}: no --valid`);
      assert.equal(f.test_limit, undefined);
      script.build(SMALL, f).dispose(); // method settings are checked when it is built
    }
  }
});

Deno.test("the adopted try is what the library trains", async () => {
  // Registry grids adopt the script's defaults (the registry's full budget, tests/train_presets).
  for (const grid of Object.values(VALID_GRIDS)) {
    const chosen = grid.tries.find((t) => t.name === grid.chosen)!;
    if (grid.adoptedIn.startsWith("methods/registry.ts")) {
      const defaults = (await parseTry(grid, [])).f;
      assert.deepEqual((await parseTry(grid, chosen.flags)).f, defaults, grid.name);
    }
  }
  // The tuned BBB rows' ρ range is the bbb_rho grid's adopted try.
  const g = VALID_GRIDS.bbb_rho;
  const { script, f } = await parseTry(g, g.tries.find((t) => t.name === g.chosen)!.flags);
  const built = script.build(SMALL, f);
  assert.deepEqual(built.settings.rhoInit, TUNED.bbb_gaussian.settings.rhoInit);
  built.dispose();
});

Deno.test("the grid table marks the adopted try and names the best", () => {
  const md = gridMarkdown(VALID_GRIDS.ensemble, [
    { name: "all_digits", logLik: -523.46, errorPct: 1.51, mi: 0.0014 },
    { name: "subsample_0.8", logLik: -544.5, errorPct: 1.49, mi: 0.002 },
  ]);
  assert.match(
    md,
    /\| \*\*all_digits\*\* \(adopted\) \| \(none\) \| -523\.5 \| 1\.51 \| 0\.0014 \| -523\.5 \| 1\.51 \|/,
  );
  assert.match(md, /\| subsample_0\.8 \| `--subsample 0\.8` \| -544\.5 \|/);
  assert.match(
    md,
    /best log-likelihood all_digits, lowest error subsample_0\.8; adopted all_digits/,
  );
  const unrecorded: ValidGrid = {
    ...VALID_GRIDS.sgld,
    recordedOn: undefined,
    tries: VALID_GRIDS.sgld.tries.map(({ recorded: _, ...t }) => t),
  };
  assert.match(gridMarkdown(unrecorded, []), /none recorded yet[\s\S]*No try has been run/);
});

Deno.test({
  name: "a grid run skips finished tries, resumes started ones, refuses another command's",
  ignore: !DATA,
  async fn() {
    // Training files only, offline: reading the test set would fail.
    const { dir, env } = await trainOnlyMnist(DATA!);
    const grid: ValidGrid = {
      name: "tiny",
      question: "a test",
      adoptedIn: "nowhere",
      script: "experiments/train_map_mnist.ts",
      base: ["--valid", "300", "--limit", "600", "--epochs", "1", "--hidden", "16"],
      llPer: "sum",
      chosen: "b",
      tries: [
        { name: "a", what: "lr 1e-3", flags: ["--lr", "1e-3"] },
        { name: "b", what: "defaults", flags: [] },
      ],
    };
    const opts = {
      modelsDir: `${dir}/m`,
      resultsDir: `${dir}/r`,
      extra: [`--data_dir=${dir}/data`, "--test_samples", "5"],
      env,
    };
    const logged: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => void logged.push(a.join(" "));
    try {
      const first = await runGrid(grid, opts);
      assert.deepEqual(first.map((r) => r.name), ["a", "b"]);
      const m = JSON.parse(await Deno.readTextFile(`${dir}/r/tiny/a/valid_metrics.json`));
      assert.equal(m.n, 300);
      assert.equal(first[0].logLik, m.logLikSum);
      assert.equal(first[0].errorPct, m.errorPct);

      // Again: nothing is trained (the metrics file is not rewritten).
      const before = (await Deno.stat(`${dir}/r/tiny/a/valid_metrics.json`)).mtime;
      logged.length = 0;
      const again = await runGrid(grid, opts);
      assert.deepEqual(again, first);
      assert.equal(logged.filter((l) => /done earlier/.test(l)).length, 2, logged.join("\n"));
      assert.deepEqual((await Deno.stat(`${dir}/r/tiny/a/valid_metrics.json`)).mtime, before);

      // A try begun but not finished resumes from its checkpoint.
      await Deno.remove(`${dir}/r/tiny/b/valid_metrics.json`);
      logged.length = 0;
      await runGrid(grid, { ...opts, tries: ["b"], dryRun: true });
      assert.match(logged.join("\n"), /--results_dir \S+\/r\/tiny\/b --resume/);

      // A try is what it trains: the same flags spelled differently are the same try…
      const spelled = { ...grid, tries: [{ name: "a", what: "", flags: ["--lr=0.001"] }] };
      logged.length = 0;
      assert.deepEqual(await runGrid(spelled, opts), [first[0]]);
      assert.match(logged.join("\n"), /tiny\/a: done earlier/);
      // …other flags are not mixed with the old results…
      const changed = { ...grid, tries: [{ name: "a", what: "", flags: ["--lr", "2e-3"] }] };
      await assert.rejects(
        runGrid(changed, opts),
        /\/r\/tiny\/a was run with --lr 0\.001 \(the grid's command now gives 0\.002\)\..*--overwrite/,
      );
      // A flag the script gained after a try ran (absent from the try's record) stands for its
      // declared default, the script's earlier behaviour, not for the registry's preset: MAP's
      // declared --lr_schedule is constant, its registry default cosine…
      const manifestPath = `${dir}/m/tiny/a/manifest.json`;
      const manifest = JSON.parse(await Deno.readTextFile(manifestPath));
      assert.equal(manifest.info.flags.lr_schedule, "cosine");
      delete manifest.info.flags.lr_schedule;
      await Deno.writeTextFile(manifestPath, JSON.stringify(manifest));
      await assert.rejects(
        runGrid(grid, { ...opts, tries: ["a"] }),
        /--lr_schedule constant \(the grid's command now gives cosine\)/,
      );
      // …so a command asking for the declared value is that try.
      const asBefore = {
        ...grid,
        tries: [{ name: "a", what: "", flags: ["--lr", "1e-3", "--lr_schedule", "constant"] }],
      };
      assert.deepEqual(await runGrid(asBefore, opts), [first[0]]);
      // Nor is a finished try whose model was trained under another default (read from the
      // model's manifest, as after a registry change) the same try.
      manifest.info.flags.weight_decay = 0.01;
      await Deno.writeTextFile(manifestPath, JSON.stringify(manifest));
      await assert.rejects(
        runGrid(grid, { ...opts, tries: ["a"] }),
        /--weight_decay 0\.01 \(the grid's command now gives 0\.05\)/,
      );
      await Deno.writeTextFile(`${dir}/r/tiny/b/try.json`, "{}");
      await assert.rejects(runGrid(grid, { ...opts, tries: ["b"] }), /try\.json: not a try record/);
      await assert.rejects(
        runGrid(grid, { ...opts, tries: ["c"] }),
        /grid tiny has no try 'c'; its tries: a, b/,
      );
    } finally {
      console.log = log;
    }
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("mnist_valid.ts: bad flags get one-line messages", async () => {
  const cases: [string[], RegExp][] = [
    [[], /--grid is required/],
    [["--grid", "nope"], /--grid nope: no such grid; choose from map, .* or all/],
    [["--grid", "map,sgld", "--tries", "chosen"], /--tries needs a single --grid/],
    [["--grid", "map", "--tries", "best"], /grid map has no try 'best'; its tries: reference, /],
    [
      ["--grid", "map", "--extra=--nope 1"],
      /train_map_mnist\.ts --valid 10000 .*--nope 1: unknown flag '--nope'/,
    ],
  ];
  for (const [args, msg] of cases) {
    const r = await runScript("experiments/mnist_valid.ts", [...args, "--dry_run"]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
  const list = await runScript("experiments/mnist_valid.ts", ["--list"]);
  assert.equal(list.code, 0, list.stderr);
  for (const g of Object.values(VALID_GRIDS)) {
    assert.match(list.stdout, new RegExp(`^${g.name}: `, "m"));
  }
});
