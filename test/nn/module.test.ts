import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nn, tensor, zeros, randn, ops, manualSeed, createModel, listModels } from '../../src/index.js';

test('state dict keys are PyTorch dotted names, parameters then buffers', () => {
  const m = new nn.Sequential(new nn.Conv2d(3, 4, 3), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.Flatten(), new nn.Linear(4, 2));
  assert.deepEqual([...m.stateDict().keys()], [
    '0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked', '4.weight', '4.bias',
  ]);
  assert.equal(m.parameters().length, 6);
  const r = createModel('resnet8-cifar');
  const keys = [...r.stateDict().keys()];
  for (const k of ['conv1.weight', 'bn1.running_var', 'layer1.0.conv1.weight', 'layer2.0.downsample.0.weight', 'layer2.0.downsample.1.num_batches_tracked', 'fc.bias']) assert.ok(keys.includes(k), k);
});

test('loadStateDict is strict and lists missing, unexpected and mis-shaped keys', () => {
  const m = new nn.Linear(3, 2);
  const sd = new Map([['weight', zeros([2, 4])], ['extra', zeros([1])]]);
  assert.throws(() => m.loadStateDict(sd), (e: Error) => {
    assert.match(e.message, /missing keys \(1\): bias/);
    assert.match(e.message, /unexpected keys \(1\): extra/);
    assert.match(e.message, /weight expects \[2, 3\] but got \[2, 4\]/);
    return true;
  });
  const ok = new Map([['weight', tensor([[1, 2, 3], [4, 5, 6]])]]);
  const r = m.loadStateDict(ok, { strict: false });
  assert.deepEqual(r.missing, ['bias']);
  assert.deepEqual([...m.weight.dataSync()], [1, 2, 3, 4, 5, 6]);
});

test('train/eval switch changes batch norm and dropout', () => {
  manualSeed(1);
  const m = new nn.Sequential(new nn.BatchNorm2d(2), new nn.Dropout(0.5));
  const x = randn([4, 2, 3, 3]);
  m.train();
  m.forward(x);
  assert.equal(m.stateDict().get('0.num_batches_tracked')!.itemSync(), 1);
  assert.notDeepEqual([...m.stateDict().get('0.running_mean')!.dataSync()], [0, 0]);
  m.eval();
  const a = m.forward(x).dataSync();
  const b = m.forward(x).dataSync();
  assert.deepEqual(a, b);
  assert.equal(m.layers[1].training, false);
});

test('freeze and unfreeze by name prefix', () => {
  const m = createModel('canonical-cnn', { widths: [4], convsPerStage: 1 });
  m.freeze('features');
  const trainable = [...m.namedParameters()].filter(([, p]) => p.requiresGrad).map(([n]) => n);
  assert.deepEqual(trainable, ['classifier.1.weight', 'classifier.1.bias']);
  m.unfreeze();
  assert.ok(m.parameters().every((p) => p.requiresGrad));
});

test('layers validate their input', () => {
  assert.throws(() => new nn.BatchNorm2d(3).forward(zeros([2, 4, 2, 2])), /BatchNorm2d\(3\): input \[2, 4, 2, 2\] has 4 channels/);
  assert.throws(() => new nn.Conv2d(3, 4, 3, { groups: 2 }), /groups=2 must divide inChannels=3/);
});

test('the zoo lists and builds its models', () => {
  assert.ok(listModels().includes('canonical-cnn'));
  const m = createModel('canonical-cnn', { inChannels: 1, numClasses: 10 });
  assert.deepEqual(ops.reshape(m.forward(randn([2, 1, 28, 28])), [-1]).shape, [20]);
  assert.throws(() => createModel('nope'), /unknown model 'nope'; available: .*canonical-cnn/);
});
