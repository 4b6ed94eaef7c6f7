// Recorded rows of the MNIST table (--records): reading and writing the file, bad files named,
// and when a recorded row may stand in for a row (every evaluation setting must match).
import assert from "node:assert/strict";
import {
  type MnistRecord,
  readRecords,
  recordMismatch,
  type RecordWant,
  writeRecords,
} from "../experiments/lib/mnist_table_records.ts";
import type { MnistTableRow } from "../experiments/lib/mnist_table_rows.ts";
import { CliError } from "../core/cli.ts";

const row: MnistTableRow = {
  method: "BBB Laplace",
  key: "bbb_laplace",
  variant: "reference",
  log_lik_sum: -880,
  error_pct: 2.2,
  ece: 0.01,
  mutual_info: 0.02,
  ood_auroc: 0.9,
  brier: 0.03,
  log_lik_mean: -0.088,
  samples: 100,
  n: 10000,
  n_ood: 10000,
  epochs: 140,
  batch_size: 100,
  train_examples: 60000,
  train_seconds: 9000,
  train_backend: "wasm",
  ref_log_lik_sum: -892.85,
  ref_error_pct: 2.28,
  beats_reference: true,
  settings: { muInit: [-0.2, 0.2], firstEpochSamples: 3 },
};
const rec: MnistRecord = {
  row,
  recorded: "2026-12-03",
  full: true,
  seed: 0,
  samples_requested: 100,
  model_saved_at: "2026-12-03T12:00:00.000Z",
  source: "mnist_table.ts",
};
const want: RecordWant = {
  full: true,
  seed: 0,
  samples: 100,
  n: 10000,
  nOod: 10000,
  epochs: 140,
  batchSize: 100,
  // Same settings, other key order: still a match.
  settings: { firstEpochSamples: 3, muInit: [-0.2, 0.2] },
};

Deno.test("recordMismatch: a record stands in only when every evaluation setting matches", () => {
  assert.equal(recordMismatch(rec, want), null);
  const cases: [Partial<RecordWant>, string][] = [
    [{ full: false }, "recorded with mode full, this run's quick"],
    [{ seed: 1 }, "recorded with seed 0, this run's 1"],
    [{ samples: 20 }, "recorded with posterior samples 100, this run's 20"],
    [{ n: 200 }, "recorded with test digits 10000, this run's 200"],
    [{ nOod: 0 }, "recorded with OOD images 10000, this run's 0"],
    [{ epochs: 200 }, "recorded with epochs 140, this run's 200"],
    [{ batchSize: 128 }, "recorded with batch size 100, this run's 128"],
    [
      { settings: { muInit: [-0.1, 0.1], firstEpochSamples: 3 } },
      'recorded with settings {"muInit":[-0.2,0.2],"firstEpochSamples":3}, this run\'s ' +
      '{"muInit":[-0.1,0.1],"firstEpochSamples":3}',
    ],
  ];
  for (const [change, why] of cases) assert.equal(recordMismatch(rec, { ...want, ...change }), why);
});

Deno.test("readRecords / writeRecords: round trip with sorted keys; a missing file is empty", async () => {
  const dir = await Deno.makeTempDir();
  assert.deepEqual(await readRecords(`${dir}/none.json`), {});
  const tuned = { ...rec, row: { ...row, variant: "tuned" as const } };
  await writeRecords(`${dir}/r.json`, { "bbb_laplace:tuned": tuned, "bbb_laplace:reference": rec });
  const back = await readRecords(`${dir}/r.json`);
  assert.deepEqual(Object.keys(back), ["bbb_laplace:reference", "bbb_laplace:tuned"]);
  assert.deepEqual(back["bbb_laplace:tuned"], tuned);
  assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort(), [
    "r.json",
  ]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("readRecords: a bad file is an error naming the file and the entry", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/r.json`;
  const bad = async (text: string, msg: RegExp) => {
    await Deno.writeTextFile(path, text);
    await assert.rejects(() => readRecords(path), (e: Error) => {
      assert.ok(e instanceof CliError, String(e));
      assert.ok(e.message.startsWith(`--records ${path}: `), e.message);
      assert.match(e.message, msg);
      return true;
    });
  };
  await bad("{", /not valid JSON/);
  await bad("[]", /expected a JSON object of rows by "key:variant"/);
  const { recorded: _, ...noDate } = rec;
  await bad(
    JSON.stringify({ "bbb_laplace:reference": noDate }),
    /"bbb_laplace:reference" lacks recorded/,
  );
  await bad(
    JSON.stringify({ "map:reference": rec }),
    /entry "map:reference" holds the row of another method/,
  );
  await Deno.remove(dir, { recursive: true });
});
