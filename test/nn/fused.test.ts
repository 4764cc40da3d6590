/**
 * Inference fusion (src/nn/fused.ts): conv -> batch norm (eval) -> residual -> activation
 * folded into one convolution equals the layers run one by one; the folded weights follow
 * in-place updates of any source tensor; training mode and recorded gradients are untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randn, rand, manualSeed, noGrad, tidy, createModel } from '../../src/index.js';
import { BatchNorm2d, Conv2d, ReLU, Sequential, SiLU, ConvNormActivation } from '../../src/nn/index.js';
import { convBnAct, withoutFusion } from '../../src/nn/fused.js';
import * as ops from '../../src/ops/index.js';
import { maxRelativeError } from '../helpers/compare.js';

function randomisedBn(c: number): BatchNorm2d {
  const bn = new BatchNorm2d(c);
  noGrad(() => {
    bn.runningMean!.assign(randn([c], { std: 0.3 }));
    bn.runningVar!.assign(rand([c], { low: 0.5, high: 1.5 }));
    bn.weight!.assign(rand([c], { low: 0.5, high: 1.5 }));
    bn.bias!.assign(randn([c], { std: 0.2 }));
  });
  return bn.eval();
}

test('convBnAct in eval mode equals conv, batch norm, add and activation run separately', () => {
  manualSeed(5);
  for (const bias of [false, true]) {
    const conv = new Conv2d(4, 6, 3, { padding: 1, bias });
    const bn = randomisedBn(6);
    const x = randn([2, 4, 7, 7]);
    const residual = randn([2, 6, 7, 7]);
    for (const act of [null, new ReLU(), new SiLU()]) {
      const fused = noGrad(() => convBnAct(x, conv, bn, act, residual));
      const separate = noGrad(() => withoutFusion(() => convBnAct(x, conv, bn, act, residual)));
      assert.ok(maxRelativeError(fused, separate) < 1e-5, `bias=${bias} act=${act?.constructor.name}`);
    }
  }
});

test('folded weights are rebuilt when a source tensor is assigned (Tensor.version)', () => {
  manualSeed(6);
  const conv = new Conv2d(3, 5, 1, { bias: false });
  const bn = randomisedBn(5);
  const x = randn([1, 3, 4, 4]);
  const first = noGrad(() => convBnAct(x, conv, bn, null));
  noGrad(() => bn.runningMean!.assign(ops.affine(bn.runningMean!, 1, 1)));
  const second = noGrad(() => convBnAct(x, conv, bn, null));
  const expected = noGrad(() => withoutFusion(() => convBnAct(x, conv, bn, null)));
  assert.ok(maxRelativeError(second, expected) < 1e-5);
  assert.ok(maxRelativeError(first, expected) > 1e-3, 'the statistics change must change the output');
});

test('training mode and recorded gradients run the layers unfused', () => {
  manualSeed(7);
  const block = new ConvNormActivation(3, 4, 3, { activation: () => new ReLU() });
  const x = randn([2, 3, 6, 6]);
  const y = block.forward(x);
  assert.ok(y.requiresGrad);
  ops.sum(y).backward();
  for (const p of block.parameters()) assert.ok(p.grad, 'every parameter gets a gradient in training');
  block.eval();
  const recorded = block.forward(x);
  assert.ok(recorded.requiresGrad, 'eval mode with gradients enabled still records (fine-tuning with frozen statistics)');
});

test('Sequential fuses conv-bn-act runs and frees intermediates without changing results', () => {
  manualSeed(8);
  const net = new Sequential(new Conv2d(3, 8, 3, { padding: 1 }), randomisedBn(8), new ReLU(), new Conv2d(8, 4, 1), new SiLU()).eval();
  const x = randn([2, 3, 9, 9]);
  const fused = noGrad(() => net.forward(x));
  const separate = noGrad(() => withoutFusion(() => net.forward(x)));
  assert.ok(maxRelativeError(fused, separate) < 1e-5);
  assert.ok(!x.isDisposed, 'the input is never freed');
});

test('fused resnet18 inference equals the unfused one and does not grow memory across calls', async () => {
  manualSeed(9);
  const model = createModel('resnet18', { numClasses: 10 }).eval();
  for (const [name, t] of model.stateDict()) if (name.endsWith('running_var')) noGrad(() => t.assign(rand([...t.shape], { low: 0.5, high: 1.5 })));
  const x = randn([1, 3, 64, 64]);
  const fused = tidy(() => noGrad(() => model.forward(x)));
  const separate = tidy(() => noGrad(() => withoutFusion(() => model.forward(x))));
  assert.ok(maxRelativeError(fused, separate) < 1e-5);
  const { memory } = await import('../../src/index.js');
  const before = memory().numTensors;
  for (let i = 0; i < 3; i++) tidy(() => void noGrad(() => model.forward(x)));
  assert.equal(memory().numTensors, before);
  model.dispose();
});

test('training fusion (batch norm + residual + relu/relu6 in one kernel): a training step equals the unfused one, running statistics included', () => {
  for (const name of ['resnet8-cifar', 'mobilenet_v2']) {
    const losses: number[] = [];
    const states: Map<string, Float32Array>[] = [];
    for (const fused of [true, false]) {
      manualSeed(21);
      const model = createModel(name, { numClasses: 10 }).train();
      const x = randn([2, 3, 32, 32]);
      const labels = ops.cast(ops.arange(0, 2), 'int32');
      const step = (): number => {
        const loss = ops.crossEntropy(model.forward(x), labels);
        loss.backward();
        return loss.itemSync();
      };
      losses.push(fused ? step() : withoutFusion(step));
      const state = new Map<string, Float32Array>();
      for (const [key, t] of model.stateDict()) state.set(key, t.dataSync() as Float32Array);
      for (const [key, p] of model.namedParameters()) state.set(`${key}.grad`, p.grad!.dataSync() as Float32Array);
      states.push(state);
      model.dispose();
    }
    assert.ok(Math.abs(losses[0] - losses[1]) <= 1e-6 * Math.abs(losses[1]), `${name}: loss ${losses[0]} vs ${losses[1]}`);
    for (const [key, a] of states[0]) {
      const b = states[1].get(key)!;
      let scale = 1e-6;
      let err = 0;
      for (let i = 0; i < a.length; i++) {
        scale = Math.max(scale, Math.abs(b[i]));
        err = Math.max(err, Math.abs(a[i] - b[i]));
      }
      assert.ok(err <= 1e-4 * scale, `${name} ${key}: max |fused - unfused| ${err} vs max ${scale}`);
    }
  }
});
