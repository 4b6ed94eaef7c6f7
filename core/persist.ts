/**
 * Saving and loading a method: one safetensors file holding every tensor of
 * the method's state with the JSON manifest in its metadata (so one atomic
 * rename publishes both), plus a readable `manifest.json` copy.
 *
 * @module
 */
import { join } from "node:path";
import { writeJsonAtomic } from "./atomic.ts";
import type { Method, MethodState, NetSpec } from "./method.ts";
import { loadSafetensors, saveSafetensors } from "./safetensors.ts";

/** Library version written into manifests. */
export const LIBRARY_VERSION = "0.1.0";

/** Weights file name inside a model folder. */
export const WEIGHTS_FILE = "weights.safetensors";

/** What a saved model's manifest records. */
export interface Manifest {
  /** Format tag. */
  format: "bayes-nn/1";
  /** Library version that wrote it. */
  version: string;
  /** Method registry name. */
  method: string;
  /** Network description. */
  spec: NetSpec;
  /** Method settings. */
  settings: Record<string, unknown>;
  /** Method JSON state (counters, RNG state). */
  state: Record<string, unknown>;
  /** Anything else the caller records: data normalisation, history, epoch. */
  info: Record<string, unknown>;
  /** ISO time of writing. */
  savedAt: string;
}

/** Raised when a saved model does not fit the method loading it. */
export class ModelFileError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ModelFileError";
  }
}

/**
 * Saves `method` into folder `dir` (atomic per file; the weights file carries
 * the manifest so a partial save never mixes old weights with a new manifest).
 *
 * @example
 * ```ts
 * import { initBackend, saveMethod } from "@bayes/nn";
 * import { buildMap } from "@bayes/nn/methods/map";
 * await initBackend({ backend: "wasm", quiet: true });
 * const m = buildMap({ inputDim: 2, hidden: [8], outputDim: 2, task: "classification" });
 * m.init(0);
 * await saveMethod(await Deno.makeTempDir(), m, { normalisation: { mean: 0, std: 1 } });
 * ```
 */
export async function saveMethod(
  dir: string,
  method: Method,
  info: Record<string, unknown> = {},
  file: string = WEIGHTS_FILE,
): Promise<Manifest> {
  return saveState(dir, method, await method.getState(), info, file);
}

/**
 * Saves a state taken earlier from `method` (by `getState`) as
 * {@linkcode saveMethod} would save the method itself.
 *
 * @example
 * ```ts
 * import { buildMap } from "../methods/map.ts";
 * import { initBackend } from "./backend.ts";
 * import { saveState } from "./persist.ts";
 * await initBackend({ backend: "wasm", quiet: true });
 * const m = buildMap({ inputDim: 2, hidden: [8], outputDim: 2, task: "classification" });
 * m.init(0);
 * const state = await m.getState();
 * await saveState(await Deno.makeTempDir(), m, state, {}, "best.safetensors");
 * ```
 */
export async function saveState(
  dir: string,
  method: Method,
  state: MethodState,
  info: Record<string, unknown> = {},
  file: string = WEIGHTS_FILE,
): Promise<Manifest> {
  const manifest: Manifest = {
    format: "bayes-nn/1",
    version: LIBRARY_VERSION,
    method: method.name,
    spec: method.spec,
    settings: { ...method.settings },
    state: state.extra,
    info,
    savedAt: new Date().toISOString(),
  };
  await saveSafetensors(join(dir, file), state.tensors, { manifest: JSON.stringify(manifest) });
  if (file === WEIGHTS_FILE) await writeJsonAtomic(join(dir, "manifest.json"), manifest);
  return manifest;
}

/**
 * Reads a saved state and manifest (no method needed).
 *
 * @example
 * ```ts
 * import { initBackend, readSaved, saveMethod } from "@bayes/nn";
 * import { buildMap } from "@bayes/nn/methods/map";
 * await initBackend({ backend: "wasm", quiet: true });
 * const dir = await Deno.makeTempDir();
 * const m = buildMap({ inputDim: 2, hidden: [8], outputDim: 2, task: "classification" });
 * m.init(0);
 * await saveMethod(dir, m);
 * const { manifest } = await readSaved(dir);
 * console.log(manifest.method, manifest.spec); // "map" { inputDim: 2, … }
 * ```
 */
export async function readSaved(
  dir: string,
  file: string = WEIGHTS_FILE,
): Promise<{ manifest: Manifest; state: MethodState }> {
  const path = join(dir, file);
  const { tensors, metadata } = await loadSafetensors(path);
  if (!metadata.manifest) throw new ModelFileError(`${path}: no bayes-nn manifest in the metadata`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(metadata.manifest);
  } catch (e) {
    throw new ModelFileError(`${path}: the manifest is not valid JSON (${(e as Error).message})`);
  }
  const manifest = checkManifest(parsed, path);
  return { manifest, state: { tensors, extra: manifest.state } };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown) => Number.isInteger(v) && (v as number) > 0;

/**
 * Checks a parsed manifest field by field; a {@linkcode ModelFileError}
 * names the file and the field (instead of a JavaScript error later, such
 * as "Cannot read properties of undefined").
 *
 * @example
 * ```ts
 * import { checkManifest } from "./persist.ts";
 * // checkManifest(JSON.parse(text), "models/map/weights.safetensors");
 * ```
 */
export function checkManifest(m: unknown, path: string): Manifest {
  const fail = (field: string, want: string, found: unknown): never => {
    throw new ModelFileError(
      `${path}: manifest field "${field}" must be ${want}, found ${
        JSON.stringify(found) ?? "nothing"
      }`,
    );
  };
  if (!isObject(m)) return fail("(top level)", "an object", m);
  if (m.format !== "bayes-nn/1") return fail("format", `"bayes-nn/1"`, m.format);
  if (typeof m.method !== "string" || m.method === "") {
    return fail("method", "a method name", m.method);
  }
  const spec = m.spec;
  if (!isObject(spec)) return fail("spec", "a network description object", spec);
  if (!isCount(spec.inputDim)) return fail("spec.inputDim", "a positive integer", spec.inputDim);
  if (!Array.isArray(spec.hidden) || !spec.hidden.every(isCount)) {
    return fail("spec.hidden", "a list of positive integers", spec.hidden);
  }
  if (!isCount(spec.outputDim)) return fail("spec.outputDim", "a positive integer", spec.outputDim);
  if (spec.task !== "classification" && spec.task !== "regression") {
    return fail("spec.task", `"classification" or "regression"`, spec.task);
  }
  for (const k of ["settings", "state", "info"] as const) {
    if (m[k] !== undefined && !isObject(m[k])) return fail(k, "an object", m[k]);
  }
  return { ...m, settings: m.settings ?? {}, state: m.state ?? {}, info: m.info ?? {} } as Manifest;
}

/**
 * Loads a saved state into `method`, checking that method name and network
 * match.
 *
 * @example
 * ```ts
 * import { initBackend, loadMethod, saveMethod } from "@bayes/nn";
 * import { buildMap } from "@bayes/nn/methods/map";
 * await initBackend({ backend: "wasm", quiet: true });
 * const dir = await Deno.makeTempDir();
 * const spec = { inputDim: 2, hidden: [8], outputDim: 2, task: "classification" as const };
 * const trained = buildMap(spec);
 * trained.init(0);
 * await saveMethod(dir, trained);
 * const m = buildMap(spec);
 * await loadMethod(dir, m); // checks the method name and the network first
 * ```
 */
export async function loadMethod(
  dir: string,
  method: Method,
  file: string = WEIGHTS_FILE,
): Promise<Manifest> {
  const { manifest, state } = await readSaved(dir, file);
  const path = join(dir, file);
  if (manifest.method !== method.name) {
    throw new ModelFileError(`${path}: holds a "${manifest.method}" model, not "${method.name}"`);
  }
  const a = JSON.stringify(normSpec(manifest.spec)), b = JSON.stringify(normSpec(method.spec));
  if (a !== b) throw new ModelFileError(`${path}: network ${a} does not match ${b}`);
  await method.setState(state);
  return manifest;
}

function normSpec(s: NetSpec): NetSpec {
  return {
    inputDim: s.inputDim,
    hidden: s.hidden,
    outputDim: s.outputDim,
    task: s.task,
    noise: s.task === "regression" ? s.noise ?? "heteroscedastic" : undefined,
  };
}
