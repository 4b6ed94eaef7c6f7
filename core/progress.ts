/**
 * Progress display for long jobs: one self-updating line on a TTY (epoch,
 * step, loss, error, samples/s, ETA); silent when stderr is not a terminal.
 *
 * @module
 */

/** Formats seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  }
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/**
 * A progress line writer.
 *
 * @example
 * ```ts
 * import { Progress } from "./progress.ts";
 * const p = new Progress({ label: "train", total: 100 });
 * for (let i = 1; i <= 100; i++) p.update(i, { loss: 0.1 });
 * p.done("finished");
 * ```
 */
export class Progress {
  readonly #enabled: boolean;
  readonly #label: string;
  readonly #total: number;
  readonly #start = performance.now();
  #last = 0;
  #encoder = new TextEncoder();

  /** `enabled` defaults to whether stderr is a terminal. */
  constructor(opts: { label: string; total: number; enabled?: boolean }) {
    this.#label = opts.label;
    this.#total = opts.total;
    this.#enabled = opts.enabled ?? Deno.stderr.isTerminal();
  }

  /** Whether anything is printed. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** Reports `done` of `total` units, with named figures; redraws at most 10×/s. */
  update(done: number, figures: Record<string, number | string> = {}): void {
    if (!this.#enabled) return;
    const now = performance.now();
    if (now - this.#last < 100 && done < this.#total) return;
    this.#last = now;
    const elapsed = (now - this.#start) / 1000;
    const rate = done / Math.max(elapsed, 1e-9);
    const eta = (this.#total - done) / Math.max(rate, 1e-9);
    const figs = Object.entries(figures)
      .map(([k, v]) => `${k} ${typeof v === "number" ? fmt(v) : v}`)
      .join("  ");
    const line = `${this.#label} ${done}/${this.#total}  ${figs}  ETA ${formatDuration(eta)}`;
    const cols = safeColumns();
    Deno.stderr.writeSync(this.#encoder.encode(`\r\x1b[K${line.slice(0, cols - 1)}`));
  }

  /** Clears the line and, on a TTY, prints `message` (if any). */
  done(message?: string): void {
    if (!this.#enabled) return;
    Deno.stderr.writeSync(this.#encoder.encode(`\r\x1b[K${message ? message + "\n" : ""}`));
  }
}

function safeColumns(): number {
  try {
    return Deno.consoleSize().columns || 120;
  } catch {
    return 120;
  }
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return a >= 100 ? v.toFixed(0) : v.toPrecision(4);
}
