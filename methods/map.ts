/**
 * MAP: a point estimate of the weights (maximum a posteriori with a Gaussian
 * prior expressed as weight decay), the baseline every Bayesian method is
 * compared with.
 *
 * @module
 */
import type { NetSpec } from "../core/method.ts";
import type { LrScheduleName, OptimizerName } from "../core/optim.ts";
import { buildPointNet, type PointNet } from "../core/point_net.ts";
import { stripUndefined } from "../core/settings.ts";

/** The shared types this module's API refers to. */
export type * from "../core/public_types.ts";

/** Settings of {@linkcode buildMap}. */
export interface MapSettings {
  /** Learning rate (default 1e-3; the loss is the summed minibatch NLL, as the reference). */
  lr?: number;
  /** Weight decay (default 0): adds `weightDecay/2·‖θ‖²` to the loss. */
  weightDecay?: number;
  /** Update rule (default `momentum`). */
  optimizer?: OptimizerName;
  /** Momentum (default 0.5, the reference's). */
  momentum?: number;
  /** Learning-rate schedule over the run (default `constant`, the reference's; or `cosine`). */
  lrSchedule?: LrScheduleName;
}

/** A MAP method: also exposes its layers for the weight studies. */
export type MapMethod = PointNet;

/** Default MAP settings. */
export const MAP_DEFAULTS: Required<MapSettings> = {
  lr: 1e-3,
  weightDecay: 0,
  optimizer: "momentum",
  momentum: 0.5,
  lrSchedule: "constant",
};

/**
 * Builds a MAP method.
 *
 * @example
 * ```ts
 * import { buildMap } from "@bayes/nn/methods/map";
 * const map = buildMap({ inputDim: 784, hidden: [1200, 1200], outputDim: 10, task: "classification" },
 *   { weightDecay: 1e-4 });
 * map.init(0);
 * ```
 */
export function buildMap(spec: NetSpec, settings: MapSettings = {}): MapMethod {
  const s = { ...MAP_DEFAULTS, ...stripUndefined(settings) };
  return buildPointNet("map", spec, { ...s, dropout: 0, mcPredict: false });
}
