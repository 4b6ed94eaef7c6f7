/**
 * Child process of `tests/engine_threads_test.ts`: trains BBB (GMM prior,
 * Monte Carlo KL) and MC dropout for a few steps on generated data with the
 * thread count the parent set in `BNN_THREADS`, then prints one JSON line: a
 * hash of every saved state vector and of 20-sample predictions.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { fit, initBackend, predictHost } from "../mod.ts";
import { buildBbb } from "../methods/bbb.ts";
import { buildMcDropout } from "../methods/mc_dropout.ts";
import type { Method } from "../core/method.ts";

await initBackend({ backend: "wasm", quiet: true });

// 784-300-10 (238,510 parameters): several kernel chunks and noise blocks, and products
// cut into blocks (the weight gradient [784 × 300] into 3 × 2).
const n = 240, d = 784;
let s = 12345;
const rnd = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const x = Float32Array.from({ length: n * d }, rnd);
const y = Int32Array.from({ length: n }, (_, i) => (x[i * d] * 10) | 0);
const train = { x, y, n, xShape: [d], yShape: [], numClasses: 10 };
const spec = { inputDim: d, hidden: [300], outputDim: 10, task: "classification" as const };

async function digest(m: Method): Promise<string> {
  await fit(m, train, { epochs: 2, batchSize: 40, seed: 3, progress: false });
  const h = createHash("sha256");
  const st = await m.getState();
  for (const k of Object.keys(st.tensors).sort()) {
    h.update(new Uint8Array(st.tensors[k].data.buffer));
  }
  h.update(JSON.stringify(st.extra));
  const p = await predictHost(m, x.subarray(0, 20 * d), { samples: 20, seed: 1 });
  if (p.task !== "classification") throw new Error("a classifier");
  h.update(new Uint8Array(p.logProbs.data.buffer));
  return h.digest("hex");
}

console.log(JSON.stringify({
  bbb: await digest(buildBbb(spec, { prior: "gmm", nSamples: 2 })),
  mcDropout: await digest(buildMcDropout(spec, { dropout: 0.5 })),
}));
