/**
 * layerNorm (over the last axis, as torch.nn.LayerNorm([C])) and stochasticDepth: gradients
 * against finite differences, the fused inference kernel against the differentiable
 * composition and a direct float64 computation, and the error messages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, randn, noGrad, manualSeed, tensor, ones } from '../../src/index.js';
import * as ops from '../../src/ops/index.js';
import { gradcheck, randomInput } from '../helpers/gradcheck.js';
import { maxRelativeError } from '../helpers/compare.js';

test('layerNorm gradients (input, weight, bias) match finite differences', () => {
  const rng = new Rng(3);
  const x = randomInput([2, 3, 5], rng);
  const w = randomInput([5], rng);
  const b = randomInput([5], rng);
  gradcheck((xx, ww, bb) => ops.layerNorm(xx, ww, bb, 1e-5), [x, w, b]);
  gradcheck((xx) => ops.layerNorm(xx, null, null, 1e-6), [randomInput([4, 7], rng)]);
});

test('the inference kernel equals the differentiable composition and the definition', () => {
  manualSeed(4);
  for (const shape of [[3, 7], [2, 5, 5, 96], [1, 1, 13]]) {
    const C = shape[shape.length - 1];
    const x = randn(shape, { mean: 0.5, std: 2 });
    const w = randn([C]);
    const b = randn([C]);
    const fused = noGrad(() => ops.layerNorm(x, w, b, 1e-6));
    const composed = ops.layerNorm(x, w.clone().requiresGrad_(), b, 1e-6);
    assert.ok(maxRelativeError(fused, composed) < 1e-5, `shape ${shape}`);
    const xs = x.dataSync();
    const ws = w.dataSync();
    const bs = b.dataSync();
    const expected = new Float32Array(xs.length);
    for (let o = 0; o < xs.length; o += C) {
      let mean = 0;
      for (let j = 0; j < C; j++) mean += xs[o + j] / C;
      let v = 0;
      for (let j = 0; j < C; j++) v += (xs[o + j] - mean) ** 2 / C;
      for (let j = 0; j < C; j++) expected[o + j] = ((xs[o + j] - mean) / Math.sqrt(v + 1e-6)) * ws[j] + bs[j];
    }
    assert.ok(maxRelativeError(fused, tensor(expected, shape)) < 1e-5);
  }
});

test('layerNorm errors name the op and the shapes', () => {
  const x = randn([2, 4]);
  assert.throws(() => ops.layerNorm(x, ones([3]), null), /layerNorm: weight \[3\] must be \[4\] for input \[2, 4\]/);
});

test('stochasticDepth: identity in eval, whole samples dropped and survivors scaled in training, gradient through the mask', () => {
  manualSeed(5);
  const x = ops.affine(ones([64, 3, 2, 2]), 1, 0).requiresGrad_();
  assert.equal(ops.stochasticDepth(x, 0.5, 'row', false), x);
  const y = ops.stochasticDepth(x, 0.5, 'row', true);
  const v = y.dataSync();
  let kept = 0;
  for (let n = 0; n < 64; n++) {
    const sample = Array.from(v.subarray(n * 12, n * 12 + 12));
    assert.ok(sample.every((s) => s === sample[0]) && (sample[0] === 0 || sample[0] === 2), 'a sample is dropped or scaled by 1/(1-p) as a whole');
    if (sample[0] !== 0) kept++;
  }
  assert.ok(kept > 16 && kept < 48, `about half the samples survive (${kept}/64)`);
  ops.sum(y).backward();
  assert.deepEqual(Array.from(x.grad!.dataSync()), Array.from(v), 'the gradient is the same mask');
  assert.throws(() => ops.stochasticDepth(x, 1.5, 'row', true), /p must be in \[0, 1\]/);
});
