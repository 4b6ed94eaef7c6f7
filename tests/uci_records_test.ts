// Recorded rows of the UCI study (--records): ids, adding rows, reading and writing the file,
// bad files named.
import assert from "node:assert/strict";
import { CliError } from "../core/cli.ts";
import {
  addUciRecords,
  readUciRecords,
  uciRecordId,
  type UciRecords,
  writeUciRecords,
} from "../experiments/lib/uci_records.ts";

const row = (fold: number, config: string, rmse = 1) => ({
  protocol: "splits",
  dataset: "yacht",
  method: "MC Dropout",
  key: "mc_dropout",
  fold,
  config,
  test_rmse: rmse,
});

Deno.test("addUciRecords: one entry per row and config; a date stays while the row is unchanged", () => {
  const recs: UciRecords = {};
  assert.equal(addUciRecords(recs, [row(0, "aa"), row(1, "aa")], "seed 0", "2026-12-01"), true);
  assert.deepEqual(Object.keys(recs), [
    "splits|yacht|mc_dropout|0|aa",
    "splits|yacht|mc_dropout|1|aa",
  ]);
  // The same rows again change nothing, whatever the date or run.
  assert.equal(addUciRecords(recs, [row(0, "aa")], "seed 0, full", "2026-12-02"), false);
  assert.equal(recs["splits|yacht|mc_dropout|0|aa"].recorded, "2026-12-01");
  // Other settings are another entry; a row trained again with the same settings replaces it.
  assert.equal(addUciRecords(recs, [row(0, "bb")], "seed 0", "2026-12-02"), true);
  assert.equal(addUciRecords(recs, [row(1, "aa", 2)], "seed 0", "2026-12-03"), true);
  assert.equal(Object.keys(recs).length, 3);
  assert.deepEqual(recs["splits|yacht|mc_dropout|1|aa"], {
    row: row(1, "aa", 2),
    recorded: "2026-12-03",
    run: "seed 0",
  });
  // A row without a config (not from uci.ts) is not recorded.
  const { config: _, ...noConfig } = row(2, "cc");
  assert.equal(addUciRecords(recs, [noConfig], "seed 0", "2026-12-03"), false);
  assert.equal(Object.keys(recs).length, 3);
});

Deno.test("readUciRecords / writeUciRecords: round trip with sorted keys, no temp files", async () => {
  const dir = await Deno.makeTempDir();
  assert.deepEqual(await readUciRecords(`${dir}/none.json`), {});
  const recs: UciRecords = {};
  addUciRecords(recs, [row(1, "aa"), row(0, "aa")], "seed 0", "2026-12-01");
  await writeUciRecords(`${dir}/r.json`, recs);
  const back = await readUciRecords(`${dir}/r.json`);
  assert.deepEqual(Object.keys(back), [
    "splits|yacht|mc_dropout|0|aa",
    "splits|yacht|mc_dropout|1|aa",
  ]);
  assert.deepEqual(back, recs);
  assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), ["r.json"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("readUciRecords: a bad file is an error naming the file and the entry", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/r.json`;
  const bad = async (value: unknown, msg: RegExp) => {
    await Deno.writeTextFile(path, typeof value === "string" ? value : JSON.stringify(value));
    await assert.rejects(() => readUciRecords(path), (e: Error) => {
      assert.ok(e instanceof CliError, String(e));
      assert.ok(e.message.startsWith(`--records ${path}: `), e.message);
      assert.match(e.message, msg);
      return true;
    });
  };
  const id = uciRecordId(row(0, "aa"));
  await bad("{", /not valid JSON/);
  await bad([], /expected a JSON object of rows by "protocol\|dataset\|key\|fold\|config"/);
  await bad(
    { [id]: { row: row(0, "aa"), run: "seed 0" } },
    /entry "splits\|yacht\|mc_dropout\|0\|aa" lacks recorded/,
  );
  await bad(
    { [id]: { row: 3, recorded: "2026-12-01", run: "x" } },
    /has a row that is not an object/,
  );
  await bad(
    { [id]: { row: row(0, "bb"), recorded: "2026-12-01", run: "x" } },
    /entry "splits\|yacht\|mc_dropout\|0\|aa" holds the row of "splits\|yacht\|mc_dropout\|0\|bb"/,
  );
  await Deno.remove(dir, { recursive: true });
});
