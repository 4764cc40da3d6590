import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, Rng } from '../../src/index.js';
import * as ops from '../../src/ops/index.js';
import { gradcheck, randomInput } from '../helpers/gradcheck.js';

const rng = new Rng(6);

const configs: { name: string; x: number[]; w: number[]; opts: ops.Conv2dOptions }[] = [
  { name: 'plain 3x3', x: [1, 2, 5, 5], w: [3, 2, 3, 3], opts: {} },
  { name: 'padding + stride 2', x: [2, 2, 6, 5], w: [2, 2, 3, 3], opts: { padding: 1, stride: 2 } },
  { name: 'dilation 2, non-square', x: [1, 1, 7, 6], w: [2, 1, 2, 3], opts: { dilation: 2, padding: [1, 2] } },
  { name: 'groups 2', x: [1, 4, 4, 4], w: [6, 2, 3, 3], opts: { groups: 2, padding: 1 } },
  { name: 'depthwise', x: [2, 3, 5, 5], w: [3, 1, 3, 3], opts: { groups: 3, padding: 1, stride: 2 } },
  { name: 'depthwise multiplier 2', x: [1, 2, 4, 4], w: [4, 1, 3, 3], opts: { groups: 2 } },
  { name: '1x1', x: [2, 3, 3, 3], w: [4, 3, 1, 1], opts: {} },
];

for (const c of configs) {
  test(`conv2d gradients: ${c.name}`, () => {
    const x = randomInput(c.x, rng);
    const w = randomInput(c.w, rng);
    const b = randomInput([c.w[0]], rng);
    gradcheck((xx, ww, bb) => ops.conv2d(xx, ww, bb, c.opts), [x, w, b]);
  });
}

test('conv2d forward on a hand-computed case', () => {
  const x = tensor(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), [1, 1, 3, 3]);
  const w = tensor(new Float32Array([1, 0, 0, -1]), [1, 1, 2, 2]);
  assert.deepEqual([...ops.conv2d(x, w).dataSync()], [-4, -4, -4, -4]);
  const y = ops.conv2d(x, w, tensor([1]), { padding: 1 });
  assert.deepEqual(y.shape, [1, 1, 4, 4]);
  assert.deepEqual([...y.dataSync()].slice(0, 4), [0, -1, -2, 1]);
});

test('conv2d errors name the shapes', () => {
  const x = tensor(new Float32Array(2 * 3 * 8 * 8), [2, 3, 8, 8]);
  assert.throws(() => ops.conv2d(x, tensor(new Float32Array(4 * 2 * 3 * 3), [4, 2, 3, 3])), /conv2d: weight \[4, 2, 3, 3\] expects 2 input channels .* input \[2, 3, 8, 8\] has 3/);
  assert.throws(() => ops.conv2d(tensor(new Float32Array(9), [3, 3]), tensor(new Float32Array(9), [1, 1, 3, 3])), /conv2d: expected input of rank 4 \(N, C, H, W\), got shape \[3, 3\]/);
  assert.throws(() => ops.conv2d(x, tensor(new Float32Array(6 * 3 * 9 * 9), [6, 3, 9, 9])), /too small/);
  assert.throws(() => ops.conv2d(x, tensor(new Float32Array(4 * 3 * 3 * 3), [4, 3, 3, 3]), tensor([1, 2])), /bias \[2\] must be \[4\]/);
});

test("padding 'same' keeps the spatial size", () => {
  const x = randomInput([1, 2, 5, 7], rng);
  const w = randomInput([3, 2, 5, 3], rng);
  assert.deepEqual(ops.conv2d(x, w, null, { padding: 'same' }).shape, [1, 3, 5, 7]);
});
