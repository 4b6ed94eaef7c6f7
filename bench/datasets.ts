/**
 * Timing of the dataset loaders: full MNIST train split, load + normalise
 * (target ≤ 1.5 s), plus the test split and a UCI set for reference.
 *
 * Run: `deno run -A bench/datasets.ts [--data-dir DIR]` (or set BNN_DATA_DIR).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { loadMnist, loadUci } from "../datasets/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { "data-dir": { type: "string" }, repeats: { type: "string", default: "3" } },
});
const dataDir = values["data-dir"];
const repeats = Math.max(1, Number(values.repeats));

async function time(label: string, fn: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  const best = Math.min(...times);
  const median = times.slice().sort((a, b) => a - b)[Math.floor(times.length / 2)];
  console.log(
    `${label.padEnd(42)} best ${best.toFixed(3)} s  median ${median.toFixed(3)} s  ` +
      `(${times.map((t) => t.toFixed(3)).join(", ")})`,
  );
  return times;
}

const warnings: string[] = [];
const onWarning = (m: string) => warnings.push(m);
const mnistTrain = await time("MNIST train: load + normalise (60000)", async () => {
  const ds = await loadMnist("mnist", "train", { dataDir, onWarning, download: false });
  if (ds.n !== 60000) throw new Error(`expected 60000 examples, found ${ds.n}`);
});
await time(
  "MNIST test: load + normalise (10000)",
  () => loadMnist("mnist", "test", { dataDir, onWarning, download: false }),
);
await time(
  "UCI protein split 0: load + standardise",
  () => loadUci("protein-tertiary-structure", { dataDir, download: false }),
);
if (warnings.length > 0) console.log(`(${new Set(warnings).size} checksum warning(s) suppressed)`);
const first = mnistTrain[0];
console.log(
  `MNIST train load+normalise, first run: ${first.toFixed(3)} s — ${
    first <= 1.5 ? "within" : "OVER"
  } the 1.5 s target`,
);
