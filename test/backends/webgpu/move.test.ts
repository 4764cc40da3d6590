/** Tensor.to / moveTo and Module.to between the cpu and webgpu backends. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createModel, manualSeed, noGrad, ops, optim, randn, setBackend, tensor } from '../../../src/index.js';
import { assertClose, skipReason } from './helpers.js';

describe('moving tensors and modules between backends', { skip: skipReason ?? false }, () => {
  test('Tensor.to copies the values (float32, int32, float16) and is the identity on the same backend', async () => {
    setBackend('cpu');
    const x = tensor([1.5, -2, 3.25], [3]);
    assert.equal(await x.to('cpu'), x);
    for (const t of [x, tensor([7, -8], [2], 'int32'), tensor([0.1, 65504], [2], 'float16')]) {
      const g = await t.to('webgpu');
      assert.equal(g.backend.name, 'webgpu');
      assert.equal(g.dtype, t.dtype);
      assert.deepEqual([...(await g.data())], [...t.dataSync()]);
      const back = await g.to('cpu');
      assert.deepEqual([...back.dataSync()], [...t.dataSync()]);
    }
  });

  test('Module.to moves parameters and buffers in place; the moved model computes and trains like the cpu one', async () => {
    setBackend('cpu');
    manualSeed(12);
    const model = createModel('resnet8-cifar', { numClasses: 10 });
    const x = randn([2, 3, 16, 16]);
    const labels = tensor([3, 7], [2], 'int32');
    model.eval();
    const expected = noGrad(() => model.forward(x)).dataSync();
    const weight = model.parameters()[0];
    assert.equal(await model.to('webgpu'), model);
    assert.equal(model.parameters()[0], weight, 'same tensor objects');
    assert.ok([...model.stateDict().values()].every((t) => t.backend.name === 'webgpu'));
    const xg = await x.to('webgpu');
    setBackend('webgpu');
    assertClose(await noGrad(() => model.forward(xg)).data(), expected, 1e-5, 'logits after Module.to');
    assert.throws(() => model.forward(x), /conv2d: inputs live on different backends \('cpu' and 'webgpu'\); move them with `await t\.to\('cpu'\)` \(a module: `await model\.to\('cpu'\)`\)/);
    model.train();
    const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    const loss = ops.crossEntropy(model.forward(xg), await labels.to('webgpu'));
    loss.backward();
    opt.step();
    assert.ok(Number.isFinite(await loss.item()));
    await model.to('cpu');
    setBackend('cpu');
    assert.ok([...model.stateDict().values()].every((t) => t.backend.name === 'cpu'));
  });
});
