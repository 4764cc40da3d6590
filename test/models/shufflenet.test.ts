import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createModel, modelInfo, manualSeed, randn, tensor, ops, noGrad, channelShuffle, withoutRandomInit } from '../../src/index.js';
import type { StateDict } from '../../src/nn/module.js';

const TINY = { stagesRepeats: [2, 1, 1], stagesOutChannels: [8, 16, 32, 64, 128] };

test('ShuffleNetV2 variants are registered with torchvision metadata', () => {
  for (const [size, resize] of [['x0_5', 256], ['x1_0', 256], ['x1_5', 232], ['x2_0', 232]] as const) {
    const info = modelInfo(`shufflenet_v2_${size}`);
    assert.equal(info.family, 'shufflenet');
    assert.deepEqual(info.classifier, ['fc.']);
    assert.equal(info.numClasses, 1000);
    assert.equal(info.preprocessing!.resizeSize, resize);
    assert.equal(info.preprocessing!.cropSize, 224);
    assert.equal(info.weightsSource, `torchvision.models.shufflenet_v2_${size} (IMAGENET1K_V1)`);
  }
});

test('full-size ShuffleNetV2s have torchvision\'s parameter counts and keys', () => {
  for (const [size, params] of [['x0_5', 1366792], ['x1_0', 2278604], ['x2_0', 7393996]] as const) {
    const model = withoutRandomInit(() => createModel(`shufflenet_v2_${size}`));
    assert.equal(model.numParameters(), params, size);
    const keys = [...model.stateDict().keys()];
    assert.equal(keys.length, 338, `${size}: state-dict entries`);
    for (const key of ['conv1.0.weight', 'stage2.0.branch1.0.weight', 'stage2.0.branch1.3.running_var', 'stage2.1.branch2.6.num_batches_tracked', 'stage4.3.branch2.5.weight', 'conv5.1.bias', 'fc.weight']) assert.ok(keys.includes(key), `${size}: ${key}`);
    assert.ok(!keys.some((k) => k.startsWith('stage2.1.branch1')), 'stride-1 units have no branch1');
    model.dispose();
  }
});

test('channelShuffle interleaves the groups', () => {
  const x = tensor([0, 1, 2, 3, 4, 5], [1, 6, 1, 1]);
  assert.deepEqual([...channelShuffle(x, 2).dataSync()], [0, 3, 1, 4, 2, 5]);
  assert.deepEqual([...channelShuffle(x, 3).dataSync()], [0, 2, 4, 1, 3, 5]);
});

test('a tiny ShuffleNetV2 gives logits, and a train-mode step finite gradients for every parameter', () => {
  manualSeed(1);
  const model = createModel('shufflenet_v2_x1_0', { ...TINY, numClasses: 4 });
  const eval_ = noGrad(() => model.eval().forward(randn([2, 3, 32, 32])));
  assert.deepEqual(eval_.shape, [2, 4]);
  model.train();
  ops.crossEntropy(model.forward(randn([3, 3, 32, 32])), tensor([0, 3, 1], [3], 'int32')).backward();
  for (const [name, p] of model.namedParameters()) {
    assert.ok(p.grad, `${name} has no gradient`);
    assert.ok([...p.grad.dataSync()].every(Number.isFinite), `${name} has a non-finite gradient`);
  }
});

test('1000-class weights load into a 10-class model except the reported head', () => {
  manualSeed(2);
  const source = createModel('shufflenet_v2_x0_5', TINY);
  const weights: StateDict = new Map([...source.stateDict()].map(([k, t]) => [k, t.clone()]));
  const messages: string[] = [];
  const model = createModel('shufflenet_v2_x0_5', { ...TINY, numClasses: 10, weights, log: (m) => messages.push(m) });
  assert.equal(messages.length, 1);
  assert.match(messages[0], /shufflenet_v2_x0_5: classifier fc\.weight, fc\.bias not loaded/);
  assert.deepEqual([...model.stateDict().get('stage3.0.branch1.2.weight')!.dataSync()], [...weights.get('stage3.0.branch1.2.weight')!.dataSync()]);
  assert.deepEqual(model.stateDict().get('fc.weight')!.shape, [10, 128]);
});

test('bad ShuffleNetV2 options are rejected with the model and option named', () => {
  assert.throws(() => createModel('shufflenet_v2_x1_0', { stagesRepeats: [4, 8] }), /ShuffleNetV2: stagesRepeats must be 3 positive integers/);
  assert.throws(() => createModel('shufflenet_v2_x1_0', { stagesOutChannels: [24, 116, 232, 464] }), /ShuffleNetV2: stagesOutChannels must be 5 positive integers/);
  assert.throws(() => createModel('shufflenet_v2_x1_0', { stagesOutChannels: [24, 115, 232, 464, 1024] }), /stage widths in stagesOutChannels must be even/);
  assert.throws(() => createModel('shufflenet_v2_x1_0', { widthMult: 2 }), /shufflenet_v2_x1_0: unknown option widthMult; ShuffleNetV2 options are/);
});
