import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataLoader, randomCropFlip, type ImageDataset } from '../../src/data/dataset.js';
import { DATASETS, isDatasetName, loadDataset, type DatasetName } from '../../src/data/index.js';
import { Rng } from '../../src/tensor/rng.js';

/** N images of 2 x 2 x 3 pixels; pixel value encodes (image, channel, position). */
function tiny(n = 10): ImageDataset {
  const [c, h, w] = [2, 2, 3];
  const images = new Uint8Array(n * c * h * w);
  for (let i = 0; i < images.length; i++) images[i] = (i * 7 + 3) & 255;
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 4);
  return {
    name: 'tiny',
    images,
    labels,
    shape: [c, h, w],
    classNames: ['a', 'b', 'c', 'd'],
    mean: [0.5, 0.25],
    std: [0.2, 0.4],
  };
}

function collect(loader: DataLoader, epoch: number) {
  return [...loader.batches(epoch)];
}

test('normalisation: (x / 255 - mean) / std per channel, in order without shuffle', () => {
  const ds = tiny(10);
  const loader = new DataLoader(ds, { batchSize: 4, shuffle: false });
  const batches = collect(loader, 0);
  const per = 2 * 2 * 3;
  let k = 0;
  for (const b of batches) {
    for (let i = 0; i < b.size; i++, k++) {
      assert.equal(b.labels[i], ds.labels[k]);
      for (let j = 0; j < per; j++) {
        const ch = Math.floor(j / 6);
        const want = (ds.images[k * per + j] / 255 - ds.mean[ch]) / ds.std[ch];
        assert.ok(Math.abs(b.images[i * per + j] - want) < 1e-6, `image ${k} elem ${j}: ${b.images[i * per + j]} vs ${want}`);
      }
    }
  }
  assert.equal(k, 10);
});

test('last partial batch, and dropLast', () => {
  const ds = tiny(10);
  const keep = new DataLoader(ds, { batchSize: 4, shuffle: true, seed: 1 });
  assert.equal(keep.numBatches, 3);
  const kb = collect(keep, 0);
  assert.deepEqual(kb.map((b) => b.size), [4, 4, 2]);
  assert.deepEqual(kb.map((b) => b.labels.length), [4, 4, 2]);
  assert.deepEqual(kb.map((b) => b.images.length), [48, 48, 24]);

  const drop = new DataLoader(ds, { batchSize: 4, shuffle: true, seed: 1, dropLast: true });
  assert.equal(drop.numBatches, 2);
  const db = collect(drop, 0);
  assert.deepEqual(db.map((b) => b.size), [4, 4]);
  // Same order as without dropLast, just without the tail.
  assert.deepEqual(Array.from(db[1].labels), Array.from(kb[1].labels));

  const exact = new DataLoader(tiny(8), { batchSize: 4, shuffle: false, dropLast: true });
  assert.equal(exact.numBatches, 2);
  const small = new DataLoader(tiny(3), { batchSize: 4, shuffle: false, dropLast: true });
  assert.equal(small.numBatches, 0);
  assert.equal(collect(small, 0).length, 0);
});

test('shuffle order is a permutation that depends only on (seed, epoch)', () => {
  const ds = tiny(50);
  const a = new DataLoader(ds, { batchSize: 7, shuffle: true, seed: 42 });
  const b = new DataLoader(ds, { batchSize: 7, shuffle: true, seed: 42 });
  const c = new DataLoader(ds, { batchSize: 7, shuffle: true, seed: 43 });
  const order = (l: DataLoader, e: number) => Array.from(l.order(e));
  assert.deepEqual([...order(a, 0)].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual(order(a, 3), order(b, 3));
  assert.notDeepEqual(order(a, 0), order(a, 1));
  assert.notDeepEqual(order(a, 0), order(c, 0));
  assert.notDeepEqual(order(a, 0), Array.from({ length: 50 }, (_, i) => i));

  // A resumed run (fresh loader, straight to epoch 2) sees the same batches as one that ran epochs 0 and 1.
  collect(a, 0);
  collect(a, 1);
  const cont = collect(a, 2);
  const resumed = collect(new DataLoader(ds, { batchSize: 7, shuffle: true, seed: 42 }), 2);
  assert.deepEqual(cont.map((x) => Array.from(x.images)), resumed.map((x) => Array.from(x.images)));
  assert.deepEqual(cont.map((x) => Array.from(x.labels)), resumed.map((x) => Array.from(x.labels)));

  // The batches follow order(epoch).
  const ord = order(a, 2);
  assert.deepEqual(cont.flatMap((x) => Array.from(x.labels)), ord.map((i) => ds.labels[i]));
  // No shuffle: identity in every epoch.
  const plain = new DataLoader(ds, { batchSize: 7, shuffle: false });
  assert.deepEqual(order(plain, 5), Array.from({ length: 50 }, (_, i) => i));
});

test('augmentation is deterministic per (seed, epoch)', () => {
  const ds = tiny(20);
  const mk = (seed: number) =>
    new DataLoader(ds, { batchSize: 8, shuffle: true, seed, transform: randomCropFlip(1, true) });
  const x = collect(mk(5), 4).map((b) => Array.from(b.images));
  const y = collect(mk(5), 4).map((b) => Array.from(b.images));
  const z = collect(mk(5), 5).map((b) => Array.from(b.images));
  assert.deepEqual(x, y);
  assert.notDeepEqual(x, z);
});

test('the transform sees each normalised image once, in place', () => {
  const ds = tiny(9);
  let calls = 0;
  const loader = new DataLoader(ds, {
    batchSize: 4,
    shuffle: false,
    transform: (img, c, h, w) => {
      calls++;
      assert.equal(img.length, c * h * w);
      img.fill(calls);
    },
  });
  const batches = collect(loader, 0);
  assert.equal(calls, 9);
  assert.equal(batches[2].images[0], 9);
  assert.equal(batches[0].images[12], 2);
});

function plane(c: number, h: number, w: number): Float32Array {
  return Float32Array.from({ length: c * h * w }, (_, i) => i + 1);
}

test('randomCropFlip: flip only gives the image or its mirror', () => {
  const [c, h, w] = [2, 3, 4];
  const src = plane(c, h, w);
  const t = randomCropFlip(0, true);
  const rng = new Rng(9);
  let flips = 0;
  for (let k = 0; k < 40; k++) {
    const img = src.slice();
    t(img, c, h, w, rng);
    let mirrored = true;
    let same = true;
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const i = ch * h * w + y * w + x;
          if (img[i] !== src[i]) same = false;
          if (img[i] !== src[ch * h * w + y * w + (w - 1 - x)]) mirrored = false;
        }
    assert.ok(same || mirrored);
    if (mirrored) flips++;
  }
  assert.ok(flips > 5 && flips < 35, `flips ${flips}`);
});

test('randomCropFlip: crop only is a shift by at most `padding`, filled with zeros', () => {
  const [c, h, w] = [2, 5, 5];
  const src = plane(c, h, w);
  const t = randomCropFlip(2, false);
  const rng = new Rng(3);
  const seen = new Set<string>();
  for (let k = 0; k < 200; k++) {
    const img = src.slice();
    t(img, c, h, w, rng);
    let match: string | undefined;
    for (let dy = -2; dy <= 2 && !match; dy++)
      for (let dx = -2; dx <= 2 && !match; dx++) {
        let ok = true;
        for (let ch = 0; ch < c && ok; ch++)
          for (let y = 0; y < h && ok; y++)
            for (let x = 0; x < w && ok; x++) {
              const sy = y + dy;
              const sx = x + dx;
              const want = sy >= 0 && sy < h && sx >= 0 && sx < w ? src[ch * h * w + sy * w + sx] : 0;
              if (img[ch * h * w + y * w + x] !== want) ok = false;
            }
        if (ok) match = `${dy},${dx}`;
      }
    assert.ok(match, 'output is not a shifted copy');
    seen.add(match);
  }
  assert.equal(seen.size, 25);
});

test('constructor validation', () => {
  assert.throws(() => new DataLoader(tiny(4), { batchSize: 0, shuffle: false }), /batchSize/);
  const bad = tiny(4);
  bad.images = bad.images.subarray(1);
  assert.throws(() => new DataLoader(bad, { batchSize: 2, shuffle: false }), /pixels/);
  const badStd = tiny(4);
  badStd.std = [1, 0];
  assert.throws(() => new DataLoader(badStd, { batchSize: 2, shuffle: false }), /std/);
  const badLabel = tiny(4);
  badLabel.labels[2] = 7;
  assert.throws(() => new DataLoader(badLabel, { batchSize: 2, shuffle: false }), /label 7/);
  assert.throws(() => randomCropFlip(-1, true), /padding/);
});

test('loadDataset: known names and an error listing them for an unknown one', async () => {
  assert.deepEqual([...DATASETS], ['fashion-mnist', 'shapes']);
  assert.ok(isDatasetName('shapes'));
  assert.ok(!isDatasetName('cifar10'));
  const split = await loadDataset('shapes', { seed: 1 });
  assert.equal(split.train.name, 'shapes');
  assert.equal(split.train.labels.length, 10000);
  await assert.rejects(loadDataset('cifar10' as DatasetName, {}), (err: unknown) => {
    assert.ok(err instanceof Error);
    assert.match(err.message, /cifar10/);
    assert.match(err.message, /fashion-mnist, shapes/);
    return true;
  });
});
