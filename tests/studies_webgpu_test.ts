// A study end to end on the WebGPU backend (Mesa's llvmpipe in CI): rotations.ts on MAP trains,
// evaluates with asynchronous reads only, logs one line per stage (stderr is a pipe here),
// and its numbers match the wasm backend's evaluation of the same saved model.
import assert from "node:assert/strict";
import { runScript } from "./_run_script.ts";

const DATA = Deno.env.get("BNN_DATA_DIR");
if (!DATA) console.warn("SKIP webgpu study test: BNN_DATA_DIR is not set");

type Row = { angle: number; error_pct: number; total_entropy: number; log_lik_mean: number };

Deno.test({
  name: "rotations.ts --backend webgpu: MAP end to end, async reads only, matches wasm",
  ignore: !DATA,
  async fn() {
    const dir = await Deno.makeTempDir();
    const args = (backend: string, res: string) => [
      "--backend",
      backend,
      "--quick",
      "--methods=map",
      `--models_dir=${dir}/models`,
      `--results_dir=${dir}/${res}`,
      "--train_limit=300",
      "--test_limit=100",
      "--angle_step=90",
    ];
    const gpu = await runScript("experiments/rotations.ts", args("webgpu", "gpu"), {});
    assert.equal(gpu.code, 0, gpu.stderr);
    assert.match(gpu.stderr, /backend: webgpu/);
    assert.match(gpu.stderr, /MAP: training 3 epoch\(s\) on 300 examples/);
    // tfjs warns once when anything reads GPU data synchronously.
    assert.doesNotMatch(gpu.stderr, /synchronously reading data from GPU/);
    // One line per stage off a TTY: method, stage, seconds.
    for (const a of [0, 90, 180]) {
      assert.match(gpu.stderr, new RegExp(`MAP: angle ${a}° [\\d.]+ s`));
    }
    const rows: Row[] = JSON.parse(await Deno.readTextFile(`${dir}/gpu/rotations.json`));
    assert.deepEqual(rows.map((r) => r.angle), [0, 90, 180]);
    assert.ok(rows[1].error_pct > rows[0].error_pct + 20, JSON.stringify(rows));

    // The same saved model evaluated on wasm: the same predictions up to float rounding.
    const cpu = await runScript("experiments/rotations.ts", args("wasm", "cpu"), {});
    assert.equal(cpu.code, 0, cpu.stderr);
    assert.match(cpu.stderr, /MAP: loaded /);
    const ref: Row[] = JSON.parse(await Deno.readTextFile(`${dir}/cpu/rotations.json`));
    rows.forEach((r, i) => {
      assert.ok(Math.abs(r.error_pct - ref[i].error_pct) <= 1, `${r.angle}°: error`);
      assert.ok(Math.abs(r.total_entropy - ref[i].total_entropy) < 1e-3, `${r.angle}°: entropy`);
      assert.ok(Math.abs(r.log_lik_mean - ref[i].log_lik_mean) < 1e-3, `${r.angle}°: log-lik`);
    });
    await Deno.remove(dir, { recursive: true });
  },
});
