// The WebAssembly pooling kernels (src/backends/cpu/wasm/pool.ts) against the TypeScript
// reference twins (src/backends/cpu/kernels/pool2d.ts), float32: max pooling and its argmax bit
// for bit (NaN, -inf, ties), max-pool backward, average pooling forward and backward (padding,
// dilation, ceilMode, countIncludePad), and through the public ops in both kernel modes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../../src/tensor/rng.js';
import {
  avgPool2dBackward as refAvgBackward,
  avgPool2dForward as refAvgForward,
  maxPool2dBackward as refMaxBackward,
  maxPool2dForward as refMaxForward,
  pool2dOutputShape,
} from '../../../../src/backends/cpu/kernels/pool2d.js';
import type { Pool2dParams } from '../../../../src/backends/cpu/kernels/types.js';
import { avgPool2dBackward, avgPool2dForward, maxPool2dBackward, maxPool2dForward } from '../../../../src/backends/cpu/wasm/pool.js';
import { ops, tensor } from '../../../../src/index.js';
import { assertClose } from '../kernels/util.js';
import { TOL, randomF32, requireWasm, withMode } from './util.js';

/** Values on a coarse grid (many exact ties), with an occasional NaN / -inf / +inf. */
function tiedF32(rng: Rng, n: number, specials: boolean): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.int(7) - 3;
  if (specials) {
    for (const v of [NaN, -Infinity, Infinity, NaN]) a[rng.int(n)] = v;
  }
  return a;
}

function pool(n: number, c: number, h: number, w: number, k: [number, number], stride: [number, number], padding: [number, number], dilation: [number, number], ceilMode: boolean, countIncludePad: boolean): Pool2dParams {
  return { inShape: [n, c, h, w], kernel: k, stride, padding, dilation, ceilMode, countIncludePad };
}

function sameBits(actual: Float32Array | Int32Array, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${what}[${i}]: got ${actual[i]}, expected ${expected[i]}`);
  }
}

function checkPool(rng: Rng, p: Pool2dParams, values: 'normal' | 'tied' | 'special'): void {
  const size = p.inShape.reduce((a, b) => a * b, 1);
  const x = values === 'normal' ? randomF32(rng, size) : tiedF32(rng, size, values === 'special');
  const what = `pool ${JSON.stringify(p)} (${values})`;
  const ref = refMaxForward(x, p);
  const got = maxPool2dForward(x, p);
  assert.deepEqual(got.shape, ref.shape, `${what}: shape`);
  sameBits(got.y, ref.y, `${what} max y`);
  sameBits(got.argmax, ref.argmax, `${what} max argmax`);
  const dy = randomF32(rng, ref.y.length);
  assertClose(maxPool2dBackward(dy, ref.argmax, p), refMaxBackward(dy, ref.argmax, p), TOL, `${what} max backward`);

  if (values === 'special') return; // averages of inf/NaN are inf/NaN either way; the sums below need finite values
  const avg = avgPool2dForward(x, p);
  const avgRef = refAvgForward(x, p);
  assert.deepEqual(avg.shape, avgRef.shape);
  assertClose(avg.y, avgRef.y, TOL, `${what} avg forward`, refAvgForward(Float64Array.from(x, Math.abs), p).y);
  assertClose(avgPool2dBackward(dy, p), refAvgBackward(dy, p), TOL, `${what} avg backward`, refAvgBackward(Float64Array.from(dy, Math.abs), p));
}

test('wasm pooling matches the reference on hand-picked geometries', () => {
  requireWasm();
  const rng = new Rng(41);
  const cases: Pool2dParams[] = [
    pool(1, 3, 8, 8, [2, 2], [2, 2], [0, 0], [1, 1], false, true), // MaxPool2d(2)
    pool(3, 2, 9, 11, [2, 2], [2, 2], [0, 0], [1, 1], false, true), // odd sizes: the last row/column is dropped
    pool(3, 2, 9, 11, [2, 2], [2, 2], [0, 0], [1, 1], true, true), // ceilMode: overhanging last window
    pool(2, 3, 17, 20, [2, 2], [2, 2], [0, 0], [1, 1], false, true), // long rows: vector path + tail
    pool(1, 4, 16, 16, [3, 3], [2, 2], [1, 1], [1, 1], false, true), // ResNet stem pool
    pool(1, 4, 15, 15, [3, 3], [2, 2], [1, 1], [1, 1], true, false),
    pool(3, 2, 10, 9, [3, 3], [1, 1], [1, 1], [1, 1], false, false), // stride 1, overlapping windows
    pool(1, 2, 13, 14, [3, 2], [2, 3], [1, 1], [2, 1], true, true), // dilation, asymmetric
    pool(1, 2, 12, 12, [5, 5], [3, 3], [2, 2], [1, 1], true, false),
    pool(1, 1, 3, 3, [3, 3], [1, 1], [1, 1], [1, 1], false, true),
    pool(1, 1, 1, 1, [1, 1], [1, 1], [0, 0], [1, 1], false, true),
    pool(1, 2, 5, 7, [2, 2], [1, 1], [1, 1], [3, 3], true, true), // windows made only of padding
  ];
  for (const p of cases) {
    for (const values of ['normal', 'tied', 'special'] as const) checkPool(rng, p, values);
  }
});

test('wasm pooling matches the reference on seeded random geometries (ceilMode, countIncludePad, dilation, padding)', () => {
  requireWasm();
  const rng = new Rng(42);
  let ran = 0;
  while (ran < 120) {
    const kh = 1 + rng.int(4);
    const kw = rng.int(3) === 0 ? 1 + rng.int(4) : kh;
    const stride: [number, number] = [1 + rng.int(3), 1 + rng.int(3)];
    const padding: [number, number] = [rng.int(Math.floor(kh / 2) + 1), rng.int(Math.floor(kw / 2) + 1)];
    const dilation: [number, number] = [1 + rng.int(2), 1 + rng.int(2)];
    const n = [1, 3][rng.int(2)];
    const c = 1 + rng.int(3);
    const p = pool(n, c, 1 + rng.int(19), 1 + rng.int(19), [kh, kw], stride, padding, dilation, rng.int(2) === 0, rng.int(2) === 0);
    try {
      pool2dOutputShape(p);
    } catch {
      continue;
    }
    checkPool(rng, p, (['normal', 'tied', 'special'] as const)[rng.int(3)]);
    ran++;
  }
});

// ---------------------------------------------------------------------------------------------
// Through the public ops

test('maxPool2d and avgPool2d through the ops: forward and gradients agree between wasm and reference modes', () => {
  requireWasm();
  const rng = new Rng(43);
  const configs: { shape: number[]; k: number; opts: ops.Pool2dOptions }[] = [
    { shape: [3, 4, 12, 12], k: 2, opts: {} },
    { shape: [2, 3, 11, 13], k: 3, opts: { stride: 2, padding: 1, ceilMode: true } },
    { shape: [1, 5, 9, 9], k: 3, opts: { stride: 1, padding: 1, countIncludePad: false } },
  ];
  for (const c of configs) {
    const x = tensor(randomF32(rng, c.shape.reduce((a, b) => a * b, 1)), c.shape).requiresGrad_();
    for (const kind of ['max', 'avg'] as const) {
      const run = (): Float32Array[] => {
        x.grad?.dispose();
        x.grad = null;
        const y = kind === 'max' ? ops.maxPool2d(x, c.k, c.opts) : ops.avgPool2d(x, c.k, c.opts);
        // a weighted sum, so that every output's gradient differs
        const r = tensor(Float32Array.from({ length: y.size }, (_, i) => Math.sin(i + 1)), [...y.shape]);
        ops.sum(ops.mul(y, r)).backward();
        const out = [y.dataSync() as Float32Array, x.grad!.dataSync() as Float32Array];
        y.dispose();
        r.dispose();
        return out;
      };
      const ref = withMode('reference', run);
      const got = withMode('wasm', run);
      const what = `${kind}Pool2d ${c.shape} k${c.k} ${JSON.stringify(c.opts)}`;
      if (kind === 'max') {
        sameBits(got[0], ref[0], `${what} forward`);
        sameBits(got[1], ref[1], `${what} gradient`);
      } else {
        assertClose(got[0], ref[0], TOL, `${what} forward`);
        assertClose(got[1], ref[1], TOL, `${what} gradient`);
      }
    }
    x.grad?.dispose();
    x.dispose();
  }
});

test('max pooling split over the thread pool equals the single-threaded result bit for bit', async () => {
  requireWasm();
  const { setNumThreads } = await import('../../../../src/index.js');
  const rng = new Rng(91);
  const p: Pool2dParams = { inShape: [4, 16, 57, 57], kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1], ceilMode: false, countIncludePad: true };
  const x = randomF32(rng, 4 * 16 * 57 * 57);
  await setNumThreads(1);
  const one = maxPool2dForward(x, p);
  const y1 = one.y.slice();
  const a1 = one.argmax.slice();
  await setNumThreads(2);
  const two = maxPool2dForward(x, p);
  await setNumThreads(1);
  assert.deepEqual(two.y.slice(), y1);
  assert.deepEqual(two.argmax.slice(), a1);
});
