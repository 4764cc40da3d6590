import { runKernel } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import { record, needsGrad } from '../tensor/autograd.js';
import { assertFloat, assertSameDtype, fmt } from './util.js';
import { logSoftmax } from './softmax.js';
import { affine, mul, neg, sub, square } from './elementwise.js';
import { mean, sum } from './reduce.js';
import { reshape } from './shape.js';

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
  assertFloat('crossEntropy', logits);
  const [N, C] = logits.shape;
  const smoothing = opts.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing <= 1)) throw new Error(`crossEntropy: labelSmoothing must be in [0, 1], got ${smoothing}`);
  const labels = target.dtype === 'int32' || target.dtype === 'uint8';
  let q = target;
  if (labels) {
    if (target.ndim !== 1 || target.shape[0] !== N) throw new Error(`crossEntropy: class indices must be [${N}] for logits ${fmt(logits.shape)}, got ${fmt(target.shape)}`);
  } else {
    if (target.shape.join() !== logits.shape.join()) throw new Error(`crossEntropy: soft targets ${fmt(target.shape)} must match logits ${fmt(logits.shape)}`);
    assertSameDtype('crossEntropy', logits, target);
    if (smoothing) q = affine(target, 1 - smoothing, smoothing / C);
  }
  // One kernel for log-softmax, the target product and the row sum; one for the gradient.
  const attrs = { labels, on: 1 - smoothing + smoothing / C, off: smoothing / C };
  const [perSample, stats] = runKernel('crossEntropy', [logits, q], attrs);
  const inputs = labels ? [logits] : [logits, q];
  const out = record(perSample, 'crossEntropy', inputs, (dy) => {
    const dlogits = needsGrad(logits) ? runKernel('crossEntropyBackward', [dy, logits, q, stats], attrs)[0] : null;
    // Soft targets that require gradients (rare: a learned target): d/dq_j = -dy (z_j - lse).
    const dq = !labels && needsGrad(q) ? mul(neg(logSoftmax(logits, 1)), reshape(dy, [N, 1])) : null;
    stats.dispose();
    return labels ? [dlogits] : [dlogits, dq];
  });
  if (!out.gradFn) stats.dispose();
  return reduce(out, opts.reduction ?? 'mean');
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
