/**
 * Test helper: runs a script in a child Deno process and collects its exit
 * code and output (the script tests check both the files a run writes and
 * what it prints).
 *
 * @module
 */

/** What a finished child process returned. */
export interface ScriptResult {
  /** Exit code. */
  code: number;
  /** Standard output, decoded. */
  stdout: string;
  /** Standard error, decoded. */
  stderr: string;
}

/**
 * Runs `deno run -A <path> ...args`, `path` relative to the project root, on
 * the wasm backend unless `env` says otherwise.
 *
 * @example
 * ```ts
 * const r = await runScript("experiments/ood.ts", ["-h"]);
 * console.log(r.code, r.stdout);
 * ```
 */
export async function runScript(
  path: string,
  args: string[],
  env: Record<string, string> = { BNN_BACKEND: "wasm" },
): Promise<ScriptResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(`../${path}`, import.meta.url).href, ...args],
    stdout: "piped",
    stderr: "piped",
    env,
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * A temporary folder whose `data/mnist` holds links to the MNIST training
 * files of `dataDir` and nothing else, with the environment of an offline
 * run on the wasm backend: a script that reads the test set there fails.
 *
 * @example
 * ```ts
 * const { dir, env } = await trainOnlyMnist("/data");
 * // await runScript("experiments/train_map_mnist.ts", [`--data_dir=${dir}/data`, "--valid=500"], env);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function trainOnlyMnist(
  dataDir: string,
): Promise<{ dir: string; env: Record<string, string> }> {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/data/mnist`, { recursive: true });
  for (const f of ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]) {
    await Deno.symlink(`${dataDir}/mnist/${f}`, `${dir}/data/mnist/${f}`);
  }
  return { dir, env: { BNN_BACKEND: "wasm", BNN_OFFLINE: "1", BNN_ACCEPT_CHECKSUM: "1" } };
}

/** A quick study run: what the script returned and the folder it wrote its results to. */
export interface StudyRun extends ScriptResult {
  /** The temporary folder holding `models/` and `res/` (the caller removes it). */
  dir: string;
  /** The results folder (`--results_dir`), inside a new temporary folder. */
  res: string;
}

/**
 * Runs a study script on MAP and MC dropout with its models and results in a new
 * temporary folder (the flags every study test passes), plus `flags`.
 *
 * @example
 * ```ts
 * const r = await runStudy("experiments/ood.ts", ["--train_limit=1000", "--test_limit=300"]);
 * // Without MNIST under ./data the script stops with a message naming the missing files.
 * console.log(r.code, r.code === 0 ? await Deno.readTextFile(`${r.res}/ood.md`) : r.stderr);
 * await Deno.remove(r.dir, { recursive: true });
 * ```
 */
export async function runStudy(path: string, flags: string[]): Promise<StudyRun> {
  const dir = await Deno.makeTempDir();
  const res = `${dir}/res`;
  const r = await runScript(path, [
    "--methods=map,mc_dropout",
    `--models_dir=${dir}/models`,
    `--results_dir=${res}`,
    ...flags,
  ]);
  return { ...r, dir, res };
}
