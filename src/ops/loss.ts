import { runKernel } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import { fmt } from './util.js';
import { logSoftmax } from './softmax.js';
import { affine, mul, sub, square } from './elementwise.js';
import { mean, sum } from './reduce.js';

export type Reduction = 'mean' | 'sum' | 'none';

export interface CrossEntropyOptions {
  /** Mixes the target with the uniform distribution: (1 - s) * target + s / C (as PyTorch). */
  labelSmoothing?: number;
  reduction?: Reduction;
}

/**
 * Cross-entropy between logits [N, C] and either class indices [N] (int32) or soft targets
 * [N, C] (probabilities, e.g. from mixup or a teacher).
 */
export function crossEntropy(logits: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  if (logits.ndim !== 2) throw new Error(`crossEntropy: logits must be [N, C], got ${fmt(logits.shape)}`);
  const [N, C] = logits.shape;
  const smoothing = opts.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing <= 1)) throw new Error(`crossEntropy: labelSmoothing must be in [0, 1], got ${smoothing}`);
  let q: Tensor;
  if (target.dtype === 'int32' || target.dtype === 'uint8') {
    if (target.ndim !== 1 || target.shape[0] !== N) throw new Error(`crossEntropy: class indices must be [${N}] for logits ${fmt(logits.shape)}, got ${fmt(target.shape)}`);
    q = runKernel('oneHot', [target], { numClasses: C, on: 1 - smoothing + smoothing / C, off: smoothing / C, dtype: logits.dtype })[0];
  } else {
    if (target.shape.join() !== logits.shape.join()) throw new Error(`crossEntropy: soft targets ${fmt(target.shape)} must match logits ${fmt(logits.shape)}`);
    q = smoothing ? affine(target, 1 - smoothing, smoothing / C) : target;
  }
  const logp = logSoftmax(logits, 1);
  const perSample = affine(sum(mul(q, logp), 1), -1, 0);
  return reduce(perSample, opts.reduction ?? 'mean');
}

/** Mean squared error. */
export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  if (input.shape.join() !== target.shape.join()) throw new Error(`mseLoss: input ${fmt(input.shape)} and target ${fmt(target.shape)} must have the same shape`);
  return reduce(square(sub(input, target)), reduction);
}

function reduce(t: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return t;
  return reduction === 'mean' ? mean(t) : sum(t);
}
