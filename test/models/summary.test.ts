import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CanonicalCnn, collapseToDepth, createModel, listModels, nn, ones, summarize, type Tensor } from '../../src/index.js';

test('summarize lists every leaf in call order with shapes, own params and MACs', () => {
  const model = new CanonicalCnn({ widths: [4, 8], convsPerStage: 1, numClasses: 5 });
  const { rows, totals } = summarize(model, [2, 3, 8, 8]);
  assert.deepEqual(
    rows.map((r) => `${r.name} ${r.type} ${r.outputShape.join('x')}`),
    [
      'features.0 Conv2d 2x4x8x8',
      'features.1 BatchNorm2d 2x4x8x8',
      'features.2 ReLU 2x4x8x8',
      'features.3 MaxPool2d 2x4x4x4',
      'features.4 Conv2d 2x8x4x4',
      'features.5 BatchNorm2d 2x8x4x4',
      'features.6 ReLU 2x8x4x4',
      'features.7 GlobalAvgPool2d 2x8x1x1',
      'features.8 Flatten 2x8',
      'classifier.0 Dropout 2x8',
      'classifier.1 Linear 2x5',
    ],
  );
  assert.deepEqual(rows.map((r) => r.params), [3 * 4 * 9, 8, 0, 0, 4 * 8 * 9, 16, 0, 0, 0, 0, 8 * 5 + 5]);
  assert.equal(rows.reduce((s, r) => s + r.params, 0), model.numParameters());
  assert.equal(totals.params, model.numParameters());
  // N*Cout*Ho*Wo*(Cin/groups)*kh*kw per conv, rows*in*out for the linear layer, nothing else.
  const conv1 = 2 * 4 * 8 * 8 * 3 * 9;
  const conv2 = 2 * 8 * 4 * 4 * 4 * 9;
  const fc = 2 * 8 * 5;
  assert.deepEqual(rows.filter((r) => r.macs).map((r) => r.macs), [conv1, conv2, fc]);
  assert.equal(totals.macs, conv1 + conv2 + fc);
  assert.deepEqual(totals.inputShape, [2, 3, 8, 8]);
  const leafOutputs = [512, 512, 512, 128, 256, 256, 256, 16, 16, 16, 10];
  assert.equal(totals.activationBytes, 4 * leafOutputs.reduce((a, b) => a + b, 0));
  model.dispose();
});

test('MACs of grouped, strided convolutions and of a linear layer over many rows', () => {
  const model = new nn.Sequential(new nn.Conv2d(4, 8, 3, { groups: 2, stride: 2, padding: 1 }), new nn.Permute([0, 2, 3, 1]), new nn.Linear(8, 3));
  const { rows, totals } = summarize(model, [1, 4, 9, 9]);
  assert.deepEqual(rows.map((r) => r.outputShape), [[1, 8, 5, 5], [1, 5, 5, 8], [1, 5, 5, 3]]);
  assert.deepEqual(rows.map((r) => r.macs), [1 * 8 * 5 * 5 * (4 / 2) * 9, 0, 25 * 8 * 3]);
  assert.equal(totals.macs, 3600 + 600);
  model.dispose();
});

class SharedLayer extends nn.Module {
  readonly fc = this.module('fc', new nn.Linear(4, 4));
  readonly scale = this.param('scale', ones([2]));
  forward(x: Tensor): Tensor {
    return this.fc.forward(this.fc.forward(x));
  }
}

test('a module called twice gives two rows but counts its parameters once; containers that own parameters are listed', () => {
  const model = new SharedLayer();
  const { rows } = summarize(model, [3, 4]);
  assert.deepEqual(rows.map((r) => [r.name, r.params, r.macs]), [['', model.scale.size, 0], ['fc', 20, 48], ['fc', 0, 48]]);
  assert.equal(rows.reduce((s, r) => s + r.params, 0), model.numParameters());
  model.dispose();
});

test('containers and collapseToDepth: subtrees fold into one row that keeps the totals', () => {
  const model = createModel('resnet8-cifar');
  const summary = summarize(model, [1, 3, 32, 32], { containers: true });
  assert.equal(summary.rows[0].name, '');
  assert.equal(summary.rows[0].type, 'ResNetCifar');
  const top = collapseToDepth(summary.rows, 1);
  assert.deepEqual(top.map((r) => `${r.name} ${r.outputShape.join('x')}`), ['conv1 1x16x32x32', 'bn1 1x16x32x32', 'layer1 1x16x32x32', 'layer2 1x32x16x16', 'layer3 1x64x8x8', 'fc 1x10']);
  assert.equal(top.reduce((s, r) => s + r.params, 0), model.numParameters());
  assert.equal(top.reduce((s, r) => s + r.macs, 0), summary.totals.macs);
  const whole = collapseToDepth(summary.rows, 0);
  assert.deepEqual(whole.map((r) => [r.name, r.params, r.macs]), [['', model.numParameters(), summary.totals.macs]]);
  model.dispose();
});

class Exploding extends nn.Module {
  readonly conv = this.module('conv', new nn.Conv2d(3, 4, 3));
  readonly head = this.module('head', new nn.Sequential(new nn.ReLU(), new nn.Linear(7, 2)));
  forward(x: Tensor): Tensor {
    return this.head.forward(this.conv.forward(x)); // the linear layer rejects 4-D input ending in 6
  }
}

test('forwards and training flags are restored after summarize, also when the forward throws', () => {
  const model = new Exploding().train();
  const ownForward = (x: Tensor): Tensor => x;
  const relu = model.head.layers[0] as nn.Module & { forward(x: Tensor): Tensor };
  relu.forward = ownForward; // an instance-level forward must come back as it was
  assert.throws(() => summarize(model, [1, 3, 8, 8]), /linear: input \[1, 4, 6, 6\] does not end in inFeatures=7/);
  for (const [name, m] of model.namedModules()) {
    if (m === relu) assert.equal(m.forward, ownForward);
    else assert.ok(!Object.hasOwn(m, 'forward'), `${name || 'model'} still has a wrapped forward`);
    assert.equal(m.training, true);
  }
  const ok = createModel('resnet8-cifar');
  ok.train();
  summarize(ok, [1, 3, 8, 8]);
  for (const [, m] of ok.namedModules()) {
    assert.ok(!Object.hasOwn(m, 'forward'));
    assert.equal(m.training, true);
  }
  model.dispose();
  ok.dispose();
});

test('profile: non-negative self times that add up to the forward', () => {
  const model = createModel('resnet8-cifar');
  const { rows, totals } = summarize(model, [1, 3, 16, 16], { profile: true, runs: 2, containers: true });
  assert.equal(totals.runs, 2);
  assert.ok(totals.forwardMs! > 0);
  for (const r of rows) {
    assert.ok(r.ms! >= 0, `${r.name}: ${r.ms} ms`);
    assert.ok(r.share! >= 0 && r.share! <= 1 + 1e-9, `${r.name}: share ${r.share}`);
  }
  const sum = rows.reduce((s, r) => s + r.ms!, 0);
  assert.ok(Math.abs(sum - totals.forwardMs!) <= 0.05 * totals.forwardMs! + 1e-3, `rows ${sum} ms vs forward ${totals.forwardMs} ms`);
  assert.throws(() => summarize(model, [1, 3, 16, 16], { profile: true, runs: 0 }), /runs must be an integer >= 1, got 0/);
  model.dispose();
});

// conv + linear multiply-accumulates from forward hooks on torchvision 0.14 at 1x3x224x224,
// published by torchvision as "GFLOPS" (resnet50 4.09, mobilenet_v2 0.30).
for (const [name, macs, params] of [
  ['resnet50', 4_089_184_256, 25_557_032],
  ['mobilenet_v2', 300_774_272, 3_504_872],
] as const) {
  test(`${name}: MACs and parameters equal torchvision's`, { skip: !listModels().includes(name) && `${name} is not registered` }, () => {
    const model = createModel(name);
    const { totals } = summarize(model, [1, 3, 224, 224]);
    assert.equal(totals.macs, macs);
    assert.equal(totals.params, params);
    model.dispose();
  });
}
