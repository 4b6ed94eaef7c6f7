/**
 * The hyperparameter grids of the UCI study's tuning (`experiments/uci.ts
 * --tune grid`): per method, a few values of the settings that matter most
 * for it, crossed. Two sizes:
 *
 * | method | `small` | `full` adds |
 * | --- | --- | --- |
 * | `map`, `ensemble`, `kfac_laplace` | `weightDecay` {1e-4, 1e-3} × `lr` {1e-3, 3e-3} | epochs {½, 1} × budget |
 * | `mc_dropout` | `dropout` {0.01, 0.1} × `weightDecay` {1e-4, 1e-3} × `lr` {3e-3, 1e-2} | epochs {½, 1} × budget |
 * | `bbb_*` | `priorSigma` {0.3, 1} × `lr` {1e-3, 3e-3} | epochs {½, 1} × budget |
 * | `sghmc` | `lr` {3e-3, 1e-2, 3e-2} × `friction` {0.05, 0.2} | epochs {½, 1} × budget |
 * | `sgld` | `lr` {3e-5, 1e-4} × `priorSig` {0.3, 1} | epochs {½, 1} × budget |
 * | `psgld` | `lr` {1.5e-4, 5e-4} × `priorSig` {0.3, 1} | epochs {½, 1} × budget |
 *
 * so `small` has 4 candidates (SGHMC 6, MC dropout 8) and `full` twice as many.
 * SGHMC's step size 3e-2 extends its axis where the validation rows kept
 * choosing its edge: with {3e-3, 1e-2}, 1e-2 was chosen on 161 of the main
 * UCI table's 165 SGHMC rows (every split of seven of the nine sets). With
 * 3e-2 it still chose the edge on 130, but a trial of {1e-2, 3e-2, 1e-1}
 * was unstable at 1e-1 (90 final fits restarted instead of 5, and 4 naval
 * fits still worse than the targets' mean after three restarts), so the
 * axis stops at 3e-2.
 * MC dropout's learning rate is an axis because its fits underfit at the
 * registry's 1e-3 (concrete and power-plant split 0, validation LL: 1e-3
 * −2.93 / −2.80, 3e-3 −2.89 / −2.79, 1e-2 −2.86 / −2.80). `weightDecay` is the prior
 * precision of the point methods (`weightDecay/2·‖θ‖²` added to the summed
 * minibatch NLL); KFAC Laplace then picks its posterior prior precision by
 * the marginal likelihood after each fit (`tune: "marglik"`), BBB's prior is
 * `priorSigma`, SGHMC resamples its prior precisions (Gibbs), so its grid is
 * over step size and friction. There is no noise-precision axis: every
 * network has the heteroscedastic head (a learnt log σ(x)), which fits the
 * noise itself. Epochs are multiples of the budget's epochs for the set
 * (SG-MCMC `burnIn`/`sampleFreq` scale with them, see `withEpochs`).
 *
 * @module
 */

/**
 * Grid size: `small` (4 candidates per method, SGHMC 6, MC dropout 8) or `full`
 * (`small` × epochs {½, 1}).
 *
 * @example
 * ```ts
 * import type { GridSize } from "./uci_grid.ts";
 * const g: GridSize = "small";
 * ```
 */
export type GridSize = "small" | "full";

/**
 * One point of a grid: the epochs to train and the settings that override
 * the method's regression budget.
 *
 * @example
 * ```ts
 * import type { UciCandidate } from "./uci_grid.ts";
 * const c: UciCandidate = { epochs: 200, settings: { dropout: 0.1, weightDecay: 1e-4 } };
 * ```
 */
export interface UciCandidate {
  /** Training epochs. */
  epochs: number;
  /** Settings overriding the budget's (only the grid's axes). */
  settings: Record<string, number>;
}

/**
 * The `small` grid's axes per method family (`bbb` stands for every
 * `bbb_*` key); `full` adds the epochs factors {@linkcode EPOCH_FACTORS}.
 *
 * @example
 * ```ts
 * import { UCI_GRID_AXES } from "./uci_grid.ts";
 * UCI_GRID_AXES.mc_dropout.dropout; // [0.01, 0.1]
 * ```
 */
export const UCI_GRID_AXES: Readonly<Record<string, Readonly<Record<string, readonly number[]>>>> =
  {
    map: { weightDecay: [1e-4, 1e-3], lr: [1e-3, 3e-3] },
    ensemble: { weightDecay: [1e-4, 1e-3], lr: [1e-3, 3e-3] },
    kfac_laplace: { weightDecay: [1e-4, 1e-3], lr: [1e-3, 3e-3] },
    mc_dropout: { dropout: [0.01, 0.1], weightDecay: [1e-4, 1e-3], lr: [3e-3, 1e-2] },
    bbb: { priorSigma: [0.3, 1], lr: [1e-3, 3e-3] },
    sghmc: { lr: [3e-3, 1e-2, 3e-2], friction: [0.05, 0.2] },
    sgld: { lr: [3e-5, 1e-4], priorSig: [0.3, 1] },
    psgld: { lr: [1.5e-4, 5e-4], priorSig: [0.3, 1] },
  };

/**
 * Epochs of the `full` grid, as fractions of the budget's epochs.
 *
 * @example
 * ```ts
 * import { EPOCH_FACTORS } from "./uci_grid.ts";
 * EPOCH_FACTORS; // [0.5, 1]
 * ```
 */
export const EPOCH_FACTORS: readonly number[] = [0.5, 1];

/** The family of a registry key (`bbb_local` → `bbb`). */
function family(key: string): string {
  return key.startsWith("bbb_") ? "bbb" : key;
}

/**
 * Whether `key`'s grid has an axis `name` (`bbb_*` keys share the `bbb`
 * grid).
 *
 * @example
 * ```ts
 * import { hasGridAxis } from "./uci_grid.ts";
 * hasGridAxis("mc_dropout", "dropout"); // true
 * hasGridAxis("bbb_local", "dropout"); // false
 * ```
 */
export function hasGridAxis(key: string, name: string): boolean {
  return name in (UCI_GRID_AXES[family(key)] ?? {});
}

/**
 * Axis values that replace a grid's own (`--grid_axis`): axis name → values.
 *
 * @example
 * ```ts
 * import type { GridAxes } from "./uci_grid.ts";
 * const a: GridAxes = { dropout: [0.01, 0.03, 0.1] };
 * ```
 */
export type GridAxes = Readonly<Record<string, readonly number[]>>;

/**
 * Parses `--grid_axis`: one or more `name=v1,v2,…` separated by `;`, each
 * replacing the values of the axis of that name (e.g. a finer dropout axis).
 * Values must be finite numbers, none repeated; an axis no grid has, or one
 * given twice, is an error naming the problem.
 *
 * @example
 * ```ts
 * import { parseGridAxes } from "./uci_grid.ts";
 * parseGridAxes("dropout=0.01,0.03,0.1"); // { dropout: [0.01, 0.03, 0.1] }
 * parseGridAxes("dropout=0.05; lr=1e-3,3e-3"); // { dropout: [0.05], lr: [0.001, 0.003] }
 * ```
 */
export function parseGridAxes(text: string): GridAxes {
  const known = new Set(Object.values(UCI_GRID_AXES).flatMap((a) => Object.keys(a)));
  const out: Record<string, number[]> = {};
  const parts = text.split(";").map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) {
    throw new RangeError(`--grid_axis: expected name=v1,v2,…, found ${JSON.stringify(text)}`);
  }
  for (const part of parts) {
    const eq = part.indexOf("=");
    const name = eq < 0 ? "" : part.slice(0, eq).trim();
    if (!name) {
      throw new RangeError(`--grid_axis: expected name=v1,v2,…, found ${JSON.stringify(part)}`);
    }
    if (!known.has(name)) {
      throw new RangeError(
        `--grid_axis: no grid has an axis "${name}"; axes: ${[...known].join(", ")}`,
      );
    }
    if (name in out) throw new RangeError(`--grid_axis: axis "${name}" given twice`);
    const raw = part.slice(eq + 1).split(",").map((s) => s.trim());
    const values = raw.map(Number);
    const bad = raw.filter((r, i) => r === "" || !Number.isFinite(values[i]));
    if (bad.length) {
      throw new RangeError(
        `--grid_axis: axis "${name}" expects comma-separated numbers, found ` +
          JSON.stringify(part.slice(eq + 1)),
      );
    }
    if (new Set(values).size !== values.length) {
      throw new RangeError(`--grid_axis: axis "${name}" repeats a value: ${raw.join(",")}`);
    }
    out[name] = values;
  }
  return out;
}

/**
 * The candidates of `key`'s grid for a budget of `epochs` epochs: the
 * cartesian product of the axes (first axis slowest), then, for `full`,
 * each point at ½ and 1 × `epochs` (at least 1 epoch). `axes` replaces the
 * values of the grid's axes of the same names (axes the grid lacks are
 * ignored: `--grid_axis dropout=…` leaves the other methods' grids alone).
 * An unknown key is an error naming the keys that have a grid.
 *
 * @example
 * ```ts
 * import { uciGrid } from "./uci_grid.ts";
 * uciGrid("mc_dropout", "small", 400).length; // 8
 * uciGrid("mc_dropout", "small", 400, { dropout: [0.01, 0.03, 0.1] }).length; // 12
 * uciGrid("bbb_local", "full", 400).map((c) => c.epochs); // [200, 400, 200, 400, …]
 * ```
 */
export function uciGrid(
  key: string,
  size: GridSize,
  epochs: number,
  axes: GridAxes = {},
): UciCandidate[] {
  const own = UCI_GRID_AXES[family(key)];
  if (!own) {
    throw new RangeError(
      `--tune grid: no UCI grid for method "${key}"; grids exist for ` +
        `${Object.keys(UCI_GRID_AXES).map((k) => (k === "bbb" ? "bbb_*" : k)).join(", ")}`,
    );
  }
  if (size !== "small" && size !== "full") {
    throw new RangeError(`--grid: expected small or full, found ${JSON.stringify(size)}`);
  }
  let points: Record<string, number>[] = [{}];
  for (const [name, ownValues] of Object.entries(own)) {
    const values = axes[name] ?? ownValues;
    points = points.flatMap((p) => values.map((v) => ({ ...p, [name]: v })));
  }
  const factors = size === "full" ? EPOCH_FACTORS : [1];
  return points.flatMap((settings) =>
    factors.map((f) => ({ epochs: Math.max(1, Math.round(epochs * f)), settings }))
  );
}

/**
 * A candidate as the one-line JSON text of the `chosen` column: the epochs
 * and the grid's settings, e.g. `{"epochs":400,"dropout":0.1,"weightDecay":0.0001}`.
 *
 * @example
 * ```ts
 * import { candidateText } from "./uci_grid.ts";
 * candidateText({ epochs: 40, settings: { lr: 0.001 } }); // '{"epochs":40,"lr":0.001}'
 * ```
 */
export function candidateText(c: UciCandidate): string {
  return JSON.stringify({ epochs: c.epochs, ...c.settings });
}
