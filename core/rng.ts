/**
 * Seeded, fast pseudo-random numbers for the whole library.
 *
 * `tf.randomNormal` produces about 12M samples/s (a JS generator behind a
 * per-element closure); Bayes by Backprop and SG-MCMC need several million
 * Gaussian draws per step, so this module writes samples straight into a
 * `Float32Array`.
 *
 * Generator: xoshiro128** (Blackman & Vigna), seeded through splitmix32.
 * Normals: the Marsaglia–Tsang ziggurat with 128 layers. Both are written by
 * hand because no maintained npm package offers a seedable, typed-array
 * filling generator at this speed; they are short and tested statistically
 * in `tests/rng_test.ts`. Float32 fills of 64 values or more run the same
 * loop assembled to WebAssembly (`ziggurat.wat`: the same values, in about
 * 0.6× the time).
 *
 * @module
 */
import { ZIGGURAT_WASM_BASE64 } from "./ziggurat_wasm.ts";

const ZIG_N = 128;
const ZIG_R = 3.442619855899;
const ZIG_V = 9.91256303526217e-3;
const M1 = 2147483648.0; // 2^31
const KN = new Int32Array(ZIG_N); // all entries < 2^31
const WN = new Float64Array(ZIG_N);
const FN = new Float64Array(ZIG_N);
{
  let dn = ZIG_R;
  let tn = dn;
  const q = ZIG_V / Math.exp(-0.5 * dn * dn);
  KN[0] = Math.floor((dn / q) * M1);
  KN[1] = 0;
  WN[0] = q / M1;
  WN[ZIG_N - 1] = dn / M1;
  FN[0] = 1.0;
  FN[ZIG_N - 1] = Math.exp(-0.5 * dn * dn);
  for (let i = ZIG_N - 2; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(ZIG_V / dn + Math.exp(-0.5 * dn * dn)));
    KN[i + 1] = Math.floor((dn / tn) * M1);
    tn = dn;
    FN[i] = Math.exp(-0.5 * dn * dn);
    WN[i] = dn / M1;
  }
}

/** The WebAssembly fill (see `ziggurat.wat` for its memory layout), if it can start here. */
interface WasmFill {
  /** Generator state, read and written back by `fill`. */
  state: Int32Array;
  /** Where `fill` writes. */
  out: Float32Array;
  fill(n: number, mean: number, std: number): void;
}

/** Values per `fill` call (the output area of the module's memory). */
const WASM_CHUNK = 16384;
/** Below this many values the JavaScript loop is as fast (the call and copy cost more). */
const WASM_MIN = 64;

function startWasmFill(): WasmFill | undefined {
  try {
    const bytes = Uint8Array.from(atob(ZIGGURAT_WASM_BASE64), (c) => c.charCodeAt(0));
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
      m: { log: Math.log, exp: Math.exp },
    });
    const ex = inst.exports as {
      mem: WebAssembly.Memory;
      fill: (n: number, mean: number, std: number) => void;
    };
    const buf = ex.mem.buffer; // the module never grows its memory: views stay valid
    new Int32Array(buf, 0, ZIG_N).set(KN);
    new Float64Array(buf, 512, ZIG_N).set(WN);
    new Float64Array(buf, 1536, ZIG_N).set(FN);
    return {
      state: new Int32Array(buf, 2560, 4),
      out: new Float32Array(buf, 4096, WASM_CHUNK),
      fill: ex.fill,
    };
  } catch {
    return undefined; // no WebAssembly: the JavaScript loop
  }
}

const wasmFill = startWasmFill();

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * A seeded random stream. Same seed → same stream, on every platform.
 *
 * @example
 * ```ts
 * import { Rng } from "@bayes/nn";
 * const rng = new Rng(42);
 * const eps = rng.normalArray(1000); // Float32Array of N(0, 1) draws
 * const u = rng.uniform(); // one draw in [0, 1)
 * ```
 */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  /** The seed this stream was created with. */
  readonly seed: number;

  /** Creates a stream from an integer seed (any finite number; it is hashed). */
  constructor(seed: number = 0) {
    if (!Number.isFinite(seed)) {
      throw new RangeError(`Rng seed must be a finite number, found ${seed}`);
    }
    this.seed = seed;
    const st = { s: (Math.floor(seed) ^ Math.floor(seed / 4294967296)) | 0 };
    this.#a = splitmix32(st);
    this.#b = splitmix32(st);
    this.#c = splitmix32(st);
    this.#d = splitmix32(st);
    if ((this.#a | this.#b | this.#c | this.#d) === 0) this.#a = 1;
  }

  /** Next raw 32-bit unsigned integer. */
  nextUint32(): number {
    const b = this.#b;
    let r = Math.imul(b, 5);
    r = Math.imul((r << 7) | (r >>> 25), 9);
    const t = b << 9;
    this.#c ^= this.#a;
    this.#d ^= this.#b;
    this.#b ^= this.#c;
    this.#a ^= this.#d;
    this.#c ^= t;
    this.#d = (this.#d << 11) | (this.#d >>> 21);
    return r >>> 0;
  }

  /**
   * The generator's internal state (4 words as signed 32-bit integers, one
   * representation per state, so equal states compare equal), for checkpoints.
   */
  getState(): number[] {
    return [this.#a | 0, this.#b | 0, this.#c | 0, this.#d | 0];
  }

  /** Restores a state returned by {@linkcode Rng.getState}. */
  setState(state: readonly number[]): void {
    if (state.length !== 4 || state.some((v) => !Number.isInteger(v))) {
      throw new RangeError(`Rng state must be 4 integers, found ${JSON.stringify(state)}`);
    }
    [this.#a, this.#b, this.#c, this.#d] = state.map((v) => v | 0);
  }

  /** Uniform draw in [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** One standard normal draw (ziggurat). */
  normal(): number {
    const out = this.#one;
    this.fillNormal(out);
    return out[0];
  }
  #one = new Float64Array(1);

  /**
   * Fills `out` with N(mean, std²) draws. This is the hot path: the
   * generator state is kept in locals for the whole loop.
   */
  fillNormal(out: Float32Array | Float64Array, mean = 0, std = 1): void {
    if (wasmFill && out instanceof Float32Array && out.length >= WASM_MIN) {
      const w = wasmFill;
      const st = w.state;
      st[0] = this.#a;
      st[1] = this.#b;
      st[2] = this.#c;
      st[3] = this.#d;
      for (let off = 0; off < out.length; off += WASM_CHUNK) {
        const len = Math.min(WASM_CHUNK, out.length - off);
        w.fill(len, mean, std);
        out.set(len === WASM_CHUNK ? w.out : w.out.subarray(0, len), off);
      }
      this.#a = st[0];
      this.#b = st[1];
      this.#c = st[2];
      this.#d = st[3];
      return;
    }
    let a = this.#a, b = this.#b, c = this.#c, d = this.#d;
    const n = out.length;
    const kn = KN, wn = WN;
    for (let i = 0; i < n; i++) {
      // inline xoshiro128**
      let r = Math.imul(b, 5);
      r = Math.imul((r << 7) | (r >>> 25), 9);
      const t = b << 9;
      c ^= a;
      d ^= b;
      b ^= c;
      a ^= d;
      c ^= t;
      d = (d << 11) | (d >>> 21);
      const iz = r & 127;
      // r ^ (r >> 31) is |r| (minus 1 for negative r) without a branch or an
      // int32-overflow guard: the fastest form of the rectangle test in V8.
      if ((r ^ (r >> 31)) < kn[iz]) {
        out[i] = mean + std * (r * wn[iz]);
      } else {
        // Rare (~1%): wedge or tail; done outside the hot loop.
        this.#a = a;
        this.#b = b;
        this.#c = c;
        this.#d = d;
        out[i] = mean + std * this.#slowNormal(r);
        a = this.#a;
        b = this.#b;
        c = this.#c;
        d = this.#d;
      }
    }
    this.#a = a;
    this.#b = b;
    this.#c = c;
    this.#d = d;
  }

  #slowNormal(hz: number): number {
    for (;;) {
      const iz = hz & 127;
      if ((hz ^ (hz >> 31)) < KN[iz]) return hz * WN[iz];
      if (iz === 0) {
        let xx: number, yy: number;
        do {
          xx = -Math.log((this.nextUint32() + 0.5) / 4294967296) / ZIG_R;
          yy = -Math.log((this.nextUint32() + 0.5) / 4294967296);
        } while (yy + yy < xx * xx);
        return hz > 0 ? ZIG_R + xx : -ZIG_R - xx;
      }
      const x = hz * WN[iz];
      const u = this.uniform();
      if (FN[iz] + u * (FN[iz - 1] - FN[iz]) < Math.exp(-0.5 * x * x)) return x;
      hz = this.nextUint32() | 0;
    }
  }

  /**
   * Fills `out[start:end)` with random signs ±1, 32 per generator step
   * (Flipout's sign flips).
   */
  fillSigns(out: Float32Array, start = 0, end: number = out.length): void {
    let bits = 0, left = 0;
    for (let i = start; i < end; i++) {
      if (left === 0) {
        bits = this.nextUint32();
        left = 32;
      }
      out[i] = ((bits & 1) << 1) - 1;
      bits >>>= 1;
      left--;
    }
  }

  /** Fills `out` with U(low, high) draws. */
  fillUniform(out: Float32Array | Float64Array, low = 0, high = 1): void {
    const span = (high - low) / 4294967296;
    for (let i = 0; i < out.length; i++) out[i] = low + this.nextUint32() * span;
  }

  /** A new `Float32Array` of `n` N(mean, std²) draws. */
  normalArray(n: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(n);
    this.fillNormal(out, mean, std);
    return out;
  }

  /** A new `Float32Array` of `n` U(low, high) draws. */
  uniformArray(n: number, low = 0, high = 1): Float32Array {
    const out = new Float32Array(n);
    this.fillUniform(out, low, high);
    return out;
  }

  /** Gamma(shape, rate) draw (Marsaglia–Tsang method). */
  gamma(shape: number, rate = 1): number {
    if (!(shape > 0) || !(rate > 0)) {
      throw new RangeError(`gamma needs shape > 0 and rate > 0, found ${shape}, ${rate}`);
    }
    if (shape < 1) return this.gamma(shape + 1, rate) * Math.pow(this.uniform(), 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number, v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.uniform();
      if (u < 1 - 0.0331 * x * x * x * x) return (d * v) / rate;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return (d * v) / rate;
    }
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: unknown }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = Math.floor(this.uniform() * (i + 1));
      const t = arr[i];
      arr[i] = arr[j];
      arr[j] = t;
    }
    return arr;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  /**
   * A new, statistically independent stream derived from this one and a key
   * (for ensemble members, workers, or per-purpose streams). Does not advance
   * this stream.
   */
  fork(key: number): Rng {
    const st = { s: (this.seed * 0x9e3779b1 + key * 0x85ebca6b + 0x632be5ab) | 0 };
    return new Rng(splitmix32(st) + (splitmix32(st) % 1048576) * 4294967296);
  }
}
