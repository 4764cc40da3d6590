/**
 * Inference fusion of the conv -> batch norm -> (residual add) -> activation pattern every CNN
 * family repeats. In evaluation mode with no gradient recorded, the batch norm is folded into
 * the convolution (w' = w * gamma / sqrt(var + eps), b' = (b - mean) * gamma / sqrt(var + eps)
 * + beta) and the add and activation run in the convolution's epilogue: one kernel and one
 * output array instead of four. The folded weights are cached per convolution and rebuilt when
 * any source tensor is replaced (Tensor.version) or a different batch-norm module is used.
 * Otherwise (training, gradients, other norms) the layers run one after another, unchanged.
 */
import type { Tensor } from '../tensor/tensor.js';
import { keep, noGrad } from '../tensor/engine.js';
import { willRecord } from '../tensor/autograd.js';
import * as ops from '../ops/index.js';
import type { ConvActivation } from '../ops/conv.js';
import type { Module } from './module.js';
import { BatchNorm2d, Conv2d, Hardsigmoid, Hardswish, ReLU, ReLU6, Sigmoid, SiLU, GELU, Tanh } from './layers.js';

/** The epilogue name of an activation layer, or null when it has none. */
export function epilogueActivation(m: Module | null | undefined): ConvActivation | null {
  if (!m) return null;
  if (m instanceof ReLU) return 'relu';
  if (m instanceof ReLU6) return 'relu6';
  if (m instanceof SiLU) return 'silu';
  if (m instanceof Hardswish) return 'hardswish';
  if (m instanceof Hardsigmoid) return 'hardsigmoid';
  if (m instanceof Sigmoid) return 'sigmoid';
  if (m instanceof Tanh) return 'tanh';
  if (m instanceof GELU) return 'gelu';
  return null;
}

interface Folded {
  bn: BatchNorm2d;
  versions: number[];
  weight: Tensor;
  bias: Tensor;
}

const cache = new WeakMap<Conv2d, Folded>();
let fusionEnabled = true;

/**
 * Runs `fn` with inference fusion off, so that every layer's own forward runs (per-layer
 * summaries and profiles wrap those).
 */
export function withoutFusion<T>(fn: () => T): T {
  const before = fusionEnabled;
  fusionEnabled = false;
  try {
    return fn();
  } finally {
    fusionEnabled = before;
  }
}

function sourceTensors(conv: Conv2d, bn: BatchNorm2d): Tensor[] {
  return [conv.weight, conv.bias, bn.weight, bn.bias, bn.runningMean, bn.runningVar].filter((t): t is Tensor => t !== null);
}

function folded(conv: Conv2d, bn: BatchNorm2d): Folded {
  const sources = sourceTensors(conv, bn);
  const versions = sources.map((t) => t.version);
  const hit = cache.get(conv);
  if (hit && hit.bn === bn && hit.versions.every((v, i) => v === versions[i]) && !hit.weight.isDisposed) return hit;
  if (hit) {
    hit.weight.dispose();
    hit.bias.dispose();
  }
  const entry = noGrad(() => {
    const O = conv.outChannels;
    const eps = bn.opts.eps ?? 1e-5;
    const temps: Tensor[] = [];
    const t = (x: Tensor): Tensor => (temps.push(x), x);
    const invStd = t(ops.pow(t(ops.affine(bn.runningVar!, 1, eps)), -0.5));
    const scale = bn.weight ? t(ops.mul(invStd, bn.weight)) : invStd;
    const weight = ops.mul(conv.weight, t(ops.reshape(scale, [O, 1, 1, 1])));
    const shifted = t(conv.bias ? ops.sub(conv.bias, bn.runningMean!) : ops.neg(bn.runningMean!));
    const scaledShift = ops.mul(shifted, scale);
    const bias = bn.bias ? ops.add(t(scaledShift), bn.bias) : scaledShift;
    for (const x of temps) x.dispose();
    return { bn, versions, weight: keep(weight), bias: keep(bias) };
  });
  cache.set(conv, entry);
  return entry;
}

/**
 * activation(bn(conv(x)) + residual). `bn` may be null (conv bias only); `activation` is an
 * activation layer or null; `residual` is added before the activation.
 */
export function convBnAct(x: Tensor, conv: Conv2d, bn: BatchNorm2d | null, activation: Module | null, residual: Tensor | null = null): Tensor {
  const act = epilogueActivation(activation);
  const foldable = bn === null || (!bn.training && bn.runningMean !== null && bn.runningVar !== null);
  const tensors = [x, ...(residual ? [residual] : []), ...conv.parameters(), ...(bn ? bn.parameters() : [])];
  if (fusionEnabled && foldable && (act !== null || activation === null) && !willRecord(...tensors)) {
    const opts = { ...conv.options, residual, activation: act };
    if (!bn) return ops.conv2d(x, conv.weight, conv.bias, opts);
    const f = folded(conv, bn);
    return ops.conv2d(x, f.weight, f.bias, opts);
  }
  let y = conv.forward(x);
  if (bn && bn.training && fusionEnabled && (act === 'relu' || act === 'relu6')) {
    // Training: the residual sum and the activation inside the batch-norm kernels (forward and backward).
    return bn.forwardActivated(y, act, residual);
  }
  if (bn) y = bn.forward(y);
  if (residual) y = ops.add(y, residual);
  return activation ? activation.forward(y) : y;
}

/**
 * Frees `consumed`, an intermediate result of a forward pass, once `result` (what was computed
 * from it) shows that no gradient was recorded: then nothing can read it again, and its array
 * returns to the backend's pool at once instead of at the end of the enclosing tidy().
 */
export function release(consumed: Tensor, result: Tensor): void {
  if (consumed !== result && !result.requiresGrad && !consumed.requiresGrad) consumed.dispose();
}

/**
 * Runs `layers` in order, fusing every Conv2d -> BatchNorm2d (-> activation) and Conv2d ->
 * activation run into one convBnAct call, and freeing intermediates no graph holds as soon as they are used.
 */
export function runSequential(layers: readonly Module[], x: Tensor): Tensor {
  let y = x;
  for (let i = 0; i < layers.length; ) {
    const layer = layers[i];
    let next: Tensor;
    const bn = layers[i + 1];
    if (layer instanceof Conv2d && bn instanceof BatchNorm2d) {
      const act = epilogueActivation(layers[i + 2]) !== null ? layers[i + 2] : null;
      next = convBnAct(y, layer, bn, act);
      i += act ? 3 : 2;
    } else if (layer instanceof Conv2d && epilogueActivation(layers[i + 1]) !== null) {
      next = convBnAct(y, layer, null, layers[i + 1]);
      i += 2;
    } else {
      next = layer.forward(y);
      i++;
    }
    if (y !== x) release(y, next);
    y = next;
  }
  return y;
}
