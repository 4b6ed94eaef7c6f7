import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { DatasetError, downloadFile, loadMnist, loadUci } from "../datasets/mod.ts";

const DATA = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 31 + (i >> 9)) & 255);
const DATA_MD5 = createHash("md5").update(DATA).digest("hex");

interface TestServer {
  base: string;
  hits: Map<string, number>;
  release: () => void;
  close: () => Promise<void>;
}

/** A local HTTP server on 127.0.0.1 with good, broken and silent routes. */
function startServer(files: Record<string, Uint8Array> = {}): TestServer {
  const hits = new Map<string, number>();
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      onListen() {},
      onError: () => new Response(null, { status: 500 }),
    },
    async (req) => {
      const path = new URL(req.url).pathname;
      hits.set(path, (hits.get(path) ?? 0) + 1);
      if (path === "/good.bin") return new Response(DATA);
      if (path === "/drop.bin") {
        // Sends half the file, then the connection breaks.
        const body = new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(DATA.subarray(0, DATA.length / 2));
            setTimeout(() => c.error(new Error("simulated connection drop")), 20);
          },
        });
        return new Response(body, { headers: { "content-length": String(DATA.length) } });
      }
      if (path === "/stall.bin") {
        // Sends half the file, then nothing until the test ends.
        const body = new ReadableStream<Uint8Array>({
          async start(c) {
            c.enqueue(DATA.subarray(0, DATA.length / 2));
            await gate;
            c.close();
          },
        });
        return new Response(body);
      }
      if (path === "/silent.bin") {
        await gate; // never answers (until the test is over)
        return new Response("too late");
      }
      const file = files[path];
      if (file) return new Response(file as Uint8Array<ArrayBuffer>);
      return new Response("not here", { status: 404 });
    },
  );
  return {
    base: `http://127.0.0.1:${server.addr.port}`,
    hits,
    release,
    close: async () => {
      release();
      await server.shutdown();
    },
  };
}

async function listDir(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) out.push(e.name);
  } catch { /* missing */ }
  return out.sort();
}

/**
 * Runs `fn` with BNN_DATA_DIR and BNN_OFFLINE unset and the user cache in a
 * temporary folder, so only the test's own folders are searched.
 */
async function isolated(fn: () => Promise<void>): Promise<void> {
  const keys = ["BNN_DATA_DIR", "BNN_OFFLINE", "XDG_CACHE_HOME"];
  const saved = keys.map((k) => Deno.env.get(k));
  const cache = await Deno.makeTempDir();
  Deno.env.delete("BNN_DATA_DIR");
  Deno.env.delete("BNN_OFFLINE");
  Deno.env.set("XDG_CACHE_HOME", cache);
  try {
    await fn();
  } finally {
    keys.forEach((k, i) =>
      saved[i] === undefined ? Deno.env.delete(k) : Deno.env.set(k, saved[i]!)
    );
    await Deno.remove(cache, { recursive: true });
  }
}

const FAST = { connectTimeoutMs: 500, stallTimeoutMs: 500, progress: false };

Deno.test("downloadFile: a good file lands atomically with its MD5 verified", async () => {
  const srv = startServer();
  const dir = await Deno.makeTempDir();
  try {
    const dest = join(dir, "sub", "good.bin");
    const r = await downloadFile(`${srv.base}/good.bin`, dest, { ...FAST, md5: DATA_MD5 });
    assert.equal(r.bytes, DATA.length);
    assert.equal(r.md5, DATA_MD5);
    assert.deepEqual(await Deno.readFile(dest), DATA);
    assert.deepEqual(await listDir(join(dir, "sub")), ["good.bin"]);
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("downloadFile: wrong checksum deletes the file and errors", async () => {
  const srv = startServer();
  const dir = await Deno.makeTempDir();
  try {
    const dest = join(dir, "x.bin");
    await assert.rejects(
      () => downloadFile(`${srv.base}/good.bin`, dest, { ...FAST, md5: "0".repeat(32) }),
      (e: unknown) =>
        e instanceof DatasetError && /checksum mismatch: MD5 [0-9a-f]{32}/.test(e.message) &&
        e.message.includes(`${srv.base}/good.bin`),
    );
    assert.deepEqual(await listDir(dir), [], "neither the file nor a temp file is left");
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("downloadFile: a connection dropped mid-file leaves no partial file", async () => {
  const srv = startServer();
  const dir = await Deno.makeTempDir();
  try {
    const dest = join(dir, "drop.bin");
    await assert.rejects(
      () => downloadFile(`${srv.base}/drop.bin`, dest, FAST),
      /connection lost/,
    );
    assert.deepEqual(await listDir(dir), []);
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("downloadFile: a server that never answers times out quickly", async () => {
  const srv = startServer();
  const dir = await Deno.makeTempDir();
  try {
    const t0 = performance.now();
    await assert.rejects(
      () => downloadFile(`${srv.base}/silent.bin`, join(dir, "s.bin"), FAST),
      /no response within 0\.5 s/,
    );
    const elapsed = performance.now() - t0;
    assert.ok(elapsed < 3000, `took ${elapsed} ms`);
    // A body that stops mid-way is a stall.
    await assert.rejects(
      () => downloadFile(`${srv.base}/stall.bin`, join(dir, "t.bin"), FAST),
      /stalled: no data for 0\.5 s/,
    );
    assert.deepEqual(await listDir(dir), []);
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("downloadFile: falls back to the next mirror and reports every failure", async () => {
  const srv = startServer();
  const dir = await Deno.makeTempDir();
  try {
    const dest = join(dir, "m.bin");
    const r = await downloadFile([`${srv.base}/missing.bin`, `${srv.base}/good.bin`], dest, {
      ...FAST,
      md5: DATA_MD5,
    });
    assert.equal(r.url, `${srv.base}/good.bin`);
    const err = await downloadFile(
      [`${srv.base}/missing.bin`, "http://127.0.0.1:1/x.bin"],
      join(dir, "n.bin"),
      FAST,
    ).then(() => null, (e) => e);
    assert.ok(err instanceof DatasetError);
    assert.match(err.message, /missing\.bin: HTTP 404/);
    assert.match(err.message, /127\.0\.0\.1:1\/x\.bin: cannot connect/);
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("loadMnist: a failed download names the files, URLs and folder", () =>
  isolated(async () => {
    const srv = startServer();
    const dir = await Deno.makeTempDir();
    try {
      const err = await loadMnist("mnist", "test", {
        ...FAST,
        dataDir: dir,
        mirrors: [`${srv.base}/mirror/`],
      }).then(() => null, (e) => e);
      assert.ok(err instanceof DatasetError);
      assert.match(
        err.message,
        /MNIST \(test split\): could not download t10k-images-idx3-ubyte\.gz/,
      );
      assert.match(err.message, /HTTP 404/);
      assert.ok(err.message.includes(`put them in ${join(dir, "mnist")}`));
      assert.ok(err.message.includes(`${srv.base}/mirror/t10k-labels-idx1-ubyte.gz`));
      assert.deepEqual(await listDir(join(dir, "mnist")), []);
    } finally {
      await srv.close();
      await Deno.remove(dir, { recursive: true });
    }
  }));

Deno.test("loadMnist: a download with the wrong checksum is rejected, not kept", () =>
  isolated(async () => {
    // A structurally valid IDX file that is not the published one.
    const fake = await gzip(new Uint8Array([0, 0, 8, 1, 0, 0, 0, 1, 3]));
    const srv = startServer({
      "/m/t10k-images-idx3-ubyte.gz": fake,
      "/m/t10k-labels-idx1-ubyte.gz": fake,
    });
    const dir = await Deno.makeTempDir();
    try {
      await assert.rejects(
        () => loadMnist("mnist", "test", { ...FAST, dataDir: dir, mirrors: [`${srv.base}/m/`] }),
        /t10k-images-idx3-ubyte\.gz: checksum mismatch: MD5 [0-9a-f]{32}, expected 9fb629c4/,
      );
      assert.deepEqual(await listDir(join(dir, "mnist")), []);
    } finally {
      await srv.close();
      await Deno.remove(dir, { recursive: true });
    }
  }));

const dataDir = Deno.env.get("BNN_DATA_DIR");

Deno.test({
  name: "loadMnist downloads the real MNIST test split from a (local) mirror, verified",
  ignore: !dataDir,
  fn: () =>
    isolated(async () => {
      const files: Record<string, Uint8Array> = {};
      for (const f of ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]) {
        files[`/mnist/${f}`] = await Deno.readFile(join(dataDir!, "mnist", f));
      }
      const srv = startServer(files);
      const dir = await Deno.makeTempDir();
      try {
        const opts = {
          ...FAST,
          dataDir: dir,
          mirrors: [`${srv.base}/nope/`, `${srv.base}/mnist/`],
        };
        const ds = await loadMnist("mnist", "test", opts);
        assert.equal(ds.n, 10000);
        assert.deepEqual(Array.from(ds.y.subarray(0, 5)), [7, 2, 1, 0, 4]);
        assert.deepEqual(await listDir(join(dir, "mnist")), [
          "t10k-images-idx3-ubyte.gz",
          "t10k-labels-idx1-ubyte.gz",
        ]);
        assert.equal(srv.hits.get("/mnist/t10k-images-idx3-ubyte.gz"), 1);
        // Second load: found locally, no request.
        await loadMnist("mnist", "test", opts);
        assert.equal(srv.hits.get("/mnist/t10k-images-idx3-ubyte.gz"), 1);
      } finally {
        await srv.close();
        await Deno.remove(dir, { recursive: true });
      }
    }),
});

Deno.test("loadUci downloads the UCI layout, validating it structurally", () =>
  isolated(async () => {
    const enc = new TextEncoder();
    const rows = Array.from({ length: 10 }, (_, i) => `${i} ${i * 2} ${i * i}`).join("\n") + "\n";
    const files: Record<string, Uint8Array> = {
      "/U/yacht/data/data.txt": enc.encode(rows),
      "/U/yacht/data/index_features.txt": enc.encode("0\n1\n"),
      "/U/yacht/data/index_target.txt": enc.encode("2\n"),
      "/U/yacht/data/n_splits.txt": enc.encode("1\n"),
      "/U/yacht/data/index_train_0.txt": enc.encode("0\n1\n2\n3\n4\n5\n6\n7\n"),
      "/U/yacht/data/index_test_0.txt": enc.encode("8\n9\n"),
      "/U/yacht/data/n_epochs.txt": enc.encode("40\n"),
      // A corrupt data file for another set.
      "/U/energy/data/data.txt": enc.encode("1 2 3\n4 five 6\n"),
    };
    const srv = startServer(files);
    const dir = await Deno.makeTempDir();
    try {
      const s = await loadUci("yacht", { ...FAST, dataDir: dir, baseUrl: `${srv.base}/U/` });
      assert.equal(s.train.n, 8);
      assert.equal(s.test.n, 2);
      assert.equal(s.settings.nEpochs, 40);
      assert.equal(s.settings.tauValues, undefined);
      assert.ok(await Deno.stat(join(dir, "uci", "yacht", "index_test_0.txt")));
      await assert.rejects(
        () => loadUci("energy", { ...FAST, dataDir: dir, baseUrl: `${srv.base}/U/` }),
        /downloaded file is invalid: .*data\.txt.*, line 2, column 2: "five" is not a finite number/,
      );
      assert.deepEqual(await listDir(join(dir, "uci", "energy")), []);
    } finally {
      await srv.close();
      await Deno.remove(dir, { recursive: true });
    }
  }));
