import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createModel, modelInfo, manualSeed, randn, tensor, ops, noGrad, CNBlock, withoutRandomInit } from '../../src/index.js';
import type { StateDict } from '../../src/nn/module.js';

const TINY = {
  blockSetting: [
    { inChannels: 8, outChannels: 16, numLayers: 2 },
    { inChannels: 16, outChannels: null, numLayers: 2 },
  ],
  layerScale: 0.5,
};

test('ConvNeXt variants are registered with torchvision metadata', () => {
  for (const [size, resize] of [['tiny', 236], ['small', 230], ['base', 232], ['large', 232]] as const) {
    const info = modelInfo(`convnext_${size}`);
    assert.equal(info.family, 'convnext');
    assert.deepEqual(info.classifier, ['classifier.2.']);
    assert.equal(info.numClasses, 1000);
    assert.deepEqual(info.inputShape, [3, 224, 224]);
    assert.deepEqual([info.preprocessing!.resizeSize, info.preprocessing!.cropSize, info.preprocessing!.interpolation], [resize, 224, 'bilinear']);
    assert.equal(info.weightsSource, `torchvision.models.convnext_${size} (IMAGENET1K_V1)`);
  }
});

test('full-size convnext_tiny has torchvision\'s parameter count, keys and stochastic-depth rates', () => {
  const model = withoutRandomInit(() => createModel('convnext_tiny'));
  assert.equal(model.numParameters(), 28589128);
  const keys = [...model.stateDict().keys()];
  assert.equal(keys.length, 182);
  for (const key of ['features.0.0.weight', 'features.0.1.bias', 'features.1.0.layer_scale', 'features.1.0.block.0.weight', 'features.1.0.block.2.weight', 'features.1.0.block.3.weight', 'features.1.0.block.5.bias', 'features.2.0.weight', 'features.2.1.weight', 'features.5.8.layer_scale', 'features.7.2.block.5.weight', 'classifier.0.weight', 'classifier.2.bias']) {
    assert.ok(keys.includes(key), key);
  }
  // 18 blocks, the rate rising linearly from 0 to 0.1.
  const rates = [...model.namedModules()].filter(([, m]) => m instanceof CNBlock).map(([, m]) => (m as CNBlock).stochasticDepth.p);
  assert.equal(rates.length, 18);
  assert.equal(rates[0], 0);
  assert.ok(Math.abs(rates[17] - 0.1) < 1e-12 && Math.abs(rates[9] - 0.1 * 9 / 17) < 1e-12);
  model.dispose();
});

test('a tiny ConvNeXt gives logits, and a train-mode step with stochastic depth finite gradients for every parameter', () => {
  manualSeed(1);
  const model = createModel('convnext_tiny', { ...TINY, numClasses: 4, stochasticDepthProb: 0.5 });
  const y = noGrad(() => model.eval().forward(randn([2, 3, 32, 32])));
  assert.deepEqual(y.shape, [2, 4]);
  model.train();
  ops.crossEntropy(model.forward(randn([4, 3, 32, 32])), tensor([0, 3, 1, 2], [4], 'int32')).backward();
  for (const [name, p] of model.namedParameters()) {
    assert.ok(p.grad, `${name} has no gradient`);
    assert.ok([...p.grad.dataSync()].every(Number.isFinite), `${name} has a non-finite gradient`);
  }
  assert.deepEqual(model.stateDict().get('features.1.0.layer_scale')!.shape, [8, 1, 1]);
  assert.equal(model.stateDict().get('features.1.0.layer_scale')!.dataSync()[0], 0.5);
});

test('stochastic depth drops whole samples of a block\'s branch in training only', () => {
  manualSeed(3);
  const block = new CNBlock(4, 1, 1);
  const x = randn([3, 4, 5, 5]);
  const dropped = block.train().forward(x);
  assert.deepEqual([...dropped.dataSync()], [...x.dataSync()]);
  const kept = noGrad(() => block.eval().forward(x));
  assert.notDeepEqual([...kept.dataSync()], [...x.dataSync()]);
});

test('1000-class weights load into a 10-class model except the reported head', () => {
  manualSeed(2);
  const source = createModel('convnext_small', TINY);
  const weights: StateDict = new Map([...source.stateDict()].map(([k, t]) => [k, t.clone()]));
  const messages: string[] = [];
  const model = createModel('convnext_small', { ...TINY, numClasses: 10, weights, log: (m) => messages.push(m) });
  assert.equal(messages.length, 1);
  assert.match(messages[0], /convnext_small: classifier classifier\.2\.weight, classifier\.2\.bias not loaded/);
  assert.deepEqual([...model.stateDict().get('features.3.1.layer_scale')!.dataSync()], [...weights.get('features.3.1.layer_scale')!.dataSync()]);
  assert.deepEqual(model.stateDict().get('classifier.2.weight')!.shape, [10, 16]);
});

test('bad ConvNeXt options are rejected with the model and option named', () => {
  assert.throws(() => createModel('convnext_tiny', { blockSetting: [] }), /convnext_tiny: blockSetting must be a non-empty list/);
  assert.throws(() => createModel('convnext_tiny', { blockSetting: [{ inChannels: 8, outChannels: 16, numLayers: 0 }] }), /convnext_tiny: blockSetting\[0\] must have positive integer inChannels and numLayers/);
  assert.throws(
    () => createModel('convnext_tiny', { blockSetting: [{ inChannels: 8, outChannels: 16, numLayers: 1 }, { inChannels: 32, outChannels: null, numLayers: 1 }] }),
    /blockSetting\[0\]\.outChannels \(16\) must equal blockSetting\[1\]\.inChannels \(32\)/,
  );
  assert.throws(() => createModel('convnext_base', { stochasticDepthProb: 1.5 }), /convnext_base: stochasticDepthProb must be in \[0, 1\], got 1\.5/);
  assert.throws(() => createModel('convnext_large', { layer_scale: 1 }), /convnext_large: unknown option layer_scale; ConvNeXt options are/);
});
