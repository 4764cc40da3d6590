/**
 * float16 storage on the GPU (mixed precision): casts, and conv2d / matmul with float16
 * operands against the cpu backend's float32 kernels on the same (widened) values, then a
 * whole autocast training step against the cpu backend.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, autocast, manualSeed, nn, ops, optim, randn, setBackend, tensor, toFloat16Bits } from '../../../src/index.js';
import type { Conv2dParams } from '../../../src/backends/cpu/kernels/types.js';
import { assertClose, compareKernel, randomInput, skipReason, type Input } from './helpers.js';

const rng = new Rng(16);
const half = (input: Input): Input => ({ values: toFloat16Bits(input.values), shape: input.shape });

describe('webgpu float16 storage', { skip: skipReason ?? false }, () => {
  test('casts to and from float16', async () => {
    const values = randomInput([1001], rng, -70000, 70000);
    values.values.set([0.1, 65520, -1e-8, 2 ** -24, 1 + 2 ** -11, 1 + 3 * 2 ** -11], 0);
    await compareKernel('cast', [values], { dtype: 'float16' }, 0, 'float32 -> float16');
    await compareKernel('cast', [randomInput([6], rng)], { dtype: 'float16' }, 0, 'float32 -> float16, even count');
    const h = half(randomInput([37], rng, -300, 300));
    await compareKernel('cast', [h], { dtype: 'float32' }, 0, 'float16 -> float32');
    await compareKernel('cast', [h], { dtype: 'int32' }, 0, 'float16 -> int32');
    await compareKernel('cast', [h], { dtype: 'float16' }, 0, 'float16 -> float16');
  });

  test('matmul with float16 operands', async () => {
    for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]]) {
      const a = randomInput(transA ? [19, 33] : [33, 19], rng);
      const b = randomInput(transB ? [70, 19] : [19, 70], rng);
      const attrs = { batch: 1, M: 33, N: 70, K: 19, transA, transB, outShape: [33, 70] };
      await compareKernel('matmul', [half(a), half(b)], attrs, 1e-5, `matmul f16 ${transA} ${transB}`);
      await compareKernel('matmul', [a, half(b)], attrs, 1e-5, `matmul f32 x f16 ${transA} ${transB}`);
    }
  });

  const cases: { name: string; p: Conv2dParams }[] = [
    { name: '3x3 pad 1', p: { inShape: [2, 3, 11, 9], weightShape: [5, 3, 3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 } },
    { name: '1x1', p: { inShape: [2, 7, 5, 5], weightShape: [9, 7, 1, 1], stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 } },
    { name: 'depthwise stride 2', p: { inShape: [2, 6, 7, 7], weightShape: [6, 1, 3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1], groups: 6 } },
    { name: 'long K (split-K)', p: { inShape: [4, 8, 24, 20], weightShape: [16, 8, 3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 } },
  ];

  test('conv2d forward (with the epilogue) and backward with float16 operands', async () => {
    for (const { name, p } of cases) {
      const oh = Math.floor((p.inShape[2] + 2 * p.padding[0] - (p.weightShape[2] - 1) - 1) / p.stride[0]) + 1;
      const ow = Math.floor((p.inShape[3] + 2 * p.padding[1] - (p.weightShape[3] - 1) - 1) / p.stride[1]) + 1;
      const x = half(randomInput([...p.inShape], rng));
      const w = half(randomInput([...p.weightShape], rng));
      const dy = randomInput([p.inShape[0], p.weightShape[0], oh, ow], rng);
      const bias = randomInput([p.weightShape[0]], rng);
      await compareKernel('conv2d', [x, w], { params: p, hasBias: false }, 1e-5, `conv2d f16 ${name}`);
      await compareKernel('conv2d', [x, w, bias, dy], { params: p, hasBias: true, hasResidual: true, activation: 'relu' }, 1e-5, `conv2d f16 epilogue ${name}`);
      await compareKernel('conv2dBackwardInput', [dy, w], { params: p }, 1e-5, `conv2dBackwardInput f16 ${name}`);
      await compareKernel('conv2dBackwardWeight', [x, dy], { params: p }, 1e-5, `conv2dBackwardWeight f16 ${name}`);
    }
  });

  test('an autocast training step equals the cpu backend', async () => {
    const run = async (backend: string) => {
      setBackend(backend);
      manualSeed(9);
      const model = new nn.Sequential(new nn.Conv2d(3, 8, 3, { padding: 1 }), new nn.BatchNorm2d(8), new nn.ReLU(), new nn.GlobalAvgPool2d(), new nn.Flatten(), new nn.Linear(8, 5));
      const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
      const x = randn([4, 3, 10, 10]);
      const loss = ops.crossEntropy(autocast(() => model.forward(x)), tensor([0, 4, 2, 1], [4], 'int32'));
      loss.backward();
      opt.step();
      const weights = await Promise.all(model.parameters().map((p) => p.data()));
      const value = await loss.item();
      setBackend('cpu');
      return { weights, value };
    };
    const cpu = await run('cpu');
    const gpu = await run('webgpu');
    assert.ok(Math.abs(gpu.value - cpu.value) <= 1e-5 * Math.abs(cpu.value), `loss cpu ${cpu.value}, webgpu ${gpu.value}`);
    cpu.weights.forEach((w, i) => assertClose(gpu.weights[i], w, 1e-5, `parameter ${i} after the step`));
  });
});
