// The MNIST training scripts end to end (1 epoch on 2000 examples) and their bad-input handling.
import assert from "node:assert/strict";
import { DOMParser } from "linkedom";
import { parseFlags } from "../core/cli.ts";
import { loadTrainSplits, parseHidden } from "../experiments/lib/train_script.ts";
import { loadMnist } from "../datasets/mnist.ts";
import { runScript, trainOnlyMnist } from "./_run_script.ts";

const DATA = Deno.env.get("BNN_DATA_DIR");
if (!DATA) console.warn("SKIP MNIST training-script tests: BNN_DATA_DIR is not set");

const run = (script: string, args: string[]) => runScript(`experiments/${script}`, args);

for (const script of ["train_map_mnist.ts", "train_mc_dropout_mnist.ts"]) {
  Deno.test({
    name: `${script}: 1 epoch on 2000 MNIST examples writes metrics, curve and model`,
    ignore: !DATA,
    async fn() {
      const dir = await Deno.makeTempDir();
      const r = await run(script, [
        "--limit=2000",
        "--test_limit=500",
        "--epochs=1",
        "--test_samples=5",
        `--models_dir=${dir}/m`,
        `--results-dir=${dir}/r`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /test error [\d.]+%/);
      const history = JSON.parse(await Deno.readTextFile(`${dir}/r/history.json`));
      assert.equal(history.length, 1);
      assert.ok(history[0].validErrorPct < 50, `error after 1 epoch: ${history[0].validErrorPct}%`);
      const csv = await Deno.readTextFile(`${dir}/r/history.csv`);
      assert.match(csv.split("\n")[0], /epoch,trainLoss/);
      const metrics = JSON.parse(await Deno.readTextFile(`${dir}/r/test_metrics.json`));
      for (const k of ["errorPct", "logLikSum", "logLikMean", "ece", "brier"]) {
        assert.equal(typeof metrics[k], "number", k);
      }
      const svg = await Deno.readTextFile(`${dir}/r/training_curve.svg`);
      const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
      assert.equal(doc.documentElement?.tagName.toLowerCase(), "svg");
      for (const f of ["weights.safetensors", "manifest.json", "checkpoint.safetensors"]) {
        await Deno.stat(`${dir}/m/${f}`);
      }
      await Deno.remove(dir, { recursive: true });
    },
  });
}

Deno.test("training scripts reject bad input with exit code 2 before any work", async () => {
  const file = await Deno.makeTempFile();
  const cases: [string[], RegExp][] = [
    [["--epochs", "-1"], /--epochs must be ≥ 0, found -1/],
    [["--lr", "abc"], /--lr expects a number, found "abc"/],
    [["--bogus", "1"], /unknown flag '--bogus'/],
    [["--models_dir", file], /--models_dir .* is a file, expected a folder/],
    [["--hidden", "12,x"], /--hidden expects comma-separated positive integers/],
  ];
  for (const [args, msg] of cases) {
    const r = await run("train_map_mnist.ts", args);
    assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
  const r = await run("train_mc_dropout_mnist.ts", ["--dropout", "1.5"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--dropout must be ≤ 0.99/);
  await Deno.remove(file);
});

Deno.test("-h explains every flag with its default", async () => {
  const r = await run("train_map_mnist.ts", ["-h"]);
  assert.equal(r.code, 0);
  for (
    const flag of [
      "--weight_decay",
      "--epochs",
      "--lr",
      "--models_dir",
      "--results_dir",
      "--seed",
      "--resume",
    ]
  ) {
    assert.ok(r.stdout.includes(flag), flag);
  }
  assert.match(r.stdout, /--epochs <int>\s+training epochs \(default: 10\)/);
});

Deno.test("flag parsing: kebab-case, boolean forms, choices", () => {
  const specs = {
    batch_size: { type: "int" as const, default: 128, min: 1, help: "" },
    use_preconditioning: { type: "boolean" as const, default: false, help: "" },
    model: { type: "string" as const, default: "a", choices: ["a", "b"], help: "" },
  };
  const meta = { name: "t", description: "" };
  assert.deepEqual(parseFlags(["--batch-size", "64"], specs, meta)?.batch_size, 64);
  assert.equal(
    parseFlags(["--use_preconditioning", "True"], specs, meta)?.use_preconditioning,
    true,
  );
  assert.equal(parseFlags(["--use_preconditioning"], specs, meta)?.use_preconditioning, true);
  assert.equal(
    parseFlags(["--use-preconditioning=false"], specs, meta)?.use_preconditioning,
    false,
  );
  assert.throws(
    () => parseFlags(["--model", "c"], specs, meta),
    /--model must be one of a, b, found "c"/,
  );
  assert.throws(() => parseFlags(["--batch_size", "1.5"], specs, meta), /expects an integer/);
});

Deno.test({
  name: "--resume says whether it found a checkpoint (a wrong --models_dir is not silent)",
  ignore: !DATA,
  async fn() {
    const dir = await Deno.makeTempDir();
    const args = [
      `--data_dir=${DATA}`,
      `--models_dir=${dir}/m`,
      `--results_dir=${dir}/r`,
      "--epochs=1",
      "--limit=300",
      "--test_limit=100",
      "--resume",
    ];
    const first = await run("train_map_mnist.ts", args);
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stderr,
      /no checkpoint at .*checkpoint\.safetensors; training from the first/,
    );
    const again = await run("train_map_mnist.ts", args);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /resuming from .*checkpoint\.safetensors/);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("flag parsing: a leading -- is accepted, flags are quoted as typed", () => {
  const specs = {
    batch_size: { type: "int" as const, default: 128, min: 1, help: "" },
    quick: { type: "boolean" as const, default: false, help: "" },
    methods: { type: "string" as const, default: "all", help: "methods" },
  };
  const meta = { name: "t", description: "" };
  // `deno task study:x -- --quick` passes ["--", "--quick"].
  assert.equal(parseFlags(["--", "--quick"], specs, meta)?.quick, true);
  assert.equal(parseFlags(["--", "--batch-size", "3"], specs, meta)?.batch_size, 3);
  assert.throws(
    () => parseFlags(["--quik"], specs, meta),
    (e: Error) => /unknown flag '--quik'/.test(e.message) && !e.message.includes("=true"),
  );
  assert.throws(
    () => parseFlags(["--batch-size", "x"], specs, meta),
    (e: Error) => e.message === `--batch-size expects a number, found "x"`,
  );
  assert.throws(
    () => parseFlags(["--quick=maybe"], specs, meta),
    (e: Error) => e.message.startsWith("--quick expects true or false"),
  );
  assert.throws(() => parseFlags(["stray"], specs, meta), /unexpected argument 'stray'/);
  assert.throws(() => parseFlags(["--batch_size"], specs, meta), /--batch_size expects a value/);
  assert.throws(
    () => parseFlags(["--batch_size", "--quick"], specs, meta),
    /--batch_size expects a value/,
  );
});

Deno.test("flag parsing: decimal numbers only, no empty strings", () => {
  const specs = {
    epochs: { type: "int" as const, default: 1, min: 0, help: "" },
    lr: { type: "number" as const, default: 1, help: "" },
    methods: { type: "string" as const, default: "all", help: "comma list of methods" },
    note: { type: "string" as const, default: "", allowEmpty: true, help: "" },
  };
  const meta = { name: "t", description: "" };
  for (const bad of ["0x10", "0b11", "0o7", "Infinity", "1_000", "", " "]) {
    assert.throws(
      () => parseFlags(["--epochs", bad], specs, meta),
      /--epochs expects a number/,
      bad,
    );
  }
  assert.equal(parseFlags(["--lr", "-1.5e-3"], specs, meta)?.lr, -1.5e-3);
  assert.equal(parseFlags(["--lr=.5"], specs, meta)?.lr, 0.5);
  assert.equal(parseFlags(["--epochs", "1e3"], specs, meta)?.epochs, 1000);
  assert.throws(() => parseFlags(["--methods", ""], specs, meta), /--methods must not be empty/);
  assert.equal(parseFlags(["--note="], specs, meta)?.note, "");
  assert.deepEqual(parseHidden(" 12, 8"), [12, 8]);
  for (const bad of ["", "0x10", "12,", "12,-3", "1.5", "0"]) {
    assert.throws(
      () => parseHidden(bad),
      /--hidden expects comma-separated positive integers/,
      bad,
    );
  }
});

Deno.test("`deno task <study> -- --quick` runs (the leading -- is accepted)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "study:regression_toy", "--", "--quick", "-h"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.match(new TextDecoder().decode(out.stdout), /regression_toy\.ts/);
  assert.doesNotMatch(stderr, /Unexpected argument/);
});

Deno.test("help text has no contradictions such as `(the default mode) (default: false)`", async () => {
  for (
    const script of [
      "experiments/train_map_mnist.ts",
      "experiments/weights.ts",
      "experiments/all.ts",
    ]
  ) {
    const r = await runScript(script, ["-h"]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /\(default: false\)/, script);
    assert.doesNotMatch(r.stdout, /the default mode/, script);
    for (const line of r.stdout.split("\n")) {
      // A default stated in the help text and again by the parser would be said twice.
      assert.doesNotMatch(line, /\(default[^)]*\).*\(default/, line);
    }
  }
  const r = await runScript("experiments/train_map_mnist.ts", ["-h"]);
  assert.match(r.stdout, /--overwrite\s+start again, replacing the checkpoint/);
});

Deno.test({
  name: "--valid holds out the last training examples and never reads the test set",
  ignore: !DATA,
  async fn() {
    // A data folder with the training files only: reading the test set would fail offline.
    const { dir, env } = await trainOnlyMnist(DATA!);
    // MAP on that folder, into models / results folders `m<out>` / `r<out>`.
    const runMap = (args: string[], out = "") =>
      runScript("experiments/train_map_mnist.ts", [
        `--data_dir=${dir}/data`,
        ...args,
        `--models_dir=${dir}/m${out}`,
        `--results_dir=${dir}/r${out}`,
      ], env);
    const r = await runMap(["--valid=500", "--limit=1000", "--epochs=1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /validation error [\d.]+%.*\(sum over 500\)/);
    const metrics = JSON.parse(await Deno.readTextFile(`${dir}/r/valid_metrics.json`));
    assert.equal(metrics.n, 500);
    assert.match(metrics.evaluatedOn, /last 500 of the training examples/);
    await assert.rejects(Deno.stat(`${dir}/r/test_metrics.json`), Deno.errors.NotFound);
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/m/manifest.json`));
    assert.equal(manifest.info.trainExamples, 1000);
    assert.equal(manifest.info.validExamples, 500);
    assert.match(await Deno.readTextFile(`${dir}/r/training_curve.svg`), /validation error/);
    // Resuming must keep the same held-out rows.
    for (const args of [[], ["--valid=400"]]) {
      const again = await runMap([...args, "--resume", "--epochs=2"]);
      assert.equal(again.code, 2, again.stderr);
      assert.match(again.stderr, /--resume: .* was trained with --valid 500, but this run is/);
    }

    // Which rows: the first ones train, the last ones are evaluated on.
    const { train, test, evaluatedOn } = await loadTrainSplits({
      dataset: "mnist",
      data_dir: `${dir}/data`,
      valid: 300,
      limit: 200,
    });
    const all = await loadMnist("mnist", "train", { dataDir: `${dir}/data` });
    assert.equal(evaluatedOn, "valid");
    assert.deepEqual([train.n, test.n], [200, 300]);
    assert.deepEqual(train.x, all.x.subarray(0, 200 * 784));
    assert.deepEqual(test.x, all.x.subarray((all.n - 300) * 784));
    assert.deepEqual(test.y, all.y.subarray(all.n - 300));

    const cases: [string[], RegExp][] = [
      [["--valid=60000"], /--valid 60000: mnist has 60000 training examples; hold out fewer/],
      [["--valid=20000", "--limit=50000"], /only 40000 of the 60000 .* use --limit 40000 or less/],
      [["--valid=100", "--test_limit=50"], /--test_limit with --valid: the test set is not read/],
    ];
    for (const [args, msg] of cases) {
      const bad = await runMap(args, "2");
      assert.equal(bad.code, 2, `${args.join(" ")}: exit ${bad.code}\n${bad.stderr}`);
      assert.match(bad.stderr, msg);
      assert.doesNotMatch(bad.stderr, /\n\s+at /, "no stack trace");
    }
    await Deno.remove(dir, { recursive: true });
  },
});
