/**
 * The in-memory dataset type shared by every method and experiment, and the
 * error class thrown by the dataset loaders.
 *
 * @module
 */

export type { ArrayDataset } from "../core/data.ts";

/**
 * An error from a dataset loader: a missing, truncated or corrupt file, a
 * failed download, or bad user data. The message names the file and what was
 * wrong; `file` holds the path or URL concerned when there is one.
 *
 * @example
 * ```ts
 * import { DatasetError } from "@bayes/nn";
 * import { readIdx } from "@bayes/nn/datasets";
 * try {
 *   await readIdx("/no/such/file.gz");
 * } catch (e) {
 *   if (e instanceof DatasetError) console.error(e.message);
 * }
 * ```
 */
export class DatasetError extends Error {
  /** The file (path or URL) the error is about, if any. */
  readonly file?: string;

  /** Creates the error; `file` is recorded for programmatic use. */
  constructor(message: string, options?: { file?: string; cause?: unknown }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = "DatasetError";
    this.file = options?.file;
  }
}

/**
 * Product of the entries of a shape (1 for `[]`): the number of values per example.
 *
 * @example
 * ```ts
 * import { shapeSize } from "@bayes/nn/datasets";
 * shapeSize([28, 28]); // 784
 * shapeSize([]); // 1
 * ```
 */
export function shapeSize(shape: readonly number[]): number {
  let s = 1;
  for (const d of shape) s *= d;
  return s;
}
