// errorRate (core/likelihood.ts): the fraction of a minibatch misclassified, what every
// classification step reports as `errors`, against a count on the host; [S, n, C] outputs are
// averaged over the S draws. On the cpu, wasm and webgpu (llvmpipe) backends.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../core/backend.ts";
import { errorRate } from "../core/likelihood.ts";
import { Rng } from "../core/rng.ts";

for (const backend of ["cpu", "wasm", "webgpu"]) {
  Deno.test(`errorRate (${backend}): misclassified fraction, averaged over draws`, async () => {
    await initBackend({ backend, quiet: true });
    const rng = new Rng(11);
    for (const [draws, n, c] of [[1, 37, 10], [3, 20, 4]]) {
      const z = rng.normalArray(draws * n * c);
      const y = Int32Array.from({ length: n }, (_, i) => (5 * i + 2) % c);
      let wrong = 0;
      for (let s = 0; s < draws; s++) {
        for (let r = 0; r < n; r++) {
          const row = z.subarray((s * n + r) * c, (s * n + r + 1) * c);
          let best = 0;
          for (let j = 1; j < c; j++) if (row[j] > row[best]) best = j;
          if (best !== y[r]) wrong++;
        }
      }
      const out = draws === 1 ? tf.tensor2d(z, [n, c]) : tf.tensor3d(z, [draws, n, c]);
      const labels = tf.tensor1d(y, "int32");
      const got = errorRate(out, labels);
      assert.equal(got.rank, 0);
      const v = (await got.data())[0];
      assert.ok(
        Math.abs(v - wrong / (draws * n)) < 1e-7,
        `${draws}×${n}: ${v} vs ${wrong / (draws * n)}`,
      );
      tf.dispose([out, labels, got]);
    }
  });
}
