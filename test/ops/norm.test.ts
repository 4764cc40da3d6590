import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, Rng, zeros, ones } from '../../src/index.js';
import * as ops from '../../src/ops/index.js';
import { gradcheck, randomInput, assertClose } from '../helpers/gradcheck.js';

const rng = new Rng(8);

test('batch norm in training normalises per channel and updates running statistics', () => {
  const x = randomInput([4, 3, 2, 2], rng);
  const rm = zeros([3], 'float64');
  const rv = ones([3], 'float64');
  const y = ops.batchNorm(x, rm, rv, null, null, { training: true, momentum: 0.1 });
  const v = y.dataSync();
  const xv = x.dataSync();
  for (let c = 0; c < 3; c++) {
    let s = 0, s2 = 0, xs = 0;
    const vals: number[] = [];
    for (let n = 0; n < 4; n++) for (let i = 0; i < 4; i++) { const k = (n * 3 + c) * 4 + i; s += v[k]; s2 += v[k] * v[k]; xs += xv[k]; vals.push(xv[k]); }
    assert.ok(Math.abs(s / 16) < 1e-12);
    assert.ok(Math.abs(s2 / 16 - 1) < 1e-3);
    const mean = xs / 16;
    const unbiased = vals.reduce((a, b) => a + (b - mean) ** 2, 0) / 15;
    assert.ok(Math.abs(rm.dataSync()[c] - 0.1 * mean) < 1e-12);
    assert.ok(Math.abs(rv.dataSync()[c] - (0.9 + 0.1 * unbiased)) < 1e-12);
  }
});

test('batch norm in eval mode uses the running statistics', () => {
  const x = tensor(new Float32Array([1, 2, 3, 4]), [1, 2, 1, 2]);
  const y = ops.batchNorm(x, tensor([1, 2]), tensor([4, 1]), tensor([2, 1]), tensor([0, 10]), { training: false, eps: 0 });
  assertClose(y.dataSync(), [0, 1, 11, 12]);
});

test('batch norm gradients: training (through batch statistics) and eval', () => {
  const x = randomInput([3, 2, 3, 2], rng);
  const g = randomInput([2], rng);
  const b = randomInput([2], rng);
  gradcheck((t, gg, bb) => ops.batchNorm(t, null, null, gg, bb, { training: true }), [x, g, b], { rtol: 1e-4 });
  gradcheck((t) => ops.batchNorm(t, null, null, null, null, { training: true }), [x], { rtol: 1e-4 });
  const rm = tensor(new Float64Array([0.3, -0.2]));
  const rv = tensor(new Float64Array([1.5, 0.7]));
  gradcheck((t, gg, bb) => ops.batchNorm(t, rm, rv, gg, bb, { training: false }), [x, g, b]);
  gradcheck((t, gg, bb) => ops.batchNorm(t, null, null, gg, bb, { training: true }), [randomInput([5, 2], rng), g, b], { rtol: 1e-4 });
});

test('batch norm errors', () => {
  assert.throws(() => ops.batchNorm(tensor(new Float32Array(8), [2, 4]), tensor([0, 0]), tensor([1, 1]), null, null, { training: false }), /batchNorm: runningMean \[2\] must be \[4\]/);
  assert.throws(() => ops.batchNorm(tensor(new Float32Array(3), [1, 3]), null, null, null, null, { training: true }), /more than 1 value per channel/);
});

test('batch norm with a fused relu / relu6: equals the activation of batch norm, forward and backward', () => {
  const x = randomInput([3, 2, 3, 2], rng);
  const g = tensor(new Float64Array([1.5, 3.5]));
  const b = tensor(new Float64Array([0.2, 2.5]));
  for (const activation of ['relu', 'relu6'] as const) {
    const fused = ops.batchNorm(x, null, null, g, b, { training: true, activation });
    const composed = ops.activation(activation, ops.batchNorm(x, null, null, g, b, { training: true }));
    assertClose(fused.dataSync(), composed.dataSync(), 1e-12);
    assert.ok(fused.dataSync().some((v) => v === 0), `${activation}: some outputs clamped at 0`);
    if (activation === 'relu6') assert.ok(fused.dataSync().some((v) => v === 6), 'relu6: some outputs clamped at 6');
    gradcheck((t, gg, bb) => ops.batchNorm(t, null, null, gg, bb, { training: true, activation }), [x, g.requiresGrad_(), b.requiresGrad_()], { rtol: 1e-4 });
    // Eval mode composes the activation after the inference kernel.
    const rm = tensor(new Float64Array([0.3, -0.2]));
    const rv = tensor(new Float64Array([1.5, 0.7]));
    assertClose(ops.batchNorm(x, rm, rv, g, b, { training: false, activation }).dataSync(), ops.activation(activation, ops.batchNorm(x, rm, rv, g, b, { training: false })).dataSync(), 1e-12);
  }
  assert.throws(() => ops.batchNorm(x, null, null, g, b, { training: true, activation: 'silu' as 'relu' }), /activation must be 'relu', 'relu6' or null/);
});

test('batch norm with a fused residual sum and relu: equals relu(batchNorm(x) + residual), gradients to all inputs', () => {
  const x = randomInput([3, 2, 3, 2], rng);
  const residual = randomInput([3, 2, 3, 2], rng);
  const g = tensor(new Float64Array([1.5, 0.5]));
  const b = tensor(new Float64Array([0.2, -0.5]));
  for (const activation of ['relu', 'relu6', null] as const) {
    const fused = ops.batchNorm(x, null, null, g, b, { training: true, activation, residual });
    const sum = ops.add(ops.batchNorm(x, null, null, g, b, { training: true }), residual);
    assertClose(fused.dataSync(), (activation ? ops.activation(activation, sum) : sum).dataSync(), 1e-12);
    gradcheck((t, r, gg, bb) => ops.batchNorm(t, null, null, gg, bb, { training: true, activation, residual: r }), [x, residual, g.requiresGrad_(), b.requiresGrad_()], { rtol: 1e-4 });
  }
  assert.throws(() => ops.batchNorm(x, null, null, g, b, { training: true, residual: randomInput([3, 2, 3, 1], rng) }), /residual \[3, 2, 3, 1\] must match the input \[3, 2, 3, 2\]/);
});
