/**
 * Parity with PyTorch on fixtures written by scripts/make-fixtures.py (Debian python3-torch):
 * forward outputs and gradients of the ops, a training step of the canonical CNN and the CIFAR
 * ResNet, and optimiser updates. Tolerance: max |fovea - torch| <= 1e-4 x max |torch|.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Tensor, ops, createModel, optim, noGrad } from '../../src/index.js';
import { loadSafetensors } from '../../src/io/state-dict.js';
import { maxAbsError } from '../helpers/compare.js';

const fixturePath = fileURLToPath(new URL('../fixtures/torch-parity.safetensors', import.meta.url));
const { tensors: fx } = await loadSafetensors(fixturePath);

function get(name: string): Tensor {
  const t = fx.get(name);
  if (!t) throw new Error(`fixture ${name} is missing; regenerate with /usr/bin/python3 scripts/make-fixtures.py`);
  return t;
}

function leaf(name: string): Tensor {
  return get(name).clone().requiresGrad_();
}

function assertMatches(actual: Tensor, expectedName: string, tol = 1e-4): void {
  const expected = get(expectedName);
  assert.deepEqual(actual.shape, expected.shape, `${expectedName}: shape`);
  const { err, scale } = maxAbsError(actual, expected);
  assert.ok(err <= tol * Math.max(scale, 1e-6), `${expectedName}: max abs error ${err.toExponential(2)} > ${tol} x ${scale.toExponential(2)}`);
}

/** Runs fn on the case's inputs, backpropagates the stored dy, compares output and gradients. */
function checkCase(name: string, fn: (...xs: Tensor[]) => Tensor, inputCount: number): void {
  const inputs = Array.from({ length: inputCount }, (_, i) => leaf(`${name}.in${i}`));
  const y = fn(...inputs);
  assertMatches(y, `${name}.out`);
  y.backward(get(`${name}.dy`));
  inputs.forEach((x, i) => assertMatches(x.grad!, `${name}.grad${i}`));
}

test('conv2d forward and gradients match PyTorch', () => {
  for (const name of ['conv_basic', 'conv_stride2', 'conv_dilated', 'conv_groups', 'conv_depthwise', 'conv_7x7_stem', 'conv_1x1']) {
    const [s, p, d, g] = get(`${name}.params`).dataSync();
    checkCase(name, (x, w, b) => ops.conv2d(x, w, b, { stride: s, padding: p, dilation: d, groups: g }), 3);
  }
});

test('pooling forward and gradients match PyTorch', () => {
  for (const name of ['maxpool_2', 'maxpool_3s2p1', 'maxpool_ceil']) {
    const [k, s, p, ceil] = get(`${name}.params`).dataSync();
    checkCase(name, (x) => ops.maxPool2d(x, k, { stride: s, padding: p, ceilMode: ceil === 1 }), 1);
  }
  for (const name of ['avgpool_2', 'avgpool_3s2p1', 'avgpool_nopad', 'avgpool_ceil']) {
    const [k, s, p, ceil, cip] = get(`${name}.params`).dataSync();
    checkCase(name, (x) => ops.avgPool2d(x, k, { stride: s, padding: p, ceilMode: ceil === 1, countIncludePad: cip === 1 }), 1);
  }
});

test('activations, softmax and linear match PyTorch', () => {
  const fns: Record<string, (x: Tensor) => Tensor> = {
    relu: ops.relu, relu6: ops.relu6, silu: ops.silu, gelu: ops.gelu, hardswish: ops.hardswish, sigmoid: ops.sigmoid, tanh: ops.tanh,
    softmax: (x) => ops.softmax(x, 1), log_softmax: (x) => ops.logSoftmax(x, 1),
  };
  for (const [name, fn] of Object.entries(fns)) checkCase(`act_${name}`, fn, 1);
  checkCase('linear', (x, w, b) => ops.linear(x, w, b), 3);
});

test('batch norm (training) matches PyTorch, running statistics included', () => {
  const x = leaf('bn_train.in0');
  const w = leaf('bn_train.weight');
  const b = leaf('bn_train.bias');
  const rm = get('bn_train.running_mean_before').clone();
  const rv = get('bn_train.running_var_before').clone();
  const y = ops.batchNorm(x, rm, rv, w, b, { training: true, momentum: 0.1, eps: 1e-5 });
  assertMatches(y, 'bn_train.out');
  y.backward(get('bn_train.dy'));
  assertMatches(x.grad!, 'bn_train.grad0');
  assertMatches(w.grad!, 'bn_train.grad_weight');
  assertMatches(b.grad!, 'bn_train.grad_bias');
  assertMatches(rm, 'bn_train.running_mean_after');
  assertMatches(rv, 'bn_train.running_var_after');
});

test('cross-entropy with label smoothing and soft targets matches PyTorch', () => {
  const labels = get('ce_smooth.labels');
  checkCase('ce_smooth', (z) => ops.crossEntropy(z, labels, { labelSmoothing: 0.1 }), 1);
  const soft = get('ce_soft.target');
  checkCase('ce_soft', (z) => ops.crossEntropy(z, soft), 1);
});

function modelParity(caseName: string, model: ReturnType<typeof createModel>): void {
  const state = new Map<string, Tensor>();
  for (const [k, v] of fx) if (k.startsWith(`${caseName}.state.`)) state.set(k.slice(`${caseName}.state.`.length), v);
  model.loadStateDict(state);
  const x = get(`${caseName}.input`);
  model.eval();
  assertMatches(noGrad(() => model.forward(x)), `${caseName}.eval_out`);
  model.train();
  const loss = ops.crossEntropy(model.forward(x), get(`${caseName}.labels`));
  assertMatches(ops.reshape(loss, [1]), `${caseName}.train_loss`);
  loss.backward();
  for (const [name, p] of model.namedParameters()) assertMatches(p.grad!, `${caseName}.grad.${name}`);
  for (const [name, b] of model.namedBuffers()) if (name.includes('running')) assertMatches(b, `${caseName}.after.${name}`);
}

test('canonical CNN: eval output, training loss, every parameter gradient and BN statistics match PyTorch', () => {
  modelParity('canonical_cnn', createModel('canonical-cnn', { inChannels: 3, numClasses: 10, widths: [4, 8, 12] }));
});

test('CIFAR ResNet-8 with torchvision BasicBlocks matches PyTorch', () => {
  modelParity('resnet8_cifar', createModel('resnet8-cifar', { inChannels: 3, numClasses: 10, widths: [4, 8, 16] }));
});

test('SGD (momentum, Nesterov, weight decay) and AdamW updates match PyTorch', () => {
  const makers: Record<string, (p: Tensor[]) => optim.Optimizer> = {
    sgd_nesterov: (p) => new optim.SGD(p, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 }),
    sgd_plain: (p) => new optim.SGD(p, { lr: 0.1, momentum: 0.9, weightDecay: 0.01 }),
    adamw: (p) => new optim.AdamW(p, { lr: 0.01, weightDecay: 0.1 }),
  };
  for (const [name, make] of Object.entries(makers)) {
    const p = get('optim.p0').clone().requiresGrad_();
    const opt = make([p]);
    for (const g of ['optim.g1', 'optim.g2']) {
      opt.zeroGrad();
      p.grad = get(g).clone();
      opt.step();
    }
    assertMatches(p, `optim_${name}.after`, 1e-5);
  }
});
