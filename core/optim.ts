/**
 * Update rules (SGD, SGD with momentum, Adam, RMSprop) as kernel text, so a
 * method fuses its gradient assembly and the update into one pass over the
 * parameters, and their per-parameter state ({@linkcode OptimizerState}).
 * Same formulas as PyTorch's `SGD` (`buf = m·buf + g; p −= lr·buf`), `Adam`
 * (ε = 1e-8 outside the square root) and `RMSprop` (α = 0.99).
 *
 * @module
 */
import type { Engine, Layout, ParamVec } from "./engine/engine.ts";
import type { HostTensor } from "./safetensors.ts";

/** Update rules. */
export type OptimizerName = "sgd" | "momentum" | "adam" | "rmsprop";

/** The rule names, for validation and help texts. */
export const OPTIMIZERS: readonly OptimizerName[] = ["sgd", "momentum", "adam", "rmsprop"];

/** Settings of an update rule. */
export interface OptimizerSettings {
  /** Which rule. */
  optimizer: OptimizerName;
  /** Learning rate (> 0). */
  lr: number;
  /** Momentum coefficient for `momentum` (default 0.5, the reference's). */
  momentum?: number;
}

/**
 * Learning-rate schedules over a whole run: `constant` keeps `lr`; `cosine`
 * anneals it as `lr·(1 + cos(π·t/T))/2` over the run's T minibatch steps
 * (Loshchilov & Hutter 2017, without restarts), so the last epochs take small
 * steps and the run ends near a minimum instead of bouncing around it.
 */
export type LrScheduleName = "constant" | "cosine";

/** The schedule names, for validation and help texts. */
export const LR_SCHEDULES: readonly LrScheduleName[] = ["constant", "cosine"];

/**
 * The factor multiplying `lr` at zero-based global step `t` of a run of
 * `total` steps.
 *
 * @example
 * ```ts
 * import { lrScheduleFactor } from "./optim.ts";
 * lrScheduleFactor("cosine", 0, 100); // 1
 * lrScheduleFactor("cosine", 50, 100); // 0.5
 * lrScheduleFactor("constant", 99, 100); // 1
 * ```
 */
export function lrScheduleFactor(schedule: LrScheduleName, t: number, total: number): number {
  if (schedule === "constant" || !(total > 0)) return 1;
  return 0.5 * (1 + Math.cos((Math.PI * Math.min(t, total)) / total));
}

const SLOTS: Record<OptimizerName, string[]> = {
  sgd: [],
  momentum: ["buf"],
  adam: ["m", "v"],
  rmsprop: ["v"],
};

/** A rule applied to one parameter, as kernel text. */
export interface UpdateRule {
  /** Statements updating `p` (and its slots). */
  body: string;
  /** In-place slot vectors the body uses, named `<p>_<slot>`. */
  slots: string[];
  /** Scalars the body reads (from {@linkcode OptimizerState.scalars}). */
  scalars: string[];
}

/**
 * The kernel text of rule `name` updating parameter `p` with the gradient
 * expression `g` (any expression of the kernel language).
 *
 * @example
 * ```ts
 * import { updateRule } from "./optim.ts";
 * updateRule("momentum", "p", "g + wd * p").body;
 * // "let p_g = g + wd * p; p_buf = opt_mom * p_buf + p_g; p -= opt_lr * p_buf;"
 * ```
 */
export function updateRule(name: OptimizerName, p: string, g: string): UpdateRule {
  const gg = `${p}_g`;
  const head = `let ${gg} = ${g};`;
  switch (name) {
    case "sgd":
      return { body: `${head} ${p} -= opt_lr * ${gg};`, slots: [], scalars: ["opt_lr"] };
    case "momentum":
      return {
        body: `${head} ${p}_buf = opt_mom * ${p}_buf + ${gg}; ${p} -= opt_lr * ${p}_buf;`,
        slots: [`${p}_buf`],
        scalars: ["opt_lr", "opt_mom"],
      };
    case "adam":
      return {
        body: `${head} ${p}_m = 0.9 * ${p}_m + 0.1 * ${gg}; ` +
          `${p}_v = 0.999 * ${p}_v + 0.001 * ${gg} * ${gg}; ` +
          `${p} -= opt_step * ${p}_m / (sqrt(${p}_v) * opt_ic2 + 1e-8);`,
        slots: [`${p}_m`, `${p}_v`],
        scalars: ["opt_step", "opt_ic2"],
      };
    case "rmsprop":
      return {
        body: `${head} ${p}_v = 0.99 * ${p}_v + 0.01 * ${gg} * ${gg}; ` +
          `${p} -= opt_lr * ${gg} / (sqrt(${p}_v) + 1e-8);`,
        slots: [`${p}_v`],
        scalars: ["opt_lr"],
      };
    default:
      throw new RangeError(
        `optimizer must be one of ${OPTIMIZERS.join(", ")}, found "${name}"`,
      );
  }
}

/** Validates optimizer settings, naming the bad one. */
export function checkOptimizer(s: OptimizerSettings): void {
  if (!OPTIMIZERS.includes(s.optimizer)) {
    throw new RangeError(
      `optimizer must be one of ${OPTIMIZERS.join(", ")}, found "${s.optimizer}"`,
    );
  }
  if (!(s.lr > 0) || !Number.isFinite(s.lr)) {
    throw new RangeError(`lr must be a finite number > 0, found ${s.lr}`);
  }
  const m = s.momentum ?? 0.5;
  if (!(m >= 0 && m < 1)) throw new RangeError(`momentum must be in [0, 1), found ${m}`);
}

/**
 * The per-parameter state of an update rule for named parameter vectors
 * (e.g. `p`, or `mu` and `rho`), and the step count.
 *
 * @example
 * ```ts
 * import { getEngine } from "./engine/current.ts";
 * import { initBackend } from "@bayes/nn";
 * import { Layout } from "./engine/engine.ts";
 * import { OptimizerState } from "./optim.ts";
 * await initBackend({ backend: "wasm", quiet: true });
 * const layout = new Layout([{ name: "w", shape: [3] }]);
 * const opt = new OptimizerState({ optimizer: "adam", lr: 1e-3 }, getEngine(), layout, ["p"]);
 * opt.scalars(); // advances the step count: { opt_step, opt_ic2 }
 * opt.dispose();
 * ```
 */
export class OptimizerState {
  /** Settings. */
  readonly settings: OptimizerSettings;
  /** Slot vectors by name (`<param>_<slot>`). */
  readonly slots: Record<string, ParamVec> = {};
  /** Steps taken. */
  t = 0;
  readonly #layouts: Record<string, Layout> = {};

  /**
   * Zero-initialised slots for the parameter vectors named `params` over
   * `layout`, and for those of `others` over their own layouts.
   */
  constructor(
    settings: OptimizerSettings,
    engine: Engine,
    layout: Layout,
    params: readonly string[],
    others: Record<string, Layout> = {},
  ) {
    checkOptimizer(settings);
    this.settings = settings;
    for (const p of params) this.#layouts[p] = layout;
    Object.assign(this.#layouts, others);
    for (const [p, l] of Object.entries(this.#layouts)) {
      for (const s of SLOTS[settings.optimizer]) this.slots[`${p}_${s}`] = engine.vector(l, 0);
    }
  }

  /** The slots of parameter `p` (kernel arrays named `<p>_<slot>`). */
  slotsOf(p: string): Record<string, ParamVec> {
    return Object.fromEntries(
      SLOTS[this.settings.optimizer].map((s) => [`${p}_${s}`, this.slots[`${p}_${s}`]]),
    );
  }

  /** Advances the step count and returns this step's scalars for the rule's kernel text. */
  scalars(lr: number = this.settings.lr): Record<string, number> {
    this.t++;
    const s = this.settings;
    switch (s.optimizer) {
      case "adam": {
        const c1 = 1 - Math.pow(0.9, this.t), c2 = 1 - Math.pow(0.999, this.t);
        return { opt_step: lr / c1, opt_ic2: 1 / Math.sqrt(c2) };
      }
      case "momentum":
        return { opt_lr: lr, opt_mom: s.momentum ?? 0.5 };
      default:
        return { opt_lr: lr };
    }
  }

  /** Slots as host tensors, `opt/<param>/<slot>` (flat), and the step count. */
  async toHost(): Promise<Record<string, HostTensor>> {
    const out: Record<string, HostTensor> = {};
    for (const [name, v] of Object.entries(this.slots)) {
      const cut = name.lastIndexOf("_");
      out[`opt/${name.slice(0, cut)}/${name.slice(cut + 1)}`] = {
        data: await v.toHost(),
        shape: [v.layout.total],
      };
    }
    out["opt/step"] = { data: Float32Array.of(this.t), shape: [] };
    return out;
  }

  /** Restores {@linkcode OptimizerState.toHost}; names what is missing or of the wrong size. */
  fromHost(host: Record<string, HostTensor>, engine: Engine, source: string): void {
    for (const [name, v] of Object.entries(this.slots)) {
      const cut = name.lastIndexOf("_");
      const key = `opt/${name.slice(0, cut)}/${name.slice(cut + 1)}`;
      const h = host[key];
      if (!h) {
        throw new Error(
          `${source}: missing optimizer tensor "${key}" (was it saved with another optimizer ` +
            `than "${this.settings.optimizer}"?)`,
        );
      }
      if (h.data.length !== v.layout.total) {
        throw new Error(
          `${source}: optimizer tensor "${key}" has ${h.data.length} values, expected ${v.layout.total}`,
        );
      }
      const layout = v.layout;
      v.dispose();
      this.slots[name] = engine.vector(layout, h.data);
    }
    this.t = host["opt/step"] ? Math.round(host["opt/step"].data[0]) : 0;
  }

  /** The parameters this state is for. */
  get params(): readonly string[] {
    return Object.keys(this.#layouts);
  }

  /** Frees the slots. */
  dispose(): void {
    for (const v of Object.values(this.slots)) v.dispose();
  }
}
