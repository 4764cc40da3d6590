import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, Rng } from '../../src/index.js';
import * as ops from '../../src/ops/index.js';
import { gradcheck, randomInput, assertClose } from '../helpers/gradcheck.js';

const rng = new Rng(5);

function naive(a: ArrayLike<number>, b: ArrayLike<number>, M: number, K: number, N: number): number[] {
  const out = new Array<number>(M * N).fill(0);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) for (let k = 0; k < K; k++) out[i * N + j] += a[i * K + k] * b[k * N + j];
  return out;
}

test('matmul 2-D and batched', () => {
  const a = randomInput([5, 7], rng);
  const b = randomInput([7, 3], rng);
  assertClose(ops.matmul(a, b).dataSync(), naive(a.dataSync(), b.dataSync(), 5, 7, 3), 1e-12);
  const ab = randomInput([2, 4, 6], rng);
  const bb = randomInput([2, 6, 5], rng);
  const y = ops.matmul(ab, bb).dataSync();
  for (let i = 0; i < 2; i++) {
    assertClose(y.subarray(i * 20, (i + 1) * 20), naive(ab.dataSync().subarray(i * 24), bb.dataSync().subarray(i * 30), 4, 6, 5), 1e-12);
  }
  assert.throws(() => ops.matmul(a, a), /matmul: inner dimensions differ: \[5, 7\] @ \[5, 7\] \(7 vs 5\)/);
});

test('linear matches x Wᵀ + b', () => {
  const x = tensor([[1, 2], [3, 4], [5, 6]]);
  const w = tensor([[1, 0], [0, 1], [1, 1]]);
  const b = tensor([10, 20, 30]);
  assert.deepEqual([...ops.linear(x, w, b).dataSync()], [11, 22, 33, 13, 24, 37, 15, 26, 41]);
  assert.throws(() => ops.linear(tensor([[1, 2, 3]]), w, b), /linear: input \[1, 3\] does not end in inFeatures=2/);
});

test('matmul and linear gradients', () => {
  gradcheck((x, y) => ops.matmul(x, y), [randomInput([3, 4], rng), randomInput([4, 2], rng)]);
  gradcheck((x, y) => ops.matmul(x, y), [randomInput([2, 3, 4], rng), randomInput([2, 4, 2], rng)]);
  gradcheck((x, y) => ops.matmul(x, y), [randomInput([2, 3, 4], rng), randomInput([4, 2], rng)]);
  gradcheck((x, w, b) => ops.linear(x, w, b), [randomInput([5, 3], rng), randomInput([4, 3], rng), randomInput([4], rng)]);
  gradcheck((x, w) => ops.linear(x, w), [randomInput([2, 2, 3], rng), randomInput([4, 3], rng)]);
});
