import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, tidy, keep, memory, noGrad, zeros, randn, manualSeed, ops, createModel, optim, Tensor, listKernels } from '../../src/index.js';

test('tidy disposes what it created except the result and kept tensors', () => {
  const before = memory().numTensors;
  let kept: Tensor | null = null;
  const result = tidy(() => {
    const a = tensor([1, 2, 3]);
    const b = ops.mul(a, 2);
    kept = keep(ops.add(b, 1));
    return { sum: ops.sum(b), list: [b] };
  });
  assert.equal(memory().numTensors, before + 3);
  assert.equal(result.sum.itemSync(), 12);
  assert.equal(kept!.isDisposed, false);
  assert.throws(() => tidy(() => tensor([1]).add(tensor([1, 2, 3]).reshape([3, 1])).sum().reshape([5])), /reshape: shape \[5\]/);
  for (const t of [result.sum, result.list[0], kept!]) t.dispose();
  assert.equal(memory().numTensors, before);
});

test('tidy releases everything when the function throws', () => {
  const before = memory().numTensors;
  assert.throws(() => tidy(() => {
    tensor([1, 2]);
    throw new Error('boom');
  }), /boom/);
  assert.equal(memory().numTensors, before);
});

test('disposed tensors give a clear error, dispose is idempotent', () => {
  const t = tensor([1, 2]);
  t.dispose();
  t.dispose();
  assert.throws(() => ops.add(t, t), /add: an input tensor \(shape \[2\]\) was already disposed/);
});

test('views share storage and keep it alive', () => {
  const bytes0 = memory().bytes.cpu;
  const a = zeros([4, 4]);
  const v = a.reshape([16]);
  a.dispose();
  assert.equal(v.dataSync().length, 16);
  v.dispose();
  assert.equal(memory().bytes.cpu, bytes0);
});

test('value access is async; item() needs one element', async () => {
  const t = tensor([[1, 2], [3, 4]]);
  assert.deepEqual(await t.array(), [[1, 2], [3, 4]]);
  assert.equal(await ops.sum(t).item(), 10);
  await assert.rejects(t.item(), /item\(\): tensor has 4 elements/);
});

test('noGrad records no graph; detach cuts it', () => {
  const x = tensor([1, 2]).requiresGrad_();
  const y = noGrad(() => ops.mul(x, 3));
  assert.equal(y.requiresGrad, false);
  const z = ops.mul(x, 3).detach();
  assert.equal(z.gradFn, null);
  assert.throws(() => z.backward(), /does not require gradients/);
  const w = ops.mul(x, x);
  assert.throws(() => w.backward(), /implicitly created only for one-element outputs/);
});

test('gradients accumulate across backward calls until zeroed', () => {
  const x = tensor([1, 2, 3]).requiresGrad_();
  ops.sum(ops.mul(x, x)).backward();
  ops.sum(ops.mul(x, x)).backward();
  assert.deepEqual([...x.grad!.dataSync()], [4, 8, 12]);
});

test('seeded randomness is reproducible', () => {
  manualSeed(3);
  const a = randn([5]).dataSync();
  manualSeed(3);
  assert.deepEqual(randn([5]).dataSync(), a);
});

test('the CPU backend registers every kernel the ops use', () => {
  const k = listKernels('cpu');
  for (const name of ['binary', 'unary', 'unaryGrad', 'affine', 'reduce', 'argmax', 'softmax', 'transpose', 'slice', 'pad', 'concat', 'cast', 'fill', 'oneHot', 'dropoutMask', 'matmul', 'conv2d', 'conv2dBackwardInput', 'conv2dBackwardWeight', 'maxPool2d', 'maxPool2dBackward', 'avgPool2d', 'avgPool2dBackward', 'batchNormTrain', 'batchNormInference', 'batchNormBackward']) {
    assert.ok(k.includes(name), `missing kernel ${name}`);
  }
});

test('a 2,000-step training loop holds a flat memory profile', () => {
  manualSeed(0);
  const model = createModel('canonical-cnn', { inChannels: 1, numClasses: 4, widths: [4, 6], convsPerStage: 1 });
  const opt = new optim.AdamW(model.parameters(), { lr: 1e-3 });
  const x = randn([4, 1, 8, 8]);
  const y = tensor([0, 1, 2, 3], [4], 'int32');
  const sample: { tensors: number; bytes: number }[] = [];
  for (let step = 0; step < 2000; step++) {
    const loss = tidy(() => {
      opt.zeroGrad();
      const l = ops.crossEntropy(model.forward(x), y);
      l.backward();
      opt.step();
      return l;
    });
    loss.dispose();
    if (step === 100 || step === 1999) sample.push({ tensors: memory().numTensors, bytes: memory().bytes.cpu });
  }
  assert.deepEqual(sample[1], sample[0], `live tensors/bytes grew: ${JSON.stringify(sample)}`);
});
