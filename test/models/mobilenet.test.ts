import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createModel, modelInfo, manualSeed, randn, tensor, ops, noGrad, withoutRandomInit } from '../../src/index.js';
import type { Module, StateDict } from '../../src/nn/module.js';

const TINY_V2 = { widthMult: 0.25, invertedResidualSetting: [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 1, 2]] };
const TINY_V3 = { widthMult: 0.25 };

function assertFiniteGradients(model: Module, label: string): void {
  for (const [name, p] of model.namedParameters()) {
    assert.ok(p.grad, `${label}: ${name} has no gradient`);
    assert.ok([...p.grad.dataSync()].every(Number.isFinite), `${label}: ${name} has a non-finite gradient`);
  }
}

test('MobileNets are registered with torchvision metadata', () => {
  for (const [name, head] of [['mobilenet_v2', 'classifier.1.'], ['mobilenet_v3_small', 'classifier.3.'], ['mobilenet_v3_large', 'classifier.3.']]) {
    const info = modelInfo(name);
    assert.equal(info.family, 'mobilenet');
    assert.deepEqual(info.classifier, [head]);
    assert.equal(info.numClasses, 1000);
    assert.deepEqual(info.inputShape, [3, 224, 224]);
    assert.deepEqual({ ...info.preprocessing, mean: undefined, std: undefined }, { resizeSize: 256, cropSize: 224, interpolation: 'bilinear', mean: undefined, std: undefined });
    assert.equal(info.weightsSource, `torchvision.models.${name} (IMAGENET1K_V1)`);
  }
});

test('full-size MobileNets have torchvision\'s parameter counts and keys', () => {
  for (const [name, params, entries, keys] of [
    ['mobilenet_v2', 3504872, 314, ['features.0.0.weight', 'features.1.conv.0.0.weight', 'features.1.conv.1.weight', 'features.2.conv.3.running_var', 'features.18.1.num_batches_tracked', 'classifier.1.bias']],
    ['mobilenet_v3_large', 5483032, 312, ['features.1.block.0.0.weight', 'features.4.block.2.fc1.weight', 'features.4.block.2.fc2.bias', 'features.16.1.running_mean', 'classifier.0.weight', 'classifier.3.bias']],
    ['mobilenet_v3_small', 2542856, 244, ['features.1.block.1.fc1.weight', 'features.12.0.weight', 'classifier.3.weight']],
  ] as const) {
    const model = withoutRandomInit(() => createModel(name));
    assert.equal(model.numParameters(), params, name);
    const own = [...model.stateDict().keys()];
    assert.equal(own.length, entries, `${name}: state-dict entries`);
    for (const key of keys) assert.ok(own.includes(key), `${name}: ${key}`);
    model.dispose();
  }
});

test('tiny MobileNets give [N, classes] logits, also at reduced tail and dilated', () => {
  manualSeed(0);
  const x = randn([2, 3, 32, 32]);
  for (const [name, opts] of [
    ['mobilenet_v2', TINY_V2],
    ['mobilenet_v3_small', TINY_V3],
    ['mobilenet_v3_large', { ...TINY_V3, reducedTail: true, dilated: true }],
  ] as const) {
    const model = createModel(name, { ...opts, numClasses: 5 }).eval();
    const y = noGrad(() => model.forward(x));
    assert.deepEqual(y.shape, [2, 5], name);
    assert.ok([...y.dataSync()].every(Number.isFinite), name);
    model.dispose();
  }
});

test('a train-mode step gives finite gradients for every parameter', () => {
  manualSeed(1);
  for (const [name, opts] of [['mobilenet_v2', TINY_V2], ['mobilenet_v3_small', TINY_V3]] as const) {
    const model = createModel(name, { ...opts, numClasses: 4 }).train();
    ops.crossEntropy(model.forward(randn([3, 3, 32, 32])), tensor([0, 3, 1], [3], 'int32')).backward();
    assertFiniteGradients(model, name);
    model.dispose();
  }
});

test('1000-class weights load into a 10-class model except the reported head', () => {
  manualSeed(2);
  const source = createModel('mobilenet_v3_small', TINY_V3);
  const weights: StateDict = new Map([...source.stateDict()].map(([k, t]) => [k, t.clone()]));
  const messages: string[] = [];
  const model = createModel('mobilenet_v3_small', { ...TINY_V3, numClasses: 10, weights, log: (m) => messages.push(m) });
  assert.equal(messages.length, 1);
  assert.match(messages[0], /mobilenet_v3_small: classifier classifier\.3\.weight, classifier\.3\.bias not loaded/);
  const own = model.stateDict();
  assert.deepEqual([...own.get('features.4.block.2.fc1.weight')!.dataSync()], [...weights.get('features.4.block.2.fc1.weight')!.dataSync()]);
  assert.deepEqual(own.get('classifier.3.weight')!.shape, [10, 256]);
});

test('bad MobileNet options are rejected with the model and option named', () => {
  assert.throws(() => createModel('mobilenet_v2', { width: 0.5 }), /mobilenet_v2: unknown option width; its options are numClasses/);
  assert.throws(() => createModel('mobilenet_v2', { widthMult: 0 }), /mobilenet_v2: widthMult must be a positive number/);
  assert.throws(() => createModel('mobilenet_v2', { invertedResidualSetting: [[6, 24, 2]] }), /mobilenet_v2: invertedResidualSetting must be a non-empty list of \[t, c, n, s\] rows/);
  assert.throws(() => createModel('mobilenet_v3_large', { dropout: 1 }), /mobilenet_v3_large: dropout must be in \[0, 1\), got 1/);
  assert.throws(() => createModel('mobilenet_v3_small', { numClasses: 2.5 }), /mobilenet_v3_small: numClasses must be a positive integer, got 2\.5/);
  assert.throws(() => createModel('mobilenet_v3_small', { reduced_tail: true }), /unknown option reduced_tail; its options are .*reducedTail/);
});
