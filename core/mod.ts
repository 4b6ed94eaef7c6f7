/**
 * Shared machinery: compute backends and BLAS kernels, random numbers,
 * networks, likelihoods, the method interface, training loop, persistence.
 *
 * @module
 */
export * from "./atomic.ts";
export * from "./backend.ts";
export * from "./blas.ts";
export * from "./evaluate.ts";
export * from "./likelihood.ts";
export * from "./method.ts";
export * from "./mlp.ts";
export * from "./optim.ts";
export * from "./persist.ts";
export * from "./point_net.ts";
export * from "./progress.ts";
export * from "./rng.ts";
export * from "./safetensors.ts";
export * from "./tensor_io.ts";
export * from "./train.ts";
export * from "./wasm_blas.ts";
export * from "./cli.ts";
export * from "./linalg.ts";
