// Every ```ts example in README.md and in the JSDoc of the library, the
// experiments, the benchmarks and the test helpers type-checks and runs
// (`deno test --doc`), in a subprocess so its output stays out of the way
// unless it fails. Examples import "@bayes/nn" / "jsr:@bayes/nn", which
// deno.json's name and exports resolve to this checkout.
//
// Examples that read MNIST or the UCI sets run in a second pass inside
// BNN_DATA_DIR (relative paths such as "mnist/t10k-labels-idx1-ubyte.gz"
// resolve there), and are skipped with a message when it is unset. Nothing
// is downloaded: BNN_OFFLINE=1.
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Files whose examples read MNIST or UCI data. */
const NEEDS_DATA = [
  "datasets/batches.ts",
  "datasets/dirs.ts",
  "datasets/files.ts",
  "datasets/idx.ts",
  "datasets/kfold.ts",
  "datasets/mnist.ts",
  "datasets/mod.ts",
  "datasets/rotate.ts",
  "datasets/subset.ts",
  "datasets/uci.ts",
  "experiments/lib/classification_study_eval.ts",
];

async function filesWithExamples(): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(join(ROOT, dir))) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory && e.name !== "results") await walk(rel);
      else if (e.isFile && e.name.endsWith(".ts")) {
        if ((await Deno.readTextFile(join(ROOT, rel))).includes("```ts")) out.push(rel);
      }
    }
  };
  for (const d of ["core", "methods", "datasets", "uncertainty", "plots", "experiments", "bench"]) {
    await walk(d);
  }
  for (const f of ["tests/_process.ts", "tests/_run_script.ts", "tests/sgmcmc_reference.ts"]) {
    out.push(f);
  }
  return ["mod.ts", "README.md", ...out.sort()];
}

async function runDocTests(files: string[], cwd: string): Promise<void> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: [
      "test",
      "-A",
      "--doc",
      "--config",
      join(ROOT, "deno.json"),
      ...files.map((f) => join(ROOT, f)),
    ],
    cwd,
    env: { BNN_OFFLINE: "1", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  });
  const r = await cmd.output();
  const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  const summary = text.match(/(ok|FAILED) \| \d+ passed[^\n]*/)?.[0] ?? "no summary";
  console.log(`doc examples of ${files.length} files: ${summary}`);
  if (!r.success) {
    const from = text.indexOf(" ERRORS ");
    assert.fail(`doc examples failed:\n${from >= 0 ? text.slice(from) : text.slice(-20_000)}`);
  }
}

Deno.test("doc examples: README and JSDoc examples type-check and run", async () => {
  const files = (await filesWithExamples()).filter((f) => !NEEDS_DATA.includes(f));
  await runDocTests(files, await Deno.makeTempDir());
});

const dataDir = Deno.env.get("BNN_DATA_DIR");
Deno.test({
  name: "doc examples that read MNIST / UCI (in BNN_DATA_DIR)",
  ignore: !dataDir,
  fn: async () => {
    await runDocTests(NEEDS_DATA, dataDir!);
  },
});
if (!dataDir) console.log("BNN_DATA_DIR is unset: skipping the doc examples that read MNIST / UCI");
