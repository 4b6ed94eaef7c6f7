/**
 * MNIST, Fashion-MNIST and KMNIST: lookup, download with checksum
 * verification, parsing and the standard preprocessing.
 *
 * @module
 */

import { checkLocalChecksum, ensureFiles, type FetchOptions, type RemoteFile } from "./files.ts";
import { parseIdx } from "./idx.ts";
import { type ArrayDataset, DatasetError } from "./types.ts";

/** The supported 28×28 grey-level image sets. */
export type MnistName = "mnist" | "fashion-mnist" | "kmnist";

/** Train or test split. */
export type MnistSplit = "train" | "test";

/**
 * Description of one image set: folder, mirrors, checksums and the pixel
 * mean/std (of pixels scaled to [0, 1]) used for normalisation.
 *
 * @example
 * ```ts
 * import { MNIST_SETS } from "@bayes/nn";
 * MNIST_SETS.mnist.mean; // 0.1307
 * ```
 */
export interface MnistSetInfo {
  /** Display name. */
  title: string;
  /** Folder inside a data folder. */
  folder: string;
  /** Base URLs (mirrors), each ending in `/`. */
  mirrors: string[];
  /** Published MD5 of each `.gz` file. */
  md5: Record<string, string>;
  /** Training-set pixel mean in [0, 1] units. */
  mean: number;
  /** Training-set pixel standard deviation in [0, 1] units. */
  std: number;
  /** Class names, index = label. */
  classes: string[];
  /** System-wide folders searched last. */
  systemDirs: string[];
}

const FILES = {
  train: { images: "train-images-idx3-ubyte.gz", labels: "train-labels-idx1-ubyte.gz" },
  test: { images: "t10k-images-idx3-ubyte.gz", labels: "t10k-labels-idx1-ubyte.gz" },
} as const;

/**
 * The three image sets. MNIST mirrors: `ossci-datasets` (PyTorch) then
 * Google's `cvdf-datasets`; Fashion-MNIST: Zalando's S3 site (and Debian's
 * `/usr/share/datasets/fashion-mnist/`, package `dataset-fashion-mnist`);
 * KMNIST: CODH.
 *
 * @example
 * ```ts
 * import { MNIST_SETS } from "@bayes/nn";
 * console.log(MNIST_SETS["fashion-mnist"].classes[0]); // "T-shirt/top"
 * ```
 */
export const MNIST_SETS: Record<MnistName, MnistSetInfo> = {
  mnist: {
    title: "MNIST",
    folder: "mnist",
    mirrors: [
      "https://ossci-datasets.s3.amazonaws.com/mnist/",
      "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    md5: {
      "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
      "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
      "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
      "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    mean: 0.1307,
    std: 0.3081,
    classes: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    systemDirs: [],
  },
  "fashion-mnist": {
    title: "Fashion-MNIST",
    folder: "fashion-mnist",
    mirrors: ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    md5: {
      "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
      "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
      "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
      "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
    mean: 0.2860,
    std: 0.3530,
    classes: [
      "T-shirt/top",
      "Trouser",
      "Pullover",
      "Dress",
      "Coat",
      "Sandal",
      "Shirt",
      "Sneaker",
      "Bag",
      "Ankle boot",
    ],
    systemDirs: ["/usr/share/datasets/fashion-mnist"],
  },
  kmnist: {
    title: "KMNIST",
    folder: "kmnist",
    mirrors: ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"],
    md5: {
      "train-images-idx3-ubyte.gz": "bdb82020997e1d708af4cf47b453dcf7",
      "train-labels-idx1-ubyte.gz": "e144d726b3acfaa3e44228e80efcd344",
      "t10k-images-idx3-ubyte.gz": "5c965bf0a639b31b8f53240b1b52f4d7",
      "t10k-labels-idx1-ubyte.gz": "7320c461ea6c1c855c0b718fb2a4b134",
    },
    mean: 0.1918,
    std: 0.3483,
    classes: ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],
    systemDirs: [],
  },
};

/**
 * Options of {@linkcode loadMnist}.
 *
 * @example
 * ```ts
 * import type { MnistOptions } from "@bayes/nn";
 * const opts: MnistOptions = { limit: 1000, flatten: false, normalize: true };
 * ```
 */
export interface MnistOptions extends FetchOptions {
  /** Keep only the first `limit` examples (quick runs). */
  limit?: number;
  /** `[784]` per example (default true) or `[28, 28]`. */
  flatten?: boolean;
  /**
   * Normalise scaled pixels with the set's mean/std (default true); when
   * false pixels are only scaled to [0, 1].
   */
  normalize?: boolean;
  /** Replace the mirror base URLs (each ending in `/`), e.g. a local mirror. */
  mirrors?: string[];
}

/**
 * A loaded image set: an {@linkcode ArrayDataset} with integer labels plus
 * the normalisation applied (`null` when pixels are only scaled to [0, 1]).
 *
 * @example
 * ```ts
 * import { loadMnist } from "@bayes/nn";
 * const ds = await loadMnist("mnist", "test");
 * const bg = ds.background; // value of a black pixel after preprocessing
 * ```
 */
export interface ImageDataset extends ArrayDataset {
  /** Class labels. */
  y: Int32Array;
  /** Number of classes (10). */
  numClasses: number;
  /** The `{ mean, std }` used for normalisation, or `null`. */
  normalization: { mean: number; std: number } | null;
  /** Value of a zero (black) pixel after preprocessing: the fill for rotations. */
  background: number;
  /** Class names, index = label. */
  classes: string[];
}

/** The file set for one image set and split (exported for tests and tools). */
function fileSet(name: MnistName, split: MnistSplit, mirrors?: string[]) {
  const info = MNIST_SETS[name];
  const files: RemoteFile[] = [FILES[split].images, FILES[split].labels].map((f) => ({
    name: f,
    urls: (mirrors ?? info.mirrors).map((m) => m + f),
    md5: info.md5[f],
    alternatives: [f.replace(/\.gz$/, "")],
  }));
  return {
    title: `${info.title} (${split} split)`,
    folders: [info.folder],
    files,
    systemDirs: info.systemDirs,
  };
}

/**
 * Loads MNIST, Fashion-MNIST or KMNIST. Files are looked for in the `dataDir`
 * option, `BNN_DATA_DIR`, the per-user cache (and, for Fashion-MNIST,
 * Debian's `/usr/share/datasets/fashion-mnist/`), as
 * `<dir>/<name>/train-images-idx3-ubyte.gz` etc. (un-gzipped files are
 * accepted too); missing files are downloaded and checked against the
 * published MD5. Pixels are scaled to [0, 1] and normalised with the set's
 * mean/std (MNIST 0.1307/0.3081, Fashion-MNIST 0.2860/0.3530, KMNIST
 * 0.1918/0.3483).
 *
 * @example
 * ```ts
 * import { loadMnist } from "@bayes/nn";
 * const train = await loadMnist("mnist", "train", { limit: 10_000 });
 * train.xShape; // [784]
 * const ood = await loadMnist("fashion-mnist", "test", { flatten: false });
 * ood.xShape; // [28, 28]
 * ```
 */
export async function loadMnist(
  name: MnistName,
  split: MnistSplit,
  opts: MnistOptions = {},
): Promise<ImageDataset> {
  const info = MNIST_SETS[name];
  if (!info) {
    throw new DatasetError(
      `unknown image set "${name}"; expected one of ${Object.keys(MNIST_SETS).join(", ")}`,
    );
  }
  if (split !== "train" && split !== "test") {
    throw new DatasetError(`unknown split "${split}"; expected "train" or "test"`);
  }
  if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit >= 0)) {
    throw new RangeError(`limit must be a non-negative integer, found ${opts.limit}`);
  }
  const found = await ensureFiles(fileSet(name, split, opts.mirrors), opts);
  const imgFile = found.get(FILES[split].images)!;
  const lblFile = found.get(FILES[split].labels)!;
  const [imgBytes, lblBytes] = await Promise.all([
    Deno.readFile(imgFile.path),
    Deno.readFile(lblFile.path),
  ]);
  const images = await parseIdx(imgBytes, imgFile.path);
  const labels = await parseIdx(lblBytes, lblFile.path);
  if (images.dtype !== "uint8" || images.shape.length !== 3) {
    throw new DatasetError(
      `${imgFile.path}: expected uint8 images [N, 28, 28], found ${images.dtype} ` +
        `[${images.shape.join(", ")}]`,
      { file: imgFile.path },
    );
  }
  const [n, h, w] = images.shape;
  if (h !== 28 || w !== 28) {
    throw new DatasetError(
      `${imgFile.path}: expected 28×28 images, found ${h}×${w}`,
      { file: imgFile.path },
    );
  }
  if (labels.dtype !== "uint8" || labels.shape.length !== 1) {
    throw new DatasetError(
      `${lblFile.path}: expected uint8 labels [N], found ${labels.dtype} ` +
        `[${labels.shape.join(", ")}]`,
      { file: lblFile.path },
    );
  }
  if (labels.shape[0] !== n) {
    throw new DatasetError(
      `${lblFile.path}: ${labels.shape[0]} labels but ${imgFile.path} has ${n} images`,
      { file: lblFile.path },
    );
  }
  checkLocalChecksum(imgBytes, imgFile, opts.onWarning);
  checkLocalChecksum(lblBytes, lblFile, opts.onWarning);

  const m = Math.min(n, opts.limit ?? n);
  const d = h * w;
  const normalize = opts.normalize ?? true;
  // Lookup table: grey level → preprocessed value.
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) {
    lut[v] = normalize ? (v / 255 - info.mean) / info.std : v / 255;
  }
  const px = images.data as Uint8Array;
  const x = new Float32Array(m * d);
  for (let i = 0; i < m * d; i++) x[i] = lut[px[i]];
  const lbl = labels.data as Uint8Array;
  const y = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    const c = lbl[i];
    if (c > 9) {
      throw new DatasetError(
        `${lblFile.path}: label ${c} at index ${i} is outside 0..9`,
        { file: lblFile.path },
      );
    }
    y[i] = c;
  }
  return {
    x,
    y,
    n: m,
    xShape: (opts.flatten ?? true) ? [d] : [h, w],
    yShape: [],
    numClasses: 10,
    normalization: normalize ? { mean: info.mean, std: info.std } : null,
    background: lut[0],
    classes: info.classes.slice(),
  };
}
