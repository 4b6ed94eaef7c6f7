/**
 * Fixed colour palette for inference methods, shared by every figure so that a method keeps
 * the same colour everywhere.
 *
 * @module
 */
// @ts-types="@types/d3-color"
import { color as d3Color } from "d3-color";

/**
 * Colour of each known method, keyed by its display name.
 *
 * @example
 * ```ts
 * import { METHOD_COLORS } from "./colors.ts";
 * console.log(METHOD_COLORS["MC Dropout"]); // "#2ca02c"
 * ```
 */
export const METHOD_COLORS: Readonly<Record<string, string>> = Object.freeze({
  "MAP": "#1f77b4",
  "MAP Ensemble": "#17becf",
  "BBB Gaussian": "#d62728",
  "BBB Laplace": "#ff7f0e",
  "BBB GMM": "#e377c2",
  "BBB Local Reparam": "#8c564b",
  "BBB Flipout": "#bcbd22",
  "MC Dropout": "#2ca02c",
  "SGLD": "#9467bd",
  "pSGLD": "#5254a3",
  "SGHMC": "#7b4173",
  "KFAC Laplace": "#7f7f7f",
  "GP": "#000000",
});

/**
 * Colours given to names that are not known methods (picked by a hash of the name).
 *
 * @example
 * ```ts
 * import { FALLBACK_COLORS } from "./colors.ts";
 * console.log(FALLBACK_COLORS.length > 5); // true
 * ```
 */
export const FALLBACK_COLORS: readonly string[] = Object.freeze([
  "#003f5c",
  "#ef5675",
  "#ffa600",
  "#665191",
  "#488f31",
  "#de425b",
  "#2f4b7c",
  "#a05195",
  "#ff7c43",
  "#00876c",
]);

/** Alternative spellings (already normalised) mapped to display names. */
const ALIASES: Readonly<Record<string, string>> = {
  ensemble: "MAP Ensemble",
  deepensemble: "MAP Ensemble",
  deepensembles: "MAP Ensemble",
  bbb: "BBB Gaussian",
  bayesbybackprop: "BBB Gaussian",
  bbbnormal: "BBB Gaussian",
  bbbmixture: "BBB GMM",
  bbbscalemixture: "BBB GMM",
  bbblocalreparameterization: "BBB Local Reparam",
  bbblocalreparameterisation: "BBB Local Reparam",
  bbblrt: "BBB Local Reparam",
  localreparam: "BBB Local Reparam",
  flipout: "BBB Flipout",
  dropout: "MC Dropout",
  kfac: "KFAC Laplace",
  groundtruth: "GP",
  gpgroundtruth: "GP",
  gaussianprocess: "GP",
};

/**
 * Normalises a method name for lookup: lower case, without spaces, underscores, hyphens, dots
 * or brackets (`"MC Dropout"`, `"mc_dropout"` and `"mcdropout"` all become `"mcdropout"`).
 *
 * @example
 * ```ts
 * import { normalizeMethodKey } from "./colors.ts";
 * console.log(normalizeMethodKey("BBB Local-Reparam")); // "bbblocalreparam"
 * ```
 */
export function normalizeMethodKey(method: string): string {
  return method.toLowerCase().replace(/[\s_\-.()]+/g, "");
}

const LOOKUP: ReadonlyMap<string, string> = (() => {
  const m = new Map<string, string>();
  for (const [name, color] of Object.entries(METHOD_COLORS)) m.set(normalizeMethodKey(name), color);
  for (const [alias, name] of Object.entries(ALIASES)) m.set(alias, METHOD_COLORS[name]);
  return m;
})();

/**
 * Returns the display name of a known method from any accepted spelling, or `undefined`.
 *
 * @example
 * ```ts
 * import { canonicalMethodName } from "./colors.ts";
 * console.log(canonicalMethodName("mc_dropout")); // "MC Dropout"
 * ```
 */
export function canonicalMethodName(method: string): string | undefined {
  const key = normalizeMethodKey(method);
  const alias = ALIASES[key];
  if (alias !== undefined) return alias;
  return Object.keys(METHOD_COLORS).find((name) => normalizeMethodKey(name) === key);
}

/** FNV-1a hash of a string (32-bit, unsigned). */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * Colour of a method. Known methods (see {@link METHOD_COLORS}) match case-, space-, hyphen- and
 * underscore-insensitively; several pooled networks of a known method (`"MC Dropout ×5"`, as the
 * UCI study labels `--members 5`) get a darker shade of its colour; other names get a
 * deterministic colour from {@link FALLBACK_COLORS}.
 *
 * @example
 * ```ts
 * import { methodColor } from "./colors.ts";
 * console.log(methodColor("mc_dropout") === methodColor("MC Dropout")); // true
 * console.log(methodColor("MC Dropout ×5")); // "#1f701f" (MC Dropout's "#2ca02c", darker)
 * ```
 */
export function methodColor(method: string): string {
  const key = normalizeMethodKey(method);
  return knownColor(key) ?? FALLBACK_COLORS[hashString(key) % FALLBACK_COLORS.length];
}

/** A pooled-networks label such as `"MC Dropout ×5"` (or `x5`): the base name and N. */
const MEMBERS_SUFFIX = /^(.*\S)\s*[×x]\s*(\d+)$/;

/**
 * The fixed colour of a normalised name, or `undefined`: a known method's own colour, or for an
 * ensemble of a known method (`"MC Dropout ×5"`) a darker shade of that method's colour, so that
 * the two stay related yet apart when drawn side by side.
 */
function knownColor(key: string): string | undefined {
  const known = LOOKUP.get(key);
  if (known !== undefined) return known;
  const m = MEMBERS_SUFFIX.exec(key);
  const base = m ? LOOKUP.get(m[1]) : undefined;
  if (base === undefined || Number(m![2]) < 2) return undefined;
  return d3Color(base)!.darker(1).formatHex();
}

/**
 * Colours for the names drawn in one figure. Known methods always get their fixed colour; an
 * unknown name gets its hashed fallback colour unless another name in the same figure already
 * uses it, in which case the next free fallback colour is taken.
 *
 * @example
 * ```ts
 * import { colorsFor } from "./colors.ts";
 * const c = colorsFor(["train", "test", "MAP"]);
 * console.log(c.get("train") !== c.get("test")); // true
 * ```
 */
export function colorsFor(names: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const used = new Set<string>();
  const unknown: string[] = [];
  for (const name of names) {
    if (out.has(name)) continue;
    const known = knownColor(normalizeMethodKey(name));
    if (known !== undefined) {
      out.set(name, known);
      used.add(known);
    } else if (!unknown.includes(name)) {
      unknown.push(name);
    }
  }
  for (const name of unknown) {
    const start = hashString(normalizeMethodKey(name)) % FALLBACK_COLORS.length;
    let color = FALLBACK_COLORS[start];
    for (let k = 0; k < FALLBACK_COLORS.length; k++) {
      const c = FALLBACK_COLORS[(start + k) % FALLBACK_COLORS.length];
      if (!used.has(c)) {
        color = c;
        break;
      }
    }
    out.set(name, color);
    used.add(color);
  }
  return out;
}
