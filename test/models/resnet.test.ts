import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createModel, listModels, modelInfo, manualSeed, randn, tensor, ops, noGrad, ResNet, type StateDict, withoutRandomInit } from '../../src/index.js';

const TINY = { layers: [1, 1, 1, 1], widths: [4, 8, 8, 8], stemWidth: 8 };
const NAMES = ['resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152', 'wide_resnet50_2', 'wide_resnet101_2', 'resnext50_32x4d', 'resnext101_32x8d', 'resnext101_64x4d'];

test('every ResNet variant is registered with torchvision metadata', () => {
  for (const name of NAMES) {
    assert.ok(listModels().includes(name), name);
    const info = modelInfo(name);
    assert.equal(info.family, 'resnet');
    assert.deepEqual(info.classifier, ['fc.']);
    assert.equal(info.numClasses, 1000);
    assert.deepEqual(info.inputShape, [3, 224, 224]);
    assert.equal(info.preprocessing!.cropSize, 224);
    assert.equal(info.preprocessing!.resizeSize, name === 'resnext101_64x4d' ? 232 : 256);
    assert.equal(info.weightsSource, `torchvision.models.${name} (IMAGENET1K_V1)`);
  }
});

test('full-size resnet18 and resnet50 have torchvision\'s parameter counts and state-dict keys', () => {
  for (const [name, params, entries] of [['resnet18', 11689512, 122], ['resnet50', 25557032, 320]] as const) {
    const model = withoutRandomInit(() => createModel(name));
    assert.equal(model.numParameters(), params, name);
    const keys = [...model.stateDict().keys()];
    assert.equal(keys.length, entries, name);
    for (const key of ['conv1.weight', 'bn1.num_batches_tracked', 'layer1.0.conv2.weight', 'layer2.0.downsample.0.weight', 'layer4.1.bn2.running_var', 'fc.bias']) assert.ok(keys.includes(key), `${name}: ${key}`);
    model.dispose();
  }
});

test('tiny basic, bottleneck, ResNeXt and wide configurations give [N, classes] logits', () => {
  manualSeed(0);
  const x = randn([2, 3, 32, 32]);
  const configs = [
    ['resnet18', {}], ['resnet50', {}], ['resnext50_32x4d', { widths: [8, 8, 8, 8], widthPerGroup: 16 }], ['wide_resnet50_2', {}],
  ] as const;
  for (const [name, extra] of configs) {
    const model = createModel(name, { ...TINY, ...extra, numClasses: 5 }).eval();
    const y = noGrad(() => model.forward(x));
    assert.deepEqual(y.shape, [2, 5], name);
    assert.ok([...y.dataSync()].every(Number.isFinite), name);
    y.dispose();
    model.dispose();
  }
  const grey = new ResNet({ ...TINY, block: 'bottleneck', inChannels: 1, numClasses: 3 }).eval();
  assert.deepEqual(noGrad(() => grey.forward(randn([1, 1, 40, 40]))).shape, [1, 3]);
});

test('a train-mode step gives finite gradients for every parameter', () => {
  manualSeed(1);
  for (const block of ['basic', 'bottleneck'] as const) {
    const model = new ResNet({ ...TINY, block, groups: block === 'bottleneck' ? 2 : 1, widthPerGroup: block === 'bottleneck' ? 32 : 64, numClasses: 4 }).train();
    const loss = ops.crossEntropy(model.forward(randn([3, 3, 32, 32])), tensor([0, 3, 1], [3], 'int32'));
    loss.backward();
    for (const [name, p] of model.namedParameters()) {
      assert.ok(p.grad, `${block}: ${name} has no gradient`);
      assert.ok([...p.grad.dataSync()].every(Number.isFinite), `${block}: ${name} has a non-finite gradient`);
    }
  }
});

test('1000-class weights load into a 10-class model except the reported head', () => {
  manualSeed(2);
  const source = createModel('resnet18', TINY);
  const weights: StateDict = new Map([...source.stateDict()].map(([k, t]) => [k, t.clone()]));
  const messages: string[] = [];
  const model = createModel('resnet18', { ...TINY, numClasses: 10, weights, log: (m) => messages.push(m) });
  assert.equal(messages.length, 1);
  assert.match(messages[0], /resnet18: classifier fc\.weight, fc\.bias not loaded .*\[1000, 8\].*\[10, 8\]/);
  const own = model.stateDict();
  assert.deepEqual([...own.get('layer3.0.conv1.weight')!.dataSync()], [...weights.get('layer3.0.conv1.weight')!.dataSync()]);
  assert.deepEqual(own.get('fc.weight')!.shape, [10, 8]);
  // A body that does not match is an error, not a silent partial load.
  assert.throws(() => createModel('resnet18', { ...TINY, widths: [4, 8, 8, 16], numClasses: 10, weights }), /layer4\.0\.conv1\.weight expects \[16, 8, 3, 3\]/);
});

test('bad options are rejected with the model and option named', () => {
  assert.throws(() => createModel('resnet18', { depth: 18 }), /resnet18: unknown option depth; ResNet options are block, layers/);
  assert.throws(() => createModel('resnet18', { groups: 32 }), /basic block supports only groups=1 and widthPerGroup=64.*block: 'bottleneck'/);
  assert.throws(() => createModel('resnet50', { layers: [1, 1, 1] }), /widths \(4 stages\) and layers \(3 stages\)/);
  assert.throws(() => createModel('resnet50', { layers: [1, 0, 1, 1] }), /layers must be a non-empty list of positive block counts/);
  assert.throws(() => createModel('resnet50', { block: 'dense' }), /block must be 'basic' or 'bottleneck', got "dense"/);
  assert.throws(() => createModel('resnext50_32x4d', { widths: [4, 8, 8, 8] }), /stage width 4 x widthPerGroup 4 \/ 64 leaves a bottleneck with no channels/);
  assert.throws(() => createModel('resnet50', { stemWidth: 0 }), /stemWidth must be a positive integer, got 0/);
});
