/**
 * A guard for the studies on WebGPU: errors the device reports (a dispatch
 * that failed validation, e.g. a buffer over the binding limit) leave stale
 * or zero values behind without an exception, so a study checks after each
 * read that none occurred rather than write wrong numbers.
 *
 * @module
 */
import { webgpuErrors } from "../../core/backend.ts";

/**
 * Throws when the WebGPU device reported errors since the last check (a
 * dispatch that failed validation leaves stale or zero values, so results
 * after it would be silently wrong). Call it after reading a result back
 * (`readPrediction`, `engine.read`); a no-op on the CPU backends.
 *
 * @example
 * ```ts
 * import { assertNoDeviceErrors } from "./device_errors.ts";
 * // const host = await readPrediction(pred);
 * assertNoDeviceErrors("MAP: prediction");
 * ```
 */
export function assertNoDeviceErrors(what: string): void {
  if (webgpuErrors.length === 0) return;
  const errors = webgpuErrors.splice(0);
  throw new Error(
    `${what}: the WebGPU device reported ${errors.length} error(s), so the result is not ` +
      `trustworthy; the first: ${errors[0]}`,
  );
}
