// The study runner with stand-in study scripts: arguments forwarded, sequence, summary,
// missing scripts skipped, exit code on failure; and the real list in a dry run.
import assert from "node:assert/strict";
import { STUDIES, studyArgs } from "../experiments/all.ts";
import { runScript } from "./_run_script.ts";

const runAll = (args: string[]) => runScript("experiments/all.ts", args, {});

Deno.test("all.ts runs each study in sequence with shared flags and reports failures", async () => {
  const dir = await Deno.makeTempDir();
  const fake = (code: number) =>
    `const name = new URL(import.meta.url).pathname.split("/").pop()!.replace(".ts", "");\n` +
    `await Deno.writeTextFile("${dir}/order.txt", name + "\\n", { append: true });\n` +
    `await Deno.writeTextFile("${dir}/" + name + ".args.json", JSON.stringify(Deno.args));\n` +
    `Deno.exit(${code});\n`;
  await Deno.mkdir(`${dir}/exp`);
  await Deno.writeTextFile(`${dir}/exp/rotations.ts`, fake(0));
  await Deno.writeTextFile(`${dir}/exp/ood.ts`, fake(3));
  await Deno.writeTextFile(`${dir}/exp/mnist_table.ts`, fake(0));
  const r = await runAll([
    `--experiments_dir=${dir}/exp`,
    "--only=ood,rotations,weights,mnist_table",
    "--methods=map,mc_dropout",
    `--results_dir=${dir}/res`,
    `--models_dir=${dir}/models`,
    "--seed=7",
  ]);
  assert.equal(r.code, 1, r.stderr);
  // Order follows STUDIES, not --only.
  assert.equal(await Deno.readTextFile(`${dir}/order.txt`), "mnist_table\nrotations\nood\n");
  const args = JSON.parse(await Deno.readTextFile(`${dir}/rotations.args.json`));
  assert.deepEqual(args, [
    "--quick",
    "--models_dir",
    `${dir}/models`,
    "--results_dir",
    `${dir}/res/rotations`,
    "--methods",
    "map,mc_dropout",
    "--seed",
    "7",
  ]);
  assert.match(r.stdout, /mnist_table\s+ok/);
  assert.match(r.stdout, /rotations\s+ok/);
  assert.match(r.stdout, /ood\s+FAILED\s+exit 3/);
  assert.match(r.stdout, /weights\s+skipped\s+.*weights\.ts does not exist yet/);
  assert.match(r.stdout, /1 study failed: ood/);
  const summary = JSON.parse(await Deno.readTextFile(`${dir}/res/all_studies.json`));
  assert.deepEqual(
    summary.map((o: { study: string; status: string; exit_code: number | null }) => [
      o.study,
      o.status,
      o.exit_code,
    ]),
    [["mnist_table", "ok", 0], ["rotations", "ok", 0], ["ood", "failed", 3], [
      "weights",
      "skipped",
      null,
    ]],
  );
  // --full is forwarded instead of --quick; all succeed → exit 0.
  const ok = await runAll([
    `--experiments_dir=${dir}/exp`,
    "--only=rotations",
    "--full",
    `--results_dir=${dir}/res2`,
    `--models_dir=${dir}/models`,
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  const fullArgs = JSON.parse(await Deno.readTextFile(`${dir}/rotations.args.json`));
  assert.equal(fullArgs[0], "--full");
  assert.ok(!fullArgs.includes("--methods"), "no --methods unless given");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("all.ts lists all eight studies; bad input exits with code 2", async () => {
  assert.deepEqual([...STUDIES].sort(), [
    "adversarial",
    "mnist_table",
    "ood",
    "pruning",
    "regression_toy",
    "rotations",
    "uci",
    "weights",
  ]);
  const dry = await runAll(["--dry_run", "--full", "--results_dir=out"]);
  assert.equal(dry.code, 0, dry.stderr);
  for (const s of STUDIES) {
    const present = await Deno.stat(`experiments/${s}.ts`).then(() => true, () => false);
    if (present) assert.match(dry.stdout, new RegExp(`${s}\\.ts --full .*--results_dir out/${s}`));
    else assert.match(dry.stdout, new RegExp(`${s}: skipped`));
  }
  assert.deepEqual(
    studyArgs("uci", { full: false, resultsDir: "r", modelsDir: "m", dataDir: "d" }),
    ["--quick", "--models_dir", "m", "--results_dir", "r/uci", "--data_dir", "d"],
  );
  const bad = await runAll(["--only", "rotations,nope"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--only: unknown study nope/);
  const both = await runAll(["--quick", "--full"]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--quick and --full cannot be combined/);
});
