import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, optim } from '../../src/index.js';

test('warmup + cosine schedule', () => {
  const s = optim.warmupCosine({ baseLr: 1, totalSteps: 110, warmupSteps: 10, minLr: 0 });
  assert.ok(Math.abs(s(0) - 0.1) < 1e-12);
  assert.ok(Math.abs(s(9) - 1) < 1e-12);
  assert.ok(Math.abs(s(10) - 1) < 1e-12);
  assert.ok(Math.abs(s(60) - 0.5) < 1e-12);
  assert.ok(s(110) < 1e-12);
  const step = optim.stepDecay({ baseLr: 1, stepSize: 10, gamma: 0.5 });
  assert.equal(step(25), 0.25);
});

test('gradient clipping scales to the max norm and returns the norm', () => {
  const a = tensor([3, 0]).requiresGrad_();
  const b = tensor([4]).requiresGrad_();
  a.grad = tensor([3, 0]);
  b.grad = tensor([4]);
  const norm = optim.clipGradNorm([a, b], 1);
  assert.ok(Math.abs(norm.itemSync() - 5) < 1e-6);
  assert.ok(Math.abs(a.grad.dataSync()[0] - 0.6) < 1e-6);
  assert.ok(Math.abs(b.grad.dataSync()[0] - 0.8) < 1e-6);
  const small = optim.clipGradNorm([a, b], 10);
  assert.ok(Math.abs(a.grad.dataSync()[0] - 0.6) < 1e-6, `${small.itemSync()}`);
});

test('optimiser state round-trips through stateDict', () => {
  const p = tensor([1, 2]).requiresGrad_();
  const o = new optim.SGD([p], { lr: 0.1, momentum: 0.9 });
  p.grad = tensor([1, 1]);
  o.step();
  const sd = o.stateDict();
  assert.deepEqual([...sd.tensors.keys()], ['0.momentum_buffer']);
  const q = tensor([1, 2]).requiresGrad_();
  const o2 = new optim.SGD([q], { lr: 0.1, momentum: 0.9 });
  o2.loadStateDict(sd);
  assert.equal(o2.stepCount, 1);
  assert.throws(() => new optim.SGD([tensor([1])], { lr: 0.1 }).loadStateDict(sd), /does not fit parameter 0/);
  assert.throws(() => new optim.SGD([p], { lr: -1 }), /learning rate must be a non-negative number/);
});
