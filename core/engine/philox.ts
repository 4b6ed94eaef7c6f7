/**
 * Philox4x32-10 (Salmon et al. 2011, "Parallel random numbers: as easy as
 * 1, 2, 3"): a counter-based generator. The GPU engine computes each random
 * number from (key, counter) where it is needed, so there is no generator
 * state to carry between threads, and a checkpoint stores one draw counter.
 *
 * The counter of a parameter's draw is `[index, draw low, draw high, tag]`:
 * `index` the parameter's (or tensor element's) flat position, `draw` the
 * stream's 64-bit draw number, `tag` the stream's purpose. Normals use the
 * Box–Muller transform of the first two words.
 *
 * This file holds the WGSL source and a JavaScript copy of the same
 * arithmetic (tests check the GPU against it bit for bit).
 *
 * @module
 */

const M0 = 0xD2511F53;
const M1 = 0xCD9E8D57;
const W0 = 0x9E3779B9;
const W1 = 0xBB67AE85;

/** High and low 32 bits of a 32×32-bit product. */
function mulhilo(a: number, b: number): [number, number] {
  const lo = Math.imul(a, b) >>> 0;
  const aH = a >>> 16, aL = a & 0xffff, bH = b >>> 16, bL = b & 0xffff;
  const ll = aL * bL, hl = aH * bL, lh = aL * bH, hh = aH * bH;
  const cross = (ll >>> 16) + (hl & 0xffff) + lh; // < 2^32: no carry is lost
  const hi = (hh + (hl >>> 16) + Math.floor(cross / 65536)) >>> 0;
  return [hi, lo];
}

/**
 * Philox4x32-10 of a 4-word counter under a 2-word key (all unsigned 32-bit).
 *
 * @example
 * ```ts
 * import { philox4x32 } from "./philox.ts";
 * philox4x32([0, 0, 0, 0], [0, 0]); // [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
 * ```
 */
export function philox4x32(
  counter: readonly [number, number, number, number],
  key: readonly [number, number],
): [number, number, number, number] {
  let [c0, c1, c2, c3] = counter.map((v) => v >>> 0);
  let k0 = key[0] >>> 0, k1 = key[1] >>> 0;
  for (let r = 0; r < 10; r++) {
    const [h0, l0] = mulhilo(M0, c0);
    const [h1, l1] = mulhilo(M1, c2);
    [c0, c1, c2, c3] = [(h1 ^ c1 ^ k0) >>> 0, l1, (h0 ^ c3 ^ k1) >>> 0, l0];
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return [c0, c1, c2, c3];
}

/**
 * The standard normal the GPU engine draws for element `index` of draw
 * `draw` of a stream (`key`, `tag`), computed in double precision (the GPU
 * computes it in float32).
 *
 * @example
 * ```ts
 * import { philoxNormal } from "./philox.ts";
 * philoxNormal([1, 2], 0, 0, 0);
 * ```
 */
export function philoxNormal(
  key: readonly [number, number],
  tag: number,
  draw: number,
  index: number,
): number {
  const lo = draw % 4294967296, hi = Math.floor(draw / 4294967296);
  const [x, y] = philox4x32([index, lo, hi, tag], key);
  const u1 = ((x >>> 8) + 0.5) / 16777216;
  const u2 = (y >>> 8) / 16777216;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/**
 * The uniform in [0, 1) the GPU engine draws for element `index` of draw
 * `draw` (24 bits, as on the GPU).
 *
 * @example
 * ```ts
 * import { philoxUniform } from "./philox.ts";
 * philoxUniform([1, 2], 0, 0, 0);
 * ```
 */
export function philoxUniform(
  key: readonly [number, number],
  tag: number,
  draw: number,
  index: number,
): number {
  const lo = draw % 4294967296, hi = Math.floor(draw / 4294967296);
  return (philox4x32([index, lo, hi, tag], key)[0] >>> 8) / 16777216;
}

/** Two key words from a seed (splitmix32 of the seed and a purpose). */
export function philoxKey(seed: number, purpose: number): [number, number] {
  let s = (Math.floor(seed) ^ Math.imul(purpose + 1, 0x85EBCA6B)) | 0;
  const next = () => {
    s = (s + 0x9E3779B9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85EBCA6B);
    z = Math.imul(z ^ (z >>> 13), 0xC2B2AE35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  return [next(), next()];
}

/** WGSL: `philox4x32(counter, key)`, `philox_normal(...)`, `philox_uniform(...)`. */
export const PHILOX_WGSL = /* wgsl */ `
fn mulhilo_(a: u32, b: u32) -> vec2<u32> {
  let aL = a & 0xffffu; let aH = a >> 16u; let bL = b & 0xffffu; let bH = b >> 16u;
  let ll = aL * bL; let hl = aH * bL; let lh = aL * bH; let hh = aH * bH;
  let cross = (ll >> 16u) + (hl & 0xffffu) + lh;
  return vec2<u32>(hh + (hl >> 16u) + (cross >> 16u), a * b);
}
fn philox4x32(c: vec4<u32>, k: vec2<u32>) -> vec4<u32> {
  var x = c;
  var key = k;
  for (var r = 0u; r < 10u; r = r + 1u) {
    let p0 = mulhilo_(0xD2511F53u, x.x);
    let p1 = mulhilo_(0xCD9E8D57u, x.z);
    x = vec4<u32>(p1.x ^ x.y ^ key.x, p1.y, p0.x ^ x.w ^ key.y, p0.y);
    key = key + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
  }
  return x;
}
fn philox_bits(k0: u32, k1: u32, tag: u32, dlo: u32, dhi: u32, s: u32, idx: u32) -> vec4<u32> {
  let lo = dlo + s;
  let hi = dhi + select(0u, 1u, lo < dlo);
  return philox4x32(vec4<u32>(idx, lo, hi, tag), vec2<u32>(k0, k1));
}
fn philox_normal(k0: u32, k1: u32, tag: u32, dlo: u32, dhi: u32, s: u32, idx: u32) -> f32 {
  let r = philox_bits(k0, k1, tag, dlo, dhi, s, idx);
  let u1 = (f32(r.x >> 8u) + 0.5) * (1.0 / 16777216.0);
  let u2 = f32(r.y >> 8u) * (1.0 / 16777216.0);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
fn philox_uniform(k0: u32, k1: u32, tag: u32, dlo: u32, dhi: u32, s: u32, idx: u32) -> f32 {
  return f32(philox_bits(k0, k1, tag, dlo, dhi, s, idx).x >> 8u) * (1.0 / 16777216.0);
}
`;
