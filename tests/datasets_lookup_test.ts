import assert from "node:assert/strict";
import { join } from "node:path";
import {
  DatasetError,
  encodeIdx,
  loadMnist,
  MNIST_SETS,
  resolveDataDirs,
  userCacheDir,
} from "../datasets/mod.ts";

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Writes a tiny fake image set (n images) into `<dir>/<folder>/`; returns pixels and labels. */
async function writeFakeSet(dir: string, folder: string, split: "train" | "test", n: number) {
  const px = Uint8Array.from({ length: n * 784 }, (_, i) => (i * 13 + n) & 255);
  const labels = Uint8Array.from({ length: n }, (_, i) => (i * 3 + 1) % 10);
  const pre = split === "train" ? "train" : "t10k";
  await Deno.mkdir(join(dir, folder), { recursive: true });
  await Deno.writeFile(
    join(dir, folder, `${pre}-images-idx3-ubyte.gz`),
    await gzip(encodeIdx(px, [n, 28, 28])),
  );
  await Deno.writeFile(
    join(dir, folder, `${pre}-labels-idx1-ubyte.gz`),
    await gzip(encodeIdx(labels, [n])),
  );
  return { px, labels };
}

/** Runs `fn` with environment variables set (undefined = unset), restoring them after. */
async function withEnv(vars: Record<string, string | undefined>, fn: () => Promise<void>) {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = Deno.env.get(k);
    if (v === undefined) Deno.env.delete(k);
    else Deno.env.set(k, v);
  }
  try {
    await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  }
}

Deno.test("userCacheDir follows each platform's convention", () => {
  const env = (vars: Record<string, string>) => (k: string) => vars[k];
  assert.equal(userCacheDir("linux", env({ HOME: "/home/a" })), "/home/a/.cache/bayes-nn");
  assert.equal(
    userCacheDir("linux", env({ HOME: "/home/a", XDG_CACHE_HOME: "/xdg" })),
    "/xdg/bayes-nn",
  );
  assert.equal(
    userCacheDir("darwin", env({ HOME: "/Users/a" })),
    "/Users/a/Library/Caches/bayes-nn",
  );
  assert.equal(
    userCacheDir("windows", env({ LOCALAPPDATA: "C:\\Users\\a\\AppData\\Local" })),
    "C:\\Users\\a\\AppData\\Local\\bayes-nn",
  );
  assert.equal(userCacheDir("linux", env({})), undefined);
});

Deno.test("resolveDataDirs: option, then BNN_DATA_DIR, then cache", async () => {
  await withEnv({ BNN_DATA_DIR: "/env/dir", XDG_CACHE_HOME: "/xdg" }, () => {
    assert.deepEqual(resolveDataDirs({ dataDir: "/opt/dir" }), [
      { path: "/opt/dir", source: "option" },
      { path: "/env/dir", source: "env" },
      { path: "/xdg/bayes-nn", source: "cache" },
    ]);
    assert.deepEqual(resolveDataDirs().map((d) => d.source), ["env", "cache"]);
    return Promise.resolve();
  });
});

Deno.test("loadMnist finds files via the dataDir option, BNN_DATA_DIR, and the cache", async () => {
  const root = await Deno.makeTempDir();
  try {
    const optDir = join(root, "opt");
    const envDir = join(root, "env");
    const home = join(root, "home");
    const xdg = join(root, "xdg");
    // Different sizes tell the locations apart.
    const a = await writeFakeSet(optDir, "mnist", "test", 3);
    await writeFakeSet(envDir, "mnist", "test", 4);
    await writeFakeSet(join(home, ".cache", "bayes-nn"), "mnist", "test", 5);
    await writeFakeSet(join(xdg, "bayes-nn"), "mnist", "test", 6);
    const warnings: string[] = [];
    const opts = { download: false, onWarning: (m: string) => warnings.push(m) };
    await withEnv({
      BNN_DATA_DIR: envDir,
      HOME: home,
      XDG_CACHE_HOME: undefined,
      BNN_ACCEPT_CHECKSUM: undefined,
    }, async () => {
      const ds = await loadMnist("mnist", "test", { ...opts, dataDir: optDir });
      assert.equal(ds.n, 3);
      assert.deepEqual(ds.xShape, [784]);
      assert.deepEqual(Array.from(ds.y), Array.from(a.labels));
      const { mean, std } = MNIST_SETS.mnist;
      for (const i of [0, 100, 2351]) {
        assert.ok(Math.abs(ds.x[i] - (a.px[i] / 255 - mean) / std) < 1e-6);
      }
      assert.ok(Math.abs(ds.background - -mean / std) < 1e-6);
      // Placed files with the wrong checksum: warnings, not errors.
      assert.equal(warnings.length, 2);
      assert.match(
        warnings[0],
        /t10k-images-idx3-ubyte\.gz has MD5 [0-9a-f]{32}, not the published/,
      );

      assert.equal((await loadMnist("mnist", "test", opts)).n, 4);
    });
    await withEnv({
      BNN_DATA_DIR: undefined,
      HOME: home,
      XDG_CACHE_HOME: undefined,
      BNN_ACCEPT_CHECKSUM: undefined,
    }, async () => {
      const ds = await loadMnist("mnist", "test", { ...opts, flatten: false, normalize: false });
      assert.equal(ds.n, 5);
      assert.deepEqual(ds.xShape, [28, 28]);
      assert.equal(ds.normalization, null);
      assert.ok(Math.max(...ds.x) <= 1 && Math.min(...ds.x) >= 0);
    });
    await withEnv({
      BNN_DATA_DIR: undefined,
      HOME: home,
      XDG_CACHE_HOME: xdg,
      BNN_ACCEPT_CHECKSUM: undefined,
    }, async () => {
      assert.equal((await loadMnist("mnist", "test", opts)).n, 6);
      assert.equal((await loadMnist("mnist", "test", { ...opts, limit: 2 })).n, 2);
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("loadMnist accepts un-gzipped files and checks labels against images", async () => {
  const root = await Deno.makeTempDir();
  try {
    const dir = join(root, "kmnist");
    await Deno.mkdir(dir);
    const px = new Uint8Array(2 * 784).fill(255);
    await Deno.writeFile(join(dir, "train-images-idx3-ubyte"), encodeIdx(px, [2, 28, 28]));
    await Deno.writeFile(
      join(dir, "train-labels-idx1-ubyte"),
      encodeIdx(new Uint8Array([4, 9]), [2]),
    );
    const warnings: string[] = [];
    const ds = await loadMnist("kmnist", "train", {
      dataDir: root,
      download: false,
      onWarning: (m) => warnings.push(m),
    });
    assert.deepEqual(Array.from(ds.y), [4, 9]);
    assert.ok(Math.abs(ds.x[0] - (1 - 0.1918) / 0.3483) < 1e-6);
    assert.equal(warnings.length, 0, "no checksum applies to un-gzipped files");

    await Deno.writeFile(join(dir, "train-labels-idx1-ubyte"), encodeIdx(new Uint8Array([4]), [1]));
    await assert.rejects(
      () => loadMnist("kmnist", "train", { dataDir: root, download: false }),
      /1 labels but .*train-images-idx3-ubyte has 2 images/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("offline with nothing local: one error listing files, URLs and the folder", async () => {
  const root = await Deno.makeTempDir();
  try {
    await withEnv({ BNN_DATA_DIR: undefined, XDG_CACHE_HOME: join(root, "c") }, async () => {
      for (const opts of [{ dataDir: root, download: false }, { dataDir: root }]) {
        const offline = "download" in opts ? undefined : "1";
        await withEnv({ BNN_OFFLINE: offline }, async () => {
          const err = await loadMnist("kmnist", "test", opts).then(() => null, (e) => e);
          assert.ok(err instanceof DatasetError);
          const m = err.message;
          assert.match(m, /KMNIST \(test split\): 2 file\(s\) not found/);
          assert.match(m, offline ? /BNN_OFFLINE=1/ : /download: false/);
          assert.ok(m.includes(`put them in ${join(root, "kmnist")}`), m);
          assert.ok(m.includes("t10k-images-idx3-ubyte.gz"));
          assert.ok(
            m.includes("http://codh.rois.ac.jp/kmnist/dataset/kmnist/t10k-labels-idx1-ubyte.gz"),
          );
        });
      }
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: "Fashion-MNIST is found in Debian's /usr/share/datasets/fashion-mnist/",
  ignore: !(() => {
    try {
      return Deno.statSync("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz").isFile;
    } catch {
      return false;
    }
  })(),
  fn: async () => {
    const root = await Deno.makeTempDir();
    try {
      await withEnv({ BNN_DATA_DIR: undefined, XDG_CACHE_HOME: root }, async () => {
        const warnings: string[] = [];
        const ds = await loadMnist("fashion-mnist", "test", {
          dataDir: root,
          download: false,
          onWarning: (m) => warnings.push(m),
        });
        assert.equal(ds.n, 10000);
        assert.equal(ds.classes[9], "Ankle boot");
        const counts = new Array(10).fill(0);
        for (const c of ds.y) counts[c]++;
        assert.deepEqual(counts, new Array(10).fill(1000));
        assert.equal(warnings.length, 0, "system install: structure checked, no checksum warning");
      });
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("checksum warnings are printed on stderr once per file by default", async () => {
  const root = await Deno.makeTempDir();
  try {
    await writeFakeSet(root, "mnist", "train", 2);
    const mod = new URL("../datasets/mod.ts", import.meta.url).href;
    const code = `import { loadMnist } from ${JSON.stringify(mod)};
      const o = { dataDir: ${JSON.stringify(root)}, download: false };
      await loadMnist("mnist", "train", o);
      const ds = await loadMnist("mnist", "train", o);
      console.log("loaded", ds.n);`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-check", code],
      env: { BNN_DATA_DIR: "", NO_COLOR: "1", BNN_ACCEPT_CHECKSUM: "" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.match(stdout, /loaded 2/);
    const lines = stderr.split("\n").filter((l) => l.startsWith("Warning:"));
    assert.equal(lines.length, 2, stderr);
    assert.ok(lines[0].includes("train-images-idx3-ubyte.gz"));
    assert.ok(lines[1].includes("train-labels-idx1-ubyte.gz"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** Runs `code` (TypeScript, with `mod` the datasets module URL) in a child; returns stderr. */
async function childStderr(code: string, env: Record<string, string>, cwd?: string) {
  const mod = new URL("../datasets/mod.ts", import.meta.url).href;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--no-check",
      "--config",
      new URL("../deno.json", import.meta.url).pathname,
      `const mod = ${JSON.stringify(mod)};\n${code}`,
    ],
    // A user's BNN_ACCEPT_CHECKSUM=1 would silence the warnings these tests read.
    env: { BNN_DATA_DIR: "", NO_COLOR: "1", BNN_ACCEPT_CHECKSUM: "", ...env },
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  return stderr;
}

Deno.test("checksum warning: once per file however its folder is named; it says how to accept", async () => {
  const root = await Deno.makeTempDir();
  try {
    await writeFakeSet(root, "mnist", "test", 2);
    const code = `const { loadMnist } = await import(mod);
      for (const dataDir of [${JSON.stringify(root)}, ${JSON.stringify(root + "/.")}, "."]) {
        await loadMnist("mnist", "test", { dataDir, download: false });
      }`;
    const stderr = await childStderr(code, {}, root);
    const lines = stderr.split("\n").filter((l) => l.startsWith("Warning:"));
    assert.equal(lines.length, 2, stderr); // images and labels, once each
    assert.match(
      lines[0],
      /To accept this file for good: md5sum .*t10k-images-idx3-ubyte\.gz > .*t10k-images-idx3-ubyte\.gz\.md5 \(or set BNN_ACCEPT_CHECKSUM=1\)/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("checksum warning: accepted for good by a recorded <file>.md5 or BNN_ACCEPT_CHECKSUM=1", async () => {
  const root = await Deno.makeTempDir();
  try {
    await writeFakeSet(root, "mnist", "test", 2);
    const images = join(root, "mnist", "t10k-images-idx3-ubyte.gz");
    const md5 = async (p: string) => {
      const { createHash } = await import("node:crypto");
      return createHash("md5").update(await Deno.readFile(p)).digest("hex");
    };
    // `md5sum FILE > FILE.md5` format: accepts the images, not the labels.
    await Deno.writeTextFile(`${images}.md5`, `${await md5(images)}  ${images}\n`);
    const code = `const { loadMnist } = await import(mod);
      await loadMnist("mnist", "test", { dataDir: ${JSON.stringify(root)}, download: false });`;
    let lines = (await childStderr(code, {})).split("\n").filter((l) => l.startsWith("Warning:"));
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0], /t10k-labels-idx1-ubyte\.gz has MD5/);
    // A recorded checksum of other bytes does not accept the file.
    await Deno.writeTextFile(`${images}.md5`, "0123456789abcdef0123456789abcdef\n");
    lines = (await childStderr(code, {})).split("\n").filter((l) => l.startsWith("Warning:"));
    assert.equal(lines.length, 2);
    // The environment variable accepts every local file (structure is still checked).
    const quiet = await childStderr(code, { BNN_ACCEPT_CHECKSUM: "1" });
    assert.doesNotMatch(quiet, /Warning/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
