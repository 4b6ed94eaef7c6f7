// The public conveniences on the WebGPU engine (Mesa's llvmpipe in CI): onStep reports arrive
// (read asynchronously, in batches), an abort mid-epoch resumes exactly, early stopping restores
// the best state, and predictSummary's device reductions match the host functions. Tiny nets.
import assert from "node:assert/strict";
import { initBackend } from "../core/backend.ts";
import type { ArrayDataset } from "../core/data.ts";
import { getEngine } from "../core/engine/current.ts";
import type { Method, NetSpec } from "../core/method.ts";
import { predictHost, predictSummary } from "../core/predictive.ts";
import { Rng } from "../core/rng.ts";
import { fit, type StepReport } from "../core/train.ts";
import { buildMcDropout } from "../methods/mc_dropout.ts";
import { classificationUncertainty } from "../uncertainty/classification.ts";

const SPEC: NetSpec = { inputDim: 6, hidden: [16], outputDim: 3, task: "classification" };
const BACKEND = Deno.env.get("BNN_TEST_BACKEND") ?? "webgpu";

function toyData(n: number, seed: number): ArrayDataset {
  const rng = new Rng(seed);
  const x = rng.normalArray(n * 6);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = (x[6 * i] > 0 ? 1 : 0) + (x[6 * i + 1] > 0.5 ? 1 : 0);
  return { x, y, n, xShape: [6], yShape: [], numClasses: 3 };
}

async function weights(m: Method): Promise<Record<string, Float32Array>> {
  const t = (await m.getState()).tensors;
  return Object.fromEntries(
    Object.entries(t).filter(([k]) => !k.startsWith("opt/")).map(([k, v]) => [k, v.data]),
  );
}

Deno.test(`${BACKEND}: onStep, abort + exact resume, early stopping, predictSummary`, async () => {
  await initBackend({ backend: BACKEND, quiet: true });
  assert.equal(getEngine().kind, BACKEND === "webgpu" ? "webgpu" : "cpu");
  const train = toyData(96, 1), test = toyData(40, 2);
  const build = () => buildMcDropout(SPEC, { optimizer: "adam", lr: 1e-2 });
  const opts = { epochs: 3, batchSize: 32, seed: 3, progress: false };
  const straight = build();
  await fit(straight, train, opts);

  const dir = await Deno.makeTempDir();
  try {
    const ctl = new AbortController();
    const a = build();
    const seen: StepReport[] = [];
    let steps = 0;
    const r = await fit(a, train, {
      ...opts,
      checkpointDir: dir,
      signal: ctl.signal,
      onStep: (s) => void seen.push(s),
      onEpoch: () => {},
    });
    assert.equal(r.stopReason, undefined);
    assert.deepEqual(seen.map((s) => s.globalStep), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.ok(seen.every((s) => Number.isFinite(s.scalars.loss)));
    a.dispose();

    // Abort inside epoch 2 (the step count is known on the host, the scalars may come later).
    const b = build();
    const r2 = await fit(b, train, {
      ...opts,
      checkpointDir: dir,
      signal: ctl.signal,
      onEpoch: () => {},
      onStep: () => {
        if (++steps === 5) ctl.abort();
      },
    });
    assert.equal(r2.stopReason, "aborted");
    assert.ok(r2.stoppedAt!.epoch >= 2);
    b.dispose();
    const c = build();
    await fit(c, train, { ...opts, checkpointDir: dir, resume: true });
    assert.deepEqual(await weights(c), await weights(straight));
    c.dispose();

    const d = build();
    const r3 = await fit(d, train, {
      ...opts,
      epochs: 6,
      earlyStopping: { patience: 1, monitor: "trainLoss", mode: "max" },
    });
    assert.equal(r3.stopReason, "early_stopping");
    assert.equal(r3.best!.epoch, 1);
    const one = build();
    await fit(one, train, { ...opts, epochs: 1 });
    assert.deepEqual(await weights(d), await weights(one));
    d.dispose();
    one.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }

  const host = await predictHost(straight, test, { samples: 6, seed: 1 });
  if (host.task !== "classification") throw new Error("expected classification");
  const want = classificationUncertainty(host.logProbs);
  const s = await predictSummary(straight, test, { samples: 6, seed: 1, targets: test.y });
  if (s.task !== "classification") throw new Error("expected classification");
  for (let i = 0; i < s.n; i++) {
    assert.ok(Math.abs(s.total[i] - want.total[i]) < 1e-4, `total ${i}`);
    assert.ok(Math.abs(s.epistemic[i] - want.epistemic[i]) < 1e-4, `epistemic ${i}`);
  }
  assert.ok(Number.isFinite(s.metrics!.logLikSum));
  straight.dispose();
});
