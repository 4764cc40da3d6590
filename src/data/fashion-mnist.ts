/**
 * Fashion-MNIST (Zalando Research): 70 000 grey 28x28 images of clothing in 10 classes,
 * 60 000 for training and 10 000 for testing, stored as four IDX files.
 *
 * Where the files are looked for, in order:
 *   1. `opts.dir` (and `opts.dir/fashion-mnist`), e.g. from the CLI's `--data DIR`;
 *   2. `$FOVEA_DATA/fashion-mnist` (and `$FOVEA_DATA` itself);
 *   3. `/usr/share/datasets/fashion-mnist`, where Debian's `dataset-fashion-mnist` package
 *      installs `train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz`,
 *      `t10k-images-idx3-ubyte.gz` and `t10k-labels-idx1-ubyte.gz`.
 * Each file may be gzipped or not (`readIdx` decides from the content, not the name).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageDataset, Split } from './dataset.js';
import { readIdx, type IdxArray } from './idx.js';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/** Where Debian's `dataset-fashion-mnist` package puts the files. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_URL = 'https://github.com/zalandoresearch/fashion-mnist';

const FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;
type FileKey = keyof typeof FILES;

/** Accepted spellings of each file: the upstream/Debian names, gzipped or not, and the dotted variant some mirrors use. */
function candidateNames(base: string): string[] {
  const dotted = base.replace('-idx', '.idx');
  return [`${base}.gz`, base, `${dotted}.gz`, dotted];
}

export interface LoadFashionMnistOptions {
  /** A directory holding the four IDX files (searched first). */
  dir?: string;
  /** Also search the system-wide (Debian) location (default true). Tests turn this off. */
  searchDefaults?: boolean;
  /** Environment to read FOVEA_DATA from (default process.env). */
  env?: Record<string, string | undefined>;
}

/** The data files could not be found. The message lists where it looked and how to get them. */
export class DatasetNotFoundError extends Error {
  readonly dataset: string;
  readonly searched: string[];
  constructor(dataset: string, searched: string[], message: string) {
    super(message);
    this.name = 'DatasetNotFoundError';
    this.dataset = dataset;
    this.searched = searched;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function findIn(dir: string): Promise<{ found: Partial<Record<FileKey, string>>; missing: FileKey[] }> {
  const found: Partial<Record<FileKey, string>> = {};
  const missing: FileKey[] = [];
  for (const key of Object.keys(FILES) as FileKey[]) {
    let hit: string | undefined;
    for (const name of candidateNames(FILES[key])) {
      const p = join(dir, name);
      if (await isFile(p)) {
        hit = p;
        break;
      }
    }
    if (hit) found[key] = hit;
    else missing.push(key);
  }
  return { found, missing };
}

/**
 * The directories `loadFashionMnist` would search, in order. An explicit `dir` (--data) is
 * searched alone: a wrong path is an error, not a silent fall-back to another copy.
 */
export function fashionMnistSearchPath(opts: LoadFashionMnistOptions = {}): string[] {
  const dirs: string[] = [];
  if (opts.dir) return [opts.dir, join(opts.dir, 'fashion-mnist')];
  const root = (opts.env ?? process.env).FOVEA_DATA;
  if (root) dirs.push(join(root, 'fashion-mnist'), root);
  if (opts.searchDefaults ?? true) dirs.push(DEBIAN_FASHION_MNIST_DIR);
  return [...new Set(dirs)];
}

/** Locates the four files, or throws `DatasetNotFoundError`. */
export async function findFashionMnist(opts: LoadFashionMnistOptions = {}): Promise<Record<FileKey, string>> {
  const dirs = fashionMnistSearchPath(opts);
  const notes: string[] = [];
  for (const dir of dirs) {
    const { found, missing } = await findIn(dir);
    if (missing.length === 0) return found as Record<FileKey, string>;
    if (missing.length < 4) {
      notes.push(`  ${dir} is incomplete: missing ${missing.map((k) => FILES[k] + '[.gz]').join(', ')}`);
    }
  }
  const lines = [
    'Fashion-MNIST was not found. Searched:',
    ...dirs.map((d) => `  ${d}`),
    ...(notes.length ? ['', ...notes] : []),
    '',
    'To get it, either',
    '  - on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist',
    `    (installs the files into ${DEBIAN_FASHION_MNIST_DIR}), or`,
    `  - download the four IDX files from the Fashion-MNIST GitHub project (${FASHION_MNIST_URL}, folder data/fashion):`,
    `      ${Object.values(FILES).map((f) => f + '.gz').join(', ')}`,
    '    into a folder and pass --data DIR (or set FOVEA_DATA to a folder containing fashion-mnist/).',
  ];
  throw new DatasetNotFoundError('fashion-mnist', dirs, lines.join('\n'));
}

function toDataset(name: string, images: IdxArray, labels: IdxArray, imagesPath: string, labelsPath: string): ImageDataset {
  if (images.dtype !== 'uint8' || images.shape.length !== 3 || images.shape[1] !== 28 || images.shape[2] !== 28) {
    throw new Error(
      `${imagesPath}: expected uint8 images of shape [N, 28, 28], got ${images.dtype} [${images.shape.join(', ')}]`,
    );
  }
  if (labels.dtype !== 'uint8' || labels.shape.length !== 1) {
    throw new Error(`${labelsPath}: expected uint8 labels of shape [N], got ${labels.dtype} [${labels.shape.join(', ')}]`);
  }
  const n = images.shape[0];
  if (labels.shape[0] !== n) {
    throw new Error(`${labelsPath}: ${labels.shape[0]} labels but ${imagesPath} has ${n} images`);
  }
  const lab = labels.data as Uint8Array;
  for (let i = 0; i < n; i++) {
    if (lab[i] >= FASHION_MNIST_CLASSES.length) {
      throw new Error(`${labelsPath}: label ${lab[i]} at index ${i} is out of range 0..9`);
    }
  }
  return {
    name,
    images: images.data as Uint8Array,
    labels: lab,
    shape: [1, 28, 28],
    classNames: [...FASHION_MNIST_CLASSES],
    mean: [0.286],
    std: [0.353],
  };
}

export async function loadFashionMnist(opts: LoadFashionMnistOptions = {}): Promise<Split> {
  const files = await findFashionMnist(opts);
  const [trI, trL, teI, teL] = await Promise.all([
    readIdx(files.trainImages),
    readIdx(files.trainLabels),
    readIdx(files.testImages),
    readIdx(files.testLabels),
  ]);
  return {
    train: toDataset('fashion-mnist', trI, trL, files.trainImages, files.trainLabels),
    test: toDataset('fashion-mnist', teI, teL, files.testImages, files.testLabels),
  };
}
