import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, Rng, manualSeed } from '../../src/index.js';
import * as ops from '../../src/ops/index.js';
import { gradcheck, randomInput, assertClose } from '../helpers/gradcheck.js';

const rng = new Rng(9);

test('softmax and logSoftmax are stable and normalised', () => {
  const x = tensor([[1000, 1001, 1002], [-5, 0, 5]]);
  const p = ops.softmax(x, 1).dataSync();
  assertClose([p[0] + p[1] + p[2], p[3] + p[4] + p[5]], [1, 1], 1e-6);
  assertClose(p.subarray(0, 3), [0.09003057, 0.24472847, 0.66524096], 1e-6);
  assertClose(ops.logSoftmax(x, 1).dataSync().subarray(0, 3), [-2.40760596, -1.40760596, -0.40760596], 1e-6);
});

test('softmax gradients on every axis', () => {
  const x = randomInput([2, 3, 4], rng);
  for (const axis of [0, 1, 2]) {
    gradcheck((t) => ops.softmax(t, axis), [x]);
    gradcheck((t) => ops.logSoftmax(t, axis), [x]);
  }
});

test('cross-entropy matches hand computation, with label smoothing and soft targets', () => {
  const logits = tensor([[2, 1, 0.1], [0.5, 2.5, 0.3]]);
  const labels = tensor([0, 1], [2], 'int32');
  const lse = (r: number[]) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
  const l0 = lse([2, 1, 0.1]) - 2;
  const l1 = lse([0.5, 2.5, 0.3]) - 2.5;
  assertClose([ops.crossEntropy(logits, labels).itemSync()], [(l0 + l1) / 2], 1e-6);
  assertClose(ops.crossEntropy(logits, labels, { reduction: 'none' }).dataSync(), [l0, l1], 1e-6);
  // Smoothing 0.1 with 3 classes: target (0.9333, 0.0333, 0.0333).
  const s = 0.1;
  const logp = (r: number[], i: number) => r[i] - lse(r);
  const rows = [[2, 1, 0.1], [0.5, 2.5, 0.3]];
  const expected = rows.map((r, n) => -[0, 1, 2].reduce((acc, c) => acc + ((c === [0, 1][n] ? 1 - s : 0) + s / 3) * logp(r, c), 0));
  assertClose([ops.crossEntropy(logits, labels, { labelSmoothing: s }).itemSync()], [(expected[0] + expected[1]) / 2], 1e-6);
  const soft = tensor([[1, 0, 0], [0, 1, 0]]);
  assertClose([ops.crossEntropy(logits, soft).itemSync()], [(l0 + l1) / 2], 1e-6);
  assert.throws(() => ops.crossEntropy(logits, tensor([0, 3], [2], 'int32')), /label 3 at position 1 is outside \[0, 3\)/);
  assert.throws(() => ops.crossEntropy(logits, tensor([0], [1], 'int32')), /class indices must be \[2\]/);
});

test('cross-entropy gradients', () => {
  const logits = randomInput([4, 5], rng);
  const labels = tensor([0, 4, 2, 2], [4], 'int32');
  gradcheck((t) => ops.crossEntropy(t, labels, { labelSmoothing: 0.1 }), [logits]);
  const soft = ops.softmax(randomInput([4, 5], rng).detach(), 1);
  gradcheck((t, q) => ops.crossEntropy(t, q), [logits, soft.requiresGrad_()]);
  gradcheck((a, b) => ops.mseLoss(a, b), [randomInput([3, 2], rng), randomInput([3, 2], rng)]);
});

test('dropout: identity in eval, seeded mask scaled by 1/(1-p) in training', () => {
  const x = tensor(new Float32Array(1000).fill(1), [1000]);
  assert.equal(ops.dropout(x, 0.3, false), x);
  manualSeed(42);
  const a = ops.dropout(x, 0.3, true).dataSync();
  manualSeed(42);
  const b = ops.dropout(x, 0.3, true).dataSync();
  assert.deepEqual(a, b);
  const kept = [...a].filter((v) => v !== 0);
  assert.ok(kept.length > 620 && kept.length < 780, `kept ${kept.length}`);
  assert.ok(kept.every((v) => Math.abs(v - 1 / 0.7) < 1e-6));
  // The gradient is the same mask: dx = dy * mask.
  const xg = randomInput([20], rng);
  const y = ops.dropout(xg, 0.5, true);
  ops.sum(y).backward();
  const mask = xg.grad!.dataSync();
  const yv = y.dataSync();
  const xv = xg.dataSync();
  for (let i = 0; i < 20; i++) assert.ok(Math.abs(yv[i] - xv[i] * mask[i]) < 1e-12 && (mask[i] === 0 || mask[i] === 2));
});
