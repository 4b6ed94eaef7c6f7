/**
 * Robust file download: time-outs instead of hanging, a progress bar on a
 * terminal, MD5 verification, and atomic writes (temp file + rename, so a
 * half file never appears under the final name).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { dirname } from "node:path";
import { DatasetError } from "./types.ts";

/**
 * Options of {@linkcode downloadFile}.
 *
 * @example
 * ```ts
 * import type { DownloadOptions } from "@bayes/nn/datasets";
 * const opts: DownloadOptions = { md5: "ec29112dd5afa0611ce80d1b7f02629c", connectTimeoutMs: 5000 };
 * ```
 */
export interface DownloadOptions {
  /** Expected MD5 (hex) of the file; a mismatch deletes it and throws. */
  md5?: string;
  /** Time allowed to connect and receive the response headers (default 15 000 ms). */
  connectTimeoutMs?: number;
  /** Longest pause allowed between two chunks of the body (default 30 000 ms). */
  stallTimeoutMs?: number;
  /** Show a progress bar on stderr (default: when stderr is a terminal). */
  progress?: boolean;
  /** Name shown in the progress bar (default: the file name). */
  label?: string;
  /**
   * Structural check run on the complete temporary file before it is renamed
   * into place; throwing rejects the download (the file is deleted).
   */
  validate?: (tmpPath: string) => void | Promise<void>;
}

/**
 * What {@linkcode downloadFile} fetched.
 *
 * @example
 * ```ts
 * import { downloadFile } from "@bayes/nn/datasets";
 * // A local server stands in for the web here; any http(s) URL works the same way.
 * const server = Deno.serve({ port: 0, onListen() {} }, () => new Response("hello"));
 * const url = `http://localhost:${server.addr.port}/a.txt`;
 * const r = await downloadFile(url, `${await Deno.makeTempDir()}/a.txt`);
 * console.log(r.bytes, r.md5, r.url); // 5 5d41402abc4b2a76b9719d911017c592 http://localhost:…/a.txt
 * await server.shutdown();
 * ```
 */
export interface DownloadResult {
  /** Final path of the file. */
  path: string;
  /** The URL it came from. */
  url: string;
  /** Size in bytes. */
  bytes: number;
  /** MD5 (hex) of the content. */
  md5: string;
}

let tmpSeq = 0;

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A one-line progress bar redrawn on stderr with `\r`. */
class ProgressBar {
  #label: string;
  #total?: number;
  #last = 0;
  #enc = new TextEncoder();
  constructor(label: string, total?: number) {
    this.#label = label;
    this.#total = total;
  }
  update(done: number, force = false): void {
    const now = performance.now();
    if (!force && now - this.#last < 100) return;
    this.#last = now;
    let line: string;
    if (this.#total) {
      const frac = Math.min(1, done / this.#total);
      const width = 30;
      const fill = Math.round(frac * width);
      line = `${this.#label} [${"#".repeat(fill)}${" ".repeat(width - fill)}] ` +
        `${(frac * 100).toFixed(0).padStart(3)}% ${formatBytes(done)} / ${
          formatBytes(this.#total)
        }`;
    } else {
      line = `${this.#label} ${formatBytes(done)}`;
    }
    try {
      Deno.stderr.writeSync(this.#enc.encode(`\r${line}\x1b[K`));
    } catch { /* stderr closed: no progress */ }
  }
  finish(done?: number): void {
    if (done !== undefined) this.update(done, true);
    try {
      Deno.stderr.writeSync(this.#enc.encode("\n"));
    } catch { /* ignore */ }
  }
}

function stderrIsTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

async function removeQuietly(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch { /* already gone */ }
}

async function downloadOne(
  url: string,
  dest: string,
  opts: DownloadOptions,
): Promise<DownloadResult> {
  const connectMs = opts.connectTimeoutMs ?? 15_000;
  const stallMs = opts.stallTimeoutMs ?? 30_000;
  const ctrl = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut: string | undefined;
  const arm = (ms: number, what: string) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = what;
      ctrl.abort(new Error(what));
    }, ms);
  };
  arm(connectMs, `no response within ${connectMs / 1000} s`);
  const tmp = `${dest}.tmp-${Deno.pid}-${tmpSeq++}`;
  let file: Deno.FsFile | undefined;
  let body: ReadableStream<Uint8Array> | null = null;
  let renamed = false;
  let bar: ProgressBar | undefined;
  try {
    let res: Response;
    try {
      res = await fetch(url, { signal: ctrl.signal, headers: { "accept-encoding": "identity" } });
    } catch (e) {
      throw new Error(timedOut ?? `cannot connect (${message(e)})`);
    }
    body = res.body;
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
    if (!body) throw new Error("empty response");
    const encoded = res.headers.get("content-encoding");
    const lenHeader = Number(res.headers.get("content-length"));
    const total = !encoded && lenHeader > 0 ? lenHeader : undefined;
    bar = (opts.progress ?? stderrIsTerminal())
      ? new ProgressBar(opts.label ?? dest.split(/[\\/]/).pop()!, total)
      : undefined;
    try {
      await Deno.mkdir(dirname(dest), { recursive: true });
      file = await Deno.open(tmp, { write: true, create: true, truncate: true });
    } catch (e) {
      throw new Error(`cannot write ${tmp} (${message(e)})`);
    }
    const hash = createHash("md5");
    let got = 0;
    arm(stallMs, `download stalled: no data for ${stallMs / 1000} s`);
    const reader = body.getReader();
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (e) {
          throw new Error(
            timedOut ?? `connection lost after ${formatBytes(got)} (${message(e)})`,
          );
        }
        if (chunk.done) break;
        arm(stallMs, `download stalled: no data for ${stallMs / 1000} s`);
        const v = chunk.value;
        hash.update(v);
        for (let off = 0; off < v.length;) off += await file.write(v.subarray(off));
        got += v.length;
        bar?.update(got);
      }
    } finally {
      clearTimeout(timer);
      reader.releaseLock();
    }
    bar?.finish(got);
    bar = undefined;
    body = null;
    file.close();
    file = undefined;
    if (total !== undefined && got !== total) {
      throw new Error(`connection lost: received ${got} of ${total} bytes`);
    }
    const md5 = hash.digest("hex");
    if (opts.md5 && md5 !== opts.md5.toLowerCase()) {
      throw new Error(
        `checksum mismatch: MD5 ${md5}, expected ${opts.md5.toLowerCase()} (file deleted)`,
      );
    }
    if (opts.validate) {
      try {
        await opts.validate(tmp);
      } catch (e) {
        throw new Error(`downloaded file is invalid: ${message(e)} (file deleted)`);
      }
    }
    await Deno.rename(tmp, dest);
    renamed = true;
    return { path: dest, url, bytes: got, md5 };
  } finally {
    clearTimeout(timer);
    bar?.finish();
    if (body) {
      try {
        await body.cancel();
      } catch { /* already errored */ }
    }
    if (file) {
      try {
        file.close();
      } catch { /* closed */ }
    }
    if (!renamed) await removeQuietly(tmp);
  }
}

/**
 * Downloads `url` (or the first of several mirror URLs that works) to `dest`.
 * Never hangs: connecting/first byte and stalls are timed out. The file is
 * written to `<dest>.tmp-<pid>-<n>` and renamed into place only once it is
 * complete and matches `md5` (and passes `validate`); on any failure nothing
 * is left behind and a {@linkcode DatasetError} names each URL tried and why
 * it failed.
 *
 * @example
 * ```ts
 * import { downloadFile } from "@bayes/nn/datasets";
 * // Two mirrors served locally: the first answers 404, the second has the file.
 * const server = Deno.serve({ port: 0, onListen() {} }, (req) =>
 *   req.url.includes("/mirror2/") ? new Response("hello") : new Response("gone", { status: 404 }));
 * const base = `http://localhost:${server.addr.port}`;
 * const r = await downloadFile(
 *   [`${base}/mirror1/a.txt`, `${base}/mirror2/a.txt`],
 *   `${await Deno.makeTempDir()}/a.txt`,
 *   { md5: "5d41402abc4b2a76b9719d911017c592" },
 * );
 * console.log(r.url); // …/mirror2/a.txt
 * await server.shutdown();
 * ```
 */
export async function downloadFile(
  url: string | readonly string[],
  dest: string,
  opts: DownloadOptions = {},
): Promise<DownloadResult> {
  const urls = typeof url === "string" ? [url] : url;
  if (urls.length === 0) throw new DatasetError(`no URL given to download ${dest}`, { file: dest });
  const failures: string[] = [];
  for (const u of urls) {
    try {
      return await downloadOne(u, dest, opts);
    } catch (e) {
      failures.push(`  ${u}: ${message(e)}`);
    }
  }
  throw new DatasetError(
    `could not download ${dest.split(/[\\/]/).pop()}:\n${failures.join("\n")}`,
    { file: dest },
  );
}
