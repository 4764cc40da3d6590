/**
 * Every webgpu kernel against the cpu backend on random inputs (odd sizes, batch 1 and > 1),
 * forward and backward kernels alike, called with the attrs the ops pass.
 */
import { describe, test } from 'node:test';
import { Rng, listKernels } from '../../../src/index.js';
import type { Conv2dParams, Pool2dParams } from '../../../src/backends/cpu/kernels/types.js';
import { compareKernel, intInput, randomInput, skipReason, type Input } from './helpers.js';
import { forceBatchNormChunks } from '../../../src/backends/webgpu/kernels/batchnorm.js';
import assert from 'node:assert/strict';

const rng = new Rng(2026);
const positive = (shape: number[]): Input => randomInput(shape, rng, 0.1, 3);

describe('webgpu kernels vs cpu', { skip: skipReason ?? false }, () => {
  test('every cpu kernel has a webgpu twin', () => {
    const missing = listKernels('cpu').filter((k) => !listKernels('webgpu').includes(k));
    assert.deepEqual(missing, []);
  });

  test('unary: every op', async () => {
    const ops = ['neg', 'exp', 'abs', 'square', 'sign', 'relu', 'relu6', 'sigmoid', 'tanh', 'silu', 'gelu', 'hardswish', 'hardsigmoid'];
    const x = randomInput([3, 5, 7], rng, -7, 7);
    const x4 = randomInput([2, 6], rng, -7, 7); // a multiple of 4: the vec4 programs
    for (const op of ops) await compareKernel('unary', [x], { op }, 1e-5, `unary ${op}`);
    for (const op of ops) await compareKernel('unary', [x4], { op }, 1e-5, `unary vec4 ${op}`);
    for (const op of ['log', 'sqrt', 'rsqrt', 'reciprocal']) await compareKernel('unary', [positive([2, 9])], { op }, 1e-5, `unary ${op}`);
    // tanh and gelu near 0, where formulas through exp lose relative accuracy.
    await compareKernel('unary', [randomInput([1, 33], rng, -1e-3, 1e-3)], { op: 'tanh' }, 1e-5, 'tanh near 0');
  });

  test('unaryGrad: every activation', async () => {
    for (const op of ['relu', 'relu6', 'sigmoid', 'tanh', 'silu', 'gelu', 'hardswish', 'hardsigmoid']) {
      await compareKernel('unaryGrad', [randomInput([4, 13], rng, -8, 8), randomInput([4, 13], rng)], { op }, 1e-5, `unaryGrad vec4 ${op}`);
      await compareKernel('unaryGrad', [randomInput([3, 5], rng, -8, 8), randomInput([3, 5], rng)], { op }, 1e-5, `unaryGrad ${op}`);
    }
  });

  test('more than 65535 workgroups along x: the grid folds into y', async () => {
    const n = 65535 * 256 + 257;
    await compareKernel('affine', [randomInput([n], rng)], { scale: 3, shift: -1 }, 1e-6, 'affine on 2^24 + 2^16 elements');
  });

  test('affine and cast', async () => {
    await compareKernel('affine', [randomInput([7, 3], rng)], { scale: -2.5, shift: 0.75 });
    await compareKernel('affine', [randomInput([4, 4], rng)], { scale: 1.5, shift: -2 }, 1e-5, 'affine vec4');
    await compareKernel('affine', [intInput([5], rng, 50)], { scale: 3, shift: 1 }, 0, 'affine int32');
    await compareKernel('cast', [randomInput([11], rng, -9, 9)], { dtype: 'int32' });
    await compareKernel('cast', [intInput([11], rng, 100)], { dtype: 'float32' });
    await compareKernel('cast', [intInput([13], rng, 300)], { dtype: 'uint8' });
  });

  test('binary: every op with broadcasting', async () => {
    const shapes: [number[], number[], number[]][] = [
      [[3, 5], [3, 5], [3, 5]],
      [[2, 6], [2, 6], [2, 6]],
      [[2, 3, 5], [5], [2, 3, 5]],
      [[2, 3, 5], [3, 1], [2, 3, 5]],
      [[1], [4, 3], [4, 3]],
      [[2, 1, 4], [1, 3, 1], [2, 3, 4]],
      [[2, 3, 1, 1], [2, 3, 5, 7], [2, 3, 5, 7]],
    ];
    for (const op of ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'greater', 'less', 'equal']) {
      for (const [a, b, out] of shapes) await compareKernel('binary', [randomInput(a, rng), randomInput(b, rng)], { op, outShape: out }, 1e-5, `${op} ${a}/${b}`);
    }
    await compareKernel('binary', [positive([3, 4]), randomInput([4], rng, -2, 2)], { op: 'pow', outShape: [3, 4] });
    await compareKernel('binary', [randomInput([3, 4], rng, -2, 2), { values: new Float32Array([2]), shape: [1] }], { op: 'pow', outShape: [3, 4] }, 1e-5, 'pow negative base');
    await compareKernel('binary', [intInput([6], rng, 9), intInput([6], rng, 9)], { op: 'add', outShape: [6] }, 0, 'int add');
    await compareKernel('binary', [randomInput([6], rng), randomInput([6], rng)], { op: 'greater', outShape: [6], outDtype: 'int32' }, 0, 'greater to int32');
  });

  test('fill, oneHot, dropoutMask', async () => {
    await compareKernel('fill', [], { shape: [3, 7], dtype: 'float32', value: -1.5 });
    await compareKernel('fill', [], { shape: [5], dtype: 'int32', value: 7 });
    await compareKernel('fill', [], { shape: [0, 3], dtype: 'float32', value: 1 });
    await compareKernel('oneHot', [intInput([9], rng, 5)], { numClasses: 5, on: 0.9, off: 0.025, dtype: 'float32' });
    await compareKernel('oneHot', [{ values: new Uint8Array([3, 0, 9, 9, 1, 250 % 10, 7]), shape: [7] }], { numClasses: 10, on: 1, off: 0, dtype: 'float32' }, 0, 'oneHot of uint8 labels');
    await compareKernel('dropoutMask', [], { shape: [4, 33], p: 0.3, seed: 12345, dtype: 'float32' }, 0);
  });

  test('reduce, argmax, softmax', async () => {
    const blocks: [number, number, number][] = [[1, 1000, 1], [3, 130, 1], [6, 37, 1], [3, 5, 7], [1, 9, 11], [4, 1, 3], [70000, 3, 1]];
    for (const block of blocks) {
      const x = randomInput(block, rng);
      for (const op of ['sum', 'max', 'min']) await compareKernel('reduce', [x], { op, block, outShape: [block[0], block[2]] }, 1e-5, `reduce ${op} ${block}`);
      await compareKernel('argmax', [x], { block, outShape: [block[0], block[2]] }, 0, `argmax ${block}`);
      for (const log of [false, true]) await compareKernel('softmax', [x], { block, log }, 1e-5, `softmax ${log} ${block}`);
    }
  });

  test('cross-entropy forward and backward: int32 and uint8 labels (with smoothing), soft targets', async () => {
    for (const [N, C] of [[5, 3], [4, 1000], [1, 7]]) {
      const logits = randomInput([N, C], rng, -6, 6);
      const labels = intInput([N], rng, C);
      const bytes = { values: Uint8Array.from(labels.values as Int32Array, (v) => v % 256), shape: [N] };
      const soft = positive([N, C]);
      const dy = randomInput([N], rng);
      for (const [target, attrs, what] of [
        [labels, { labels: true, on: 1, off: 0 }, 'labels'],
        [labels, { labels: true, on: 0.9 + 0.1 / C, off: 0.1 / C }, 'smoothed labels'],
        [C <= 256 ? bytes : labels, { labels: true, on: 1, off: 0 }, 'uint8 labels'],
        [soft, { labels: false, on: 1, off: 0 }, 'soft targets'],
      ] as const) {
        await compareKernel('crossEntropy', [logits, target], attrs, 1e-5, `crossEntropy ${what} ${N}x${C}`);
        const { runKernel, setBackend, tensor } = await import('../../../src/index.js');
        setBackend('cpu');
        const stats = runKernel('crossEntropy', [tensor(logits.values.slice(), logits.shape), tensor(target.values.slice(), target.shape)], attrs)[1];
        await compareKernel('crossEntropyBackward', [dy, logits, target, { values: await stats.data(), shape: [N, 2] }], attrs, 1e-5, `crossEntropyBackward ${what} ${N}x${C}`);
      }
    }
  });

  test('cross-entropy: a label outside [0, C) gives a NaN loss on the GPU (the cpu kernel throws)', async () => {
    const { ops, setBackend, tensor } = await import('../../../src/index.js');
    setBackend('webgpu');
    const loss = ops.crossEntropy(tensor([[1, 2, 3], [0, 0, 1]]), tensor([2, 5], [2], 'int32'), { reduction: 'none' });
    const values = await loss.data();
    setBackend('cpu');
    assert.ok(Number.isFinite(values[0]) && Number.isNaN(values[1]), `losses ${values}`);
  });

  test('transpose, slice, pad, concat', async () => {
    const x = randomInput([2, 3, 5, 7], rng);
    for (const perm of [[0, 2, 3, 1], [3, 2, 1, 0], [1, 0, 2, 3]]) await compareKernel('transpose', [x], { perm }, 0, `transpose ${perm}`);
    await compareKernel('slice', [x], { begin: [1, 0, 2, 3], size: [1, 2, 3, 4] }, 0);
    await compareKernel('pad', [x], { begin: [0, 1, 2, 0], outShape: [2, 5, 9, 8], value: 0 }, 0);
    await compareKernel('pad', [x], { begin: [1, 0, 0, 3], outShape: [3, 3, 5, 11], value: -2 }, 0, 'pad with value');
    for (const axis of [0, 1, 3]) {
      const shapes = [[2, 3, 4], [2, 3, 4], [2, 3, 4]].map((s, k) => s.map((d, i) => (i === Math.min(axis, 2) ? d + k : d)));
      await compareKernel('concat', shapes.map((s) => randomInput(s, rng)), { axis: Math.min(axis, 2) }, 0, `concat ${axis}`);
    }
  });

  test('matmul: transposes, batches, odd sizes', async () => {
    const cases = [
      { batch: 1, M: 1, N: 1, K: 1 },
      { batch: 1, M: 67, N: 33, K: 129 },
      { batch: 3, M: 17, N: 70, K: 5 },
      { batch: 2, M: 64, N: 64, K: 64 },
    ];
    for (const c of cases) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const a = randomInput(c.batch > 1 ? [c.batch, ...(transA ? [c.K, c.M] : [c.M, c.K])] : transA ? [c.K, c.M] : [c.M, c.K], rng);
          const b = randomInput(c.batch > 1 ? [c.batch, ...(transB ? [c.N, c.K] : [c.K, c.N])] : transB ? [c.N, c.K] : [c.K, c.N], rng);
          const outShape = c.batch > 1 ? [c.batch, c.M, c.N] : [c.M, c.N];
          await compareKernel('matmul', [a, b], { ...c, transA, transB, outShape }, 1e-5, `matmul ${JSON.stringify(c)} ${transA} ${transB}`);
        }
      }
    }
  });

  const convCases: { name: string; p: Conv2dParams }[] = [
    { name: '3x3 pad 1', p: { inShape: [2, 3, 11, 9], weightShape: [5, 3, 3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 } },
    { name: 'stride 2 non-square', p: { inShape: [1, 4, 10, 7], weightShape: [6, 4, 3, 2], stride: [2, 2], padding: [1, 0], dilation: [1, 1], groups: 1 } },
    { name: 'dilation 2', p: { inShape: [2, 2, 9, 9], weightShape: [3, 2, 3, 3], stride: [1, 2], padding: [2, 2], dilation: [2, 2], groups: 1 } },
    { name: 'groups 2', p: { inShape: [2, 4, 6, 5], weightShape: [6, 2, 3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 2 } },
    { name: 'depthwise', p: { inShape: [2, 6, 7, 7], weightShape: [6, 1, 3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1], groups: 6 } },
    { name: 'depthwise multiplier 2', p: { inShape: [1, 3, 5, 6], weightShape: [6, 1, 3, 3], stride: [1, 1], padding: [0, 1], dilation: [1, 1], groups: 3 } },
    { name: 'long K (split-K weight gradient)', p: { inShape: [4, 8, 24, 20], weightShape: [16, 8, 3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 } },
    { name: '1x1 grouped', p: { inShape: [2, 4, 5, 3], weightShape: [6, 2, 1, 1], stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 2 } },
    { name: '1x1 wide', p: { inShape: [1, 70, 5, 5], weightShape: [65, 70, 1, 1], stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 } },
    { name: '1x1 stride 2 (downsample)', p: { inShape: [2, 5, 7, 6], weightShape: [7, 5, 1, 1], stride: [2, 2], padding: [0, 0], dilation: [1, 1], groups: 1 } },
    { name: '1x1 padded', p: { inShape: [1, 3, 4, 5], weightShape: [4, 3, 1, 1], stride: [1, 1], padding: [1, 0], dilation: [1, 1], groups: 1 } },
    { name: 'stride 3, 2x2 window (a phase no tap reaches)', p: { inShape: [1, 3, 8, 9], weightShape: [4, 3, 2, 2], stride: [3, 3], padding: [0, 1], dilation: [1, 1], groups: 1 } },
    { name: 'stride 2, dilation 2, groups 2', p: { inShape: [2, 4, 11, 10], weightShape: [6, 2, 3, 3], stride: [2, 2], padding: [2, 1], dilation: [2, 2], groups: 2 } },
    { name: '7x7 stride 2 pad 3 (stem)', p: { inShape: [1, 3, 17, 15], weightShape: [8, 3, 7, 7], stride: [2, 2], padding: [3, 3], dilation: [1, 1], groups: 1 } },
  ];

  test('conv2d forward with every epilogue', async () => {
    for (const { name, p } of convCases) {
      const [n, , h, w] = p.inShape;
      const o = p.weightShape[0];
      const oh = Math.floor((h + 2 * p.padding[0] - p.dilation[0] * (p.weightShape[2] - 1) - 1) / p.stride[0]) + 1;
      const ow = Math.floor((w + 2 * p.padding[1] - p.dilation[1] * (p.weightShape[3] - 1) - 1) / p.stride[1]) + 1;
      const x = randomInput([...p.inShape], rng);
      const wt = randomInput([...p.weightShape], rng);
      const bias = randomInput([o], rng);
      const residual = randomInput([n, o, oh, ow], rng);
      await compareKernel('conv2d', [x, wt], { params: p, hasBias: false }, 1e-5, `conv2d ${name}`);
      await compareKernel('conv2d', [x, wt, bias], { params: p, hasBias: true }, 1e-5, `conv2d+bias ${name}`);
      await compareKernel('conv2d', [x, wt, bias, residual], { params: p, hasBias: true, hasResidual: true, activation: 'relu' }, 1e-5, `conv2d+bias+residual+relu ${name}`);
      for (const activation of ['relu6', 'silu', 'hardswish', 'gelu']) {
        await compareKernel('conv2d', [x, wt], { params: p, hasBias: false, hasResidual: false, activation }, 1e-5, `conv2d+${activation} ${name}`);
      }
    }
  });

  test('conv2d backward (input and weight)', async () => {
    for (const { name, p } of convCases) {
      const oh = Math.floor((p.inShape[2] + 2 * p.padding[0] - p.dilation[0] * (p.weightShape[2] - 1) - 1) / p.stride[0]) + 1;
      const ow = Math.floor((p.inShape[3] + 2 * p.padding[1] - p.dilation[1] * (p.weightShape[3] - 1) - 1) / p.stride[1]) + 1;
      const dy = randomInput([p.inShape[0], p.weightShape[0], oh, ow], rng);
      await compareKernel('conv2dBackwardInput', [dy, randomInput([...p.weightShape], rng)], { params: p }, 1e-5, `conv2dBackwardInput ${name}`);
      await compareKernel('conv2dBackwardWeight', [randomInput([...p.inShape], rng), dy], { params: p }, 1e-5, `conv2dBackwardWeight ${name}`);
    }
  });

  const poolCases: { name: string; p: Pool2dParams }[] = [
    { name: '2x2 stride 2', p: { inShape: [2, 3, 8, 7], kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1], ceilMode: false, countIncludePad: true } },
    { name: '3x3 stride 2 pad 1 (resnet stem)', p: { inShape: [1, 4, 9, 11], kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1], ceilMode: false, countIncludePad: true } },
    { name: 'ceil mode, no pad count', p: { inShape: [2, 2, 7, 6], kernel: [3, 2], stride: [2, 2], padding: [1, 1], dilation: [1, 1], ceilMode: true, countIncludePad: false } },
    { name: 'dilation 2, overlapping', p: { inShape: [1, 2, 9, 9], kernel: [3, 3], stride: [1, 1], padding: [2, 1], dilation: [2, 2], ceilMode: false, countIncludePad: true } },
    { name: 'global', p: { inShape: [3, 5, 4, 4], kernel: [4, 4], stride: [4, 4], padding: [0, 0], dilation: [1, 1], ceilMode: false, countIncludePad: true } },
  ];

  test('maxPool2d and avgPool2d, forward and backward', async () => {
    for (const { name, p } of poolCases) {
      const x = randomInput([...p.inShape], rng);
      await compareKernel('maxPool2d', [x], { params: p }, 0, `maxPool2d ${name}`);
      await compareKernel('avgPool2d', [x], { params: p }, 1e-5, `avgPool2d ${name}`);
      // The backward kernels take dy of the output's shape and the forward's argmax.
      const { runKernel, setBackend, tensor } = await import('../../../src/index.js');
      setBackend('cpu');
      const [y, argmax] = runKernel('maxPool2d', [tensor(x.values.slice(), x.shape)], { params: p });
      const dy = randomInput([...y.shape], rng);
      const arg = { values: await argmax.data(), shape: [...argmax.shape] };
      await compareKernel('maxPool2dBackward', [dy, arg], { params: p }, 1e-6, `maxPool2dBackward ${name}`);
      await compareKernel('avgPool2dBackward', [dy], { params: p }, 1e-6, `avgPool2dBackward ${name}`);
    }
  });

  test('layer norm (inference kernel)', async () => {
    for (const shape of [[2, 5, 7, 96], [3, 33], [4, 300]]) {
      const c = shape[shape.length - 1];
      const x = randomInput(shape, rng, -2, 3);
      const weight = randomInput([c], rng, 0.5, 1.5);
      const bias = randomInput([c], rng);
      await compareKernel('layerNorm', [x, weight, bias], { eps: 1e-6, hasWeight: true, hasBias: true }, 1e-5, `layerNorm ${shape}`);
      await compareKernel('layerNorm', [x], { eps: 1e-5, hasWeight: false, hasBias: false }, 1e-5, `layerNorm plain ${shape}`);
    }
  });

  // Training batch norm with each channel cut into chunks (a workgroup each, merged by a second
  // kernel), as large activations with few channels get them: forced, since these shapes are small.
  for (const chunks of [null, 3, 7] as const) {
    test(`batch norm: train, inference, backward${chunks ? ` (${chunks} workgroups per channel)` : ''}`, async () => {
      forceBatchNormChunks(chunks);
      try {
        // [2, 4, 64, 64] takes the chunked path unforced too (8,192 elements a channel, 4 channels).
        for (const shape of [[2, 3, 5, 7], [1, 4, 3, 3], [8, 5], [3, 2, 33, 17], [2, 4, 64, 64]]) {
          const c = shape[1];
          const x = randomInput(shape, rng, -2, 3);
          const gamma = randomInput([c], rng, 0.5, 1.5);
          const beta = randomInput([c], rng);
          await compareKernel('batchNormTrain', [x, gamma, beta], { eps: 1e-5 }, 1e-5, `batchNormTrain ${shape}`);
          await compareKernel('batchNormTrain', [x], { eps: 1e-3 }, 1e-5, `batchNormTrain no affine ${shape}`);
          await compareKernel('batchNormInference', [x, randomInput([c], rng), positive([c]), gamma, beta], { eps: 1e-5 }, 1e-5, `batchNormInference ${shape}`);
          const mean = randomInput([c], rng, -0.1, 0.1);
          const invStd = positive([c]);
          await compareKernel('batchNormBackward', [randomInput(shape, rng), x, mean, invStd, gamma], {}, 1e-5, `batchNormBackward ${shape}`);
          await compareKernel('batchNormBackward', [randomInput(shape, rng), x, mean, invStd], {}, 1e-5, `batchNormBackward no gamma ${shape}`);
          for (const activation of ['relu', 'relu6'] as const) {
            await compareKernel('batchNormTrain', [x, gamma, randomInput([c], rng, 0, 8)], { eps: 1e-5, activation }, 1e-5, `batchNormTrain+${activation} ${shape}`);
            const activated = randomInput(shape, rng, -1, 7);
            await compareKernel('batchNormBackward', [randomInput(shape, rng), x, mean, invStd, gamma, activated], { activation }, 1e-5, `batchNormBackward+${activation} ${shape}`);
            await compareKernel('batchNormBackward', [randomInput(shape, rng), x, mean, invStd, activated], { activation }, 1e-5, `batchNormBackward+${activation} no gamma ${shape}`);
            await compareKernel('batchNormTrain', [x, gamma, beta, randomInput(shape, rng, -3, 3)], { eps: 1e-5, activation, hasResidual: true }, 1e-5, `batchNormTrain+residual+${activation} ${shape}`);
            await compareKernel('batchNormBackward', [randomInput(shape, rng), x, mean, invStd, gamma, activated], { activation, hasResidual: true }, 1e-5, `batchNormBackward+residual+${activation} ${shape}`);
          }
          await compareKernel('batchNormRunningUpdate', [randomInput([c], rng), positive([c]), mean, positive([c])], { momentum: 0.1 }, 1e-6, `batchNormRunningUpdate ${shape}`);
          await compareKernel('batchNormRunningUpdate', [randomInput([c], rng), positive([c]), mean, positive([c]), { values: Int32Array.of(41), shape: [] }], { momentum: 0.3 }, 1e-6, `batchNormRunningUpdate with count ${shape}`);
        }
      } finally {
        forceBatchNormChunks(null);
      }
    });
  }
});
