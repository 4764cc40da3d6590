import { test } from 'node:test';
import assert from 'node:assert/strict';
import { autocast, isAutocasting, manualSeed, nn, ops, randn, tensor, type Tensor } from '../../src/index.js';

const rounded = (t: Tensor): Tensor => t.cast('float16').cast('float32');

test('autocast: conv2d, matmul and linear multiply float16-rounded operands with float32 results', () => {
  manualSeed(3);
  const x = randn([2, 3, 9, 7]);
  const w = randn([5, 3, 3, 3]);
  const bias = randn([5]);
  const y = autocast(() => ops.conv2d(x, w, bias, { padding: 1 }));
  assert.equal(y.dtype, 'float32');
  assert.deepEqual([...y.dataSync()], [...ops.conv2d(rounded(x), rounded(w), bias, { padding: 1 }).dataSync()]);
  const a = randn([4, 6]);
  const b = randn([6, 3]);
  assert.deepEqual([...autocast(() => ops.matmul(a, b)).dataSync()], [...ops.matmul(rounded(a), rounded(b)).dataSync()]);
  const lw = randn([3, 6]);
  assert.deepEqual([...autocast(() => ops.linear(a, lw)).dataSync()], [...ops.linear(rounded(a), rounded(lw)).dataSync()]);
  // Other ops run in float32 as they are.
  assert.deepEqual([...autocast(() => ops.relu(a)).dataSync()], [...ops.relu(a).dataSync()]);
  assert.equal(autocast(() => isAutocasting()), true);
  assert.equal(autocast(() => isAutocasting(), { enabled: false }), false);
  assert.equal(isAutocasting(), false);
});

test('autocast: gradients reach the float32 parameters, in float32, close to full precision', () => {
  manualSeed(4);
  // A smooth activation: a ReLU's mask may flip where float16 rounding moves a value across 0.
  const model = new nn.Sequential(new nn.Conv2d(3, 8, 3, { padding: 1 }), new nn.BatchNorm2d(8), new nn.SiLU(), new nn.Flatten(), new nn.Linear(8 * 6 * 6, 4));
  const x = randn([3, 3, 6, 6]);
  const labels = tensor([0, 3, 1], [3], 'int32');
  const grads = (mixed: boolean): Float32Array[] => {
    for (const p of model.parameters()) p.grad = null;
    const loss = ops.crossEntropy(autocast(() => model.forward(x), { enabled: mixed }), labels);
    loss.backward();
    return model.parameters().map((p) => {
      assert.equal(p.grad!.dtype, 'float32');
      return p.grad!.dataSync() as Float32Array;
    });
  };
  const full = grads(false);
  const mixed = grads(true);
  full.forEach((g, i) => {
    // The conv bias's gradient is ~0 (batch norm cancels it): rounding noise only.
    const scale = Math.max(...g.map(Math.abs), 1e-4);
    const err = Math.max(...g.map((v, j) => Math.abs(v - mixed[i][j])));
    assert.ok(err <= 5e-3 * scale, `parameter ${i}: max |mixed - full| ${err} vs max |full| ${scale}`);
  });
  assert.throws(() => autocast(() => Promise.resolve(1)), /must be synchronous/);
});
