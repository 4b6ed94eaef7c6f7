// What the training scripts do to protect a user's results (issue 16, items 1, 3 and 5): the
// models folder is locked, an existing checkpoint is not replaced without --resume/--overwrite,
// bad folders and sizes are refused before any work, temporary files of killed runs are removed.
import assert from "node:assert/strict";
import { join } from "node:path";
import { LOCK_FILE } from "../core/lock.ts";
import { deadPid, lockHolder } from "./_process.ts";
import { runScript } from "./_run_script.ts";

const DATA = Deno.env.get("BNN_DATA_DIR");
if (!DATA) console.warn("SKIP training-script safety tests that train: BNN_DATA_DIR is not set");

const run = (args: string[]) => runScript("experiments/train_map_mnist.ts", args);
const tiny = (dir: string) => [
  `--data_dir=${DATA}`,
  `--models_dir=${dir}/m`,
  `--results_dir=${dir}/r`,
  "--epochs=1",
  "--limit=300",
  "--test_limit=100",
  "--test_samples=1",
  "--hidden=16",
];
const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

Deno.test({
  name: "a models folder in use by a live process is refused; a dead owner's lock is taken over",
  ignore: !DATA,
  async fn() {
    const dir = await Deno.makeTempDir();
    const holder = await lockHolder(`${dir}/m`);
    try {
      const busy = await run(tiny(dir));
      assert.notEqual(busy.code, 0);
      assert.match(
        busy.stderr,
        new RegExp(`--models_dir ${dir}/m is in use by process ${holder.pid}`),
      );
      assert.doesNotMatch(busy.stderr, /epoch 1\/1/, "refused before training");
      assert.ok(!(await exists(`${dir}/m/checkpoint.safetensors`)));
      holder.kill("SIGKILL");
      await holder.status;
      await holder.stdout.cancel().catch(() => {});
      const r = await run(tiny(dir));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`took over the lock of process ${holder.pid}`));
      assert.ok(!(await exists(`${dir}/m/${LOCK_FILE}`)), "released at the end");
      // Released on error too (here: a network too large for the machine, after the lock).
      const big = await run([...tiny(dir), "--overwrite", "--hidden=1e9"]);
      assert.equal(big.code, 2, big.stderr);
      assert.ok(!(await exists(`${dir}/m/${LOCK_FILE}`)), "released after an error");
    } finally {
      try {
        holder.kill("SIGKILL");
      } catch {
        // gone
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "rerunning without --resume does not replace a checkpoint; --overwrite does",
  ignore: !DATA,
  async fn() {
    const dir = await Deno.makeTempDir();
    const first = await run([...tiny(dir), "--epochs=2"]);
    assert.equal(first.code, 0, first.stderr);
    const ckpt = `${dir}/m/checkpoint.safetensors`;
    const before = await Deno.readFile(ckpt);
    const again = await run(tiny(dir));
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stderr, /already holds a checkpoint \(2 epoch\(s\)\)/);
    assert.match(again.stderr, /--resume to continue it, or --overwrite to start again/);
    assert.deepEqual(await Deno.readFile(ckpt), before, "the checkpoint is untouched");
    const both = await run([...tiny(dir), "--resume", "--overwrite"]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--resume and --overwrite cannot be combined/);
    const over = await run([...tiny(dir), "--overwrite"]);
    assert.equal(over.code, 0, over.stderr);
    assert.match(over.stderr, /--overwrite: removed checkpoint\.safetensors, weights\.safetensors/);
    const history = JSON.parse(await Deno.readTextFile(`${dir}/r/history.json`));
    assert.equal(history.length, 1, "a fresh one-epoch run");
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "temporary files left by killed runs are removed at start (live ones stay)",
  ignore: !DATA,
  async fn() {
    const dir = await Deno.makeTempDir();
    const dead = await deadPid();
    await Deno.mkdir(`${dir}/m`, { recursive: true });
    const stale = `${dir}/m/checkpoint.safetensors.tmp-${dead}-4242`;
    const live = `${dir}/m/checkpoint.safetensors.tmp-${Deno.pid}-1`;
    await Deno.writeFile(stale, new Uint8Array(3 << 20));
    await Deno.writeFile(live, new Uint8Array(10));
    const r = await run(tiny(dir));
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /removed 1 temporary file\(s\) \(3\.0 MiB\) left in .* by runs that were killed/,
    );
    assert.ok(!(await exists(stale)));
    assert.ok(await exists(live));
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("folders and sizes are checked before any work (exit code 2, one line)", async () => {
  const dir = await Deno.makeTempDir();
  // A folder nobody may write to, even root: permission bits do not stop root.
  const readOnly = Deno.uid() === 0 ? "/proc/self" : join(dir, "ro");
  if (Deno.uid() !== 0) {
    await Deno.mkdir(readOnly);
    await Deno.chmod(readOnly, 0o555);
  }
  const cases: [string[], RegExp][] = [
    [["--models_dir", ""], /--models_dir must not be empty/],
    [["--results_dir="], /--results_dir must not be empty/],
    [[`--data_dir=${dir}/nowhere`], /--data_dir .*nowhere does not exist/],
    [[`--results_dir=${readOnly}`], /--results_dir .* is not writable/],
    [["--hidden", ""], /--hidden must not be empty/],
    [["--hidden", "0x10"], /--hidden expects comma-separated positive integers .* found "0x10"/],
    [["--hidden", "16,,16"], /--hidden expects comma-separated positive integers/],
    [["--epochs", "0x10"], /--epochs expects a number, found "0x10" \(write numbers in decimal\)/],
    [["--lr", "Infinity"], /--lr expects a number, found "Infinity"/],
  ];
  for (const [args, msg] of cases) {
    const r = await run([`--models_dir=${dir}/m`, `--results_dir=${dir}/r`, ...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, msg, args.join(" "));
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
  if (Deno.uid() !== 0) await Deno.chmod(readOnly, 0o755);
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name: "--hidden 1e9 is refused with an estimate of the memory it needs",
  ignore: !DATA,
  async fn() {
    const dir = await Deno.makeTempDir();
    const r = await run([...tiny(dir), "--hidden=1e9"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /--hidden: a 784-1000000000-10 network has 7\.95e\+11 parameters; training it needs at least [\d.]+ TiB/,
    );
    assert.doesNotMatch(r.stderr, /Array buffer allocation failed/);
    assert.doesNotMatch(r.stderr, /MD5/, "refused before the data are read");
    await Deno.remove(dir, { recursive: true });
  },
});

/**
 * Sends Ctrl-C to `script` in its second epoch (`limit / 3` steps), checks the stop, then
 * resumes to the end.
 */
async function ctrlCAndResume(script: string, limit: number, extra: string[] = []): Promise<void> {
  const dir = await Deno.makeTempDir();
  // The signal, sent when epoch 1's line is out, lands inside epoch 2.
  const args = [
    ...tiny(dir),
    "--epochs=3",
    `--limit=${limit}`,
    "--batch_size=3",
    "--eval_samples=1",
    ...extra,
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL(`../experiments/${script}`, import.meta.url).href,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
    env: { BNN_BACKEND: "wasm", BNN_OFFLINE: "1", BNN_ACCEPT_CHECKSUM: "1" },
  }).spawn();
  try {
    const dec = new TextDecoder();
    let err = "";
    const reader = child.stderr.getReader();
    while (!/epoch 1\/3/.test(err)) {
      const { value, done } = await reader.read();
      if (done) break;
      err += dec.decode(value);
    }
    await new Promise((r) => setTimeout(r, 500)); // into epoch 2 (about 3 s long)
    const t0 = performance.now();
    child.kill("SIGINT");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      err += dec.decode(value);
    }
    const { code } = await child.status;
    await child.stdout.cancel();
    assert.ok(performance.now() - t0 < 10_000, "stopped within seconds");
    assert.equal(code, 130, err);
    assert.match(err, /SIGINT: stopping after the current step and saving the checkpoint/);
    assert.match(
      err,
      new RegExp(
        String
          .raw`interrupted \(SIGINT\) (in epoch 2/3 after step \d+ of ${
          limit / 3
        }|after epoch [12]/3): ` +
          `the checkpoint in ${dir}/m continues from there; run the same command with --resume`,
      ),
    );
    assert.doesNotMatch(err, /^error:/m);
    assert.ok(await exists(`${dir}/m/checkpoint.safetensors`));
    assert.ok(!(await exists(`${dir}/m/weights.safetensors`)), "no final model yet");
    assert.ok(!(await exists(`${dir}/m/${LOCK_FILE}`)), "lock released");
    const r = await runScript(`experiments/${script}`, [...args, "--resume"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /epoch 3\/3/);
    const history = JSON.parse(await Deno.readTextFile(`${dir}/r/history.json`));
    assert.equal(history.length, 3);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited
    }
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name:
    "Ctrl-C stops a training script after the current step with a checkpoint; --resume finishes the run",
  ignore: !DATA,
  // 2000 steps an epoch, about 3 s.
  fn: () => ctrlCAndResume("train_map_mnist.ts", 6000),
});

Deno.test({
  name: "Ctrl-C stops an ensemble trained in workers the same way",
  ignore: !DATA,
  // 6000 steps an epoch, about 3 s in the workers (which run ahead of the epoch lines).
  fn: () =>
    ctrlCAndResume("train_bootstrap_ensemble_mnist.ts", 18000, ["--n_nets=2", "--workers=2"]),
});
