/**
 * `fit` for the training scripts and studies with Ctrl-C handled: the first
 * SIGINT / SIGTERM / SIGHUP stops training after the current step and saves
 * the checkpoint (mid-epoch; resuming continues at the next step exactly),
 * then the run ends with a one-line message and exit code 128 + the signal's
 * number; a second signal quits at once (see `core/interrupt.ts`).
 *
 * @module
 */
import { interruptible, signalExitCode } from "../../core/interrupt.ts";
import type { Method } from "../../core/method.ts";
import { fit, type FitOptions, type FitResult } from "../../core/train.ts";
import type { ArrayDataset } from "../../datasets/types.ts";
import { CliError } from "../../core/cli.ts";

/**
 * Runs {@linkcode fit} (or `trainer`, a function with `fit`'s signature and
 * stop, such as the parallel ensemble trainer) with a signal stop. An
 * interrupted run throws a {@linkcode CliError} (exit code 130 for Ctrl-C)
 * naming where it stopped, the checkpoint and `resumeHint` (how to
 * continue); a run not interrupted returns the trainer's result.
 *
 * @example
 * ```ts
 * import { fitInterruptible } from "./fit_interruptible.ts";
 * // const r = await fitInterruptible(method, train, { epochs: 10, batchSize: 100, seed: 0,
 * //   checkpointDir: "models/map" }, "run the same command with --resume to continue");
 * ```
 */
export async function fitInterruptible(
  method: Method,
  train: ArrayDataset,
  opts: FitOptions,
  resumeHint: string,
  trainer: typeof fit = fit,
): Promise<FitResult> {
  const stop = interruptible();
  let r: FitResult;
  try {
    r = await trainer(method, train, { ...opts, signal: stop.signal });
  } finally {
    stop.dispose();
  }
  if (r.stopReason === "aborted" && stop.signal.aborted) {
    const sig = String(stop.signal.reason);
    const at = r.stoppedAt;
    const perEpoch = Math.ceil(train.n / opts.batchSize);
    const where = !at
      ? "before training"
      : at.step >= perEpoch
      ? `after epoch ${at.epoch}/${opts.epochs}`
      : at.step > 0
      ? `in epoch ${at.epoch}/${opts.epochs} after step ${at.step} of ${perEpoch}`
      : `after epoch ${at.epoch - 1}/${opts.epochs}`;
    const saved = opts.checkpointDir
      ? `the checkpoint in ${opts.checkpointDir} continues from there; ${resumeHint}`
      : "nothing was saved";
    throw new CliError(`interrupted (${sig}) ${where}: ${saved}`, signalExitCode(sig));
  }
  return r;
}
