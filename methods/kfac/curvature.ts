/**
 * The Kronecker factors of the block-diagonal Gauss–Newton curvature
 * (Ritter et al. 2018; Botev et al. 2017), accumulated in one pass over the
 * data at the MAP weights.
 *
 * For layer `l` with augmented input `ã` (bias folded in: a trailing 1) and
 * pre-activations `s = ã·W̃`, the Gauss–Newton block of the per-example loss
 * is `ã ãᵀ ⊗ G` with `G = Jᵀ Λ J`, `J = ∂f/∂s` and `Λ` the Hessian of the loss
 * with respect to the network outputs `f`. The factors are
 *
 * - `Q = E[ã ãᵀ]` (`(in+1)×(in+1)`), and
 * - `H = E[G]` (`out×out`), the expected pre-activation Gauss–Newton matrix.
 *
 * `G` is computed exactly, by the backward recursion of Botev et al.
 * (`G_l = D_l W_{l+1} G_{l+1} W_{l+1}ᵀ D_l`, `D` the ReLU derivative) carried
 * out on a square root: with `Λ = R Rᵀ` (softmax: `R = diag(√p) − p√pᵀ`,
 * Gaussian: `diag(1/σ)` and, for a learnt log σ head, `√2`), the columns of
 * `R` are back-propagated like gradients and `E[G]` is their summed outer
 * product — one BLAS `sgemm` for the backward step and one `ssyrk` per layer
 * and minibatch, instead of a `out×out` matrix per example.
 *
 * `ggnTol` drops, per minibatch, the columns of `R` with the smallest squared
 * norms as long as their total is at most `ggnTol` of the minibatch's
 * `tr Λ` (for a confident softmax most columns are ≈ 0): `H` is then a
 * lower bound of the exact one, missing at most that share of its mass in
 * output space. `ggnTol = 0` is exact.
 *
 * @module
 */
import { batches } from "../../datasets/batches.ts";
import type { ArrayDataset } from "../../datasets/types.ts";
import { sgemm, ssyrk, symmetrizeUpper } from "../../core/linalg.ts";
import type { NetSpec } from "../../core/method.ts";
import { Progress } from "../../core/progress.ts";
import { type AugLayer, hostForward } from "./host_net.ts";

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** The two factors of one layer. */
export interface KronLayerFactors {
  /** Index of the layer in the network (0 = first). */
  layer: number;
  /** Inputs of the layer (the factor `q` is `(inDim + 1)²`). */
  inDim: number;
  /** Outputs of the layer (the factor `h` is `outDim²`). */
  outDim: number;
  /** `E[ã ãᵀ]`, row-major `(inDim+1)×(inDim+1)`, unscaled. */
  q: Float32Array;
  /** `E[Jᵀ Λ J]`, row-major `outDim×outDim`, unscaled. */
  h: Float32Array;
}

/** Statistics of the Gauss–Newton square-root columns. */
export interface GgnStats {
  /** Columns of `R` back-propagated. */
  rowsKept: number;
  /** Columns of `R` in total (examples × outputs). */
  rowsTotal: number;
  /** `Σ tr Λ` of the dropped columns. */
  massDropped: number;
  /** `Σ tr Λ` over all examples. */
  massTotal: number;
}

/** The factors of every Laplace layer and how they were obtained. */
export interface KronFactors {
  /** One entry per Laplace layer, in network order. */
  layers: KronLayerFactors[];
  /** Examples averaged over. */
  n: number;
  /** Summed negative log-likelihood of those examples at the weights used. */
  trainNll: number;
  /** Truncation statistics. */
  ggn: GgnStats;
  /** Wall-clock seconds of the pass. */
  seconds: number;
}

/** Options of {@linkcode kronFactors}. */
export interface CurvatureOptions {
  /** Examples per BLAS batch (default 256). */
  batchSize?: number;
  /** Share of `tr Λ` per batch that may be dropped (default 0: exact). */
  ggnTol?: number;
  /** Only the last layer (features fixed). */
  lastLayer?: boolean;
  /** Show a progress line (default: when stderr is a terminal). */
  progress?: boolean;
  /** Global log σ of homoscedastic regression. */
  logNoise?: number;
}

/** A minibatch of host data. */
export interface HostBatch {
  /** Inputs `[n, inputDim]`. */
  x: Float32Array;
  /** Labels `[n]` or targets `[n]` (standardised). */
  y: Int32Array | Float32Array;
  /** Examples. */
  n: number;
}

/**
 * Per example, the columns `r` of `R` with `Λ = Σ r rᵀ`, written as rows of
 * `out` (`[rows, k]`); returns the number of rows and adds the NLL.
 */
function outputRoots(
  spec: NetSpec,
  f: Float32Array,
  y: Int32Array | Float32Array,
  n: number,
  k: number,
  logNoise: number | undefined,
  rows: Float32Array,
  mass: Float64Array,
  ex: Int32Array,
): { count: number; nll: number } {
  let count = 0, nll = 0;
  if (spec.task === "classification") {
    const p = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      let max = -Infinity;
      for (let c = 0; c < k; c++) max = Math.max(max, f[i * k + c]);
      let z = 0;
      for (let c = 0; c < k; c++) z += p[c] = Math.exp(f[i * k + c] - max);
      let sq = 0;
      for (let c = 0; c < k; c++) sq += (p[c] /= z) * p[c];
      nll -= f[i * k + (y[i] as number)] - max - Math.log(z);
      for (let c = 0; c < k; c++) {
        const s = Math.sqrt(p[c]);
        const o = count * k;
        for (let c2 = 0; c2 < k; c2++) rows[o + c2] = -s * p[c2];
        rows[o + c] += s;
        mass[count] = p[c] * (1 - 2 * p[c] + sq);
        ex[count++] = i;
      }
    }
    return { count, nll };
  }
  for (let i = 0; i < n; i++) {
    const mu = f[i * k];
    const ls = k === 2 ? f[i * k + 1] : logNoise!;
    const inv = Math.exp(-ls);
    const z = ((y[i] as number) - mu) * inv;
    nll += ls + 0.5 * z * z + HALF_LOG_2PI;
    rows.fill(0, count * k, count * k + k);
    rows[count * k] = inv;
    mass[count] = inv * inv;
    ex[count++] = i;
    if (k === 2) {
      rows.fill(0, count * k, count * k + k);
      rows[count * k + 1] = Math.SQRT2;
      mass[count] = 2;
      ex[count++] = i;
    }
  }
  return { count, nll };
}

/** Keeps the rows not dropped by the mass tolerance, compacting in place. */
function truncate(
  rows: Float32Array,
  mass: Float64Array,
  ex: Int32Array,
  count: number,
  k: number,
  tol: number,
): { kept: number; total: number; dropped: number } {
  let total = 0;
  for (let r = 0; r < count; r++) total += mass[r];
  const drop = new Uint8Array(count);
  let dropped = 0;
  if (tol > 0) {
    const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => mass[a] - mass[b]);
    const budget = tol * total;
    for (const r of order) {
      if (dropped + mass[r] > budget) break;
      dropped += mass[r];
      drop[r] = 1;
    }
  } else {
    for (let r = 0; r < count; r++) if (mass[r] === 0) drop[r] = 1;
  }
  let kept = 0;
  for (let r = 0; r < count; r++) {
    if (drop[r]) continue;
    if (kept !== r) {
      rows.copyWithin(kept * k, r * k, r * k + k);
      ex[kept] = ex[r];
    }
    kept++;
  }
  return { kept, total, dropped };
}

/**
 * Accumulates the Kronecker factors of every layer (or only the last) over
 * `data` at the weights `layers`.
 *
 * @example
 * ```ts
 * import { kronFactors } from "./curvature.ts";
 * import { augment } from "./host_net.ts";
 * const spec = { inputDim: 2, hidden: [], outputDim: 2, task: "classification" as const };
 * const layer = augment(new Float32Array(4), new Float32Array(2), 2, 2);
 * const f = kronFactors(spec, [layer], [{ x: new Float32Array([1, 2]), y: new Int32Array([0]), n: 1 }]);
 * f.layers[0].h; // diag(p) − ppᵀ at p = (½, ½): [0.25, -0.25, -0.25, 0.25]
 * ```
 */
export function kronFactors(
  spec: NetSpec,
  layers: AugLayer[],
  data: ArrayDataset | HostBatch[],
  opts: CurvatureOptions = {},
): KronFactors {
  const t0 = performance.now();
  const batchSize = opts.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`curvature batch size must be a positive integer, found ${batchSize}`);
  }
  const tol = opts.ggnTol ?? 0;
  if (!(tol >= 0 && tol < 1)) throw new RangeError(`ggnTol must be in [0, 1), found ${tol}`);
  if (spec.task === "regression" && spec.noise === "homoscedastic" && opts.logNoise === undefined) {
    throw new Error("curvature: homoscedastic regression needs the learnt log σ (logNoise)");
  }
  const L = layers.length;
  const first = opts.lastLayer ? L - 1 : 0;
  const k = layers[L - 1].outDim;
  const factors: KronLayerFactors[] = [];
  for (let l = first; l < L; l++) {
    const { inDim, outDim } = layers[l];
    factors.push({
      layer: l,
      inDim,
      outDim,
      q: new Float32Array((inDim + 1) ** 2),
      h: new Float32Array(outDim ** 2),
    });
  }
  const list: Iterable<HostBatch> = Array.isArray(data)
    ? data
    : batches(data, { batchSize, shuffle: false });
  const nBatches = Array.isArray(data) ? data.length : Math.ceil(data.n / batchSize);
  const progress = new Progress({ label: "curvature", total: nBatches, enabled: opts.progress });
  const stats: GgnStats = { rowsKept: 0, rowsTotal: 0, massDropped: 0, massTotal: 0 };
  let n = 0, nll = 0, done = 0;
  let rows = new Float32Array(0), mass = new Float64Array(0), ex = new Int32Array(0);
  for (const b of list) {
    if (b.n === 0) continue;
    const act = hostForward(layers, b.x, b.n);
    const cap = b.n * k;
    if (rows.length < cap * k) {
      rows = new Float32Array(cap * k);
      mass = new Float64Array(cap);
      ex = new Int32Array(cap);
    }
    const r = outputRoots(spec, act.out, b.y, b.n, k, opts.logNoise, rows, mass, ex);
    nll += r.nll;
    const t = truncate(rows, mass, ex, r.count, k, tol);
    stats.rowsKept += t.kept;
    stats.rowsTotal += r.count;
    stats.massDropped += t.dropped;
    stats.massTotal += t.total;
    let delta = rows.subarray(0, t.kept * k);
    for (let l = L - 1; l >= first; l--) {
      const f = factors[l - first];
      const { inDim, outDim } = layers[l];
      ssyrk(inDim + 1, b.n, 1, act.inputs[l], 1, f.q);
      ssyrk(outDim, t.kept, 1, delta, 1, f.h);
      if (l === first) break;
      // Back through W_l (without the bias row) and the ReLU of layer l − 1.
      const next = new Float32Array(t.kept * inDim);
      if (t.kept > 0) {
        sgemm(
          false,
          true,
          t.kept,
          inDim,
          outDim,
          1,
          delta,
          outDim,
          layers[l].w,
          outDim,
          0,
          next,
          inDim,
        );
      }
      const aIn = act.inputs[l];
      for (let row = 0; row < t.kept; row++) {
        const o = ex[row] * (inDim + 1), ro = row * inDim;
        for (let j = 0; j < inDim; j++) if (!(aIn[o + j] > 0)) next[ro + j] = 0;
      }
      delta = next;
    }
    n += b.n;
    progress.update(++done, { examples: n });
  }
  progress.done();
  if (n === 0) throw new RangeError("curvature: the data set is empty");
  for (const f of factors) {
    for (const [m, d] of [[f.q, f.inDim + 1], [f.h, f.outDim]] as const) {
      symmetrizeUpper(m, d);
      for (let i = 0; i < m.length; i++) m[i] /= n;
    }
  }
  return {
    layers: factors,
    n,
    trainNll: nll,
    ggn: stats,
    seconds: (performance.now() - t0) / 1000,
  };
}
