import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createModel, listModels, modelInfo, manualSeed, randn, tensor, ops, noGrad, RegNet, regnetDesign, regnetStages, type StateDict, withoutRandomInit } from '../../src/index.js';

const TINY_Y = { depth: 4, w0: 8, wa: 8, wm: 2, groupWidth: 8, stemWidth: 8, seRatio: 0.25 };
const TINY_X = { depth: 5, w0: 16, wa: 10.5, wm: 1.8, groupWidth: 12, stemWidth: 16 };
const SIZES = ['400mf', '800mf', '1_6gf', '3_2gf', '8gf', '16gf', '32gf'];

test('every RegNetX and RegNetY is registered with torchvision metadata', () => {
  for (const name of ['x', 'y'].flatMap((kind) => SIZES.map((size) => `regnet_${kind}_${size}`))) {
    assert.ok(listModels().includes(name), name);
    const info = modelInfo(name);
    assert.equal(info.family, 'regnet');
    assert.deepEqual(info.classifier, ['fc.']);
    assert.equal(info.preprocessing!.resizeSize, 256);
    assert.equal(info.weightsSource, `torchvision.models.${name} (IMAGENET1K_V1)`);
    assert.equal(regnetDesign(name).seRatio, name.startsWith('regnet_y') ? 0.25 : undefined);
  }
});

test('stage widths, depths and group widths match torchvision\'s BlockParams.from_init_params', () => {
  // Values printed by torchvision 0.14.
  const expected: Record<string, [number[], number[], number[]]> = {
    regnet_y_400mf: [[48, 104, 208, 440], [1, 3, 6, 6], [8, 8, 8, 8]],
    regnet_y_32gf: [[232, 696, 1392, 3712], [2, 5, 12, 1], [232, 232, 232, 232]],
    regnet_x_400mf: [[32, 64, 160, 400], [1, 2, 7, 12], [16, 16, 16, 16]],
    regnet_x_1_6gf: [[72, 168, 408, 912], [2, 4, 10, 2], [24, 24, 24, 24]],
    regnet_x_32gf: [[336, 672, 1344, 2520], [2, 7, 13, 1], [168, 168, 168, 168]],
  };
  for (const [name, [widths, depths, groups]] of Object.entries(expected)) {
    const stages = regnetStages(regnetDesign(name));
    assert.deepEqual([stages.map((s) => s.width), stages.map((s) => s.depth), stages.map((s) => s.groupWidth)], [widths, depths, groups], name);
  }
  // Stage widths 16/32/48 are not multiples of group width 12, so they are adjusted.
  const adjusted = regnetStages(TINY_X);
  assert.deepEqual(adjusted.map((s) => s.width), [24, 36, 48]);
  assert.deepEqual(adjusted.map((s) => s.depth), [1, 2, 2]);
});

test('full-size regnet_y_400mf has torchvision\'s parameter count and state-dict keys', () => {
  const model = withoutRandomInit(() => createModel('regnet_y_400mf'));
  assert.equal(model.numParameters(), 4344144);
  const keys = [...model.stateDict().keys()];
  assert.equal(keys.length, 384);
  for (const key of ['stem.0.weight', 'stem.1.running_mean', 'trunk_output.block1.block1-0.proj.0.weight', 'trunk_output.block1.block1-0.f.se.fc1.bias', 'trunk_output.block4.block4-5.f.c.1.weight', 'fc.weight']) {
    assert.ok(keys.includes(key), key);
  }
  model.dispose();
});

test('tiny RegNetY and RegNetX give [N, classes] logits', () => {
  manualSeed(0);
  const x = randn([2, 3, 32, 32]);
  for (const [name, opts] of [['regnet_y_400mf', TINY_Y], ['regnet_x_400mf', TINY_X]] as const) {
    const model = createModel(name, { ...opts, numClasses: 7 }).eval();
    const y = noGrad(() => model.forward(x));
    assert.deepEqual(y.shape, [2, 7], name);
    assert.ok([...y.dataSync()].every(Number.isFinite), name);
    assert.equal([...model.stateDict().keys()].some((k) => k.includes('.f.se.')), name === 'regnet_y_400mf');
    model.dispose();
  }
  const grey = new RegNet({ ...TINY_X, inChannels: 1, numClasses: 2 }).eval();
  assert.deepEqual(noGrad(() => grey.forward(randn([1, 1, 24, 24]))).shape, [1, 2]);
});

test('a train-mode step gives finite gradients for every parameter', () => {
  manualSeed(1);
  const model = new RegNet({ ...TINY_Y, numClasses: 4 }).train();
  const loss = ops.crossEntropy(model.forward(randn([3, 3, 32, 32])), tensor([0, 3, 1], [3], 'int32'));
  loss.backward();
  for (const [name, p] of model.namedParameters()) {
    assert.ok(p.grad, `${name} has no gradient`);
    assert.ok([...p.grad.dataSync()].every(Number.isFinite), `${name} has a non-finite gradient`);
  }
});

test('1000-class weights load into a 10-class model except the reported head', () => {
  manualSeed(2);
  const source = createModel('regnet_y_400mf', TINY_Y);
  const weights: StateDict = new Map([...source.stateDict()].map(([k, t]) => [k, t.clone()]));
  const messages: string[] = [];
  const model = createModel('regnet_y_400mf', { ...TINY_Y, numClasses: 10, weights, log: (m) => messages.push(m) });
  assert.equal(messages.length, 1);
  assert.match(messages[0], /regnet_y_400mf: classifier fc\.weight, fc\.bias not loaded .*\[1000, 32\].*\[10, 32\]/);
  const key = 'trunk_output.block3.block3-1.f.se.fc2.weight';
  assert.deepEqual([...model.stateDict().get(key)!.dataSync()], [...weights.get(key)!.dataSync()]);
  // RegNetX weights lack the squeeze-excitation layers: an error listing them.
  assert.throws(() => createModel('regnet_y_400mf', { ...TINY_Y, seRatio: 0, numClasses: 10, weights }), /unexpected keys .*f\.se\.fc1\.weight/);
});

test('bad options are rejected with the model and option named', () => {
  assert.throws(() => createModel('regnet_y_400mf', { width: 8 }), /regnet_y_400mf: unknown option width; RegNet options are depth, w0/);
  assert.throws(() => createModel('regnet_x_400mf', { w0: 12 }), /invalid design w0=12.*w0 a positive multiple of 8/);
  assert.throws(() => createModel('regnet_x_400mf', { wm: 1 }), /need wa >= 0, wm > 1/);
  assert.throws(() => createModel('regnet_x_400mf', { depth: 0 }), /depth must be a positive integer, got 0/);
  assert.throws(() => createModel('regnet_x_400mf', { stemWidth: 2.5 }), /stemWidth must be a positive integer, got 2\.5/);
  assert.throws(() => new RegNet({ depth: 4 }), /depth, w0, wa, wm and groupWidth are all required/);
  assert.throws(() => regnetDesign('regnet_z_1gf'), /unknown RegNet 'regnet_z_1gf'; available: regnet_y_400mf/);
});
