/**
 * Reading and writing the safetensors format (an 8-byte little-endian header
 * length, a JSON header, then raw little-endian tensor bytes), so trained
 * models are readable from Python tools (`safetensors.torch.load_file`).
 * The format is small and fully specified; no maintained JS package writes
 * it without pulling in a framework, so it is written here.
 *
 * @module
 */
import { writeFileAtomic } from "./atomic.ts";

/** A named host tensor: float32 data and its shape. */
export interface HostTensor {
  /** Row-major values. */
  data: Float32Array;
  /** Shape; `[]` for scalars. */
  shape: number[];
}

/** Tensors by name, plus optional string metadata. */
export interface SafetensorsContent {
  /** Tensors by name. */
  tensors: Record<string, HostTensor>;
  /** `__metadata__` string map. */
  metadata: Record<string, string>;
}

/** Raised for malformed safetensors files. */
export class SafetensorsError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "SafetensorsError";
  }
}

/**
 * Serialises tensors to safetensors bytes.
 *
 * @example
 * ```ts
 * import { encodeSafetensors } from "@bayes/nn";
 * const bytes = encodeSafetensors({ w: { data: new Float32Array([1, 2]), shape: [2] } });
 * ```
 */
export function encodeSafetensors(
  tensors: Record<string, HostTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const names = Object.keys(tensors).sort();
  for (const name of names) {
    const t = tensors[name];
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) {
      throw new SafetensorsError(
        `tensor "${name}": shape [${t.shape}] needs ${size} values, found ${t.data.length}`,
      );
    }
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + 4 * size] };
    offset += 4 * size;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += " ";
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  const base = 8 + headerBytes.length;
  for (const name of names) {
    const t = tensors[name];
    const [start] = (header[name] as { data_offsets: number[] }).data_offsets;
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), base + start);
  }
  return out;
}

/**
 * Parses safetensors bytes (F32, F64, F16 and BF16 are converted to float32).
 * `source` names the file in error messages.
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "@bayes/nn";
 * const bytes = encodeSafetensors({ w: { data: new Float32Array([1, 2]), shape: [2] } });
 * decodeSafetensors(bytes).tensors.w.data; // Float32Array [1, 2]
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array, source = "<bytes>"): SafetensorsContent {
  if (bytes.length < 8) {
    throw new SafetensorsError(`${source}: file too short (${bytes.length} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (8 + n > bytes.length) {
    throw new SafetensorsError(`${source}: header length ${n} exceeds file size ${bytes.length}`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new SafetensorsError(`${source}: header is not valid JSON (${(e as Error).message})`);
  }
  const base = 8 + n;
  const tensors: Record<string, HostTensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets } = entry as {
      dtype: string;
      shape: number[];
      data_offsets: [number, number];
    };
    const [s, e] = data_offsets;
    if (base + e > bytes.length || s > e) {
      throw new SafetensorsError(`${source}: tensor "${name}" data [${s}, ${e}) out of range`);
    }
    const size = shape.reduce((a, b) => a * b, 1);
    const raw = bytes.slice(base + s, base + e);
    const dv = new DataView(raw.buffer);
    const data = new Float32Array(size);
    const width = { F32: 4, F64: 8, F16: 2, BF16: 2 }[dtype];
    if (!width) {
      throw new SafetensorsError(`${source}: tensor "${name}" has unsupported dtype ${dtype}`);
    }
    if (raw.length !== size * width) {
      throw new SafetensorsError(
        `${source}: tensor "${name}" shape [${shape}] needs ${
          size * width
        } bytes, found ${raw.length}`,
      );
    }
    for (let i = 0; i < size; i++) {
      if (dtype === "F32") data[i] = dv.getFloat32(4 * i, true);
      else if (dtype === "F64") data[i] = dv.getFloat64(8 * i, true);
      else if (dtype === "BF16") {
        data[i] = new Float32Array(new Uint32Array([dv.getUint16(2 * i, true) << 16]).buffer)[0];
      } else data[i] = halfToFloat(dv.getUint16(2 * i, true));
    }
    tensors[name] = { data, shape };
  }
  return { tensors, metadata };
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/**
 * Writes a safetensors file atomically.
 *
 * @example
 * ```ts
 * import { saveSafetensors } from "@bayes/nn";
 * await saveSafetensors("/tmp/w.safetensors", { w: { data: new Float32Array(3), shape: [3] } });
 * ```
 */
export async function saveSafetensors(
  path: string,
  tensors: Record<string, HostTensor>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/**
 * Reads a safetensors file; errors name the file.
 *
 * @example
 * ```ts
 * import { loadSafetensors } from "@bayes/nn";
 * const { tensors } = await loadSafetensors("/tmp/w.safetensors");
 * ```
 */
export async function loadSafetensors(path: string): Promise<SafetensorsContent> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new SafetensorsError(`cannot read ${path}: ${(e as Error).message}`);
  }
  return decodeSafetensors(bytes, path);
}
