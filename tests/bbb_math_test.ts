// Bayes by Backprop building blocks: priors' log densities and gradients (on the host and as
// kernel text), and the closed-form KL against Monte Carlo.
import assert from "node:assert/strict";
import { compileJs, defineKernel } from "../core/engine/mod.ts";
import { Rng } from "../core/rng.ts";
import {
  BbbSettingsError,
  gaussianKl,
  gaussianPrior,
  gmmPrior,
  laplacePrior,
  makeBbbPrior,
} from "../methods/bbb/priors.ts";

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

Deno.test("priors: gradients match finite differences; the kernel text computes the same", () => {
  // The mixtures: both sides of z = −32 (the reference's prior: w = 0.003 inside, 0.015 beyond).
  const priors = [
    gaussianPrior(0.3),
    laplacePrior(0.1),
    gmmPrior(0.5, 0.2, 0.01),
    gmmPrior(0.75, 0.1, 0.0005),
  ];
  const ws = [-0.4, -0.02, 0.003, 0.015, 0.2];
  for (const p of priors) {
    for (const w of ws) {
      const h = 1e-6;
      const fd = (p.logDensity(w + h) - p.logDensity(w - h)) / (2 * h);
      assert.ok(Math.abs(fd - p.gradLogDensity(w)) < 1e-4 * (1 + Math.abs(fd)), `${p.name} ${w}`);
    }
    // The engine's kernel text: lp = log p(w), gp = −d log p / dw.
    const k = defineKernel({
      name: `prior_${p.name}`,
      inputs: ["w"],
      outputs: ["lp", "gp"],
      scalars: Object.keys(p.constants),
      body: `${p.kernel("w", "q")} lp = lp_q; gp = gp_q;`,
    });
    const c = compileJs(k);
    const w = Float32Array.from(ws), lp = new Float32Array(5), gp = new Float32Array(5);
    c.fn(5, 0, 5, 1, w, lp, gp, ...Object.values(p.constants));
    ws.forEach((x, j) => {
      const wantLp = p.logDensity(Math.fround(x)), wantGp = -p.gradLogDensity(Math.fround(x));
      assert.ok(Math.abs(lp[j] - wantLp) < 1e-5 * (1 + Math.abs(wantLp)), `${p.name} log p`);
      assert.ok(Math.abs(gp[j] - wantGp) < 1e-5 * (1 + Math.abs(wantGp)), `${p.name} gradient`);
    });
  }
});

Deno.test("closed-form Gaussian KL equals a 1e6-sample Monte Carlo estimate", () => {
  const rng = new Rng(5);
  const n = 1_000_000;
  const eps = new Float32Array(n);
  for (const [mu, sigma, ps] of [[0.05, 0.08, 0.1], [-0.3, 0.02, 0.1], [0.5, 1.5, 1]]) {
    rng.fillNormal(eps);
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
