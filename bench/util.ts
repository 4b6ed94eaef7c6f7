/**
 * Shared helpers of the benchmarks: machine description, medians, and
 * atomically written result files under `bench/results/`.
 *
 * @module
 */
import { writeJsonAtomic } from "../core/atomic.ts";

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** CPU model, cores, memory, versions and the backend line. */
export async function machineInfo(backendLine: string): Promise<Record<string, unknown>> {
  let cpu = "unknown";
  try {
    const txt = await Deno.readTextFile("/proc/cpuinfo");
    cpu = txt.match(/model name\s*:\s*(.+)/)?.[1] ?? cpu;
  } catch { /* not Linux */ }
  let commit = "";
  try {
    const out = await new Deno.Command("git", {
      args: ["rev-parse", "--short", "HEAD"],
      stderr: "null",
    })
      .output();
    commit = new TextDecoder().decode(out.stdout).trim();
  } catch { /* no git */ }
  return {
    cpu,
    cores: navigator.hardwareConcurrency,
    memoryGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    tfjs: "4.22.0",
    backend: backendLine,
    commit,
    date: new Date().toISOString(),
  };
}

/** Writes `bench/results/<name>-<date>.json` atomically; returns the path. */
export async function writeResult(name: string, data: unknown): Promise<string> {
  const stamp = new Date().toISOString().replace(/[:]/g, "-").replace(/\..+/, "");
  const path = new URL(`./results/${name}-${stamp}.json`, import.meta.url).pathname;
  await writeJsonAtomic(path, data);
  return path;
}
