/**
 * Image rotation for the rotated-MNIST study, with TensorFlow.js image ops
 * (`tf.image.rotateWithOffset`, nearest-neighbour sampling).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { type ArrayDataset, shapeSize } from "./types.ts";

/**
 * Options of {@linkcode rotateImages}.
 *
 * @example
 * ```ts
 * import type { RotateOptions } from "@bayes/nn";
 * const opts: RotateOptions = { fill: -0.4242, height: 28, width: 28 };
 * ```
 */
export interface RotateOptions {
  /**
   * Value for pixels rotated in from outside the image: the background, i.e.
   * 0 for pixels in [0, 1] or `(0 - mean) / std` for normalised pixels
   * (`ImageDataset.background`). Default 0.
   */
  fill?: number;
  /** Image height (default: square images, `sqrt(pixels per image)`). */
  height?: number;
  /** Image width (default: same as the height). */
  width?: number;
  /** Images per tensor op, to bound memory (default 4096). */
  chunk?: number;
}

/**
 * Rotates `n` single-channel images (row-major, `n * height * width` values)
 * by `angleDeg` degrees counter-clockwise (as displayed, rows going down)
 * about the image centre, like `scipy.ndimage.rotate(..., reshape=False,
 * order=0)`. Works on raw, scaled or normalised pixels: `fill` is the
 * background value. Returns a new array; runs on the current tfjs backend.
 *
 * @example
 * ```ts
 * import { loadMnist, rotateImages } from "@bayes/nn";
 * const test = await loadMnist("mnist", "test");
 * const rotated = await rotateImages(test.x, test.n, 45, { fill: test.background });
 * ```
 */
export async function rotateImages(
  x: Float32Array,
  n: number,
  angleDeg: number,
  opts: RotateOptions = {},
): Promise<Float32Array> {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`rotateImages: n must be a non-negative integer, found ${n}`);
  }
  if (!Number.isFinite(angleDeg)) {
    throw new RangeError(`rotateImages: angle must be finite, found ${angleDeg}`);
  }
  const d = n > 0 ? x.length / n : 0;
  const h = opts.height ?? Math.round(Math.sqrt(d));
  const w = opts.width ?? h;
  if (n > 0 && h * w * n !== x.length) {
    throw new RangeError(
      `rotateImages: ${x.length} values do not make ${n} images of ${h}×${w} ` +
        `(pass height and width)`,
    );
  }
  const out = new Float32Array(n * h * w);
  if (n === 0) return out;
  await tf.ready();
  const fill = opts.fill ?? 0;
  const radians = (angleDeg * Math.PI) / 180;
  // tfjs rotates about (center * size) in pixel-index units; the true centre
  // of pixels 0..size-1 is (size - 1) / 2.
  const center: [number, number] = [(w - 1) / (2 * w), (h - 1) / (2 * h)];
  const chunk = Math.max(1, opts.chunk ?? 4096);
  for (let start = 0; start < n; start += chunk) {
    const m = Math.min(chunk, n - start);
    const rotated = tf.tidy(() => {
      const img = tf.tensor4d(x.subarray(start * h * w, (start + m) * h * w), [m, h, w, 1]);
      // The wasm kernel stores the fill value as a byte (−0.42 and 0.7 both
      // become 0), so rotate the offset image with fill 0 and shift back.
      if (fill === 0) return tf.image.rotateWithOffset(img, radians, 0, center);
      return tf.add(tf.image.rotateWithOffset(tf.sub(img, fill), radians, 0, center), fill);
    });
    try {
      out.set(await rotated.data() as Float32Array, start * h * w);
    } finally {
      rotated.dispose();
    }
  }
  return out;
}

/**
 * A copy of an image dataset rotated by `angleDeg` (see
 * {@linkcode rotateImages}); the fill is the dataset's `background` when it
 * has one (an `ImageDataset`), else `opts.fill` or 0.
 *
 * @example
 * ```ts
 * import { loadMnist, rotateDataset } from "@bayes/nn";
 * const test = await loadMnist("mnist", "test");
 * const rot30 = await rotateDataset(test, 30);
 * ```
 */
export async function rotateDataset<T extends ArrayDataset>(
  ds: T,
  angleDeg: number,
  opts: RotateOptions = {},
): Promise<T> {
  const d = shapeSize(ds.xShape);
  const side = ds.xShape.length === 2
    ? ds.xShape
    : [Math.round(Math.sqrt(d)), Math.round(Math.sqrt(d))];
  const bg = (ds as { background?: number }).background;
  const x = await rotateImages(ds.x, ds.n, angleDeg, {
    height: side[0],
    width: side[1],
    ...opts,
    fill: opts.fill ?? bg ?? 0,
  });
  return { ...ds, x };
}
