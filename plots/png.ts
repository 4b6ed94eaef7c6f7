/**
 * Minimal PNG encoder for small greyscale images (uncompressed deflate), so that images can be
 * embedded in SVG figures as data URIs without a canvas.
 *
 * @module
 */

const CRC_TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** zlib stream made of stored (uncompressed) deflate blocks. */
function zlibStored(raw: Uint8Array): Uint8Array {
  const nBlocks = Math.max(1, Math.ceil(raw.length / 65535));
  const out = new Uint8Array(2 + raw.length + 5 * nBlocks + 4);
  out[0] = 0x78;
  out[1] = 0x01;
  let o = 2;
  for (let b = 0; b < nBlocks; b++) {
    const start = b * 65535, len = Math.min(65535, raw.length - start);
    out[o++] = b === nBlocks - 1 ? 1 : 0;
    out[o++] = len & 0xff;
    out[o++] = len >>> 8;
    out[o++] = ~len & 0xff;
    out[o++] = (~len >>> 8) & 0xff;
    out.set(raw.subarray(start, start + len), o);
    o += len;
  }
  let a = 1, s = 0;
  for (let i = 0; i < raw.length; i++) {
    a = (a + raw[i]) % 65521;
    s = (s + a) % 65521;
  }
  new DataView(out.buffer).setUint32(o, ((s << 16) | a) >>> 0);
  return out;
}

/**
 * Encodes 8-bit greyscale pixels (row-major, `width`×`height`) as PNG bytes.
 *
 * @example
 * ```ts
 * import { encodeGrayPng } from "./png.ts";
 * const png = encodeGrayPng(new Uint8Array([0, 255, 255, 0]), 2, 2);
 * console.log(png[1] === 0x50); // true ("P" of the signature)
 * ```
 */
export function encodeGrayPng(pixels: Uint8Array, width: number, height: number): Uint8Array {
  if (pixels.length !== width * height) {
    throw new RangeError(
      `encodeGrayPng: expected ${width}×${height}=${width * height} pixels, found ${pixels.length}`,
    );
  }
  const raw = new Uint8Array(height * (width + 1));
  for (let y = 0; y < height; y++) {
    raw[y * (width + 1)] = 0; // filter: none
    raw.set(pixels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", zlibStored(raw)),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * A `data:image/png;base64,…` URI for a greyscale image given as numbers in [0, 1] (or
 * [0, 255] when any value exceeds 1). With `invert`, ink is dark on white.
 *
 * @example
 * ```ts
 * import { grayImageDataUri } from "./png.ts";
 * const uri = grayImageDataUri(new Float32Array(28 * 28), 28, 28);
 * console.log(uri.startsWith("data:image/png;base64,")); // true
 * ```
 */
export function grayImageDataUri(
  values: ArrayLike<number>,
  width: number,
  height: number,
  invert = false,
): string {
  let max = 0;
  for (let i = 0; i < values.length; i++) if (values[i] > max) max = values[i];
  const scale = max > 1 ? 1 : 255;
  const px = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Math.max(0, Math.min(255, Math.round((values[i] || 0) * scale)));
    px[i] = invert ? 255 - v : v;
  }
  const png = encodeGrayPng(px, width, height);
  let bin = "";
  for (let i = 0; i < png.length; i++) bin += String.fromCharCode(png[i]);
  return `data:image/png;base64,${btoa(bin)}`;
}
