/**
 * The Kronecker factors of the block-diagonal Gauss–Newton curvature
 * (Ritter et al. 2018; Botev et al. 2017), accumulated in one pass over the
 * data at the MAP weights, on the backend's device.
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
 * product. Every product is a tfjs `matMul` on the device (on the CPU: BLAS,
 * the Gram matrices `AᵀA` as `ssyrk`); only the finished factors, and per
 * pass a few numbers, are read back (asynchronously).
 *
 * `ggnTol` drops, per group of examples (a minibatch of `batchSize`), the
 * columns of `R` with the smallest squared norms as long as their total is
 * at most `ggnTol` of the group's `tr Λ` (for a confident softmax most
 * columns are ≈ 0): `H` is then a lower bound of the exact one, missing at
 * most that share of its mass in output space. `ggnTol = 0` is exact (only
 * columns of zero norm are dropped). On the device the columns of each group
 * are sorted by norm (`topk`), the dropped tail found by a reverse `cumsum`,
 * and the kept columns gathered once their count is read — one small read
 * per pass of several groups (`rowsPerPass` examples).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ArrayDataset } from "../../core/data.ts";
import { getEngine } from "../../core/engine/current.ts";
import { nllSum } from "../../core/likelihood.ts";
import { symmetrizeUpper } from "../../core/linalg.ts";
import type { NetSpec } from "../../core/method.ts";
import type { LayerTensors } from "../../core/mlp.ts";
import { Progress } from "../../core/progress.ts";
import { type AugLayer, layerTensors, tidyObject } from "./host_net.ts";

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
  /** Examples per truncation group when `groups` is not given (default 256). */
  batchSize?: number;
  /** Share of `tr Λ` per group that may be dropped (default 0: exact). */
  ggnTol?: number;
  /** Only the last layer (features fixed). */
  lastLayer?: boolean;
  /** Show a progress line (default: when stderr is a terminal). */
  progress?: boolean;
  /** Global log σ of homoscedastic regression (a number or a one-element tensor). */
  logNoise?: number | tf.Tensor;
  /**
   * Rows of the data set in each truncation group, in order (default:
   * consecutive batches of `batchSize` in stored order). Every row once.
   */
  groups?: readonly Int32Array[];
  /** Examples per device pass (whole groups; default the engine's `predictRows`). */
  rowsPerPass?: number;
  /** Kept columns back-propagated together (default: `2^22` values of the widest layer). */
  backRows?: number;
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

/** One list of host batches as a data set whose groups are the batches. */
function joinBatches(list: readonly HostBatch[]): { ds: ArrayDataset; groups: Int32Array[] } {
  const used = list.filter((b) => b.n > 0);
  const n = used.reduce((a, b) => a + b.n, 0);
  if (n === 0) throw new RangeError("curvature: the data set is empty");
  const d = used[0].x.length / used[0].n;
  const x = new Float32Array(n * d);
  const y = used[0].y instanceof Int32Array ? new Int32Array(n) : new Float32Array(n);
  const groups: Int32Array[] = [];
  let o = 0;
  for (const b of used) {
    if (b.x.length !== b.n * d || b.y.length !== b.n) {
      throw new RangeError(
        `curvature: a batch of ${b.n} examples has ${b.x.length} inputs and ${b.y.length} targets`,
      );
    }
    x.set(b.x, o * d);
    y.set(b.y as ArrayLike<number>, o);
    groups.push(Int32Array.from({ length: b.n }, (_, i) => o + i));
    o += b.n;
  }
  return { ds: { x, y, n, xShape: [d], yShape: [] }, groups };
}

/** Consecutive groups of one size, at most `rows` examples (at least one group) per pass. */
function planPasses(groups: readonly Int32Array[], rows: number): Int32Array[][] {
  const passes: Int32Array[][] = [];
  let cur: Int32Array[] = [];
  for (const g of groups) {
    if (g.length === 0) continue;
    const size = cur.length ? cur[0].length : g.length;
    if (cur.length && (g.length !== size || (cur.length + 1) * size > rows)) {
      passes.push(cur);
      cur = [];
    }
    cur.push(g);
  }
  if (cur.length) passes.push(cur);
  return passes;
}

/**
 * The factor accumulators of one layer, on the device: `Q` as the Gram
 * matrix of the plain inputs and their column sums (the ones column of `ã`
 * is added on the host), and `H`.
 */
interface Acc {
  g: tf.Tensor | null;
  s: tf.Tensor | null;
  h: tf.Tensor | null;
}

function accumulate(acc: Acc, key: "g" | "s" | "h", add: tf.Tensor): void {
  const prev = acc[key];
  if (!prev) {
    acc[key] = add;
    return;
  }
  acc[key] = tf.add(prev, add);
  prev.dispose();
  add.dispose();
}

/** What the first half of a pass leaves for the second. */
interface PassState {
  /** Input Gram matrices `aᵀa` per Laplace layer. */
  grams: tf.Tensor[];
  /** Input column sums per Laplace layer. */
  sums: tf.Tensor[];
  /** ReLU patterns (1 where live, else 0) of the inputs of the Laplace layers after the first, `[B, in]`. */
  acts: tf.Tensor[];
  /** Square-root columns as rows, `[B·k, k]`. */
  roots: tf.Tensor;
  /** Per group, the rows of `roots` by decreasing norm, flat `[G·M]` (int32). */
  order: tf.Tensor;
  /** `[kept per group…, nll, dropped mass, total mass]`. */
  summary: tf.Tensor;
}

/**
 * Accumulates the Kronecker factors of every layer (or only the last) over
 * `data` at the weights `layers` (device tensors, or augmented host layers
 * that are uploaded for the pass).
 *
 * @example
 * ```ts
 * import { kronFactors } from "./curvature.ts";
 * import { augment } from "./host_net.ts";
 * const spec = { inputDim: 2, hidden: [], outputDim: 2, task: "classification" as const };
 * const layer = augment(new Float32Array(4), new Float32Array(2), 2, 2);
 * const f = await kronFactors(spec, [layer], [{ x: new Float32Array([1, 2]), y: new Int32Array([0]), n: 1 }]);
 * f.layers[0].h; // diag(p) − ppᵀ at p = (½, ½): [0.25, -0.25, -0.25, 0.25]
 * ```
 */
export async function kronFactors(
  spec: NetSpec,
  layers: readonly AugLayer[] | LayerTensors,
  data: ArrayDataset | readonly HostBatch[],
  opts: CurvatureOptions = {},
): Promise<KronFactors> {
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
  const { ds, groups } = Array.isArray(data)
    ? joinBatches(data as readonly HostBatch[])
    : datasetGroups(data as ArrayDataset, opts.groups, batchSize);
  const engine = getEngine();
  const rowsPerPass = opts.rowsPerPass ?? engine.predictRows;
  const uploaded = Array.isArray(layers) ? layerTensors(layers as readonly AugLayer[]) : null;
  const net = uploaded ?? (layers as LayerTensors);
  const L = net.w.length;
  const first = opts.lastLayer ? L - 1 : 0;
  const k = net.w[L - 1].shape[1];
  const d = ds.x.length / ds.n;
  const xs = engine.rows(ds.x, d);
  const ys = engine.rows(ds.y, ds.y.length / ds.n);
  const logNoise = typeof opts.logNoise === "number" ? tf.scalar(opts.logNoise) : opts.logNoise;
  const eye = tf.eye(k);
  const accs: Acc[] = Array.from({ length: L - first }, () => ({ g: null, s: null, h: null }));
  const passes = planPasses(groups, rowsPerPass);
  const progress = new Progress({
    label: "curvature",
    total: groups.length,
    enabled: opts.progress,
  });
  const stats: GgnStats = { rowsKept: 0, rowsTotal: 0, massDropped: 0, massTotal: 0 };
  let n = 0, nll = 0, done = 0;
  try {
    for (const pass of passes) {
      const G = pass.length, m = pass[0].length, B = G * m, M = m * k;
      const idx = new Int32Array(B);
      pass.forEach((g, i) => idx.set(g, i * m));
      const x = xs.gather(idx) as tf.Tensor2D;
      const yRaw = ys.gather(idx);
      const y = spec.task === "regression" ? yRaw.reshape([B, -1]) : yRaw;
      let st: PassState;
      try {
        st = tidyObject(() => forwardPass(spec, net, x, y, first, eye, logNoise, G, M, tol));
      } finally {
        tf.dispose([x, yRaw, y]);
      }
      try {
        st.grams.forEach((g, i) => accumulate(accs[i], "g", g));
        st.sums.forEach((v, i) => accumulate(accs[i], "s", v));
        const summary = await engine.read(st.summary);
        const positions: number[] = [];
        for (let g = 0; g < G; g++) {
          for (let j = 0; j < summary[g]; j++) positions.push(g * M + j);
        }
        nll += summary[G];
        stats.massDropped += summary[G + 1];
        stats.massTotal += summary[G + 2];
        stats.rowsKept += positions.length;
        stats.rowsTotal += B * k;
        if (positions.length) {
          const grams = backPass(net, st, Int32Array.from(positions), first, k, opts.backRows);
          grams.forEach((g, i) => accumulate(accs[i], "h", g));
        }
      } finally {
        tf.dispose([st.roots, st.order, st.summary, ...st.acts]);
      }
      n += B;
      done += G;
      progress.update(done, { examples: n });
    }
    progress.done();
    if (n === 0) throw new RangeError("curvature: the data set is empty");
    const factors: KronLayerFactors[] = [];
    for (let l = first; l < L; l++) {
      const acc = accs[l - first];
      const inDim = net.w[l].shape[0], outDim = net.w[l].shape[1];
      const g = await engine.read(acc.g!), sum = await engine.read(acc.s!);
      const r = inDim + 1;
      const q = new Float32Array(r * r);
      for (let i = 0; i < inDim; i++) {
        q.set(g.subarray(i * inDim, (i + 1) * inDim), i * r);
        q[i * r + inDim] = sum[i];
      }
      q.set(sum, inDim * r);
      q[r * r - 1] = n;
      const h = acc.h ? await engine.read(acc.h) : new Float32Array(outDim ** 2);
      for (const [mat, dim] of [[q, r], [h, outDim]] as const) {
        symmetrizeUpper(mat, dim);
        for (let i = 0; i < mat.length; i++) mat[i] /= n;
      }
      factors.push({ layer: l, inDim, outDim, q, h });
    }
    return {
      layers: factors,
      n,
      trainNll: nll,
      ggn: stats,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    for (const a of accs) tf.dispose([a.g, a.s, a.h].filter((t): t is tf.Tensor => t !== null));
    xs.dispose();
    ys.dispose();
    eye.dispose();
    if (typeof opts.logNoise === "number") logNoise?.dispose();
    if (uploaded) tf.dispose([...uploaded.w, ...uploaded.b]);
  }
}

/** The data set and its truncation groups (given, or consecutive batches). */
function datasetGroups(
  ds: ArrayDataset,
  groups: readonly Int32Array[] | undefined,
  batchSize: number,
): { ds: ArrayDataset; groups: Int32Array[] } {
  if (ds.n < 1) throw new RangeError("curvature: the data set is empty");
  if (!groups) {
    const out: Int32Array[] = [];
    for (let s = 0; s < ds.n; s += batchSize) {
      out.push(Int32Array.from({ length: Math.min(batchSize, ds.n - s) }, (_, i) => s + i));
    }
    return { ds, groups: out };
  }
  for (const g of groups) {
    for (const r of g) {
      if (!(r >= 0 && r < ds.n)) {
        throw new RangeError(`curvature: group row ${r} is outside the data set (${ds.n} rows)`);
      }
    }
  }
  return { ds, groups: [...groups] };
}

/**
 * Forward pass of `G` groups of `M / k` examples: the augmented-input Gram
 * matrices, the square roots of `Λ`, their truncation, and the NLL.
 */
function forwardPass(
  spec: NetSpec,
  net: LayerTensors,
  x: tf.Tensor2D,
  y: tf.Tensor,
  first: number,
  eye: tf.Tensor,
  logNoise: tf.Tensor | undefined,
  G: number,
  M: number,
  tol: number,
): PassState {
  const L = net.w.length;
  const B = x.shape[0];
  const k = net.w[L - 1].shape[1];
  const grams: tf.Tensor[] = [];
  const sums: tf.Tensor[] = [];
  const acts: tf.Tensor[] = [];
  let a: tf.Tensor2D = x;
  const ones = tf.ones([1, B]);
  for (let l = 0; l < L; l++) {
    if (l >= first) {
      grams.push(tf.matMul(a, a, true, false));
      sums.push(tf.matMul(ones, a).reshape([-1])); // column sums as a product (no transpose)
      if (l > first) acts.push(tf.step(a)); // a ≥ 0 after the ReLU: 1 where live
    }
    a = tf.fused.matMul({
      a,
      b: net.w[l],
      bias: net.b[l],
      activation: l === L - 1 ? "linear" : "relu",
    }) as tf.Tensor2D;
  }
  const f = a;
  const nll = nllSum(spec, f, y, logNoise);
  let roots: tf.Tensor;
  if (spec.task === "classification") {
    const p = tf.softmax(f);
    roots = tf.mul(
      tf.sqrt(p).reshape([B, k, 1]),
      tf.sub(eye.reshape([1, k, k]), p.reshape([B, 1, k])),
    );
  } else if (k === 2) {
    const inv = tf.exp(tf.neg(tf.slice(f, [0, 1], [B, 1])));
    const diag = tf.concat([inv, tf.fill([B, 1], Math.SQRT2)], 1);
    roots = tf.mul(diag.reshape([B, 2, 1]), eye.reshape([1, 2, 2]));
  } else {
    roots = tf.mul(tf.ones([B, 1, 1]), tf.exp(tf.neg(logNoise!)));
  }
  const mass = tf.sum(tf.square(roots), 2).reshape([G, M]);
  const total = tf.sum(mass, 1);
  const { values, indices } = tf.topk(mass, M, true);
  // Dropped: the tail (smallest norms) whose summed mass stays within the budget. The budget is
  // shaved by 1e-6 so that float rounding never lets the dropped share exceed `tol`.
  const tail = tf.cumsum(values, 1, false, true);
  const drop = tf.lessEqual(tail, tf.mul(total, tol * (1 - 1e-6)).reshape([G, 1]));
  const kept = tf.sum(tf.cast(tf.logicalNot(drop), "float32"), 1);
  const dropped = tf.max(tf.mul(tail, tf.cast(drop, "float32")), 1);
  const order = tf.add(indices, tf.range(0, G * M, M, "int32").reshape([G, 1])).reshape([G * M]);
  const summary = tf.concat([kept, tf.stack([nll, tf.sum(dropped), tf.sum(total)])]);
  return { grams, sums, acts, roots: roots.reshape([B * k, k]), order, summary };
}

/** Values of one back-propagated block of columns (`[rows, width]`): `2^22` (16 MiB). */
const BACK_VALUES = 2 ** 22;

/**
 * Back-propagates the kept square-root columns (`positions` into the
 * pass's order) and returns `ΔᵀΔ` per Laplace layer. The columns go in
 * blocks of at most {@linkcode BACK_VALUES} values per `Δ`, each step
 * freeing the previous `Δ` at once: the pass's largest tensors stay small
 * whatever the truncation keeps.
 */
function backPass(
  net: LayerTensors,
  st: PassState,
  positions: Int32Array,
  first: number,
  k: number,
  rows?: number,
): tf.Tensor[] {
  const L = net.w.length;
  const width = Math.max(k, ...net.w.slice(first + 1).map((w) => w.shape[0]));
  const block = Math.max(1, rows ?? Math.floor(BACK_VALUES / width));
  const grams: (tf.Tensor | null)[] = new Array(L - first).fill(null);
  const add = (i: number, g: tf.Tensor) => {
    const prev = grams[i];
    grams[i] = prev ? tf.add(prev, g) : g;
    if (prev) tf.dispose([prev, g]);
  };
  try {
    for (let start = 0; start < positions.length; start += block) {
      const part = positions.subarray(start, Math.min(positions.length, start + block));
      const { example, roots } = tidyObject(() => {
        const sel = tf.gather(st.order, tf.tensor1d(part, "int32"));
        return {
          example: tf.floorDiv(sel, tf.scalar(k, "int32")),
          roots: tf.gather(st.roots, sel),
        };
      });
      let delta = roots;
      try {
        for (let l = L - 1; l >= first; l--) {
          add(l - first, tf.matMul(delta, delta, true, false));
          if (l === first) break;
          // Back through W_l (without the bias row) and the ReLU of layer l − 1.
          const prev = delta;
          delta = tf.tidy(() =>
            tf.mul(
              tf.matMul(prev, net.w[l], false, true),
              tf.gather(st.acts[l - first - 1], example),
            )
          );
          prev.dispose();
        }
      } finally {
        tf.dispose([delta, example]);
      }
    }
  } catch (e) {
    tf.dispose(grams.filter((g): g is tf.Tensor => g !== null));
    throw e;
  }
  return grams as tf.Tensor[];
}
