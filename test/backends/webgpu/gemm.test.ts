/**
 * The tiled GEMM behind matmul and the convolutions with 128 x 128 tiles forced: the automatic
 * choice takes them only for products too big to test quickly on a CPU device (the 64 x 64
 * tiles are what kernels.test.ts exercises).
 */
import { describe, test } from 'node:test';
import { Rng } from '../../../src/index.js';
import type { Conv2dParams } from '../../../src/backends/cpu/kernels/types.js';
import { forceGemmTile, gemmTile } from '../../../src/backends/webgpu/kernels/gemm.js';
import { compareKernel, randomInput, skipReason } from './helpers.js';
import assert from 'node:assert/strict';

const rng = new Rng(77);

test('gemmTile: 128 x 128 tiles only when they fill the GPU', () => {
  assert.equal(gemmTile(64, 100000, 1), 64);
  assert.equal(gemmTile(256, 256, 1), 64);
  assert.equal(gemmTile(512, 4096, 1), 128);
  assert.equal(gemmTile(256, 12544 * 8, 1), 128);
});

describe('webgpu GEMM with 128 x 128 tiles', { skip: skipReason ?? false }, () => {
  for (const tile of [128] as const) {
    test(`${tile} x ${tile} tiles: matmul and convolutions forward and backward`, async () => {
      forceGemmTile(tile);
      try {
        for (const c of [{ batch: 1, M: 130, N: 257, K: 40 }, { batch: 2, M: 5, N: 129, K: 33 }, { batch: 1, M: 128, N: 128, K: 16 }]) {
          for (const transA of [false, true]) {
            for (const transB of [transA]) {
              const a = randomInput([...(c.batch > 1 ? [c.batch] : []), ...(transA ? [c.K, c.M] : [c.M, c.K])], rng);
              const b = randomInput([...(c.batch > 1 ? [c.batch] : []), ...(transB ? [c.N, c.K] : [c.K, c.N])], rng);
              const outShape = c.batch > 1 ? [c.batch, c.M, c.N] : [c.M, c.N];
              await compareKernel('matmul', [a, b], { ...c, transA, transB, outShape }, 1e-5, `matmul ${tile} ${JSON.stringify(c)} ${transA} ${transB}`);
            }
          }
        }
        // 3x3 (window arithmetic), 1x1 (pointwise addressing) and strided 1x1 (window arithmetic, one tap).
        const convs: Conv2dParams[] = [
          { inShape: [2, 9, 13, 11], weightShape: [130, 9, 3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 },
          { inShape: [2, 20, 9, 8], weightShape: [131, 20, 1, 1], stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 },
          { inShape: [1, 17, 23, 22], weightShape: [129, 17, 1, 1], stride: [2, 2], padding: [0, 0], dilation: [1, 1], groups: 1 },
        ];
        for (const p of convs) {
          const [n, , h, w0] = p.inShape;
          const [o, , kh, kw] = p.weightShape;
          const oh = Math.floor((h + 2 * p.padding[0] - kh) / p.stride[0]) + 1;
          const ow = Math.floor((w0 + 2 * p.padding[1] - kw) / p.stride[1]) + 1;
          const x = randomInput([...p.inShape], rng);
          const w = randomInput([...p.weightShape], rng);
          const dy = randomInput([n, o, oh, ow], rng);
          const label = `${tile} ${p.weightShape.join('x')} stride ${p.stride[0]}`;
          await compareKernel('conv2d', [x, w, randomInput([o], rng), dy], { params: p, hasBias: true, hasResidual: true, activation: 'relu' }, 1e-5, `conv2d ${label}`);
          await compareKernel('conv2dBackwardInput', [dy, w], { params: p }, 1e-5, `conv2dBackwardInput ${label}`);
          await compareKernel('conv2dBackwardWeight', [x, dy], { params: p }, 1e-5, `conv2dBackwardWeight ${label}`);
        }
      } finally {
        forceGemmTile(null);
      }
    });
  }
});
