// fit's controls: the per-step callback, early stopping (with the best state
// restored and checkpointed), and the abort signal (a checkpoint that resumes
// at the next step, exactly).
import assert from "node:assert/strict";
import { initBackend } from "../core/backend.ts";
import type { Method, NetSpec } from "../core/method.ts";
import { readSaved } from "../core/persist.ts";
import { Rng } from "../core/rng.ts";
import { BEST_FILE, CHECKPOINT_FILE, fit, type StepReport } from "../core/train.ts";
import type { ArrayDataset } from "../datasets/types.ts";
import { buildKfacLaplace } from "../methods/kfac_laplace.ts";
import { buildMap } from "../methods/map.ts";
import { buildMcDropout } from "../methods/mc_dropout.ts";

await initBackend({ backend: "wasm", quiet: true });

const CLS: NetSpec = { inputDim: 2, hidden: [16], outputDim: 3, task: "classification" };

function blobs(n: number, seed: number): ArrayDataset {
  const r = new Rng(seed);
  const x = new Float32Array(2 * n), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 3;
    x[2 * i] = 2 * y[i] + 0.7 * r.normal();
    x[2 * i + 1] = -y[i] + 0.7 * r.normal();
  }
  return { x, y, n, xShape: [2], yShape: [], numClasses: 3 };
}

async function weights(m: Method): Promise<Record<string, Float32Array>> {
  const t = (await m.getState()).tensors;
  return Object.fromEntries(
    Object.entries(t).filter(([k]) => !k.startsWith("opt/")).map(([k, v]) => [k, v.data]),
  );
}

Deno.test("onStep gets every step's scalars in order; their weighted mean is the epoch loss", async () => {
  const train = blobs(100, 1);
  const m = buildMap(CLS, { optimizer: "adam", lr: 1e-2 });
  const reports: StepReport[] = [];
  const { history } = await fit(m, train, {
    epochs: 2,
    batchSize: 30,
    seed: 0,
    progress: false,
    onStep: (r) => {
      reports.push(r);
    },
  });
  assert.equal(reports.length, 8); // 4 steps per epoch (30, 30, 30, 10)
  assert.deepEqual(reports.map((r) => r.globalStep), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(reports.map((r) => [r.epoch, r.step]).slice(2, 6), [[1, 3], [1, 4], [2, 1], [
    2,
    2,
  ]]);
  assert.deepEqual(reports.slice(0, 4).map((r) => r.n), [30, 30, 30, 10]);
  for (const e of [1, 2]) {
    const rs = reports.filter((r) => r.epoch === e);
    const loss = rs.reduce((a, r) => a + r.scalars.loss * r.n, 0) / 100;
    const err = rs.reduce((a, r) => a + r.scalars.errors * r.n, 0);
    assert.ok(Math.abs(loss - history[e - 1].trainLoss) < 1e-9 * Math.abs(loss));
    assert.ok(Math.abs(err - history[e - 1].trainErrorPct!) < 1e-6);
  }
  m.dispose();
});

Deno.test("early stopping stops after `patience` epochs without improvement and restores the best epoch", async () => {
  const train = blobs(90, 2);
  const opts = { batchSize: 30, seed: 3, progress: false };
  // The training loss falls every epoch, so watching it with mode "max" never improves after
  // epoch 1: training stops after 1 + patience epochs and the epoch-1 state comes back.
  const m = buildMcDropout(CLS, { optimizer: "adam", lr: 1e-2 });
  const dir = await Deno.makeTempDir();
  const r = await fit(m, train, {
    ...opts,
    epochs: 10,
    checkpointDir: dir,
    earlyStopping: { patience: 2, monitor: "trainLoss", mode: "max" },
  });
  assert.equal(r.stopReason, "early_stopping");
  assert.equal(r.history.length, 3);
  assert.deepEqual(r.best, { epoch: 1, value: r.history[0].trainLoss, restored: true });
  const one = buildMcDropout(CLS, { optimizer: "adam", lr: 1e-2 });
  await fit(one, train, { ...opts, epochs: 1 });
  assert.deepEqual(await weights(m), await weights(one));
  // The best state is on disk; the checkpoint holds the restored state and is not trained on.
  assert.equal((await readSaved(dir, BEST_FILE)).manifest.info.epoch, 1);
  const again = buildMcDropout(CLS, { optimizer: "adam", lr: 1e-2 });
  const r2 = await fit(again, train, {
    ...opts,
    epochs: 10,
    checkpointDir: dir,
    resume: true,
    earlyStopping: { patience: 2, monitor: "trainLoss", mode: "max" },
  });
  assert.equal(r2.stopReason, "early_stopping");
  assert.equal(r2.history.length, 3);
  assert.deepEqual(await weights(again), await weights(one));
  for (const x of [m, one, again]) x.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("early stopping on the validation log-likelihood; bad settings are clear errors", async () => {
  const train = blobs(90, 4), valid = blobs(60, 5);
  const m = buildMap(CLS, { optimizer: "adam", lr: 1e-2 });
  const r = await fit(m, train, {
    epochs: 4,
    batchSize: 30,
    seed: 0,
    progress: false,
    valid,
    earlyStopping: { patience: 10 },
  });
  assert.equal(r.stopReason, undefined);
  const lls = r.history.map((h) => h.validLogLik!);
  assert.equal(r.best!.value, Math.max(...lls));
  assert.equal(r.best!.epoch, lls.indexOf(Math.max(...lls)) + 1);
  await assert.rejects(
    () => fit(m, train, { epochs: 1, batchSize: 30, seed: 0, earlyStopping: { patience: 1 } }),
    /needs a validation set/,
  );
  await assert.rejects(
    () =>
      fit(m, train, {
        epochs: 1,
        batchSize: 30,
        seed: 0,
        valid,
        earlyStopping: { patience: 0 },
      }),
    /patience must be a positive integer/,
  );
  await assert.rejects(
    () =>
      fit(m, train, {
        epochs: 1,
        batchSize: 30,
        seed: 0,
        progress: false,
        valid,
        earlyStopping: { patience: 1, monitor: "validRmse" },
      }),
    /"validRmse" is not in the epoch record/,
  );
  m.dispose();
});

Deno.test("KFAC Laplace stopped early runs its curvature pass over the whole set at the best weights", async () => {
  const train = blobs(90, 6);
  const m = buildKfacLaplace(CLS, { optimizer: "adam", lr: 1e-2, samples: 5 });
  const r = await fit(m, train, {
    epochs: 6,
    batchSize: 30,
    seed: 0,
    progress: false,
    earlyStopping: { patience: 1, monitor: "trainLoss", mode: "max" },
  });
  assert.equal(r.stopReason, "early_stopping");
  assert.ok(m.hasCurvature(), "curvature after early stopping");
  assert.equal(m.factors()!.n, 90);
  m.dispose();
});

Deno.test("an abort signal stops after the current step; resuming the checkpoint matches an uninterrupted run bitwise", async () => {
  const train = blobs(100, 7);
  const opts = { epochs: 3, batchSize: 20, seed: 5, progress: false };
  const straight = buildMcDropout(CLS);
  const straightRun = await fit(straight, train, opts);

  const dir = await Deno.makeTempDir();
  const ctl = new AbortController();
  const first = buildMcDropout(CLS);
  const seen: number[] = [];
  const r = await fit(first, train, {
    ...opts,
    checkpointDir: dir,
    signal: ctl.signal,
    onStep: (s) => {
      seen.push(s.globalStep);
      if (s.globalStep === 8) ctl.abort();
    },
  });
  assert.equal(r.stopReason, "aborted");
  assert.deepEqual(r.stoppedAt, { epoch: 2, step: 3 });
  assert.equal(r.history.length, 1);
  assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7, 8]);
  const { manifest } = await readSaved(dir, CHECKPOINT_FILE);
  assert.equal(manifest.info.epoch, 1);
  assert.equal(manifest.info.step, 3);
  first.dispose();

  const resumed = buildMcDropout(CLS);
  const steps: number[] = [];
  const r2 = await fit(resumed, train, {
    ...opts,
    checkpointDir: dir,
    resume: true,
    onStep: (s) => {
      steps.push(s.globalStep);
    },
  });
  assert.equal(r2.stopReason, undefined);
  assert.deepEqual(steps, [9, 10, 11, 12, 13, 14, 15]);
  assert.deepEqual(await weights(resumed), await weights(straight));
  // The interrupted epoch's record covers all of its steps.
  assert.equal(r2.history.length, 3);
  assert.ok(
    Math.abs(r2.history[1].trainLoss - straightRun.history[1].trainLoss) <
      1e-6 * Math.abs(straightRun.history[1].trainLoss),
  );
  // A signal aborted before the start trains nothing.
  const idle = buildMap(CLS);
  const r3 = await fit(idle, train, { ...opts, signal: AbortSignal.abort() });
  assert.equal(r3.stopReason, "aborted");
  assert.equal(r3.history.length, 0);
  for (const x of [straight, resumed, idle]) x.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an abort from a timer (as from Ctrl-C) stops within the epoch on the CPU: the loop yields to the event loop", async () => {
  // 4000 steps of one example each: an epoch of several seconds on the CPU engine,
  // whose steps never wait on anything but promises that are already resolved.
  const train = blobs(4000, 3);
  const m = buildMap(CLS);
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 100);
  const t0 = performance.now();
  try {
    const r = await fit(m, train, {
      epochs: 1,
      batchSize: 1,
      seed: 0,
      progress: false,
      signal: ctl.signal,
    });
    assert.equal(r.stopReason, "aborted");
    assert.equal(r.stoppedAt?.epoch, 1);
    assert.ok(r.stoppedAt!.step < 4000, `stopped at step ${r.stoppedAt!.step} of 4000`);
    assert.ok(performance.now() - t0 < 2000, `took ${performance.now() - t0} ms to stop`);
  } finally {
    clearTimeout(timer);
    m.dispose();
  }
});
