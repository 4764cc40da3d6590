/**
 * profileWebGPU: per-kernel GPU time from timestamp queries over a region of work, summed per
 * program, and a clear error where the adapter cannot time kernels.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { initWebGPU, profileWebGPU, setBackend, randn, matmul, noGrad, createModel } from '../../../src/index.js';
import { buildProgram } from '../../../src/cli/main.js';

const info = await initWebGPU().catch(() => null);
const skip = !info ? 'no WebGPU adapter, webgpu tests skipped' : !info.features.timestampQuery ? "the adapter has no 'timestamp-query'" : false;

describe('webgpu kernel profile', { skip }, () => {
  test('times every dispatch of a region and sums the time per kernel', async () => {
    setBackend('webgpu');
    try {
      const a = randn([64, 64]);
      const b = randn([64, 64]);
      const profile = await profileWebGPU(async () => {
        for (let i = 0; i < 3; i++) await matmul(a, b).data();
      });
      assert.equal(profile.untimedDispatches, 0);
      const mm = profile.kernels.find((k) => k.kernel.startsWith('matmul'));
      assert.ok(mm, `a matmul kernel in ${JSON.stringify(profile.kernels)}`);
      assert.equal(mm.calls, 3);
      assert.ok(mm.ms > 0 && Number.isFinite(mm.ms));
      const model = createModel('resnet8-cifar', { numClasses: 10 }).eval();
      const x = randn([1, 3, 32, 32]);
      const forward = await profileWebGPU(async () => void (await noGrad(() => model.forward(x)).data()));
      assert.ok(forward.kernels.some((k) => k.kernel.startsWith('conv2d')), 'the forward pass shows its convolutions');
      const times = forward.kernels.map((k) => k.ms);
      assert.deepEqual(times, [...times].sort((p, q) => q - p), 'slowest first');
    } finally {
      setBackend('cpu');
    }
  });

  test('fovea summary --device webgpu --profile prints the GPU time per kernel', async () => {
    let out = '';
    try {
      await buildProgram({ exitOverride: true, writeOut: (t) => (out += t), writeErr: () => undefined }).parseAsync(['node', 'fovea', 'summary', 'resnet8-cifar', '--device', 'webgpu', '--profile', '--runs', '2']);
    } finally {
      setBackend('cpu');
    }
    assert.match(out, /GPU time per forward, by kernel \(mean of 2, fused inference path, timestamp queries\)/);
    assert.match(out, /conv2d\S*\s+\d+\s+[\d.]+\s+[\d.]+%/);
    assert.match(out, /kernels\s+[\d.]+ ms per forward/);
  });
});
