// The safetensors reader validates the whole header and names the file and the field.
import assert from "node:assert/strict";
import { decodeSafetensors, encodeSafetensors, SafetensorsError } from "../core/safetensors.ts";

/** A file with the given header and `dataBytes` bytes of data (header padded to 8 bytes). */
function file(header: unknown, dataBytes: number): Uint8Array {
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8) json += " ";
  const h = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + h.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  return out;
}

Deno.test("safetensors: round trip, metadata, and F64 / F16 / BF16 read as float32", () => {
  const bytes = encodeSafetensors(
    {
      b: { data: Float32Array.of(1.5, -2), shape: [2] },
      a: { data: Float32Array.of(3), shape: [] },
    },
    { note: "x" },
  );
  const r = decodeSafetensors(bytes, "m.safetensors");
  assert.deepEqual(Array.from(r.tensors.b.data), [1.5, -2]);
  assert.deepEqual(r.tensors.a.shape, []);
  assert.deepEqual(r.metadata, { note: "x" });
  const f16 = file({ h: { dtype: "F16", shape: [2], data_offsets: [0, 4] } }, 4);
  new DataView(f16.buffer).setUint16(f16.length - 4, 0x3c00, true); // 1.0
  new DataView(f16.buffer).setUint16(f16.length - 2, 0xc000, true); // -2.0
  assert.deepEqual(Array.from(decodeSafetensors(f16).tensors.h.data), [1, -2]);
});

Deno.test("safetensors: malformed headers are errors naming the file, tensor and field", () => {
  const bad: [unknown, number, RegExp][] = [
    [
      { w: { dtype: "F32", shape: [1], data_offsets: [-4, 0] } },
      4,
      /"w": data_offsets must be \[begin, end\] with non-negative integers, found \[-4,0\]/,
    ],
    [{ w: { dtype: "F32", shape: [1], data_offsets: 4 } }, 4, /"w": data_offsets must be/],
    [
      { w: { dtype: "F32", shape: "2", data_offsets: [0, 8] } },
      8,
      /"w": shape must be a list of non-negative integers, found "2"/,
    ],
    [
      { w: { dtype: "I8", shape: [1], data_offsets: [0, 1] } },
      1,
      /"w": dtype "I8" is not supported \(expected one of F32, F64, F16, BF16\)/,
    ],
    [
      { w: { dtype: "F32", shape: [2], data_offsets: [0, 4] } },
      4,
      /"w": shape \[2\] of F32 needs 8 bytes, data_offsets \[0, 4\] hold 4/,
    ],
    [
      { w: { dtype: "F32", shape: [1], data_offsets: [0, 8] } },
      4,
      /"w": data_offsets \[0, 8\] lie outside the data area of 4 bytes/,
    ],
    [
      {
        a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        b: { dtype: "F32", shape: [1], data_offsets: [4, 8] },
      },
      8,
      /"b": data_offsets \[4, 8\] overlap another tensor/,
    ],
    [
      { w: { dtype: "F32", shape: [1], data_offsets: [4, 8] } },
      8,
      /"w": a gap of 4 bytes precedes its data/,
    ],
    [
      { w: { dtype: "F32", shape: [1], data_offsets: [0, 4] } },
      8,
      /4 bytes after the last tensor belong to no tensor/,
    ],
    [{ w: 3 }, 0, /"w": entry must be an object with dtype, shape and data_offsets/],
    [{ __metadata__: { n: 1 } }, 0, /__metadata__\.n must be a string, found number/],
    [[1, 2], 0, /header must be a JSON object of tensors/],
  ];
  for (const [header, n, msg] of bad) {
    assert.throws(
      () => decodeSafetensors(file(header, n), "/models/w.safetensors"),
      (e) =>
        e instanceof SafetensorsError && /^\/models\/w\.safetensors: /.test(e.message) &&
        msg.test(e.message),
      JSON.stringify(header),
    );
  }
  assert.throws(() => decodeSafetensors(new Uint8Array(3), "f"), /f: file too short \(3 bytes\)/);
  const big = file({}, 0);
  new DataView(big.buffer).setBigUint64(0, 1000n, true);
  assert.throws(() => decodeSafetensors(big, "f"), /header length 1000 exceeds the file size/);
});
