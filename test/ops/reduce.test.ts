import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, Rng } from '../../src/index.js';
import * as ops from '../../src/ops/index.js';
import { gradcheck, randomInput, assertClose } from '../helpers/gradcheck.js';

const rng = new Rng(3);

test('sum, mean, max over axes', () => {
  const x = tensor(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), [2, 3, 2]);
  assert.equal(ops.sum(x).itemSync(), 78);
  assert.deepEqual([...ops.sum(x, 0).dataSync()], [8, 10, 12, 14, 16, 18]);
  assert.deepEqual([...ops.sum(x, [0, 2]).dataSync()], [18, 26, 34]);
  assert.deepEqual(ops.sum(x, [0, 2], true).shape, [1, 3, 1]);
  assert.deepEqual([...ops.mean(x, -1).dataSync()], [1.5, 3.5, 5.5, 7.5, 9.5, 11.5]);
  assert.deepEqual([...ops.max(x, 1).dataSync()], [5, 6, 11, 12]);
  assert.deepEqual([...ops.argmax(tensor([[1, 5, 2], [7, 0, 7]]), 1).dataSync()], [1, 0]);
  assert.throws(() => ops.sum(x, 3), /sum: axis 3 is out of range for a tensor of rank 3/);
});

test('reduction gradients', () => {
  const x = randomInput([2, 3, 4], rng);
  gradcheck((t) => ops.sum(t), [x]);
  gradcheck((t) => ops.sum(t, [0, 2]), [x]);
  gradcheck((t) => ops.mean(t, 1, true), [x]);
  gradcheck((t) => ops.max(t, 2), [x]);
  gradcheck((t) => ops.max(t, [0, 2]), [x]);
});

test('sumTo is the adjoint of broadcasting', () => {
  const g = tensor(new Float32Array(24).fill(1), [2, 3, 4]);
  assertClose(ops.sumTo(g, [3, 1]).dataSync(), [8, 8, 8]);
  assertClose(ops.sumTo(g, [4]).dataSync(), [6, 6, 6, 6]);
});
