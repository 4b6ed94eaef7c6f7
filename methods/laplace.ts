/**
 * KFAC Laplace around an already trained MAP network, in one call.
 *
 * @module
 */
import type { ArrayDataset } from "../core/data.ts";
import type { Method } from "../core/method.ts";
import { stripUndefined } from "../core/settings.ts";
import {
  buildKfacLaplace,
  type KfacLaplaceMethod,
  type KfacLaplaceSettings,
  type KfacTuneOptions,
} from "./kfac_laplace.ts";

/** Options of {@linkcode laplaceFromMap}. */
export interface LaplaceFromMapOptions {
  /** Show a progress line for the curvature pass. */
  progress?: boolean;
  /**
   * Choose `τ` (and `N`) after the curvature pass, e.g.
   * `{ method: "val", valid }` (held-out log-likelihood) or
   * `{ method: "marglik" }` (the same as the setting `tune: "marglik"`).
   */
  tune?: KfacTuneOptions;
}

/**
 * Fits a Kronecker-factored Laplace posterior around a trained MAP network
 * (`buildMap`, or a `map` model from `load`): copies its weights (the MAP
 * itself is not changed), runs one curvature pass over `train` at those
 * weights, optionally tunes the prior, and returns the ready
 * {@linkcode KfacLaplaceMethod} (predict, save and `load` as any method).
 *
 * The MAP's optimizer settings are kept (they only matter if the result is
 * trained further); `settings` choose the posterior: `priorPrecision`,
 * `dataScale`, `predictive`, `lastLayer`, `samples`, `tune`, …
 *
 * @example
 * ```ts
 * import { fit, initBackend, laplaceFromMap, predictSummary, Rng } from "@bayes/nn";
 * import { buildMap } from "@bayes/nn/methods/map";
 * await initBackend({ backend: "wasm", quiet: true });
 * const rng = new Rng(0);
 * const n = 90, x = new Float32Array(2 * n), y = new Int32Array(n);
 * for (let i = 0; i < n; i++) {
 *   y[i] = i % 3;
 *   x[2 * i] = y[i] + 0.3 * rng.normal();
 *   x[2 * i + 1] = -y[i] + 0.3 * rng.normal();
 * }
 * const train = { x, y, n, xShape: [2], yShape: [], numClasses: 3 };
 * const map = buildMap({ inputDim: 2, hidden: [16], outputDim: 3, task: "classification" }, {
 *   optimizer: "adam",
 *   lr: 1e-2,
 *   weightDecay: 1e-2,
 * });
 * await fit(map, train, { epochs: 5, batchSize: 30, seed: 0, progress: false });
 * const laplace = await laplaceFromMap(map, train, { tune: "marglik", samples: 20 });
 * const s = await predictSummary(laplace, [[0, 0], [1, -1]]);
 * if (s.task === "classification") console.log(s.total, s.aleatoric, s.epistemic); // nats
 * ```
 */
export async function laplaceFromMap(
  map: Method,
  train: ArrayDataset,
  settings: KfacLaplaceSettings = {},
  opts: LaplaceFromMapOptions = {},
): Promise<KfacLaplaceMethod> {
  if (map.name !== "map") {
    throw new TypeError(
      `laplaceFromMap needs a trained MAP network (buildMap, or a "map" model from load), ` +
        `found a "${map.name}" method`,
    );
  }
  const ms = map.settings as Record<string, unknown>;
  if (settings.optimizer !== undefined && settings.optimizer !== ms.optimizer) {
    throw new RangeError(
      `laplaceFromMap: the MAP network was trained with optimizer "${ms.optimizer}"; ` +
        `its optimizer state does not fit "${settings.optimizer}" (leave optimizer unset)`,
    );
  }
  const laplace = buildKfacLaplace(map.spec, {
    lr: ms.lr as number,
    weightDecay: ms.weightDecay as number,
    optimizer: ms.optimizer as KfacLaplaceSettings["optimizer"],
    momentum: ms.momentum as number,
    ...stripUndefined(settings),
  });
  laplace.init(0);
  try {
    const st = await map.getState();
    await laplace.setState({ tensors: st.tensors, extra: { map: st.extra } });
    await laplace.fitCurvature(train, { progress: opts.progress ?? false });
    if (opts.tune) await laplace.tune({ progress: opts.progress ?? false, ...opts.tune });
  } catch (e) {
    laplace.dispose();
    throw e;
  }
  return laplace;
}
