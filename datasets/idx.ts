/**
 * Reader for the IDX format used by MNIST, Fashion-MNIST and KMNIST, raw or
 * gzip-compressed (gunzipped with the web `DecompressionStream`).
 *
 * @module
 */

import { DatasetError } from "./types.ts";

/** Element types of the IDX format. */
export type IdxDtype = "uint8" | "int8" | "int16" | "int32" | "float32" | "float64";

/** Typed array holding the values of an IDX file. */
export type IdxData =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Float32Array
  | Float64Array;

/**
 * A parsed IDX file: element type, dimensions and the values (row-major).
 *
 * @example
 * ```ts
 * import { readIdx } from "@bayes/nn/datasets";
 * const labels = await readIdx("mnist/t10k-labels-idx1-ubyte.gz");
 * labels.shape; // [10000]
 * ```
 */
export interface IdxArray {
  /** Element type from the magic number. */
  dtype: IdxDtype;
  /** Dimensions from the header. */
  shape: number[];
  /** The values; for `uint8` a view on the decompressed bytes (no copy). */
  data: IdxData;
}

const TYPES: Record<number, { dtype: IdxDtype; size: number }> = {
  0x08: { dtype: "uint8", size: 1 },
  0x09: { dtype: "int8", size: 1 },
  0x0b: { dtype: "int16", size: 2 },
  0x0c: { dtype: "int32", size: 4 },
  0x0d: { dtype: "float32", size: 4 },
  0x0e: { dtype: "float64", size: 8 },
};

/** True when `bytes` starts with the gzip magic number 1f 8b. */
function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Gunzips `bytes` with the web `DecompressionStream`. A truncated or corrupt
 * stream is a {@linkcode DatasetError} naming `source`.
 *
 * @example
 * ```ts
 * import { gunzip } from "@bayes/nn/datasets";
 * const gz = await Deno.readFile("mnist/t10k-labels-idx1-ubyte.gz");
 * const raw = await gunzip(gz, "t10k-labels-idx1-ubyte.gz");
 * ```
 */
export async function gunzip(bytes: Uint8Array, source: string): Promise<Uint8Array> {
  // Write the whole input at once: the stream then usually yields the output
  // as a single chunk, which is returned as is (no second buffer, no copy).
  const chunks: Uint8Array[] = [];
  let total = 0;
  const ds = new DecompressionStream("gzip");
  const writer = ds.writable.getWriter();
  const writing = (async () => {
    await writer.write(bytes as Uint8Array<ArrayBuffer>);
    await writer.close();
  })();
  // The reader reports the error; avoid an unhandled rejection from the writer.
  writing.catch(() => {});
  const reader = ds.readable.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.length;
    }
    await writing;
  } catch (e) {
    throw new DatasetError(
      `${source}: gzip data is truncated or corrupt (${e instanceof Error ? e.message : e}); ` +
        `delete the file and download it again`,
      { file: source, cause: e },
    );
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/**
 * Parses IDX bytes (already decompressed, or gzip — detected by its magic
 * number). Checks the magic number, element type, rank, dimensions and that
 * the byte count matches the header exactly; `source` names the file in errors.
 *
 * @example
 * ```ts
 * import { parseIdx } from "@bayes/nn/datasets";
 * // magic 0x00000801 (uint8, rank 1), dimension 3, then 3 bytes
 * const bytes = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]);
 * const a = await parseIdx(bytes, "labels");
 * a.shape; // [3]
 * ```
 */
export async function parseIdx(bytes: Uint8Array, source: string): Promise<IdxArray> {
  if (isGzip(bytes)) bytes = await gunzip(bytes, source);
  return parseIdxRaw(bytes, source);
}

function parseIdxRaw(bytes: Uint8Array, source: string): IdxArray {
  const fail = (what: string): never => {
    throw new DatasetError(`${source}: not a valid IDX file: ${what}`, { file: source });
  };
  if (bytes.length < 4) fail(`only ${bytes.length} bytes, the 4-byte header is missing`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0"));
    fail(`wrong magic number 0x${magic.join("")} (expected 0x0000TTRR)`);
  }
  const type = TYPES[bytes[2]];
  if (!type) {
    fail(
      `unknown element type 0x${bytes[2].toString(16).padStart(2, "0")} ` +
        `(expected 08, 09, 0b, 0c, 0d or 0e)`,
    );
  }
  const rank = bytes[3];
  if (rank === 0) fail("rank 0 in the header");
  const headerLen = 4 + 4 * rank;
  if (bytes.length < headerLen) {
    fail(`truncated header: rank ${rank} needs ${headerLen} bytes, found ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let i = 0; i < rank; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    shape.push(d);
    count *= d;
  }
  const expected = headerLen + count * type.size;
  if (bytes.length !== expected) {
    fail(
      `${bytes.length < expected ? "truncated" : "trailing bytes"}: header says ` +
        `${type.dtype} [${shape.join(", ")}], i.e. ${expected} bytes, but the file has ` +
        `${bytes.length}`,
    );
  }
  const body = bytes.subarray(headerLen);
  let data: IdxData;
  switch (type.dtype) {
    case "uint8":
      data = body;
      break;
    case "int8":
      data = new Int8Array(body.buffer, body.byteOffset, count);
      break;
    default: {
      // Big-endian multi-byte values: decode element by element.
      const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
      if (type.dtype === "int16") {
        const a = new Int16Array(count);
        for (let i = 0; i < count; i++) a[i] = dv.getInt16(2 * i, false);
        data = a;
      } else if (type.dtype === "int32") {
        const a = new Int32Array(count);
        for (let i = 0; i < count; i++) a[i] = dv.getInt32(4 * i, false);
        data = a;
      } else if (type.dtype === "float32") {
        const a = new Float32Array(count);
        for (let i = 0; i < count; i++) a[i] = dv.getFloat32(4 * i, false);
        data = a;
      } else {
        const a = new Float64Array(count);
        for (let i = 0; i < count; i++) a[i] = dv.getFloat64(8 * i, false);
        data = a;
      }
    }
  }
  return { dtype: type.dtype, shape, data };
}

/**
 * Reads an IDX file, raw or gzip-compressed (detected from the content, not
 * the name). A missing, truncated or corrupt file is a
 * {@linkcode DatasetError} naming the file and what was wrong.
 *
 * @example
 * ```ts
 * import { readIdx } from "@bayes/nn/datasets";
 * const images = await readIdx("mnist/t10k-images-idx3-ubyte.gz");
 * images.shape; // [10000, 28, 28]
 * images.dtype; // "uint8"
 * ```
 */
export async function readIdx(path: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new DatasetError(
      `${path}: cannot read IDX file (${e instanceof Error ? e.message : e})`,
      { file: path, cause: e },
    );
  }
  return await parseIdx(bytes, path);
}

/**
 * Encodes values as IDX bytes (uint8 only), e.g. to write small test files.
 *
 * @example
 * ```ts
 * import { encodeIdx } from "@bayes/nn/datasets";
 * const bytes = encodeIdx(new Uint8Array([1, 2, 3, 4]), [2, 2]);
 * bytes.length; // 4 + 2 * 4 + 4
 * ```
 */
export function encodeIdx(data: Uint8Array, shape: number[]): Uint8Array {
  const header = 4 + 4 * shape.length;
  const out = new Uint8Array(header + data.length);
  const dv = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = shape.length;
  shape.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  out.set(data, header);
  return out;
}
