/**
 * conv2d's fused epilogue (residual add + activation in the kernel, used in inference) gives
 * the same values as the separate ops, on both kernel sets (im2col + GEMM, depthwise, grouped,
 * 1x1, batch > 1), with and without the thread pool; with gradients recorded it composes the
 * differentiable ops, so gradients still check.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randn, manualSeed, noGrad, setCpuKernels, cpuKernels, setNumThreads } from '../../src/index.js';
import * as ops from '../../src/ops/index.js';
import type { ConvActivation } from '../../src/ops/conv.js';
import { gradcheck, randomInput } from '../helpers/gradcheck.js';
import { Rng } from '../../src/index.js';
import { maxRelativeError } from '../helpers/compare.js';

const cases: { name: string; x: number[]; w: number[]; opts: ops.Conv2dOptions }[] = [
  { name: '3x3 padded, batch 2', x: [2, 5, 9, 7], w: [6, 5, 3, 3], opts: { padding: 1 } },
  { name: '1x1 pointwise', x: [1, 16, 12, 12], w: [24, 16, 1, 1], opts: {} },
  { name: 'grouped stride 2', x: [2, 8, 10, 9], w: [8, 2, 3, 3], opts: { groups: 4, stride: 2, padding: 1 } },
  { name: 'depthwise', x: [2, 6, 11, 11], w: [6, 1, 3, 3], opts: { groups: 6, padding: 1 } },
  { name: 'large 1x1 (thread-split epilogue)', x: [2, 32, 48, 48], w: [32, 32, 1, 1], opts: {} },
  { name: 'batch 1, K = 576 (three K blocks; the clamp only on the last; split within the image)', x: [1, 64, 40, 40], w: [32, 64, 3, 3], opts: { padding: 1 } },
];
const activations: (ConvActivation | null)[] = [null, 'relu', 'relu6', 'silu', 'hardswish', 'sigmoid', 'gelu'];

for (const threads of [1, 2]) {
  for (const c of cases) {
    test(`conv2d epilogue equals conv + add + activation: ${c.name}, ${threads} thread(s)`, async () => {
      await setNumThreads(threads);
      manualSeed(3);
      const x = randn(c.x);
      const w = randn(c.w, { std: 0.3 });
      const b = randn([c.w[0]]);
      const outShape = noGrad(() => ops.conv2d(x, w, b, c.opts)).shape;
      const residual = randn([...outShape]);
      const before = cpuKernels();
      try {
        for (const mode of ['wasm', 'reference'] as const) {
          setCpuKernels(mode);
          for (const activation of activations) {
            for (const res of [null, residual]) {
              const fused = noGrad(() => ops.conv2d(x, w, b, { ...c.opts, residual: res, activation }));
              const separate = noGrad(() => {
                let y = ops.conv2d(x, w, b, c.opts);
                if (res) y = ops.add(y, res);
                return activation ? ops.activation(activation, y) : y;
              });
              assert.ok(maxRelativeError(fused, separate) < 1e-6, `${mode} ${activation} residual=${!!res}: ${maxRelativeError(fused, separate)}`);
            }
          }
        }
      } finally {
        setCpuKernels(before);
        await setNumThreads(1);
      }
    });
  }
}

test('conv2d epilogue with gradients recorded composes differentiable ops (finite differences)', () => {
  const rng = new Rng(9);
  const x = randomInput([1, 2, 5, 5], rng);
  const w = randomInput([3, 2, 3, 3], rng);
  const r = randomInput([1, 3, 5, 5], rng);
  gradcheck((xx, ww, rr) => ops.conv2d(xx, ww, null, { padding: 1, residual: rr, activation: 'silu' }), [x, w, r]);
});

test('conv2d epilogue errors name the problem', () => {
  const x = randn([1, 2, 5, 5]);
  const w = randn([3, 2, 3, 3]);
  assert.throws(() => ops.conv2d(x, w, null, { residual: randn([1, 3, 5, 5]) }), /residual \[1, 3, 5, 5\] must match the output \[1, 3, 3, 3\]/);
  assert.throws(() => ops.conv2d(x, w, null, { activation: 'softmax' as ConvActivation }), /activation must be one of/);
});
