import assert from "node:assert/strict";
import { Rng } from "../core/rng.ts";

// Kolmogorov–Smirnov statistic against a CDF.
function ks(sample: Float32Array | Float64Array, cdf: (x: number) => number): number {
  const s = Float64Array.from(sample).sort();
  let d = 0;
  for (let i = 0; i < s.length; i++) {
    const f = cdf(s[i]);
    d = Math.max(d, Math.abs(f - i / s.length), Math.abs((i + 1) / s.length - f));
  }
  return d;
}
// Standard normal CDF via erf (Abramowitz–Stegun 7.1.26 is too coarse; use series).
function phi(x: number): number {
  // erfc via continued fraction / series from W. J. Cody is overkill; use the
  // high-accuracy rational approximation of Hart (max error ~1e-7).
  const t = 1 / (1 + 0.2316419 * Math.abs(x));
  const d = 0.3989422804014327 * Math.exp(-x * x / 2);
  const p = d * t *
    (0.319381530 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))));
  return x > 0 ? 1 - p : p;
}

const N = 1_000_000;
const KS_CRIT = 1.63 / Math.sqrt(N); // 1% level

Deno.test("normal draws: mean, variance, KS against N(0,1) on 1e6 samples", () => {
  const x = new Rng(123).normalArray(N);
  let m = 0, v = 0;
  for (const a of x) m += a;
  m /= N;
  for (const a of x) v += (a - m) ** 2;
  v /= N - 1;
  assert.ok(Math.abs(m) < 5 / Math.sqrt(N), `mean ${m}`);
  assert.ok(Math.abs(v - 1) < 5 * Math.sqrt(2 / N), `variance ${v}`);
  const d = ks(x, phi);
  assert.ok(d < KS_CRIT, `KS statistic ${d} ≥ ${KS_CRIT}`);
});

Deno.test("normal draws reach the tails at the right rate", () => {
  const x = new Rng(5).normalArray(N);
  let beyond3 = 0;
  for (const a of x) if (Math.abs(a) > 3) beyond3++;
  const expected = 2 * (1 - phi(3)) * N; // ≈ 2700
  assert.ok(Math.abs(beyond3 - expected) < 5 * Math.sqrt(expected), `${beyond3} vs ${expected}`);
});

Deno.test("normal draws with mean and std", () => {
  const x = new Rng(9).normalArray(200_000, 3, 0.5);
  let m = 0;
  for (const a of x) m += a;
  m /= x.length;
  let v = 0;
  for (const a of x) v += (a - m) ** 2;
  v /= x.length;
  assert.ok(Math.abs(m - 3) < 0.01, `mean ${m}`);
  assert.ok(Math.abs(Math.sqrt(v) - 0.5) < 0.01, `std ${Math.sqrt(v)}`);
});

Deno.test("uniform draws: mean, variance, KS against U(0,1)", () => {
  const x = new Rng(77).uniformArray(N);
  let m = 0;
  for (const a of x) m += a;
  m /= N;
  assert.ok(Math.abs(m - 0.5) < 5 * Math.sqrt(1 / 12 / N), `mean ${m}`);
  const d = ks(x, (u) => Math.min(1, Math.max(0, u)));
  assert.ok(d < KS_CRIT, `KS ${d}`);
});

Deno.test("same seed gives the same stream; different seeds differ", () => {
  const a = new Rng(42).normalArray(1000);
  const b = new Rng(42).normalArray(1000);
  const c = new Rng(43).normalArray(1000);
  assert.deepEqual(a, b);
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === c[i]) same++;
  assert.ok(same < 5, `${same} equal draws between seeds 42 and 43`);
});

Deno.test("state save and restore continues the stream exactly", () => {
  const r = new Rng(8);
  r.normalArray(10);
  const st = r.getState();
  const next = r.normalArray(5);
  const r2 = new Rng(0);
  r2.setState(st);
  assert.deepEqual(r2.normalArray(5), next);
  assert.throws(() => r2.setState([1, 2]), /4 integers/);
});

Deno.test("fork gives independent, reproducible streams", () => {
  const base = new Rng(1);
  const f1 = base.fork(1).normalArray(100), f1b = new Rng(1).fork(1).normalArray(100);
  const f2 = base.fork(2).normalArray(100);
  assert.deepEqual(f1, f1b);
  assert.notDeepEqual(f1, f2);
});

Deno.test("gamma draws have the right mean and variance", () => {
  const r = new Rng(3);
  for (const [shape, rate] of [[0.5, 2], [3, 1.5]]) {
    const n = 100_000;
    let m = 0, v = 0;
    const xs = new Float64Array(n);
    for (let i = 0; i < n; i++) xs[i] = r.gamma(shape, rate);
    for (const x of xs) m += x;
    m /= n;
    for (const x of xs) v += (x - m) ** 2;
    v /= n;
    assert.ok(Math.abs(m - shape / rate) < 0.02 * shape / rate + 0.005, `mean ${m}`);
    assert.ok(Math.abs(v - shape / rate ** 2) < 0.05 * shape / rate ** 2, `var ${v}`);
  }
});

Deno.test("permutation is a permutation", () => {
  const p = new Rng(2).permutation(1000);
  const seen = new Set(p);
  assert.equal(seen.size, 1000);
  assert.ok(p.some((v, i) => v !== i));
});

Deno.test("normal draws: the WebAssembly fill gives the JavaScript loop's values and state", () => {
  // Float32 fills of 64 or more values run ziggurat.wat; Float64 fills the JavaScript loop,
  // whose values rounded to float32 are the same draws. Lengths cross the 16384-value chunks;
  // 1.6M draws take the wedge and tail paths thousands of times.
  let tails = 0;
  for (let seed = 0; seed < 40; seed++) {
    const n = 40_000 + 77 * seed;
    const [mean, std] = seed % 2 ? [0.25, 3] : [0, 1];
    const a = new Rng(seed), b = new Rng(seed);
    const f32 = new Float32Array(n), f64 = new Float64Array(n);
    a.fillNormal(f32, mean, std);
    b.fillNormal(f64, mean, std);
    for (let i = 0; i < n; i++) {
      if (f32[i] !== Math.fround(f64[i])) {
        assert.fail(`seed ${seed}, draw ${i}: ${f32[i]} vs ${f64[i]}`);
      }
      if (Math.abs((f64[i] - mean) / std) > 3.442619855899) tails++;
    }
    assert.deepEqual(a.getState(), b.getState(), `state after seed ${seed}`);
    assert.equal(a.uniform(), b.uniform());
  }
  assert.ok(tails > 100, `tail draws: ${tails}`);
});

Deno.test("normal draws: core/ziggurat_wasm.ts is the assembled core/ziggurat.wat", async () => {
  const { assembleZiggurat, zigguratModule } = await import("../tools/build_wasm.ts");
  const committed = await Deno.readTextFile(new URL("../core/ziggurat_wasm.ts", import.meta.url));
  assert.equal(committed, zigguratModule(await assembleZiggurat()), "run deno task build:wasm");
});
