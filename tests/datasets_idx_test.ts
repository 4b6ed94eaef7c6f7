import assert from "node:assert/strict";
import { join } from "node:path";
import { DatasetError, encodeIdx, parseIdx, readIdx } from "../datasets/mod.ts";

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function sample(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 255);
}

Deno.test("readIdx: uint8 round trip, raw and gzip, detected by content", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = sample(3 * 4 * 5);
    const raw = encodeIdx(data, [3, 4, 5]);
    await Deno.writeFile(join(dir, "a-idx3-ubyte"), raw);
    await Deno.writeFile(join(dir, "a-idx3-ubyte.gz"), await gzip(raw));
    // A gzip file without .gz in its name is still recognised.
    await Deno.writeFile(join(dir, "b.bin"), await gzip(raw));
    for (const f of ["a-idx3-ubyte", "a-idx3-ubyte.gz", "b.bin"]) {
      const a = await readIdx(join(dir, f));
      assert.equal(a.dtype, "uint8");
      assert.deepEqual(a.shape, [3, 4, 5]);
      assert.ok(a.data instanceof Uint8Array);
      assert.deepEqual(Array.from(a.data), Array.from(data), f);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseIdx: big-endian int32 and float32 bodies decode", async () => {
  const ints = [1, -2, 70000, -2147483648];
  const b = new Uint8Array(8 + 16);
  const dv = new DataView(b.buffer);
  b[2] = 0x0c;
  b[3] = 1;
  dv.setUint32(4, 4);
  ints.forEach((v, i) => dv.setInt32(8 + 4 * i, v, false));
  const a = await parseIdx(b, "ints");
  assert.equal(a.dtype, "int32");
  assert.deepEqual(Array.from(a.data), ints);

  const f = new Uint8Array(12 + 8);
  const fv = new DataView(f.buffer);
  f[2] = 0x0d;
  f[3] = 2;
  fv.setUint32(4, 1);
  fv.setUint32(8, 2);
  fv.setFloat32(12, 1.5, false);
  fv.setFloat32(16, -0.25, false);
  const g = await parseIdx(f, "floats");
  assert.equal(g.dtype, "float32");
  assert.deepEqual(g.shape, [1, 2]);
  assert.deepEqual(Array.from(g.data), [1.5, -0.25]);
});

async function expectIdxError(bytes: Uint8Array, name: string, pattern: RegExp) {
  await assert.rejects(
    () => parseIdx(bytes, name),
    (e: unknown) => {
      assert.ok(e instanceof DatasetError, `expected DatasetError, got ${e}`);
      assert.ok(e.message.includes(name), `message should name the file: ${e.message}`);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

Deno.test("parseIdx: wrong magic, unknown type, truncated and wrong count are errors", async () => {
  const good = encodeIdx(sample(2 * 3), [2, 3]);
  for (const zipped of [false, true]) {
    const z = (b: Uint8Array) => zipped ? gzip(b) : Promise.resolve(b);
    const tag = zipped ? "f.gz" : "f";
    const magic = good.slice();
    magic[0] = 0x12;
    await expectIdxError(await z(magic), tag, /magic number 0x12000802/);
    const type = good.slice();
    type[2] = 0x07;
    await expectIdxError(await z(type), tag, /unknown element type 0x07/);
    await expectIdxError(
      await z(good.subarray(0, good.length - 1)),
      tag,
      /truncated.*18 bytes.*has 17/,
    );
    await expectIdxError(await z(good.subarray(0, 10)), tag, /truncated header/);
    const extra = new Uint8Array(good.length + 2);
    extra.set(good);
    await expectIdxError(await z(extra), tag, /trailing bytes.*18 bytes.*has 20/);
    // Header says 3 rows, body has 2 rows.
    const count = good.slice();
    new DataView(count.buffer).setUint32(4, 3);
    await expectIdxError(await z(count), tag, /truncated.*\[3, 3\].*21 bytes.*has 18/);
  }
});

Deno.test("parseIdx: a truncated or corrupt gzip stream is an error naming the file", async () => {
  const gz = await gzip(encodeIdx(sample(4000), [4000]));
  await expectIdxError(
    gz.subarray(0, gz.length >> 1),
    "half.gz",
    /gzip data is truncated or corrupt/,
  );
  const bad = gz.slice();
  for (let i = 20; i < 60; i++) bad[i] ^= 0x5a;
  await expectIdxError(bad, "bad.gz", /gzip data is truncated or corrupt/);
});

Deno.test("readIdx: a missing file is a DatasetError naming it", async () => {
  await assert.rejects(
    () => readIdx("/nonexistent/dir/x-idx1-ubyte.gz"),
    (e: unknown) =>
      e instanceof DatasetError && e.message.includes("/nonexistent/dir/x-idx1-ubyte.gz"),
  );
});
