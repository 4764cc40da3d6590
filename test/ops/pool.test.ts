import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, Rng } from '../../src/index.js';
import * as ops from '../../src/ops/index.js';
import { gradcheck, randomInput } from '../helpers/gradcheck.js';

const rng = new Rng(7);

test('max and average pooling forward', () => {
  const x = tensor(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]), [1, 1, 4, 4]);
  assert.deepEqual([...ops.maxPool2d(x, 2).dataSync()], [6, 8, 14, 16]);
  assert.deepEqual([...ops.avgPool2d(x, 2).dataSync()], [3.5, 5.5, 11.5, 13.5]);
  assert.deepEqual(ops.maxPool2d(x, 3, { stride: 2, padding: 1 }).shape, [1, 1, 2, 2]);
  assert.deepEqual(ops.maxPool2d(tensor(new Float32Array(25), [1, 1, 5, 5]), 2, { ceilMode: true }).shape, [1, 1, 3, 3]);
  assert.deepEqual([...ops.globalAvgPool2d(x).dataSync()], [8.5]);
});

test('pooling gradients', () => {
  const x = randomInput([2, 2, 5, 6], rng);
  gradcheck((t) => ops.maxPool2d(t, 2), [x]);
  gradcheck((t) => ops.maxPool2d(t, 3, { stride: 2, padding: 1 }), [x]);
  gradcheck((t) => ops.maxPool2d(t, 2, { ceilMode: true }), [x]);
  gradcheck((t) => ops.avgPool2d(t, 2), [x]);
  gradcheck((t) => ops.avgPool2d(t, 3, { stride: 2, padding: 1, countIncludePad: false }), [x]);
  gradcheck((t) => ops.avgPool2d(t, 3, { stride: 2, padding: 1, ceilMode: true }), [x]);
  gradcheck((t) => ops.globalAvgPool2d(t), [x]);
});

test('pooling errors', () => {
  assert.throws(() => ops.maxPool2d(tensor(new Float32Array(4), [1, 1, 2, 2]), 3), /maxPool2d: input \[1, 1, 2, 2\] is too small/);
  assert.throws(() => ops.maxPool2d(tensor(new Float32Array(16), [1, 1, 4, 4]), 2, { padding: 2 }), /padding \[2, 2\] must be at most half the kernel/);
});
