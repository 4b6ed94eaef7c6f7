/**
 * Small helpers for method settings.
 *
 * @module
 */

/**
 * Drops keys whose value is `undefined`, so that spreading the result over
 * defaults keeps the defaults.
 *
 * @example
 * ```ts
 * import { stripUndefined } from "./settings.ts";
 * const s = { lr: 1e-3, ...stripUndefined({ lr: undefined, momentum: 0.9 }) };
 * console.log(s); // { lr: 0.001, momentum: 0.9 }
 * ```
 */
export function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
