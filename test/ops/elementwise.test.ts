import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, Rng } from '../../src/index.js';
import * as ops from '../../src/ops/index.js';
import { gradcheck, randomInput, assertClose } from '../helpers/gradcheck.js';

const rng = new Rng(1);

test('binary ops broadcast like NumPy', () => {
  const a = tensor([[1, 2, 3], [4, 5, 6]]);
  const b = tensor([10, 20, 30]);
  assert.deepEqual([...ops.add(a, b).dataSync()], [11, 22, 33, 14, 25, 36]);
  const c = tensor([[100], [200]]);
  assert.deepEqual([...ops.mul(a, c).dataSync()], [100, 200, 300, 800, 1000, 1200]);
  assert.deepEqual([...ops.sub(b, a).dataSync()], [9, 18, 27, 6, 15, 24]);
  assert.deepEqual(ops.add(tensor([[1], [2]]), tensor([[1, 2, 3]])).shape, [2, 3]);
  assertClose(ops.div(a, 2).dataSync(), [0.5, 1, 1.5, 2, 2.5, 3]);
  assert.deepEqual([...ops.maximum(a, 3.5).dataSync()], [3.5, 3.5, 3.5, 4, 5, 6]);
  assert.deepEqual([...ops.minimum(a, 3.5).dataSync()], [1, 2, 3, 3.5, 3.5, 3.5]);
  assert.deepEqual([...ops.greater(a, 3).dataSync()], [0, 0, 0, 1, 1, 1]);
});

test('a broadcast on both sides and in the middle axis', () => {
  const a = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 1, 3]);
  const b = tensor(new Float32Array([10, 20, 30, 40]), [1, 4, 1]);
  const y = ops.add(a, b);
  assert.deepEqual(y.shape, [2, 4, 3]);
  const v = y.dataSync();
  for (let i = 0; i < 2; i++) for (let j = 0; j < 4; j++) for (let k = 0; k < 3; k++) assert.equal(v[i * 12 + j * 3 + k], 1 + i * 3 + k + (j + 1) * 10);
});

test('shape errors name the op and both shapes', () => {
  assert.throws(() => ops.add(tensor([1, 2, 3]), tensor([1, 2])), /add: shapes \[3\] and \[2\] cannot be broadcast/);
  assert.throws(() => ops.mul(tensor([1, 2]), tensor([1, 2], [2], 'int32')), /mul: dtypes differ/);
});

test('unary ops', () => {
  const x = tensor([0.25, 1, 4]);
  assertClose(ops.sqrt(x).dataSync(), [0.5, 1, 2]);
  assertClose(ops.log(x).dataSync(), [Math.log(0.25), 0, Math.log(4)]);
  assertClose(ops.exp(x).dataSync(), [Math.exp(0.25), Math.E, Math.exp(4)]);
  assertClose(ops.pow(x, 1.5).dataSync(), [0.125, 1, 8]);
  assertClose(ops.abs(tensor([-2, 3])).dataSync(), [2, 3]);
});

test('gradients of binary ops with broadcasting (float64 finite differences)', () => {
  const a = randomInput([3, 4], rng);
  const b = randomInput([4], rng);
  const c = randomInput([3, 1], rng, { low: 0.5, high: 2 });
  gradcheck((x, y) => ops.add(x, y), [a, b]);
  gradcheck((x, y) => ops.sub(x, y), [a, b]);
  gradcheck((x, y) => ops.mul(x, y), [a, c]);
  gradcheck((x, y) => ops.div(x, y), [a, c]);
  gradcheck((x, y) => ops.maximum(x, y), [a, b]);
  gradcheck((x) => ops.add(ops.mul(x, 3), 2), [a]);
});

test('gradients of unary ops', () => {
  const x = randomInput([2, 5], rng, { low: 0.3, high: 2 });
  for (const f of [ops.exp, ops.log, ops.sqrt, ops.square, ops.neg, ops.abs, ops.clone]) gradcheck((t) => f(t), [x]);
  gradcheck((t) => ops.pow(t, 2.5), [x]);
});

test('a tensor used twice accumulates both gradient paths', () => {
  const x = randomInput([4], rng);
  gradcheck((t) => ops.mul(t, ops.exp(t)), [x]);
});
