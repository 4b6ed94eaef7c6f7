/**
 * The whole-run ETA of `uci.ts`. Rows differ in cost by two orders of
 * magnitude (a yacht row trains on 277 rows, a protein row on 41 157; an
 * SGHMC grid point runs four times the epochs of an MC dropout one), and the
 * pool runs them set by set, so "seconds per finished row × rows left"
 * measured on the small sets first falls short (on the nine-set run of
 * 2026-12-04, by an hour after its first 70 rows). Here each row's expected
 * work is the number of training examples its fits process, each method's
 * seconds per unit of work are measured on its finished rows, and the rows
 * left are shared among the worker processes.
 *
 * @module
 */
/** Share of a training split the tuner fits on (the inner 80/20 split). */
const INNER = 0.8;

/**
 * Expected work of one row, in training examples processed: every grid
 * candidate's epochs over the inner training rows, plus the final fit's
 * epochs (the candidates' mean; the budget's without a grid) over the whole
 * training split, once per member.
 *
 * @example
 * ```ts
 * import { uciRowWork } from "./uci_eta.ts";
 * const grid = [{ epochs: 400, settings: {} }, { epochs: 400, settings: {} }];
 * uciRowWork({ nTrain: 100, epochs: 400, candidates: grid }); // 2·400·80 + 400·100 = 104 000
 * uciRowWork({ nTrain: 100, epochs: 400 }); // 40 000
 * ```
 */
export function uciRowWork(row: {
  nTrain: number;
  epochs: number;
  /** The grid's candidates (only their epochs count). */
  candidates?: readonly { epochs: number }[];
  members?: number;
}): number {
  const c = row.candidates ?? [];
  const gridEpochs = c.reduce((s, x) => s + x.epochs, 0);
  const finalEpochs = c.length ? gridEpochs / c.length : row.epochs;
  return (gridEpochs * INNER + finalEpochs * (row.members ?? 1)) * row.nTrain;
}

/**
 * Tracks the rows of one run and estimates the wall-clock seconds left.
 *
 * @example
 * ```ts
 * import { UciEta } from "./uci_eta.ts";
 * const eta = new UciEta([
 *   { id: "yacht|0|map", method: "map", work: 1 },
 *   { id: "protein|0|map", method: "map", work: 9 },
 * ], 2);
 * eta.finish("yacht|0|map", 2); // 2 s of row time
 * eta.secondsLeft(); // 18: 9 units at 2 s each, one row left for the 2 workers
 * ```
 */
export class UciEta {
  #left = new Map<string, { method: string; work: number }>();
  #seconds = new Map<string, number>();
  #work = new Map<string, number>();
  #jobs: number;

  /**
   * `rows`: every row the run will train, `id` unique, `work` from
   * {@linkcode uciRowWork}; `jobs`: rows trained at a time.
   */
  constructor(rows: readonly { id: string; method: string; work: number }[], jobs = 1) {
    if (!(jobs >= 1)) throw new RangeError(`UciEta: jobs must be at least 1, found ${jobs}`);
    this.#jobs = jobs;
    for (const r of rows) {
      if (this.#left.has(r.id)) throw new RangeError(`UciEta: row "${r.id}" given twice`);
      this.#left.set(r.id, { method: r.method, work: r.work });
    }
  }

  /** Marks a row finished after `seconds` of its own (row) time. */
  finish(id: string, seconds: number): void {
    const r = this.#left.get(id);
    if (!r) throw new RangeError(`UciEta: no unfinished row "${id}"`);
    this.#left.delete(id);
    if (!(seconds >= 0)) return; // a row without a time still leaves the queue
    this.#seconds.set(r.method, (this.#seconds.get(r.method) ?? 0) + seconds);
    this.#work.set(r.method, (this.#work.get(r.method) ?? 0) + r.work);
  }

  /**
   * Wall-clock seconds left: the rows left, each at its method's measured
   * seconds per unit of work (the run's, for a method with no finished row
   * yet), shared by `jobs` workers (fewer when fewer rows are left). NaN
   * before any row with a time finished; 0 when none is left.
   */
  secondsLeft(): number {
    let allSeconds = 0, allWork = 0;
    for (const [m, s] of this.#seconds) {
      allSeconds += s;
      allWork += this.#work.get(m)!;
    }
    if (this.#left.size === 0) return 0;
    if (!(allWork > 0)) return NaN;
    let rowSecondsLeft = 0;
    for (const r of this.#left.values()) {
      const w = this.#work.get(r.method);
      const rate = w ? this.#seconds.get(r.method)! / w : allSeconds / allWork;
      rowSecondsLeft += r.work * rate;
    }
    return rowSecondsLeft / Math.min(this.#jobs, this.#left.size);
  }
}
