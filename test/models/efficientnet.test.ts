import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createModel, modelInfo, manualSeed, noGrad, ops, randn, nn, tensor, withoutRandomInit } from '../../src/index.js';
import type { EfficientNetStage } from '../../src/models/efficientnet.js';

const tinyB = { widthMult: 0.25, depthMult: 0.25, numClasses: 10 };
const tinyV2Blocks: EfficientNetStage[] = [
  { block: 'fused', expandRatio: 1, kernel: 3, stride: 1, inChannels: 8, outChannels: 8, layers: 2 },
  { block: 'fused', expandRatio: 4, kernel: 3, stride: 2, inChannels: 8, outChannels: 16, layers: 1 },
  { block: 'mbconv', expandRatio: 4, kernel: 3, stride: 2, inChannels: 16, outChannels: 16, layers: 2 },
];

test('tiny EfficientNet-B and V2 configs give [N, classes] logits', () => {
  manualSeed(0);
  const x = randn([2, 3, 32, 32]);
  for (const [name, opts, lastChannel] of [['efficientnet_b0', tinyB, 320], ['efficientnet_v2_s', { blocks: tinyV2Blocks, lastChannel: 32, numClasses: 7 }, 32]] as const) {
    const model = createModel(name, opts).eval();
    const y = noGrad(() => model.forward(x));
    assert.deepEqual(y.shape, [2, opts.numClasses]);
    assert.ok([...y.dataSync()].every(Number.isFinite));
    assert.deepEqual(model.stateDict().get('classifier.1.weight')!.shape, [opts.numClasses, lastChannel]);
    model.dispose();
  }
});

test('registry entries carry the IMAGENET1K_V1 transforms and the head prefix', () => {
  const b0 = modelInfo('efficientnet_b0');
  assert.deepEqual(b0.inputShape, [3, 224, 224]);
  assert.deepEqual([b0.preprocessing!.resizeSize, b0.preprocessing!.cropSize, b0.preprocessing!.interpolation], [256, 224, 'bicubic']);
  assert.deepEqual(b0.classifier, ['classifier.1.']);
  assert.equal(b0.family, 'efficientnet');
  const v2s = modelInfo('efficientnet_v2_s');
  assert.deepEqual([v2s.preprocessing!.resizeSize, v2s.preprocessing!.cropSize, v2s.preprocessing!.interpolation], [384, 384, 'bilinear']);
  assert.deepEqual(modelInfo('efficientnet_v2_l').preprocessing!.mean, [0.5, 0.5, 0.5]);
  assert.deepEqual(modelInfo('efficientnet_b7').inputShape, [3, 600, 600]);
});

// torchvision 0.14: sum(p.numel() for p in efficientnet_xx().parameters()).
for (const [name, count] of [['efficientnet_b0', 5288548], ['efficientnet_v2_s', 21458488], ['efficientnet_b7', 66347960]] as const) {
  test(`${name} has torchvision's parameter count (${count})`, () => {
    const model = withoutRandomInit(() => createModel(name));
    assert.equal(model.numParameters(), count);
    model.dispose();
  });
}

test('batch norm settings and stochastic depth rates follow torchvision', () => {
  const norms = (name: string): [number | undefined, number | undefined] => {
    const model = createModel(name, { blocks: tinyV2Blocks.slice(0, 1), widthMult: 1, depthMult: 1 });
    const bn = [...model.namedModules()].map(([, m]) => m).find((m) => m instanceof nn.BatchNorm2d) as nn.BatchNorm2d;
    model.dispose();
    return [bn.opts.eps, bn.opts.momentum];
  };
  assert.deepEqual(norms('efficientnet_b0'), [1e-5, 0.1]);
  assert.deepEqual(norms('efficientnet_b6'), [1e-3, 0.01]);
  assert.deepEqual(norms('efficientnet_v2_m'), [1e-3, 0.1]);
  const model = createModel('efficientnet_v2_s', { blocks: tinyV2Blocks, stochasticDepthProb: 0.5 });
  const rates = [...model.namedModules()].filter(([, m]) => m instanceof nn.StochasticDepth).map(([, m]) => (m as nn.StochasticDepth).p);
  assert.deepEqual(rates, [0, 0.1, 0.2, 0.3, 0.4]);
  model.dispose();
});

test('a train-mode step of a tiny model gives finite gradients for every parameter', () => {
  manualSeed(3);
  // Depth 0.5 keeps several stages at two blocks, so there are residual branches to drop.
  const model = createModel('efficientnet_b0', { ...tinyB, depthMult: 0.5, stochasticDepthProb: 0.8, dropout: 0 }).train();
  const x = randn([4, 3, 32, 32]);
  // Same input, batch statistics and no dropout: only stochastic depth can make the outputs differ.
  const first = noGrad(() => model.forward(x)).dataSync();
  const second = noGrad(() => model.forward(x)).dataSync();
  assert.notDeepEqual([...first], [...second], 'stochastic depth should drop branches in training');
  const loss = ops.crossEntropy(model.forward(x), tensor([0, 1, 2, 3], undefined, 'int32'));
  loss.backward();
  for (const [name, p] of model.namedParameters()) {
    assert.ok(p.grad, `${name} received no gradient`);
    assert.ok([...p.grad.dataSync()].every(Number.isFinite), `${name} has a non-finite gradient`);
  }
  model.dispose();
});

test('weights with another head load the body and keep a fresh classifier', () => {
  manualSeed(4);
  const source = createModel('efficientnet_b0', { widthMult: 0.25, depthMult: 0.25 });
  const messages: string[] = [];
  const target = createModel('efficientnet_b0', { ...tinyB, weights: source.stateDict(), log: (m) => messages.push(m) });
  assert.equal(messages.length, 1);
  assert.match(messages[0], /classifier\.1\.weight/);
  const key = 'features.1.0.block.1.fc1.weight';
  assert.deepEqual([...target.stateDict().get(key)!.dataSync()], [...source.stateDict().get(key)!.dataSync()]);
  assert.deepEqual(target.stateDict().get('classifier.1.weight')!.shape, [10, 320]);
  source.dispose();
  target.dispose();
});

test('bad options are named in the error', () => {
  const fused = { block: 'fused', expandRatio: 1, kernel: 3, stride: 1, inChannels: 8, outChannels: 8, layers: 1 };
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['efficientnet_b0', { widthMultiplier: 0.5 }, /efficientnet_b0: unknown option widthMultiplier/],
    ['efficientnet_b0', { dropout: 1 }, /option dropout must be in \[0, 1\)/],
    ['efficientnet_b0', { stochasticDepthProb: -0.1 }, /option stochasticDepthProb must be in \[0, 1\]/],
    ['efficientnet_b0', { widthMult: 0 }, /option widthMult must be a positive number/],
    ['efficientnet_b0', { blocks: [] }, /option blocks must be a non-empty array/],
    ['efficientnet_b0', { blocks: [{ ...fused, stride: 3 }] }, /blocks\[0\]\.stride must be 1 or 2, got 3/],
    ['efficientnet_b0', { blocks: [{ ...fused, block: 'conv' }] }, /blocks\[0\]\.block must be 'mbconv' or 'fused'/],
    ['efficientnet_v2_s', { blocks: [fused, { ...fused, inChannels: 16 }] }, /blocks\[1\] starts at 16 channels but blocks\[0\] ends at 8/],
    ['efficientnet_v2_s', { widthMult: 0.5 }, /efficientnet_v2_s: widthMult and depthMult scale only 'mbconv' stages/],
  ];
  for (const [name, opts, message] of cases) assert.throws(() => createModel(name, opts), message, JSON.stringify(opts));
});
