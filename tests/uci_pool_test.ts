// uci.ts --jobs: rows trained in worker processes equal the rows trained in one process; a
// failing row stops the run with an error naming it, after the other rows are delivered.
import assert from "node:assert/strict";
import {
  decodeReply,
  encodeReply,
  readLines,
  runUciJobs,
  type UciJobSpec,
} from "../experiments/lib/uci_pool.ts";
import type { UciRow } from "../experiments/lib/uci_job.ts";
import { runScript } from "./_run_script.ts";

const DATA = Deno.env.get("BNN_DATA_DIR");
if (!DATA) console.warn("SKIP uci.ts --jobs runs: BNN_DATA_DIR is not set");

/** A row without its wall-clock columns. */
function untimed(row: Record<string, unknown>) {
  const { seconds: _s, train_seconds: _t, tune_seconds: _u, grid_scores, ...rest } = row;
  const scores = JSON.parse(String(grid_scores || "[]")) as Record<string, unknown>[];
  return { ...rest, scores: scores.map(({ seconds: _, ...c }) => c) };
}

Deno.test("worker answers keep NaN and ±Infinity; lines split across chunks", async () => {
  const row = { a: NaN, b: Infinity, c: -Infinity, d: 1.5, e: "x", f: null };
  assert.deepEqual(decodeReply(encodeReply({ row })), { row });
  const chunks = ["ab", "c\nde", "f\n\ng"].map((s) => new TextEncoder().encode(s));
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      for (const b of chunks) c.enqueue(b);
      c.close();
    },
  });
  const lines: string[] = [];
  for await (const l of readLines(stream)) lines.push(l);
  assert.deepEqual(lines, ["abc", "def", "", "g"]);
});

Deno.test({
  name: "uci.ts --jobs 2 trains the same rows as --jobs 1 (tuning included)",
  ignore: !DATA,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const rows: Record<string, unknown>[][] = [];
      for (const jobs of [1, 2]) {
        const r = await runScript("experiments/uci.ts", [
          "--protocol=both",
          "--datasets=yacht",
          "--max_folds=1",
          "--splits=1",
          "--methods=map,mc_dropout",
          "--tune=grid",
          "--epochs=4",
          "--test_samples=3",
          `--jobs=${jobs}`,
          `--results_dir=${dir}/res${jobs}`,
          `--models_dir=${dir}/models${jobs}`,
        ]);
        assert.equal(r.code, 0, r.stderr);
        if (jobs === 2) {
          assert.match(r.stderr, /4 row\(s\) to train, 2 at a time in worker processes/);
        }
        assert.match(r.stderr, /\[4\/4\] .*ETA 0 s/);
        rows.push(JSON.parse(await Deno.readTextFile(`${dir}/res${jobs}/uci.json`)).rows);
      }
      assert.equal(rows[0].length, 4);
      assert.deepEqual(rows[1].map(untimed), rows[0].map(untimed));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "runUciJobs: a failing row stops the run naming it; the other worker's row is delivered",
  ignore: !DATA,
  async fn() {
    const good: UciJobSpec = {
      protocol: "splits",
      fold: 0,
      dataset: "yacht",
      split: 0,
      key: "map",
      spec: {
        inputDim: 6,
        hidden: [8],
        outputDim: 1,
        task: "regression",
        noise: "heteroscedastic",
      },
      budget: { epochs: 2, batchSize: 64, settings: {}, fromRegistry: true },
      samples: 1,
      seed: 0,
      maxRestarts: 0,
      config: "t",
      what: "splits yacht split 1/20 MAP",
    };
    const bad: UciJobSpec = { ...good, key: "nope", what: "splits yacht split 1/20 Nope" };
    const got: UciRow[] = [];
    await assert.rejects(
      runUciJobs([good, bad], { jobs: 2, threads: 1, onRow: (row) => void got.push(row) }),
      /splits yacht split 1\/20 Nope: .*unknown method key "nope"/,
    );
    assert.equal(got.length, 1);
    assert.equal(got[0].key, "map");
    assert.ok(Number.isFinite(got[0].test_log_lik));
    await assert.rejects(
      runUciJobs([good], { jobs: 0, onRow: () => {} }),
      /--jobs: expected a positive integer, found 0/,
    );
  },
});
