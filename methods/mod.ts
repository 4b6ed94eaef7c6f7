/**
 * The inference methods, one module each.
 *
 * @module
 */
export * from "./map.ts";
export * from "./mc_dropout.ts";
export * from "./registry.ts";
export * from "./ensemble.ts";
export * from "./kfac_laplace.ts";
export * from "./bbb.ts";
export * from "./sgld.ts";
export * from "./sghmc.ts";
