import assert from "node:assert/strict";
import { join } from "node:path";
import { loadMnist, readIdx } from "../datasets/mod.ts";

const dataDir = Deno.env.get("BNN_DATA_DIR");
const ignore = !dataDir;

Deno.test({
  name: "real MNIST train: counts per class; the placed train-images file only warns",
  ignore,
  fn: async () => {
    const warnings: string[] = [];
    // A user's BNN_ACCEPT_CHECKSUM=1 would silence the warning this test reads.
    const accepted = Deno.env.get("BNN_ACCEPT_CHECKSUM");
    Deno.env.delete("BNN_ACCEPT_CHECKSUM");
    const ds = await loadMnist("mnist", "train", {
      dataDir,
      download: false,
      onWarning: (m) => warnings.push(m),
    }).finally(() => {
      if (accepted !== undefined) Deno.env.set("BNN_ACCEPT_CHECKSUM", accepted);
    });
    assert.equal(ds.n, 60000);
    assert.equal(ds.x.length, 60000 * 784);
    const counts = new Array(10).fill(0);
    for (const c of ds.y) counts[c]++;
    assert.deepEqual(counts, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    // The rebuilt train-images file fails the published checksum: one warning, no error.
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0],
      /train-images-idx3-ubyte\.gz has MD5 a0800b9e8c812b9e45b911451b965316/,
    );
    assert.match(warnings[0], /published f68b3c2dcbeaaa9fbdd348bbdeb94873/);
    // Normalised pixels: mean ≈ 0 and std ≈ 1 over the training set.
    let s = 0, s2 = 0;
    for (let i = 0; i < ds.x.length; i += 7) {
      s += ds.x[i];
      s2 += ds.x[i] * ds.x[i];
    }
    const m = s / Math.ceil(ds.x.length / 7);
    const sd = Math.sqrt(s2 / Math.ceil(ds.x.length / 7) - m * m);
    assert.ok(Math.abs(m) < 0.01 && Math.abs(sd - 1) < 0.01, `mean ${m}, std ${sd}`);
  },
});

Deno.test({
  name: "real MNIST test: first labels, shapes, limit",
  ignore,
  fn: async () => {
    const warnings: string[] = [];
    const ds = await loadMnist("mnist", "test", {
      dataDir,
      download: false,
      flatten: false,
      onWarning: (m) => warnings.push(m),
    });
    assert.equal(ds.n, 10000);
    assert.deepEqual(ds.xShape, [28, 28]);
    assert.deepEqual(Array.from(ds.y.subarray(0, 10)), [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    assert.equal(warnings.length, 0, "test files match the published checksums");
    const raw = await readIdx(join(dataDir!, "mnist", "t10k-images-idx3-ubyte.gz"));
    assert.deepEqual(raw.shape, [10000, 28, 28]);
    const px = raw.data[7 * 28 + 14];
    assert.ok(Math.abs(ds.x[7 * 28 + 14] - (px / 255 - 0.1307) / 0.3081) < 1e-6);
    const small = await loadMnist("mnist", "test", { dataDir, download: false, limit: 100 });
    assert.equal(small.n, 100);
    assert.deepEqual(Array.from(small.y), Array.from(ds.y.subarray(0, 100)));
  },
});
