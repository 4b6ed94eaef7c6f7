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
 * import { encodeSafetensors } from "./safetensors.ts";
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
 * Parses safetensors bytes (F32, F64, F16 and BF16 are converted to float32),
 * validating the whole header first: every entry has a known `dtype`, a
 * `shape` of non-negative integers and `data_offsets` `[begin, end]` inside
 * the data area, whose length is the shape's size times the dtype's width;
 * the tensors tile the data area without gaps or overlaps (the format's
 * rule); `__metadata__` maps strings to strings. Errors name `source` (the
 * file) and the offending tensor and field.
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors({ w: { data: new Float32Array([1, 2]), shape: [2] } });
 * decodeSafetensors(bytes).tensors.w.data; // Float32Array [1, 2]
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array, source = "<bytes>"): SafetensorsContent {
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${source}: ${msg}`);
  };
  if (bytes.length < 8) fail(`file too short (${bytes.length} bytes) for a safetensors header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (8 + n > bytes.length) fail(`header length ${n} exceeds the file size ${bytes.length}`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    fail("header must be a JSON object of tensors");
  }
  const base = 8 + n;
  const dataBytes = bytes.length - base;
  const entries: { name: string; dtype: string; shape: number[]; s: number; e: number }[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
        fail("__metadata__ must be an object of strings");
      }
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== "string") fail(`__metadata__.${k} must be a string, found ${typeof v}`);
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
      fail(`tensor "${name}": entry must be an object with dtype, shape and data_offsets`);
    }
    const { dtype, shape, data_offsets } = entry as Record<string, unknown>;
    if (typeof dtype !== "string" || !(dtype in WIDTHS)) {
      fail(
        `tensor "${name}": dtype ${JSON.stringify(dtype)} is not supported ` +
          `(expected one of ${Object.keys(WIDTHS).join(", ")})`,
      );
    }
    if (
      !Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && (d as number) >= 0)
    ) {
      fail(
        `tensor "${name}": shape must be a list of non-negative integers, found ${
          JSON.stringify(shape)
        }`,
      );
    }
    if (
      !Array.isArray(data_offsets) || data_offsets.length !== 2 ||
      !data_offsets.every((d) => Number.isInteger(d) && (d as number) >= 0)
    ) {
      fail(
        `tensor "${name}": data_offsets must be [begin, end] with non-negative integers, found ${
          JSON.stringify(data_offsets)
        }`,
      );
    }
    const [s, e] = data_offsets as number[];
    if (s > e || e > dataBytes) {
      fail(
        `tensor "${name}": data_offsets [${s}, ${e}] lie outside the data area of ${dataBytes} bytes`,
      );
    }
    const size = (shape as number[]).reduce((a, b) => a * b, 1);
    const width = WIDTHS[dtype as string];
    if (e - s !== size * width) {
      fail(
        `tensor "${name}": shape [${shape}] of ${dtype} needs ${size * width} bytes, ` +
          `data_offsets [${s}, ${e}] hold ${e - s}`,
      );
    }
    entries.push({ name, dtype: dtype as string, shape: shape as number[], s, e });
  }
  // The tensors must tile the data area: sorted by offset, each starts where the last ended.
  const sorted = [...entries].sort((a, b) => a.s - b.s || a.e - b.e);
  let at = 0;
  for (const t of sorted) {
    if (t.s < at) fail(`tensor "${t.name}": data_offsets [${t.s}, ${t.e}] overlap another tensor`);
    if (t.s > at) fail(`tensor "${t.name}": a gap of ${t.s - at} bytes precedes its data`);
    at = t.e;
  }
  if (at !== dataBytes) fail(`${dataBytes - at} bytes after the last tensor belong to no tensor`);
  const tensors: Record<string, HostTensor> = {};
  for (const { name, dtype, shape, s, e } of entries) {
    const size = shape.reduce((a, b) => a * b, 1);
    const raw = bytes.slice(base + s, base + e);
    const dv = new DataView(raw.buffer);
    const data = new Float32Array(size);
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

const WIDTHS: Record<string, number> = { F32: 4, F64: 8, F16: 2, BF16: 2 };

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
 * import { saveSafetensors } from "./safetensors.ts";
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
 * import { loadSafetensors } from "./safetensors.ts";
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
