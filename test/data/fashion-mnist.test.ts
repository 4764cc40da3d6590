import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DatasetNotFoundError,
  DEBIAN_FASHION_MNIST_DIR,
  FASHION_MNIST_CLASSES,
  fashionMnistSearchPath,
  loadFashionMnist,
} from '../../src/data/fashion-mnist.js';
import { writeIdx } from '../../src/data/idx.js';

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'fovea-fmnist-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Writes a small fake Fashion-MNIST; `names` picks the four file names. */
async function writeFake(
  dir: string,
  opts: { train?: number; test?: number; names?: string[]; gzip?: boolean; trainLabels?: number; badLabel?: boolean } = {},
): Promise<void> {
  const nTrain = opts.train ?? 12;
  const nTest = opts.test ?? 5;
  const names = opts.names ?? [
    'train-images-idx3-ubyte.gz',
    'train-labels-idx1-ubyte.gz',
    't10k-images-idx3-ubyte.gz',
    't10k-labels-idx1-ubyte.gz',
  ];
  const gzip = opts.gzip ?? true;
  const images = (n: number) => Uint8Array.from({ length: n * 784 }, (_, i) => (i * 13) & 255);
  const labels = (n: number) => Uint8Array.from({ length: n }, (_, i) => (opts.badLabel && i === 1 ? 10 : i % 10));
  const nl = opts.trainLabels ?? nTrain;
  await writeIdx(join(dir, names[0]), { dtype: 'uint8', shape: [nTrain, 28, 28], data: images(nTrain) }, { gzip });
  await writeIdx(join(dir, names[1]), { dtype: 'uint8', shape: [nl], data: labels(nl) }, { gzip });
  await writeIdx(join(dir, names[2]), { dtype: 'uint8', shape: [nTest, 28, 28], data: images(nTest) }, { gzip });
  await writeIdx(join(dir, names[3]), { dtype: 'uint8', shape: [nTest], data: labels(nTest) }, { gzip });
}

test('missing data: the error lists every directory searched and how to get the files', async () => {
  await withTmp(async (tmp) => {
    const dir = join(tmp, 'empty');
    const root = join(tmp, 'fovea-data');
    await mkdir(dir);
    await mkdir(join(root, 'fashion-mnist'), { recursive: true });
    const env = { FOVEA_DATA: root };
    // An explicit --data directory is searched alone: no silent fall-back to another copy.
    await assert.rejects(loadFashionMnist({ dir, env }), (err: unknown) => {
      assert.ok(err instanceof DatasetNotFoundError, String(err));
      assert.deepEqual(err.searched, [dir, join(dir, 'fashion-mnist')]);
      return true;
    });
    await assert.rejects(loadFashionMnist({ env, searchDefaults: false }), (err: unknown) => {
      assert.ok(err instanceof DatasetNotFoundError, String(err));
      assert.equal(err.dataset, 'fashion-mnist');
      assert.deepEqual(err.searched, [join(root, 'fashion-mnist'), root]);
      for (const d of err.searched) assert.ok(err.message.includes(d), `message should list ${d}`);
      assert.ok(!err.message.includes(`  ${DEBIAN_FASHION_MNIST_DIR}\n`), 'system dir should not be searched');
      assert.ok(err.message.includes('sudo apt-get install dataset-fashion-mnist'));
      assert.ok(err.message.includes('--data DIR'));
      assert.ok(err.message.includes('github.com/zalandoresearch/fashion-mnist'));
      assert.ok(err.message.includes('train-images-idx3-ubyte.gz'));
      return true;
    });
  });
});

test('the search path: an explicit dir alone; otherwise FOVEA_DATA, then the Debian location', () => {
  assert.deepEqual(fashionMnistSearchPath({ dir: '/a', env: { FOVEA_DATA: '/r' } }), ['/a', join('/a', 'fashion-mnist')]);
  assert.deepEqual(fashionMnistSearchPath({ env: { FOVEA_DATA: '/r' } }), [join('/r', 'fashion-mnist'), '/r', DEBIAN_FASHION_MNIST_DIR]);
  assert.deepEqual(fashionMnistSearchPath({ env: {} }), [DEBIAN_FASHION_MNIST_DIR]);
  assert.deepEqual(fashionMnistSearchPath({ env: {}, searchDefaults: false }), []);
});

test('an incomplete directory is reported with the missing files', async () => {
  await withTmp(async (dir) => {
    await writeFake(dir);
    await rm(join(dir, 't10k-labels-idx1-ubyte.gz'));
    await assert.rejects(loadFashionMnist({ dir, env: {}, searchDefaults: false }), (err: unknown) => {
      assert.ok(err instanceof DatasetNotFoundError);
      assert.match(err.message, /incomplete: missing t10k-labels-idx1-ubyte/);
      return true;
    });
  });
});

test('loads from --data DIR (gzipped upstream/Debian names) and from FOVEA_DATA (plain, dotted names)', async () => {
  await withTmp(async (dir) => {
    await writeFake(dir, { train: 12, test: 5 });
    const split = await loadFashionMnist({ dir, env: {}, searchDefaults: false });
    assert.equal(split.train.labels.length, 12);
    assert.equal(split.test.labels.length, 5);
    assert.equal(split.train.images.length, 12 * 784);
    assert.deepEqual(split.train.shape, [1, 28, 28]);
    assert.deepEqual(split.train.classNames, FASHION_MNIST_CLASSES);
    assert.deepEqual(split.train.mean, [0.286]);
    assert.deepEqual(split.test.std, [0.353]);
    assert.equal(split.train.labels[7], 7);
    assert.equal(split.train.images[5], (5 * 13) & 255);
  });
  await withTmp(async (root) => {
    const dir = join(root, 'fashion-mnist');
    await mkdir(dir);
    await writeFake(dir, {
      gzip: false,
      names: ['train-images.idx3-ubyte', 'train-labels.idx1-ubyte', 't10k-images.idx3-ubyte', 't10k-labels.idx1-ubyte'],
    });
    const split = await loadFashionMnist({ env: { FOVEA_DATA: root }, searchDefaults: false });
    assert.equal(split.train.labels.length, 12);
  });
});

test('inconsistent files are rejected', async () => {
  await withTmp(async (dir) => {
    await writeFake(dir, { train: 12, trainLabels: 11 });
    await assert.rejects(loadFashionMnist({ dir, env: {}, searchDefaults: false }), /11 labels but .* has 12 images/);
  });
  await withTmp(async (dir) => {
    await writeFake(dir, { badLabel: true });
    await assert.rejects(loadFashionMnist({ dir, env: {}, searchDefaults: false }), /label 10 at index 1/);
  });
});

const debianFiles = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
const haveDebian = debianFiles.every(
  (f) => existsSync(join(DEBIAN_FASHION_MNIST_DIR, f + '.gz')) || existsSync(join(DEBIAN_FASHION_MNIST_DIR, f)),
);

test('the real Fashion-MNIST from the Debian package', async (t) => {
  if (!haveDebian) {
    t.skip(`not installed in ${DEBIAN_FASHION_MNIST_DIR} (sudo apt-get install dataset-fashion-mnist)`);
    return;
  }
  const split = await loadFashionMnist({ env: {} });
  assert.equal(split.train.labels.length, 60000);
  assert.equal(split.test.labels.length, 10000);
  assert.equal(split.train.images.length, 60000 * 784);
  assert.equal(split.test.images.length, 10000 * 784);
  const counts = (l: Uint8Array) => {
    const c = new Array(10).fill(0);
    for (const x of l) c[x]++;
    return c;
  };
  // Fashion-MNIST is balanced: 6000 and 1000 of each class.
  assert.deepEqual(counts(split.train.labels), new Array(10).fill(6000));
  assert.deepEqual(counts(split.test.labels), new Array(10).fill(1000));
  // Pixel statistics agree with the published normalisation constants.
  let s = 0;
  let s2 = 0;
  for (const v of split.train.images) {
    s += v;
    s2 += v * v;
  }
  const n = split.train.images.length;
  const mean = s / n / 255;
  const std = Math.sqrt(s2 / n / 65025 - mean * mean);
  assert.ok(Math.abs(mean - 0.286) < 0.002, `mean ${mean}`);
  assert.ok(Math.abs(std - 0.353) < 0.002, `std ${std}`);
});
