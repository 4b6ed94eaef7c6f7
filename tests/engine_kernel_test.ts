// The kernel language: parsing and checking, and the compiled JavaScript loop.
import assert from "node:assert/strict";
import {
  compileJs,
  compileWgsl,
  defineKernel,
  KernelError,
  sigmoidExact,
  sigmoidJs,
  softplusExact,
  softplusInverse,
  softplusJs,
} from "../core/engine/mod.ts";

Deno.test("kernel language: the JS loop computes the body for every parameter", () => {
  const k = defineKernel({
    name: "adamish",
    inputs: ["g", "keep?"],
    inouts: ["p", "m"],
    scalars: ["lr", "b1"],
    sums: ["g2"],
    body: `
      m = b1 * m + (1 - b1) * g;
      if (abs(m) > 1) { p -= lr * sign(m); } else { p -= lr * m; }
      p = keep * p;
      g2 += g * g;
    `,
  });
  const p = Float32Array.of(1, 2, 3), m = Float32Array.of(0, 5, -5), g = Float32Array.of(1, 1, 2);
  const c = compileJs(k);
  assert.deepEqual(c.arrays, ["g", "p", "m"]);
  const [g2] = c.fn(3, 0, 3, 1, g, p, m, 0.1, 0.5);
  assert.equal(g2, 6);
  assert.deepEqual(Array.from(m), [0.5, 3, -1.5]);
  assert.deepEqual(Array.from(p).map((v) => +v.toFixed(5)), [0.95, 1.9, 3.1]);
  // The optional mask, given.
  const c2 = compileJs(k, new Set(["keep"]));
  assert.deepEqual(c2.arrays, ["g", "keep", "p", "m"]);
  const p2 = Float32Array.of(1, 2);
  c2.fn(
    2,
    0,
    2,
    1,
    Float32Array.of(0, 0),
    Float32Array.of(1, 0),
    p2,
    new Float32Array(2),
    0.1,
    0.5,
  );
  assert.deepEqual(Array.from(p2), [1, 0]);
});

Deno.test("kernel language: per-sample arrays, loops and normals", () => {
  const k = defineKernel({
    name: "sample",
    inputs: ["mu", "g[]", "acc?0"],
    outputs: ["w[]", "gsum"],
    normals: ["eps[]"],
    body: `
      var t = acc;
      for s in samples {
        w[s] = mu + softplus(0) * eps[s];
        t += g[s] * eps[s];
      }
      gsum = t;
    `,
  });
  const c = compileJs(k);
  const n = 2, reps = 3;
  const mu = Float32Array.of(1, -1);
  const g = Float32Array.from({ length: n * reps }, (_, i) => i);
  const w = new Float32Array(n * reps), gsum = new Float32Array(n);
  const eps = Float32Array.from({ length: 10 * reps }, (_, i) => i / 10);
  // Arrays: mu, g, w, gsum; the noise block of a 10-value layout, this segment at offset 4.
  c.fn(n, 0, n, reps, mu, g, w, gsum, eps, 4, 10);
  const e = (s: number, i: number) => (s * 10 + 4 + i) / 10;
  for (let s = 0; s < reps; s++) {
    for (let i = 0; i < n; i++) {
      assert.ok(Math.abs(w[s * n + i] - (mu[i] + Math.LN2 * e(s, i))) < 1e-5);
    }
  }
  for (let i = 0; i < n; i++) {
    let t = 0;
    for (let s = 0; s < reps; s++) t += g[s * n + i] * e(s, i);
    assert.ok(Math.abs(gsum[i] - t) < 1e-4);
  }
  assert.match(compileWgsl(k).code, /philox_normal/);
});

Deno.test("kernel language: mistakes are named with their place", () => {
  const bad = (body: string, extra: Partial<Parameters<typeof defineKernel>[0]> = {}) => () =>
    defineKernel({ name: "k", inputs: ["x", "g[]"], inouts: ["p"], sums: ["t"], body, ...extra });
  assert.throws(bad("p = y;"), /unknown name "y"/);
  assert.throws(bad("x = 1;"), /"x" \(input\) cannot be assigned/);
  assert.throws(bad("p = g;"), /per-sample "g" must be indexed/);
  assert.throws(bad("p = g[j];"), /index must be a loop variable/);
  assert.throws(bad("t = 1;"), /sum "t" takes \+= or -= only/);
  assert.throws(bad("p = t;"), /sum "t" can only be accumulated/);
  assert.throws(bad("p = x < 1;"), /expected a number but found a condition/);
  assert.throws(bad("if (x) { p = 1; }"), /expected a condition/);
  assert.throws(bad("p = tanh(x);"), /unknown function "tanh"/);
  assert.throws(bad("p = min(x);"), /min takes 2 argument/);
  assert.throws(bad("p = x $ 1;"), /unexpected character "\$" at line 1, column 7/);
  assert.throws(bad("p = x\n  + ;"), /unexpected ";" at line 2, column 5/);
  assert.throws(bad("let q = 1; let q = 2;"), /"q" is declared twice/);
  assert.throws(bad("for s in samples { for r in samples { p = 1; } }"), /loops cannot be nested/);
  assert.throws(() => defineKernel({ name: "k", inouts: ["p[]"], body: "" }), KernelError);
  assert.throws(() => defineKernel({ name: "k", outputs: ["o?"], body: "" }), /only inputs/);
});

Deno.test("kernel language: WGSL uses uniforms, device scalars and a partials buffer", () => {
  const k = defineKernel({
    name: "w",
    inputs: ["g"],
    inouts: ["p"],
    scalars: ["lr", "c"],
    sums: ["s"],
    body: "p -= lr * c * g; s += p;",
  });
  const w = compileWgsl(k, new Set(), new Set(["c"]));
  assert.deepEqual(w.arrays, [{ name: "g", write: false }, { name: "p", write: true }]);
  assert.deepEqual(w.deviceScalars, ["c"]);
  assert.ok(w.hasSums);
  assert.match(w.code, /u\.s_lr_0 \* d_c\[0\]/);
  assert.match(w.code, /partials_/);
});

Deno.test("softplus and sigmoid tables: float32-accurate, exact outside the table, NaN kept", () => {
  for (let i = 0; i <= 20000; i++) {
    const x = -40 + (60 * i) / 20000;
    const sp = softplusExact(x), sg = sigmoidExact(x);
    assert.ok(Math.abs(softplusJs(x) - sp) <= 3e-7 * sp, `softplus(${x})`);
    assert.ok(Math.abs(sigmoidJs(x) - sg) <= 3e-7 * sg + 1e-12, `sigmoid(${x})`);
  }
  assert.ok(Number.isNaN(softplusJs(NaN)) && Number.isNaN(sigmoidJs(NaN)));
  for (const s of [1e-5, 0.05, 1, 40]) {
    assert.ok(Math.abs(softplusExact(softplusInverse(s)) - s) < 1e-9 * (1 + s));
  }
  assert.throws(() => softplusInverse(0), /needs a value > 0, found 0/);
});
