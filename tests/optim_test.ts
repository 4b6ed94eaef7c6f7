// Update rules as kernel text: each matches its PyTorch formula on the CPU engine.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../core/backend.ts";
import { defineKernel, getEngine, Layout } from "../core/engine/mod.ts";
import { type OptimizerName, OptimizerState, updateRule } from "../core/optim.ts";

await initBackend({ backend: "wasm", quiet: true });

async function steps(name: OptimizerName, lr: number, momentum: number, gs: number[][]) {
  const e = getEngine();
  const layout = new Layout([{ name: "p", shape: [2] }]);
  const p = e.vector(layout, 1);
  const opt = new OptimizerState({ optimizer: name, lr, momentum }, e, layout, ["p"]);
  const r = updateRule(name, "p", "g");
  const k = defineKernel({
    name: `t_${name}`,
    inputs: ["g"],
    inouts: ["p", ...r.slots],
    scalars: r.scalars,
    body: r.body,
  });
  for (const g of gs) {
    const gt = tf.tensor1d(g);
    e.run(k, layout, { arrays: { g: [gt], p, ...opt.slots }, scalars: opt.scalars() });
    gt.dispose();
  }
  const out = await p.toHost();
  const host = await opt.toHost();
  p.dispose();
  opt.dispose();
  return { out, host };
}

Deno.test("update rules match the PyTorch formulas; optimizer state round-trips", async () => {
  const g = [0.5, -2];
  const sgd = await steps("sgd", 0.1, 0, [g]);
  assert.deepEqual(Array.from(sgd.out), [Math.fround(0.95), Math.fround(1.2)]);
  // Momentum: buf = 0.9·g + g = 1.9 g after two steps; total step 0.1·(g + 1.9 g).
  const mom = await steps("momentum", 0.1, 0.9, [g, g]);
  assert.ok(Math.abs(mom.out[0] - (1 - 0.1 * 2.9 * 0.5)) < 1e-6);
  // The first Adam step moves each entry by lr·sign(g).
  const adam = await steps("adam", 0.01, 0, [g]);
  assert.ok(Math.abs(adam.out[0] - 0.99) < 1e-6 && Math.abs(adam.out[1] - 1.01) < 1e-6);
  assert.deepEqual(Object.keys(adam.host).sort(), ["opt/p/m", "opt/p/v", "opt/step"]);
  assert.equal(adam.host["opt/step"].data[0], 1);
  // RMSprop: v = 0.01·g², step lr·g/(√v + 1e-8) = lr·10·sign(g).
  const rms = await steps("rmsprop", 0.01, 0, [g]);
  assert.ok(Math.abs(rms.out[0] - 0.9) < 1e-5 && Math.abs(rms.out[1] - 1.1) < 1e-5);
  // Restoring the state continues where it was; a missing slot names the optimizer.
  const e = getEngine();
  const layout = new Layout([{ name: "p", shape: [2] }]);
  const o = new OptimizerState({ optimizer: "adam", lr: 0.01 }, e, layout, ["p"]);
  o.fromHost(adam.host, e, "test");
  assert.equal(o.t, 1);
  assert.deepEqual(await o.toHost().then((h) => h["opt/p/m"].data), adam.host["opt/p/m"].data);
  const m = new OptimizerState({ optimizer: "momentum", lr: 0.01 }, e, layout, ["p"]);
  assert.throws(
    () => m.fromHost(adam.host, e, "ckpt"),
    /ckpt: missing optimizer tensor "opt\/p\/buf".*"momentum"/,
  );
  o.dispose();
  m.dispose();
});
