/**
 * Worker side of {@linkcode WorkerNoise}: fills the two shared blocks with
 * N(0, 1) draws in turn, each as soon as the main thread releases it.
 *
 * @module
 */
import { Rng } from "../../core/rng.ts";
import { fillStandardNormal } from "./noise.ts";

interface Start {
  sab: SharedArrayBuffer;
  total: number;
  state: number[];
}

// deno-lint-ignore no-explicit-any
const scope = self as any;

scope.onmessage = (e: MessageEvent<Start>) => {
  const { sab, total, state } = e.data;
  const h = new Int32Array(sab, 0, 16);
  const data = new Float32Array(sab, 64, 2 * total);
  const rng = new Rng(0);
  rng.setState(state);
  for (let k = 0;; k ^= 1) {
    while (Atomics.load(h, k) === 1) {
      if (Atomics.load(h, 2)) return;
      Atomics.wait(h, k, 1, 1000);
    }
    if (Atomics.load(h, 2)) return;
    fillStandardNormal(rng, data.subarray(k * total, (k + 1) * total));
    h.set(rng.getState(), 4 + 4 * k);
    Atomics.store(h, k, 1);
    Atomics.notify(h, k);
  }
};
