/**
 * The parameter engine: flat parameter vectors, noise streams and fused
 * per-parameter kernels on the CPU (wasm heap) or the GPU (WebGPU).
 *
 * @module
 */
export * from "./engine.ts";
export * from "./kernel.ts";
export * from "./kernel_js.ts";
export * from "./kernel_wgsl.ts";
export * from "./philox.ts";
export * from "./cpu_math.ts";
export * from "./current.ts";
export { CpuEngine } from "./cpu.ts";
export { WebGpuDeviceError, WebGpuEngine } from "./webgpu.ts";
