// Bayes by Backprop building blocks: priors' log densities and gradients, the closed-form KL
// against Monte Carlo, the σ = softplus(ρ) tables, the fast normal sampler and the update rules.
import assert from "node:assert/strict";
import { Rng } from "../core/rng.ts";
import {
  BbbSettingsError,
  fillRandomSigns,
  fillStandardNormal,
  gaussianKl,
  gaussianPrior,
  gmmPrior,
  HostOptimizer,
  laplacePrior,
  makeBbbPrior,
  rhoForSigma,
  sigmaFromRho,
  sigmoidExact,
  softplusExact,
} from "../methods/bbb.ts";

const LOG_2PI = Math.log(2 * Math.PI);
const normPdf = (w: number, s: number) =>
  Math.exp(-0.5 * (w / s) ** 2) / (s * Math.sqrt(2 * Math.PI));

Deno.test("priors: log densities match their closed forms", () => {
  const g = gaussianPrior(0.1);
  for (const w of [-0.3, 0, 0.05, 1]) {
    assert.ok(Math.abs(g.logDensity(w) - (-0.5 * LOG_2PI - Math.log(0.1) - w * w / 0.02)) < 1e-12);
  }
  const l = laplacePrior(0.2);
  for (const w of [-0.3, 0, 0.05, 1]) {
    assert.ok(Math.abs(l.logDensity(w) - Math.log(Math.exp(-Math.abs(w) / 0.2) / 0.4)) < 1e-12);
  }
  const m = gmmPrior(0.75, 0.1, 0.0005);
  for (const w of [0, 1e-4, 0.001, 0.01, 0.05, 0.3]) {
    const direct = Math.log(0.75 * normPdf(w, 0.1) + 0.25 * normPdf(w, 0.0005));
    assert.ok(Math.abs(m.logDensity(w) - direct) < 1e-9, `gmm log p(${w})`);
  }
  // Far in the tails the direct formula underflows; the log-space one stays finite and exact.
  assert.ok(
    Math.abs(m.logDensity(5) - (Math.log(0.75) - 0.5 * LOG_2PI - Math.log(0.1) - 1250)) < 1e-9,
  );
});

Deno.test("priors: gradients match finite differences; accumulate adds −scale·∂log p/∂w", () => {
  const priors = [gaussianPrior(0.3), laplacePrior(0.1), gmmPrior(0.5, 0.2, 0.01)];
  const ws = [-0.4, -0.02, 0.003, 0.015, 0.2];
  for (const p of priors) {
    for (const w of ws) {
      const h = 1e-6;
      const fd = (p.logDensity(w + h) - p.logDensity(w - h)) / (2 * h);
      assert.ok(Math.abs(fd - p.gradLogDensity(w)) < 1e-4 * (1 + Math.abs(fd)), `${p.name} ${w}`);
    }
    const w = Float32Array.from(ws), eps = Float32Array.from([1, -2, 0.5, 3, -1]);
    const gMu = new Float32Array(7), gSig = new Float32Array(7);
    // ParamSegment at flat offset 2: w[i − 2] pairs with eps/gMu/gSig[i]; eps read at the same i.
    const epsFlat = new Float32Array(7);
    epsFlat.set(eps, 2);
    const lp = p.accumulate(w, epsFlat, gMu, gSig, 2, 7, 0.5);
    const want = ws.reduce((a, x) => a + Math.fround(p.logDensity(Math.fround(x))), 0);
    assert.ok(Math.abs(lp - want) < 1e-3 * (1 + Math.abs(want)), `${p.name} Σ log p`);
    assert.equal(gMu[0], 0);
    for (let j = 0; j < 5; j++) {
      const g = -0.5 * p.gradLogDensity(Math.fround(ws[j]));
      assert.ok(Math.abs(gMu[j + 2] - g) < 1e-3 * (1 + Math.abs(g)), `${p.name} gMu ${j}`);
      assert.ok(Math.abs(gSig[j + 2] - g * eps[j]) < 1e-3 * (1 + Math.abs(g)), `${p.name} gSig`);
    }
  }
});

Deno.test("closed-form Gaussian KL equals a 1e6-sample Monte Carlo estimate", () => {
  const rng = new Rng(5);
  const n = 1_000_000;
  const eps = new Float32Array(n);
  for (const [mu, sigma, ps] of [[0.05, 0.08, 0.1], [-0.3, 0.02, 0.1], [0.5, 1.5, 1]]) {
    fillStandardNormal(rng, eps);
    const prior = gaussianPrior(ps);
    let sum = 0, sum2 = 0;
    for (let i = 0; i < n; i++) {
      const w = mu + sigma * eps[i];
      const d = -Math.log(sigma) - 0.5 * LOG_2PI - 0.5 * eps[i] * eps[i] - prior.logDensity(w);
      sum += d;
      sum2 += d * d;
    }
    const mc = sum / n, se = Math.sqrt((sum2 / n - mc * mc) / n);
    const exact = gaussianKl(mu, sigma, ps);
    assert.ok(Math.abs(mc - exact) < 4 * se + 1e-6, `KL ${exact} vs MC ${mc} ± ${se}`);
  }
  assert.equal(gaussianKl(0, 0.1, 0.1), 0);
});

Deno.test("bad prior settings are clear errors", () => {
  const base = { prior: "gaussian" as const, priorSigma: 0.1, gmmPi: 0.75, gmmSigma2: 0.0005 };
  assert.throws(
    () => makeBbbPrior({ ...base, priorSigma: 0 }),
    /prior sigma must be a finite number > 0/,
  );
  assert.throws(() => makeBbbPrior({ ...base, prior: "laplace", priorSigma: -1 }), /scale b/);
  assert.throws(() => makeBbbPrior({ ...base, prior: "gmm", gmmPi: 1 }), /pi must be in \(0, 1\)/);
  assert.throws(() => makeBbbPrior({ ...base, prior: "gmm", gmmSigma2: 0 }), /sigma2/);
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => makeBbbPrior({ ...base, prior: "cauchy" as any }),
    (e) =>
      e instanceof BbbSettingsError &&
      /prior must be one of gaussian, laplace, gmm/.test(e.message),
  );
});

Deno.test("σ = softplus(ρ) + 1e-6 tables: float32-accurate, exact outside the table, NaN kept", () => {
  const rho = new Float32Array(20001);
  for (let i = 0; i < rho.length; i++) rho[i] = -40 + (60 * i) / (rho.length - 1);
  rho[5] = NaN;
  const sigma = new Float32Array(rho.length), ds = new Float32Array(rho.length);
  const sumLog = sigmaFromRho(rho, sigma, ds);
  let want = 0;
  for (let i = 0; i < rho.length; i++) {
    if (i === 5) continue;
    const sp = softplusExact(rho[i]) + 1e-6;
    if (i > 5) want += Math.log(sp);
    assert.ok(Math.abs(sigma[i] - sp) <= 3e-7 * sp, `σ(${rho[i]}) = ${sigma[i]} vs ${sp}`);
    const sg = sigmoidExact(rho[i]);
    assert.ok(Math.abs(ds[i] - sg) <= 3e-7 * sg + 1e-12, `sigmoid(${rho[i]})`);
  }
  assert.ok(Number.isNaN(sigma[5]) && Number.isNaN(sumLog));
  const got = sigmaFromRho(rho.subarray(6), sigma.subarray(6), ds.subarray(6));
  assert.ok(Math.abs(got - want) < 1e-6 * Math.abs(want), `Σ log σ ${got} vs ${want}`);
  // Pruned entries: σ = dσ/dρ = 0 and left out of Σ log σ.
  const keep = new Uint8Array([1, 0, 1]);
  const r3 = new Float32Array([-3, -3, -3]), s3 = new Float32Array(3), d3 = new Float32Array(3);
  const l3 = sigmaFromRho(r3, s3, d3, 0, 3, keep);
  assert.equal(s3[1], 0);
  assert.equal(d3[1], 0);
  assert.ok(Math.abs(l3 - 2 * Math.log(softplusExact(-3) + 1e-6)) < 1e-6);
  for (const s of [1e-5, 0.05, 1, 40]) {
    assert.ok(Math.abs(softplusExact(rhoForSigma(s)) + 1e-6 - s) < 1e-9 * (1 + s));
  }
});

Deno.test("fast normal sampler: N(0,1) moments and tails, advances the Rng, seeded", () => {
  const n = 2_000_000;
  const a = new Float32Array(n);
  const rng = new Rng(11);
  const before = rng.getState();
  fillStandardNormal(rng, a);
  assert.notDeepEqual(rng.getState(), before);
  let m1 = 0, m2 = 0, m4 = 0, tail = 0;
  for (const v of a) {
    m1 += v;
    m2 += v * v;
    m4 += v ** 4;
    if (Math.abs(v) > 3) tail++;
  }
  m1 /= n;
  m2 /= n;
  m4 /= n;
  assert.ok(Math.abs(m1) < 0.004, `mean ${m1}`);
  assert.ok(Math.abs(m2 - 1) < 0.005, `variance ${m2}`);
  assert.ok(Math.abs(m4 - 3) < 0.03, `4th moment ${m4}`);
  // P(|z| > 3) = 0.0026998
  assert.ok(Math.abs(tail / n - 0.0026998) < 0.0002, `tail ${tail / n}`);
  const b = new Float32Array(1000), c = new Float32Array(1000);
  fillStandardNormal(new Rng(3), b);
  fillStandardNormal(new Rng(3), c);
  assert.deepEqual(b, c);
  const s = new Float32Array(10000);
  fillRandomSigns(new Rng(1), s);
  const plus = s.filter((v) => v === 1).length;
  assert.ok(s.every((v) => v === 1 || v === -1) && Math.abs(plus - 5000) < 200);
});

Deno.test("host update rules match the PyTorch formulas", () => {
  const g = new Float32Array([0.5, -2]);
  const sgd = new HostOptimizer({ optimizer: "sgd", lr: 0.1, momentum: 0 }, { p: 2 });
  const p = new Float32Array([1, 1]);
  sgd.tick();
  sgd.update("p", p, g);
  assert.deepEqual(Array.from(p), [Math.fround(0.95), Math.fround(1.2)]);
  const mom = new HostOptimizer({ optimizer: "momentum", lr: 0.1, momentum: 0.9 }, { p: 2 });
  const q = new Float32Array([1, 1]);
  mom.update("p", q, g);
  mom.update("p", q, g); // buf = 0.9·g + g = 1.9 g; total step 0.1·(g + 1.9 g)
  assert.ok(Math.abs(q[0] - (1 - 0.1 * 2.9 * 0.5)) < 1e-6);
  const adam = new HostOptimizer({ optimizer: "adam", lr: 0.01, momentum: 0 }, { p: 2 });
  const r = new Float32Array([1, 1]);
  adam.tick();
  adam.update("p", r, g); // first Adam step moves each entry by lr·sign(g)
  assert.ok(Math.abs(r[0] - 0.99) < 1e-6 && Math.abs(r[1] - 1.01) < 1e-6);
  // Masked entries stay put; state round-trips.
  const keep = new Uint8Array([0, 1]);
  adam.tick();
  const r0 = r[0];
  adam.update("p", r, g, 0, 2, keep);
  assert.equal(r[0], r0);
  const host = adam.toHost();
  const adam2 = new HostOptimizer({ optimizer: "adam", lr: 0.01, momentum: 0 }, { p: 2 });
  adam2.fromHost(host);
  assert.deepEqual(adam2.toHost(), host);
});
