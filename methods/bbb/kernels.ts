/**
 * The per-parameter loops of a Bayes-by-Backprop step, as module-level
 * functions taking every array and constant as an argument: V8 keeps them in
 * registers, where loads from a closure's context can cost 2–3× in these
 * memory-bound loops.
 *
 * @module
 */

/**
 * `out[j] = mu[o + j] + sigma[o + j]·eps[o + j]` for `j` in `[c, ce)` (or
 * `sigma·eps` alone with `deltaOnly`); returns Σ eps².
 *
 * @example
 * ```ts
 * import { writeWeightSample } from "@bayes/nn/methods/bbb";
 * const out = new Float32Array(2);
 * writeWeightSample(out, Float32Array.of(1, 2), Float32Array.of(0.5, 0.5), Float32Array.of(1, -1), 0, 0, 2, false);
 * // out = [1.5, 1.5], returns 2
 * ```
 */
export function writeWeightSample(
  out: Float32Array,
  mu: Float32Array,
  sigma: Float32Array,
  eps: Float32Array,
  o: number,
  c: number,
  ce: number,
  deltaOnly: boolean,
): number {
  let sq = 0;
  if (deltaOnly) {
    for (let j = c; j < ce; j++) {
      const e = eps[o + j];
      sq += e * e;
      out[j] = sigma[o + j] * e;
    }
  } else {
    for (let j = c; j < ce; j++) {
      const e = eps[o + j];
      sq += e * e;
      out[j] = mu[o + j] + sigma[o + j] * e;
    }
  }
  return sq;
}

/**
 * Adds (or, with `first`, writes) `factor·g[j]` into `gMu[o + j]` and
 * `factor·g[j]·eps[o + j]` into `gSig[o + j]`, for `j` in `[0, n)`.
 *
 * @example
 * ```ts
 * import { accumulateGradient } from "@bayes/nn/methods/bbb";
 * const gMu = new Float32Array(2), gSig = new Float32Array(2);
 * accumulateGradient(gMu, gSig, Float32Array.of(2, 3), Float32Array.of(1, 1), 0, 2, true, 1);
 * ```
 */
export function accumulateGradient(
  gMu: Float32Array,
  gSig: Float32Array,
  eps: Float32Array,
  g: Float32Array,
  o: number,
  n: number,
  first: boolean,
  factor: number,
): void {
  if (first) {
    for (let j = 0; j < n; j++) {
      const gj = factor * g[j];
      gMu[o + j] = gj;
      gSig[o + j] = gj * eps[o + j];
    }
  } else {
    for (let j = 0; j < n; j++) {
      const gj = factor * g[j];
      gMu[o + j] += gj;
      gSig[o + j] += gj * eps[o + j];
    }
  }
}

/**
 * Turns accumulated sample sums into the negative-ELBO gradient on
 * `[start, end)`: `gMu ← gMu·inv + ∂KL/∂μ·klScale`, `gSig ← (gSig·inv +
 * ∂KL/∂σ·klScale)·dσ/dρ`. With `priorVar > 0` the KL is the closed form
 * against N(0, priorVar); with `priorVar = 0` only the Monte Carlo KL's
 * `−log σ` term is added (its prior part is already in the sums). Adds Σμ²,
 * Σσ², Σσ to `sums[0..2]`.
 *
 * @example
 * ```ts
 * import { assembleGradient } from "@bayes/nn/methods/bbb";
 * const sums = [0, 0, 0];
 * assembleGradient(Float32Array.of(0), Float32Array.of(0.1), Float32Array.of(0.5),
 *   new Float32Array(1), new Float32Array(1), 0, 1, 1, 1, 0.01, sums);
 * ```
 */
export function assembleGradient(
  mu: Float32Array,
  sigma: Float32Array,
  dsig: Float32Array,
  gMu: Float32Array,
  gSig: Float32Array,
  start: number,
  end: number,
  inv: number,
  klScale: number,
  priorVar: number,
  sums: number[],
): void {
  let sumMu2 = 0, sumSig2 = 0, sumSig = 0;
  if (priorVar > 0) {
    const km = klScale / priorVar;
    for (let i = start; i < end; i++) {
      const m = mu[i], sg = sigma[i];
      sumMu2 += m * m;
      sumSig2 += sg * sg;
      sumSig += sg;
      gMu[i] = gMu[i] * inv + km * m;
      gSig[i] = (gSig[i] * inv + klScale * (sg / priorVar - 1 / sg)) * dsig[i];
    }
  } else {
    for (let i = start; i < end; i++) {
      const m = mu[i], sg = sigma[i];
      sumMu2 += m * m;
      sumSig2 += sg * sg;
      sumSig += sg;
      gMu[i] = gMu[i] * inv;
      gSig[i] = (gSig[i] * inv - klScale / sg) * dsig[i];
    }
  }
  sums[0] += sumMu2;
  sums[1] += sumSig2;
  sums[2] += sumSig;
}
