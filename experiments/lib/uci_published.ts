/**
 * The published MC dropout figures on the standard UCI splits and the
 * comparison table of the UCI study: per data set, the method with the best
 * mean test log-likelihood over the splits run, next to the published
 * figure.
 *
 * @module
 */
import { isDiverged } from "./uci_summary.ts";

/**
 * Published MC dropout results on the standard splits (test RMSE and
 * log-likelihood per example, mean over the 20 splits, 5 for protein): the
 * updated figures of Gal & Ghahramani (2016, "Dropout as a Bayesian
 * approximation"), re-run by the authors with tuned dropout and noise
 * precision and listed in their code repository (`DropoutUncertaintyExps`).
 * Keys are this library's data set names.
 *
 * @example
 * ```ts
 * import { PUBLISHED_MC_DROPOUT } from "./uci_published.ts";
 * PUBLISHED_MC_DROPOUT.yacht.logLik; // -1.38
 * ```
 */
export const PUBLISHED_MC_DROPOUT: Readonly<
  Record<string, Readonly<{ rmse: number; logLik: number }>>
> = {
  bostonHousing: { rmse: 2.83, logLik: -2.40 },
  concrete: { rmse: 4.93, logLik: -2.97 },
  energy: { rmse: 1.08, logLik: -1.72 },
  kin8nm: { rmse: 0.09, logLik: 0.97 },
  "naval-propulsion-plant": { rmse: 0.00, logLik: 3.91 },
  "power-plant": { rmse: 4.00, logLik: -2.79 },
  "protein-tertiary-structure": { rmse: 4.27, logLik: -2.87 },
  "wine-quality-red": { rmse: 0.61, logLik: -0.92 },
  yacht: { rmse: 0.70, logLik: -1.38 },
};

type Row = Readonly<Record<string, unknown>>;

/** Mean and standard error (NaN for one value) of `v`. */
function meanSem(v: readonly number[]): { mean: number; sem: number } {
  const n = v.length;
  const mean = v.reduce((s, x) => s + x, 0) / n;
  if (n < 2) return { mean, sem: NaN };
  const ss = v.reduce((s, x) => s + (x - mean) * (x - mean), 0);
  return { mean, sem: Math.sqrt(ss / (n - 1)) / Math.sqrt(n) };
}

function fmt(m: { mean: number; sem: number }, digits: number): string {
  const mean = m.mean.toFixed(digits);
  return Number.isFinite(m.sem) ? `${mean} ± ${m.sem.toFixed(digits)}` : mean;
}

/**
 * A Markdown table for the `splits` protocol's rows: for each data set (in
 * order of first appearance), the method with the best mean test
 * log-likelihood over its non-diverged splits, that mean ± s.e., the
 * published MC dropout log-likelihood, the difference (positive: ahead),
 * the best mean test RMSE and the published RMSE, and the number of splits
 * the means are over. Only the methods run on the most splits of that set
 * compete, so a one-split figure never outranks a mean over twenty. Data
 * sets without a published figure show "—". Empty string when there are no
 * rows.
 *
 * @example
 * ```ts
 * import { uciVsPublished } from "./uci_published.ts";
 * const rows = [-1.0, -0.8].map((v, fold) => ({
 *   dataset: "yacht", method: "MC Dropout", fold, test_log_lik: v, test_rmse: 0.9, diverged: false,
 * }));
 * uciVsPublished(rows).includes("| yacht | MC Dropout | -0.900 ± 0.100 | -1.38 | +0.48 |"); // true
 * ```
 */
export function uciVsPublished(rows: readonly Row[]): string {
  const bySet = new Map<string, Map<string, { ll: number[]; rmse: number[] }>>();
  for (const r of rows) {
    if (isDiverged(r)) continue;
    const ll = Number(r.test_log_lik), rmse = Number(r.test_rmse);
    if (!Number.isFinite(ll) || !Number.isFinite(rmse)) continue;
    const set = String(r.dataset);
    const methods = bySet.get(set) ?? new Map();
    bySet.set(set, methods);
    const m = methods.get(String(r.method)) ?? { ll: [], rmse: [] };
    methods.set(String(r.method), m);
    m.ll.push(ll);
    m.rmse.push(rmse);
  }
  if (bySet.size === 0) return "";
  const lines = [
    "| dataset | best method (test LL) | test LL | published MC dropout LL | ahead by | " +
    "best test RMSE (method) | published RMSE | splits |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const [set, methods] of bySet) {
    const stats = [...methods].map(([method, v]) => ({
      method,
      ll: meanSem(v.ll),
      rmse: meanSem(v.rmse),
      n: v.ll.length,
    }));
    const most = Math.max(...stats.map((x) => x.n));
    const eligible = stats.filter((x) => x.n === most);
    const best = eligible.reduce((a, b) => (b.ll.mean > a.ll.mean ? b : a));
    const bestRmse = eligible.reduce((a, b) => (b.rmse.mean < a.rmse.mean ? b : a));
    const pub = PUBLISHED_MC_DROPOUT[set];
    const diff = pub ? best.ll.mean - pub.logLik : NaN;
    const digits = Math.abs(bestRmse.rmse.mean) < 0.1 ? 4 : 3;
    lines.push(
      `| ${set} | ${best.method} | ${fmt(best.ll, 3)} | ` +
        `${pub ? pub.logLik.toFixed(2) : "—"} | ` +
        `${pub ? `${diff >= 0 ? "+" : "-"}${Math.abs(diff).toFixed(2)}` : "—"} | ` +
        `${fmt(bestRmse.rmse, digits)} (${bestRmse.method}) | ` +
        `${pub ? pub.rmse.toFixed(2) : "—"} | ${best.n} |`,
    );
  }
  return lines.join("\n") + "\n";
}
