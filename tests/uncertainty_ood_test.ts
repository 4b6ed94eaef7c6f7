import assert from "node:assert/strict";
import { Rng } from "../core/rng.ts";
import { aupr, auroc, oodDetection } from "../uncertainty/mod.ts";

/** Fraction of (in, out) pairs with out > in, ties counting ½, by brute force. */
function bruteAuroc(a: number[], b: number[]): number {
  let w = 0;
  for (const x of a) for (const y of b) w += y > x ? 1 : y === x ? 0.5 : 0;
  return w / (a.length * b.length);
}

/** Average precision straight from the definition: Σ over distinct thresholds t (high → low) of ΔR·P. */
function bruteAp(a: number[], b: number[]): number {
  const ts = [...new Set([...a, ...b])].sort((x, y) => y - x);
  let ap = 0, rPrev = 0;
  for (const t of ts) {
    const tp = b.filter((y) => y >= t).length;
    const fp = a.filter((x) => x >= t).length;
    const r = tp / b.length;
    if (tp + fp > 0) ap += (r - rPrev) * (tp / (tp + fp));
    rPrev = r;
  }
  return ap;
}

Deno.test("AUROC: perfect separation, identical scores, reversed", () => {
  assert.equal(auroc([0.1, 0.2, 0.3], [0.4, 0.9]), 1);
  assert.equal(auroc([0.5, 0.5, 0.5], [0.5, 0.5]), 0.5);
  assert.equal(auroc([0.4, 0.9], [0.1, 0.2, 0.3]), 0);
});

Deno.test("AUROC equals the fraction of correctly ordered pairs (ties ½)", () => {
  const a = [0.1, 0.3, 0.3, 0.7, 0.2];
  const b = [0.3, 0.5, 0.1, 0.9];
  // pairs: out 0.3 beats 0.1, 0.2 and ties two 0.3s → 3; 0.5 → 4; 0.1 ties 0.1 → 0.5; 0.9 → 5
  assert.equal(bruteAuroc(a, b), 12.5 / 20);
  assert.equal(auroc(a, b), 12.5 / 20);
  const rng = new Rng(5);
  for (let trial = 0; trial < 20; trial++) {
    const na = 1 + rng.int(40), nb = 1 + rng.int(40);
    // coarse scores so that ties are frequent
    const x = Array.from({ length: na }, () => Math.round(rng.normal() * 3) / 3);
    const y = Array.from({ length: nb }, () => Math.round((rng.normal() + 0.5) * 3) / 3);
    assert.ok(Math.abs(auroc(x, y) - bruteAuroc(x, y)) < 1e-12, `trial ${trial}`);
    assert.ok(Math.abs(aupr(x, y) - bruteAp(x, y)) < 1e-12, `trial ${trial} aupr`);
  }
});

Deno.test("AUPR (average precision) on hand examples", () => {
  // sorted high→low: 0.8 (out) P=1 R=½; 0.4 (in); 0.35 (out) P=⅔ R=1  →  AP = ½·1 + ½·⅔ = 5/6
  assert.ok(Math.abs(aupr([0.1, 0.4], [0.35, 0.8]) - 5 / 6) < 1e-12);
  assert.equal(aupr([0.1, 0.2], [0.3, 0.4]), 1);
  // all scores tied: one threshold, P = 2/5, R = 1
  assert.ok(Math.abs(aupr([1, 1, 1], [1, 1]) - 2 / 5) < 1e-12);
  // out-of-distribution ranked last: P at the recall steps is 1/3 and 2/4
  assert.ok(Math.abs(aupr([3, 4], [1, 2]) - (0.5 * (1 / 3) + 0.5 * (2 / 4))) < 1e-12);
  const r = oodDetection([0.1, 0.4], [0.35, 0.8]);
  assert.equal(r.auroc, 0.75);
  assert.ok(Math.abs(r.aupr - 5 / 6) < 1e-12);
});

Deno.test("OOD scores: bad input is a clear error", () => {
  assert.throws(() => auroc([], [1]), /in-distribution scores: need at least one score/);
  assert.throws(() => aupr([1], [NaN]), /out-of-distribution scores\[0\] is NaN/);
});

Deno.test("OOD scores: typed arrays, 1e5 examples quickly", () => {
  const rng = new Rng(9);
  const a = rng.normalArray(100_000);
  const b = rng.normalArray(100_000, 1, 1);
  const t0 = performance.now();
  const r = oodDetection(a, b);
  const ms = performance.now() - t0;
  // AUROC of N(0,1) vs N(1,1) = Φ(1/√2) ≈ 0.7602
  assert.ok(Math.abs(r.auroc - 0.7602) < 0.005, `${r.auroc}`);
  assert.ok(r.aupr > 0.5 && r.aupr < 1);
  assert.ok(ms < 2000, `${ms} ms`);
});
