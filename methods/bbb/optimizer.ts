/**
 * Update rules applied in place to host `Float32Array` parameters (μ, ρ of
 * millions of weights): one pass per parameter group instead of the dozen
 * tensor ops per variable a tfjs optimizer runs. Same formulas as PyTorch's
 * `SGD` (optionally with momentum) and `Adam`.
 *
 * @module
 */
import type { HostTensor } from "../../core/safetensors.ts";

/** Update rules. */
export type HostOptimizerName = "sgd" | "momentum" | "adam";

/** The update-rule names, for validation and help texts. */
export const HOST_OPTIMIZERS: readonly HostOptimizerName[] = ["sgd", "momentum", "adam"];

/** Settings of {@linkcode HostOptimizer}. */
export interface HostOptimizerSettings {
  /** Update rule. */
  optimizer: HostOptimizerName;
  /** Learning rate (> 0). */
  lr: number;
  /** Momentum coefficient for `momentum` (in [0, 1)). */
  momentum: number;
}

const BETA1 = 0.9, BETA2 = 0.999, ADAM_EPS = 1e-8;

/**
 * SGD, SGD with momentum (`buf = m·buf + g; p −= lr·buf`) or Adam, over named
 * groups of flat parameters.
 *
 * @example
 * ```ts
 * import { HostOptimizer } from "@bayes/nn/methods/bbb";
 * const opt = new HostOptimizer({ optimizer: "adam", lr: 1e-3, momentum: 0 }, { mu: 4 });
 * const p = new Float32Array(4), g = new Float32Array([1, 1, 1, 1]);
 * opt.tick();
 * opt.update("mu", p, g);
 * ```
 */
export class HostOptimizer {
  /** Settings. */
  readonly settings: HostOptimizerSettings;
  /** Steps taken (Adam bias correction). */
  t: number = 0;
  #slots = new Map<string, Float32Array[]>();

  /** Creates the optimizer for groups of the given sizes. */
  constructor(settings: HostOptimizerSettings, groups: Record<string, number>) {
    this.settings = settings;
    const n = settings.optimizer === "adam" ? 2 : settings.optimizer === "momentum" ? 1 : 0;
    for (const [name, size] of Object.entries(groups)) {
      this.#slots.set(name, Array.from({ length: n }, () => new Float32Array(size)));
    }
  }

  /** Starts a step (advances the Adam step count). */
  tick(): void {
    this.t++;
  }

  /**
   * Updates `p[start:end)` of group `group` with gradient `g` (same indices);
   * entries where `keep` is 0 are left untouched.
   */
  update(
    group: string,
    p: Float32Array,
    g: Float32Array,
    start = 0,
    end: number = p.length,
    keep?: Uint8Array,
  ): void {
    const slots = this.#slots.get(group);
    if (!slots) throw new Error(`optimizer: unknown parameter group "${group}"`);
    if (keep === undefined) {
      this.#run(slots, p, g, start, end);
      return;
    }
    // Pruned entries stay fixed: update the kept runs only.
    let i = start;
    while (i < end) {
      while (i < end && keep[i] === 0) i++;
      let j = i;
      while (j < end && keep[j] !== 0) j++;
      if (j > i) this.#run(slots, p, g, i, j);
      i = j;
    }
  }

  #run(slots: Float32Array[], p: Float32Array, g: Float32Array, start: number, end: number) {
    const lr = this.settings.lr;
    switch (this.settings.optimizer) {
      case "sgd":
        for (let i = start; i < end; i++) p[i] -= lr * g[i];
        return;
      case "momentum": {
        const buf = slots[0], m = this.settings.momentum;
        for (let i = start; i < end; i++) {
          const b = m * buf[i] + g[i];
          buf[i] = b;
          p[i] -= lr * b;
        }
        return;
      }
      case "adam": {
        const [m, v] = slots;
        const t = Math.max(this.t, 1);
        const c1 = 1 - Math.pow(BETA1, t);
        const invC2s = 1 / Math.sqrt(1 - Math.pow(BETA2, t));
        const step = lr / c1;
        for (let i = start; i < end; i++) {
          const gi = g[i];
          const mi = BETA1 * m[i] + (1 - BETA1) * gi;
          const vi = BETA2 * v[i] + (1 - BETA2) * gi * gi;
          m[i] = mi;
          v[i] = vi;
          p[i] -= (step * mi) / (Math.sqrt(vi) * invC2s + ADAM_EPS);
        }
        return;
      }
    }
  }

  /** Slots as host tensors `opt/<group>/<slot>`. */
  toHost(): Record<string, HostTensor> {
    const out: Record<string, HostTensor> = {};
    const names = this.settings.optimizer === "adam" ? ["m", "v"] : ["buf"];
    for (const [group, slots] of this.#slots) {
      slots.forEach((s, i) => {
        out[`opt/${group}/${names[i]}`] = { data: s.slice(), shape: [s.length] };
      });
    }
    return out;
  }

  /** Restores slots written by {@linkcode HostOptimizer.toHost} (absent ones stay zero). */
  fromHost(host: Record<string, HostTensor>, source = "state"): void {
    const names = this.settings.optimizer === "adam" ? ["m", "v"] : ["buf"];
    for (const [group, slots] of this.#slots) {
      slots.forEach((s, i) => {
        const key = `opt/${group}/${names[i]}`;
        const h = host[key];
        if (!h) {
          s.fill(0);
          return;
        }
        if (h.data.length !== s.length) {
          throw new Error(`${source}: "${key}" has ${h.data.length} values, expected ${s.length}`);
        }
        s.set(h.data);
      });
    }
  }
}
