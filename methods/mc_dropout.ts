/**
 * MC dropout (Gal & Ghahramani 2016): dropout on hidden activations during
 * training and kept on at prediction; each forward pass is a sample from an
 * approximate posterior, weight decay plays the role of the prior.
 *
 * @module
 */
import type { NetSpec } from "../core/method.ts";
import type { LrScheduleName, OptimizerName } from "../core/optim.ts";
import { buildPointNet, type PointNet } from "../core/point_net.ts";
import { stripUndefined } from "../core/settings.ts";

/** The shared types this module's API refers to. */
export type * from "../core/public_types.ts";

/** Settings of {@linkcode buildMcDropout}. */
export interface McDropoutSettings {
  /** Dropout rate on hidden activations (default 0.5). */
  dropout?: number;
  /** Learning rate (default 1e-3, summed minibatch NLL). */
  lr?: number;
  /** Weight decay (default 0). */
  weightDecay?: number;
  /** Update rule (default `momentum`). */
  optimizer?: OptimizerName;
  /** Momentum (default 0.5). */
  momentum?: number;
  /** Learning-rate schedule over the run (default `constant`, the reference's; or `cosine`). */
  lrSchedule?: LrScheduleName;
}

/** An MC dropout method: a point network whose predictions sample dropout masks. */
export type McDropoutMethod = PointNet;

/** Default MC dropout settings. */
export const MC_DROPOUT_DEFAULTS: Required<McDropoutSettings> = {
  dropout: 0.5,
  lr: 1e-3,
  weightDecay: 0,
  optimizer: "momentum",
  momentum: 0.5,
  lrSchedule: "constant",
};

/**
 * Builds an MC dropout method; `predict` draws `samples` dropout masks
 * (default 100).
 *
 * @example
 * ```ts
 * import { buildMcDropout } from "@bayes/nn/methods/mc_dropout";
 * const m = buildMcDropout({ inputDim: 1, hidden: [200], outputDim: 1, task: "regression" }, {
 *   dropout: 0.1,
 * });
 * m.init(0);
 * ```
 */
export function buildMcDropout(spec: NetSpec, settings: McDropoutSettings = {}): McDropoutMethod {
  const s = { ...MC_DROPOUT_DEFAULTS, ...stripUndefined(settings) };
  if (!(s.dropout > 0 && s.dropout < 1)) {
    throw new RangeError(`MC dropout needs a dropout rate in (0, 1), found ${s.dropout}`);
  }
  return buildPointNet("mc_dropout", spec, { ...s, mcPredict: true });
}
