/**
 * Parameter vectors to and from named host tensors (checkpoints, saved
 * models): one tensor per segment, keyed `<prefix><segment name>`.
 *
 * @module
 */
import type { Engine, Layout, ParamVec } from "./engine/engine.ts";
import type { HostTensor } from "./safetensors.ts";

/**
 * The segments of `vec` as host tensors keyed `prefix + name` (async: never a
 * synchronous GPU read).
 *
 * @example
 * ```ts
 * import { getEngine } from "./engine/current.ts";
 * import { initBackend } from "@bayes/nn";
 * import { Layout } from "./engine/engine.ts";
 * import { vecToHost } from "./vectors.ts";
 * await initBackend({ backend: "wasm", quiet: true });
 * const v = getEngine().vector(new Layout([{ name: "w", shape: [2] }]), 1);
 * await vecToHost(v, "mu/"); // { "mu/w": { data: [1, 1], shape: [2] } }
 * ```
 */
export async function vecToHost(vec: ParamVec, prefix = ""): Promise<Record<string, HostTensor>> {
  const parts = await vec.toSegments();
  const out: Record<string, HostTensor> = {};
  for (const s of vec.layout.segments) {
    out[prefix + s.name] = { data: parts[s.name], shape: [...s.shape] };
  }
  return out;
}

/**
 * Flat values of `layout` from host tensors keyed `prefix + name`, checking
 * that each is present with the segment's shape; errors name `source` and
 * the tensor.
 *
 * @example
 * ```ts
 * import { hostToFlat } from "./vectors.ts";
 * import { Layout } from "./engine/engine.ts";
 * const l = new Layout([{ name: "w", shape: [2] }]);
 * hostToFlat(l, { w: { data: new Float32Array([1, 2]), shape: [2] } }, "", "model"); // [1, 2]
 * ```
 */
export function hostToFlat(
  layout: Layout,
  host: Record<string, HostTensor>,
  prefix: string,
  source: string,
): Float32Array {
  const out = new Float32Array(layout.total);
  for (const s of layout.segments) {
    const key = prefix + s.name;
    const t = host[key];
    if (!t) throw new Error(`${source}: missing tensor "${key}"`);
    const same = t.shape.length === s.shape.length && t.shape.every((d, i) => d === s.shape[i]);
    if (!same || t.data.length !== s.size) {
      throw new Error(`${source}: tensor "${key}" has shape [${t.shape}], expected [${s.shape}]`);
    }
    out.set(t.data, s.off);
  }
  return out;
}

/**
 * A new vector on `engine` from host tensors (see {@linkcode hostToFlat}).
 *
 * @example
 * ```ts
 * import { getEngine } from "./engine/current.ts";
 * import { initBackend } from "@bayes/nn";
 * import { Layout } from "./engine/engine.ts";
 * import { vecFromHost } from "./vectors.ts";
 * await initBackend({ backend: "wasm", quiet: true });
 * const l = new Layout([{ name: "w", shape: [2] }]);
 * const v = vecFromHost(getEngine(), l, { w: { data: new Float32Array([1, 2]), shape: [2] } }, "", "model");
 * ```
 */
export function vecFromHost(
  engine: Engine,
  layout: Layout,
  host: Record<string, HostTensor>,
  prefix: string,
  source: string,
): ParamVec {
  return engine.vector(layout, hostToFlat(layout, host, prefix, source));
}
