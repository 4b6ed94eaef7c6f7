/**
 * SG-MCMC sample collection and persistence: burn-in and thinning in
 * `endEpoch`, samples streamed to disk with a bounded in-memory cache, the
 * saved model predicting identically after load (disk-backed and in-memory
 * stores), exact resume of the chain from a checkpoint, clear errors for
 * missing sample files, and the pruning hooks.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../core/backend.ts";
import type { MethodState, NetSpec } from "../core/method.ts";
import { loadMethod, readSaved, saveMethod } from "../core/persist.ts";
import { Rng } from "../core/rng.ts";
import { fit } from "../core/train.ts";
import type { ArrayDataset } from "../datasets/types.ts";
import { buildPsgld, buildSgld, SampleFileError, type SgmcmcMethod } from "../methods/sgld.ts";
import { buildSghmc } from "../methods/sghmc.ts";

await initBackend({ backend: "wasm", quiet: true });

const spec: NetSpec = { inputDim: 5, hidden: [7], outputDim: 3, task: "classification" };

function data(n: number, seed: number): ArrayDataset {
  const r = new Rng(seed);
  return {
    x: r.normalArray(n * 5),
    y: Int32Array.from({ length: n }, () => r.int(3)),
    n,
    xShape: [5],
    yShape: [],
    numClasses: 3,
  };
}
const train = data(60, 1);
const xTest = tf.tensor2d(data(20, 2).x, [20, 5]);

async function predictArray(m: SgmcmcMethod): Promise<Float32Array> {
  const p = m.predict(xTest);
  if (p.task !== "classification") throw new Error("expected classification");
  const out = (await p.logProbs.data()) as Float32Array;
  p.logProbs.dispose();
  return out;
}

Deno.test("samples: burn-in, thinning, streaming to disk with a bounded memory cache", async () => {
  const dir = await Deno.makeTempDir();
  const sampleDir = join(dir, "samples");
  const m = buildSgld(spec, {
    lr: 1e-3,
    burnIn: 2,
    sampleFreq: 2,
    maxSamples: 3,
    memorySamples: 2,
    sampleDir,
  });
  const chainAt: Record<number, Float32Array> = {};
  await fit(m, train, {
    epochs: 11,
    batchSize: 20,
    seed: 4,
    progress: false,
    onEpoch: async (rec) => void (chainAt[rec.epoch - 1] = (await m.current())["l0.w"]),
  });
  // collected after (zero-based) epochs 2, 4, 6, 8, 10; the newest 3 are kept
  assert.deepEqual(m.store.entries.map((e) => e.epoch), [6, 8, 10]);
  assert.deepEqual(m.store.entries.map((e) => e.index), [2, 3, 4]);
  assert.deepEqual(m.store.inMemory.sort(), [3, 4]);
  assert.equal(m.defaultSamples, 3);
  const files = [...Deno.readDirSync(sampleDir)].map((f) => f.name).sort();
  // sample 0 was deleted; sample 1 (dropped at the last collection) is deleted at the next one
  assert.deepEqual(files, [
    "sample_0001.safetensors",
    "sample_0002.safetensors",
    "sample_0003.safetensors",
    "sample_0004.safetensors",
  ]);
  // the oldest kept sample comes back from disk, equal to the chain at that epoch
  assert.deepEqual(m.store.get(0)["l0.w"], chainAt[6]);
  assert.deepEqual(m.store.get(2)["l0.w"], chainAt[10]);
  assert.deepEqual(
    (await m.sampleWeights(3)).map((s) => s["l0.w"]),
    [6, 8, 10].map((e) => chainAt[e]),
  );
  // a saved model predicts identically after load, reading samples from disk
  const before = await predictArray(m);
  await saveMethod(dir, m);
  const { manifest } = await readSaved(dir);
  const loaded = buildSgld(spec, manifest.settings);
  await loadMethod(dir, loaded);
  assert.deepEqual(await predictArray(loaded), before);
  assert.equal(loaded.defaultSamples, 3);
  // a listed sample that went missing is a clear error naming the file
  await Deno.remove(join(sampleDir, "sample_0003.safetensors"));
  const again = buildSgld(spec, manifest.settings);
  await assert.rejects(
    () => loadMethod(dir, again),
    (e: Error) => e instanceof SampleFileError && e.message.includes("sample_0003.safetensors"),
  );
  [m, loaded, again].forEach((x) => x.dispose());
  await Deno.remove(dir, { recursive: true });
});

Deno.test("memory-only samples travel in the state; predict averages over them", async () => {
  const dir = await Deno.makeTempDir();
  const m = buildPsgld(spec, { lr: 3e-3, burnIn: 1, sampleFreq: 1 });
  await fit(m, train, { epochs: 4, batchSize: 30, seed: 1, progress: false });
  assert.equal(m.store.count, 3);
  const st = await m.getState();
  assert.ok("sample/2/l0.w" in st.tensors);
  // predict over 3 samples = log of the mean of each sample's probabilities
  const p = m.predict(xTest, { samples: 3 });
  if (p.task !== "classification") throw new Error("classification expected");
  assert.deepEqual(p.logProbs.shape, [3, 20, 3]);
  const subset = m.predict(xTest, { samples: 1 }); // the newest sample
  if (subset.task !== "classification") throw new Error("classification expected");
  assert.deepEqual(
    await subset.logProbs.data(),
    await p.logProbs.slice([2, 0, 0], [1, -1, -1]).data(),
  );
  tf.dispose([p.logProbs, subset.logProbs]);
  const before = await predictArray(m);
  await saveMethod(dir, m);
  const loaded = buildPsgld(spec, { lr: 3e-3, burnIn: 1, sampleFreq: 1 });
  await loadMethod(dir, loaded);
  assert.deepEqual(await predictArray(loaded), before);
  m.dispose();
  loaded.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("resume continues the chain exactly (SGHMC and pSGLD, samples on disk)", async () => {
  for (
    const make of [
      (d: string) => buildSghmc(spec, { burnIn: 2, sampleFreq: 1, sampleDir: join(d, "samples") }),
      (d: string) => buildPsgld(spec, { burnIn: 1, sampleFreq: 2, sampleDir: join(d, "samples") }),
    ]
  ) {
    const a = await Deno.makeTempDir(), b = await Deno.makeTempDir();
    const opts = { batchSize: 16, seed: 7, progress: false };
    const full = make(a);
    await fit(full, train, { ...opts, epochs: 5, checkpointDir: a });
    const first = make(b);
    await fit(first, train, { ...opts, epochs: 3, checkpointDir: b });
    first.dispose();
    const resumed = make(b);
    const r = await fit(resumed, train, { ...opts, epochs: 5, checkpointDir: b, resume: true });
    assert.equal(r.resumedFrom, 3);
    assert.deepEqual(await resumed.current(), await full.current(), `${full.name}: chains differ`);
    assertSameState(await resumed.getState(), await full.getState(), full.name);
    assert.deepEqual(resumed.store.entries, full.store.entries);
    for (let i = 0; i < full.store.count; i++) {
      assert.deepEqual(resumed.store.get(i), full.store.get(i));
    }
    full.dispose();
    resumed.dispose();
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  }
});

Deno.test("pruning hooks: |mean of samples| scores, masks apply to every sample, setState restores", async () => {
  const m = buildSgld(spec, { lr: 1e-3, burnIn: 0, sampleFreq: 1 });
  await fit(m, train, { epochs: 3, batchSize: 30, seed: 2, progress: false });
  const samples = await m.sampleWeights(3);
  const scores = await m.pruningScores();
  const j = 5;
  const mean = (samples[0]["l0.w"][j] + samples[1]["l0.w"][j] + samples[2]["l0.w"][j]) / 3;
  assert.ok(Math.abs(scores["l0.w"][j] - Math.abs(mean)) < 1e-6);
  assert.equal(scores["l1.w"].length, 7 * 3);
  const saved = await m.getState();
  const keep = new Uint8Array(35).fill(1);
  keep[j] = 0;
  m.applyPruningMask({ "l0.w": keep });
  for (const s of await m.sampleWeights(3)) assert.equal(s["l0.w"][j], 0);
  assert.equal((await m.current())["l0.w"][j], 0);
  assert.equal((await m.pruningScores())["l0.w"][j], 0);
  assert.throws(() => m.applyPruningMask({ "l0.w": new Uint8Array(3) }), /35/);
  // Steps keep the masked weight at exactly 0 in the chain and in new samples; the mask
  // travels in the state.
  const x = tf.tensor2d(train.x.subarray(0, 30 * 5), [30, 5]);
  const y = tf.tensor1d((train.y as Int32Array).subarray(0, 30), "int32");
  const stepInfo = { datasetSize: 60, epoch: 3, step: 0, batchesPerEpoch: 2, epochs: 5 };
  const steps = async (mm: SgmcmcMethod, n: number) => {
    for (let t = 0; t < n; t++) {
      const r = await mm.step({ x, y, n: 30 }, { ...stepInfo, step: t % 2 });
      tf.dispose(Object.values(r).filter((v) => typeof v !== "number") as tf.Tensor[]);
    }
  };
  await steps(m, 4);
  await m.endEpoch!(3, stepInfo);
  assert.equal(m.store.count, 4);
  const cur = await m.current();
  assert.equal(cur["l0.w"][j], 0);
  assert.ok(cur["l0.w"].some((v, i) => i !== j && v !== 0));
  for (const s of await m.sampleWeights(4)) assert.equal(s["l0.w"][j], 0);
  const pruned = await m.getState();
  assert.ok("mask/l0.w" in pruned.tensors);
  const reloaded = buildSgld(spec, { lr: 1e-3, burnIn: 0, sampleFreq: 1 });
  await reloaded.setState(pruned);
  await steps(reloaded, 3);
  assert.equal((await reloaded.current())["l0.w"][j], 0);
  reloaded.dispose();
  tf.dispose([x, y]);
  await m.setState(saved);
  assert.ok((await m.sampleWeights(3)).some((s) => s["l0.w"][j] !== 0));
  m.dispose();
});

function assertSameState(got: MethodState, want: MethodState, what: string) {
  assert.deepEqual(Object.keys(got.tensors).sort(), Object.keys(want.tensors).sort(), what);
  for (const [k, t] of Object.entries(want.tensors)) {
    assert.deepEqual(Array.from(got.tensors[k].data), Array.from(t.data), `${what}: ${k}`);
  }
  // The runs stream their samples to different folders.
  const noDir = (e: Record<string, unknown>) => ({
    ...e,
    store: { ...e.store as object, dir: "" },
  });
  assert.deepEqual(noDir(got.extra), noDir(want.extra), `${what}: JSON state`);
}
