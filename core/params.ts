/**
 * Named sets of trainable tensors and the state of tfjs optimizers, with
 * conversion to and from host arrays for checkpoints.
 *
 * tfjs variable names are global to the engine, so every set gets a unique
 * prefix; host-side (saved) names are the canonical names without it.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { HostTensor } from "./safetensors.ts";
import { toFloat32 } from "./tensor_io.ts";

let nextId = 0;

/**
 * Assigns host values to a variable without leaking the temporary tensor.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assignHost } from "@bayes/nn";
 * const v = tf.variable(tf.zeros([2]));
 * assignHost(v, new Float32Array([1, 2]));
 * ```
 */
export function assignHost(v: tf.Variable, data: Float32Array): void {
  const t = tf.tensor(data, v.shape, "float32");
  v.assign(t);
  t.dispose();
}

/**
 * Named `tf.Variable`s.
 *
 * @example
 * ```ts
 * import { ParamSet } from "@bayes/nn";
 * const p = new ParamSet({ w: { data: new Float32Array(4), shape: [2, 2] } });
 * p.get("w").shape; // [2, 2]
 * ```
 */
export class ParamSet {
  /** Unique engine-wide prefix of this set's variable names. */
  readonly prefix: string;
  /** Variables by canonical name, in insertion order. */
  readonly vars: Map<string, tf.Variable> = new Map();

  /** Creates variables from host tensors. */
  constructor(host: Record<string, HostTensor>, trainable = true, tag = "p") {
    this.prefix = `${tag}${nextId++}/`;
    for (const [name, t] of Object.entries(host)) {
      // tf.variable / assign keep their own reference: free the temporary.
      const init = tf.tensor(t.data, t.shape, "float32");
      this.vars.set(name, tf.variable(init, trainable, this.prefix + name));
      init.dispose();
    }
  }

  /** The variable with canonical `name`; throws naming the known ones if absent. */
  get(name: string): tf.Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`no parameter "${name}" (have: ${[...this.vars.keys()].join(", ")})`);
    return v;
  }

  /** All variables in insertion order. */
  list(): tf.Variable[] {
    return [...this.vars.values()];
  }

  /** Copies to host arrays, keyed by canonical name (optionally prefixed). */
  toHost(keyPrefix = ""): Record<string, HostTensor> {
    const out: Record<string, HostTensor> = {};
    for (const [name, v] of this.vars) {
      out[keyPrefix + name] = { data: toFloat32(v), shape: v.shape };
    }
    return out;
  }

  /** Assigns values from host arrays (keys `keyPrefix + name`); checks shapes. */
  assign(host: Record<string, HostTensor>, keyPrefix = "", source = "state"): void {
    for (const [name, v] of this.vars) {
      const t = host[keyPrefix + name];
      if (!t) throw new Error(`${source}: missing tensor "${keyPrefix + name}"`);
      if (t.shape.length !== v.shape.length || t.shape.some((d, i) => d !== v.shape[i])) {
        throw new Error(
          `${source}: tensor "${keyPrefix + name}" has shape [${t.shape}], expected [${v.shape}]`,
        );
      }
      assignHost(v, t.data);
    }
  }

  /** Frees all variables. */
  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}

/** Optimizer choices of the gradient-based methods. */
export type OptimizerName = "sgd" | "momentum" | "adam" | "rmsprop";

/** Settings of {@linkcode makeOptimizer}. */
export interface OptimizerSettings {
  /** Which update rule. */
  optimizer: OptimizerName;
  /** Learning rate (> 0). */
  lr: number;
  /** Momentum for `momentum` (default 0.5 as the reference). */
  momentum?: number;
}

/**
 * A tfjs optimizer from settings, validating them.
 *
 * @example
 * ```ts
 * import { makeOptimizer } from "@bayes/nn";
 * const opt = makeOptimizer({ optimizer: "adam", lr: 1e-3 });
 * ```
 */
export function makeOptimizer(s: OptimizerSettings): tf.Optimizer {
  if (!(s.lr > 0)) throw new RangeError(`lr must be > 0, found ${s.lr}`);
  switch (s.optimizer) {
    case "sgd":
      return tf.train.sgd(s.lr);
    case "momentum":
      return tf.train.momentum(s.lr, s.momentum ?? 0.5);
    case "adam":
      return tf.train.adam(s.lr);
    case "rmsprop":
      return tf.train.rmsprop(s.lr, 0.99, 0, 1e-8);
    default:
      throw new RangeError(
        `optimizer must be one of sgd, momentum, adam, rmsprop, found "${s.optimizer}"`,
      );
  }
}

/**
 * Optimizer slots as host tensors under `opt/<index>:<canonical name>`. tfjs
 * optimizers restore slots by position, so the index keeps the order.
 */
export async function optimizerState(
  opt: tf.Optimizer,
  params: ParamSet,
): Promise<Record<string, HostTensor>> {
  const out: Record<string, HostTensor> = {};
  (await opt.getWeights()).forEach(({ name, tensor }, i) => {
    const canon = name.startsWith(params.prefix) ? name.slice(params.prefix.length) : name;
    out[`opt/${String(i).padStart(4, "0")}:${canon}`] = {
      data: toFloat32(tensor),
      shape: tensor.shape,
    };
  });
  return out;
}

/** Restores optimizer slots written by {@linkcode optimizerState}, in their saved order. */
export async function setOptimizerState(
  opt: tf.Optimizer,
  params: ParamSet,
  host: Record<string, HostTensor>,
): Promise<void> {
  const entries = Object.entries(host)
    .filter(([key]) => key.startsWith("opt/"))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const weights: { name: string; tensor: tf.Tensor }[] = entries.map(([key, t]) => {
    const canon = key.slice(key.indexOf(":") + 1);
    const name = canon === "iter" ? canon : params.prefix + canon;
    return { name, tensor: tf.tensor(t.data, t.shape, "float32") };
  });
  if (weights.length) await opt.setWeights(weights);
  // Optimizers copy the values into their own variables.
  for (const w of weights) w.tensor.dispose();
}
