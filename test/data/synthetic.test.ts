import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeShapesDataset, SHAPES_CLASSES, channelStats } from '../../src/data/synthetic.js';
import { DataLoader } from '../../src/data/dataset.js';

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

test('same seed gives identical bytes; a different seed gives different ones', () => {
  const a = makeShapesDataset({ trainSize: 300, testSize: 100, seed: 7 });
  const b = makeShapesDataset({ trainSize: 300, testSize: 100, seed: 7 });
  const c = makeShapesDataset({ trainSize: 300, testSize: 100, seed: 8 });
  assert.ok(equalBytes(a.train.images, b.train.images));
  assert.ok(equalBytes(a.train.labels, b.train.labels));
  assert.ok(equalBytes(a.test.images, b.test.images));
  assert.ok(equalBytes(a.test.labels, b.test.labels));
  assert.deepEqual(a.train.mean, b.train.mean);
  assert.ok(!equalBytes(a.train.images, c.train.images));
  assert.ok(!equalBytes(a.test.images, c.test.images));
  // Train and test come from different streams.
  assert.ok(!equalBytes(a.train.images.subarray(0, a.test.images.length), a.test.images));
});

test('shape, class names, sizes and normalisation constants', () => {
  const { train, test: tst } = makeShapesDataset({ trainSize: 200, testSize: 50, seed: 1 });
  for (const ds of [train, tst]) {
    assert.equal(ds.name, 'shapes');
    assert.deepEqual(ds.shape, [3, 32, 32]);
    assert.deepEqual(ds.classNames, SHAPES_CLASSES);
    assert.equal(ds.classNames.length, 10);
    assert.equal(ds.images.length, ds.labels.length * 3 * 32 * 32);
  }
  assert.equal(train.labels.length, 200);
  assert.equal(tst.labels.length, 50);
  // Constants come from the training set and are shared with the test set.
  const stats = channelStats(train.images, 3, 32 * 32);
  assert.deepEqual(train.mean, stats.mean);
  assert.deepEqual(tst.mean, train.mean);
  assert.deepEqual(tst.std, train.std);
  for (let c = 0; c < 3; c++) {
    assert.ok(train.mean[c] > 0.2 && train.mean[c] < 0.8, `mean ${train.mean[c]}`);
    assert.ok(train.std[c] > 0.1 && train.std[c] < 0.5, `std ${train.std[c]}`);
  }
  // The normalised training set has mean ~0 and std ~1 per channel.
  const loader = new DataLoader(train, { batchSize: 200, shuffle: false });
  const [batch] = [...loader.batches(0)];
  for (let c = 0; c < 3; c++) {
    let s = 0;
    let s2 = 0;
    let n = 0;
    for (let i = 0; i < 200; i++)
      for (let p = 0; p < 1024; p++) {
        const v = batch.images[i * 3072 + c * 1024 + p];
        s += v;
        s2 += v * v;
        n++;
      }
    assert.ok(Math.abs(s / n) < 1e-3);
    assert.ok(Math.abs(Math.sqrt(s2 / n - (s / n) ** 2) - 1) < 1e-3);
  }

  const small = makeShapesDataset({ trainSize: 20, testSize: 10, size: 16 });
  assert.deepEqual(small.train.shape, [3, 16, 16]);
  assert.equal(small.train.images.length, 20 * 3 * 256);
  assert.throws(() => makeShapesDataset({ size: 4 }), /size/);
  assert.throws(() => makeShapesDataset({ trainSize: -1 }), /trainSize/);
});

test('classes are balanced', () => {
  const { train, test: tst } = makeShapesDataset({ trainSize: 1000, testSize: 205, seed: 3 });
  const count = (l: Uint8Array) => {
    const c = new Array(10).fill(0);
    for (const x of l) c[x]++;
    return c;
  };
  assert.deepEqual(count(train.labels), new Array(10).fill(100));
  const t = count(tst.labels);
  assert.ok(Math.min(...t) === 20 && Math.max(...t) === 21, String(t));
  // Labels are shuffled, not in blocks or cycles.
  let runs = 0;
  for (let i = 1; i < train.labels.length; i++) if (train.labels[i] === (train.labels[i - 1] + 1) % 10) runs++;
  assert.ok(runs < 300, `labels look sequential (${runs})`);
});

test('every image has a visible foreground/background contrast', () => {
  const { train } = makeShapesDataset({ trainSize: 500, testSize: 0, seed: 4 });
  const plane = 1024;
  for (let i = 0; i < 500; i++) {
    let lo = 255;
    let hi = 0;
    for (let p = 0; p < plane; p++) {
      const o = i * 3 * plane + p;
      const lum = 0.299 * train.images[o] + 0.587 * train.images[o + plane] + 0.114 * train.images[o + 2 * plane];
      if (lum < lo) lo = lum;
      if (lum > hi) hi = lum;
    }
    assert.ok(hi - lo > 50, `image ${i} (class ${train.labels[i]}) has a luminance range of only ${hi - lo}`);
  }
});

test('the class cannot be told from the mean colour', () => {
  const { train, test: tst } = makeShapesDataset({ trainSize: 2000, testSize: 1000, seed: 5 });
  const meanColour = (images: Uint8Array, i: number) => {
    const out = [0, 0, 0];
    for (let c = 0; c < 3; c++) {
      let s = 0;
      for (let p = 0; p < 1024; p++) s += images[i * 3072 + c * 1024 + p];
      out[c] = s / 1024;
    }
    return out;
  };
  // Nearest class centroid in mean-colour space.
  const centroids = Array.from({ length: 10 }, () => [0, 0, 0, 0]);
  for (let i = 0; i < train.labels.length; i++) {
    const m = meanColour(train.images, i);
    const cen = centroids[train.labels[i]];
    for (let c = 0; c < 3; c++) cen[c] += m[c];
    cen[3]++;
  }
  for (const cen of centroids) for (let c = 0; c < 3; c++) cen[c] /= cen[3];
  let correct = 0;
  for (let i = 0; i < tst.labels.length; i++) {
    const m = meanColour(tst.images, i);
    let best = 0;
    let bestD = Infinity;
    centroids.forEach((cen, k) => {
      const d = (m[0] - cen[0]) ** 2 + (m[1] - cen[1]) ** 2 + (m[2] - cen[2]) ** 2;
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    });
    if (best === tst.labels[i]) correct++;
  }
  assert.ok(correct / tst.labels.length < 0.2, `mean colour predicts the class ${correct / tst.labels.length} of the time`);
});

test('the default set (10000 + 2000) generates quickly', () => {
  const t0 = performance.now();
  const { train, test: tst } = makeShapesDataset();
  const ms = performance.now() - t0;
  assert.equal(train.labels.length, 10000);
  assert.equal(tst.labels.length, 2000);
  // The target is well under 2 s for 10k images; the bound is loose for busy test machines.
  assert.ok(ms < 10000, `took ${ms.toFixed(0)} ms`);
});
