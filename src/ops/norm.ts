import { runKernel, noGrad } from '../tensor/engine.js';
import { hasKernel } from '../backends/registry.js';
import { record, willRecord } from '../tensor/autograd.js';
import type { Tensor } from '../tensor/tensor.js';
import { assertFloat, fmt } from './util.js';
import { activation as unaryActivation } from './activation.js';
import { affine, add, mul, sub, sqrt, div, square, pow } from './elementwise.js';
import { mean } from './reduce.js';
import { reshape } from './shape.js';

export interface BatchNormOptions {
  training: boolean;
  momentum?: number;
  eps?: number;
  /** An int32 scalar counting training batches (PyTorch's num_batches_tracked), incremented with the running statistics. */
  numBatchesTracked?: Tensor | null;
  /**
   * An activation applied to the output: relu(batchNorm(x)). In training it runs inside the
   * batch-norm kernels (one pass over the activations fewer, forward and backward).
   */
  activation?: 'relu' | 'relu6' | null;
  /** Added before the activation: activation(batchNorm(x) + residual), fused in training. */
  residual?: Tensor | null;
}

/**
 * Batch normalisation over the channel axis 1 of [N, C, ...] input. In training, normalises
 * with batch statistics and updates the running statistics in place (momentum as PyTorch,
 * unbiased variance); otherwise uses the running statistics.
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null,
  bias: Tensor | null,
  opts: BatchNormOptions,
): Tensor {
  assertFloat('batchNorm', x);
  if (x.ndim < 2) throw new Error(`batchNorm: input must be [N, C, ...], got ${fmt(x.shape)}`);
  const C = x.shape[1];
  for (const [name, t] of [['runningMean', runningMean], ['runningVar', runningVar], ['weight', weight], ['bias', bias]] as const) {
    if (t && (t.ndim !== 1 || t.shape[0] !== C)) throw new Error(`batchNorm: ${name} ${fmt(t.shape)} must be [${C}] for input ${fmt(x.shape)}`);
  }
  if ((weight === null) !== (bias === null)) throw new Error('batchNorm: pass both weight and bias, or neither');
  const eps = opts.eps ?? 1e-5;
  const activation = opts.activation ?? null;
  if (activation !== null && activation !== 'relu' && activation !== 'relu6') throw new Error(`batchNorm: activation must be 'relu', 'relu6' or null, got '${activation as string}'`);
  const residual = opts.residual ?? null;
  if (residual && residual.shape.join() !== x.shape.join()) throw new Error(`batchNorm: residual ${fmt(residual.shape)} must match the input ${fmt(x.shape)}`);
  const affineParams = weight && bias ? [weight, bias] : [];
  // Kernels see [N, C, H*W, 1]; 2-D input [N, C] is [N, C, 1, 1].
  const x4 = noGrad(() => reshape(x, [x.shape[0], C, x.size / (x.shape[0] * C), 1]));
  if (opts.training || !runningMean || !runningVar) {
    if (x.size / C <= 1) throw new Error(`batchNorm: expected more than 1 value per channel in training, got input ${fmt(x.shape)}`);
    const res4 = residual ? noGrad(() => reshape(residual, x4.shape)) : null;
    const [y4, mean, invStd, varUnbiased] = runKernel('batchNormTrain', [x4, ...affineParams, ...(res4 ? [res4] : [])], { eps, activation, hasResidual: !!res4 });
    res4?.dispose();
    if (opts.training && runningMean && runningVar) {
      const count = opts.numBatchesTracked ?? null;
      if (count && (count.dtype !== 'int32' || count.size !== 1)) throw new Error(`batchNorm: numBatchesTracked must be an int32 scalar, got ${count.dtype} ${fmt(count.shape)}`);
      const [newMean, newVar, newCount] = runKernel('batchNormRunningUpdate', [runningMean, runningVar, mean, varUnbiased, ...(count ? [count] : [])], { momentum: opts.momentum ?? 0.1 });
      runningMean.assign(newMean);
      runningVar.assign(newVar);
      if (count) count.assign(newCount);
    }
    varUnbiased.dispose();
    const y = reshape(y4, x.shape);
    // The activation's derivative is read from the activated output.
    const activated = activation ? y4 : null;
    if (!activated) y4.dispose();
    const inputs = [x, ...(weight && bias ? [weight, bias] : []), ...(residual ? [residual] : [])];
    const out = record(y, 'batchNorm', inputs, (dy) => {
      const dy4 = reshape(dy, x4.shape);
      const [dx4, dgamma, dbeta, dres4] = runKernel('batchNormBackward', [dy4, x4, mean, invStd, ...(weight ? [weight] : []), ...(activated ? [activated] : [])], { activation, hasResidual: !!residual });
      dy4.dispose();
      activated?.dispose();
      const dx = reshape(dx4, x.shape);
      dx4.dispose();
      x4.dispose();
      mean.dispose();
      invStd.dispose();
      const dres = dres4 ? reshape(dres4, x.shape) : null;
      dres4?.dispose();
      const grads = weight ? [dx, dgamma, dbeta] : (dgamma.dispose(), dbeta.dispose(), [dx]);
      return residual ? [...grads, dres] : grads;
    });
    if (!out.gradFn) {
      x4.dispose();
      mean.dispose();
      invStd.dispose();
      activated?.dispose();
    }
    return out;
  }
  if (activation || residual) {
    const normalized = batchNorm(x, runningMean, runningVar, weight, bias, { ...opts, activation: null, residual: null });
    const summed = residual ? add(normalized, residual) : normalized;
    return activation ? unaryActivation(activation, summed) : summed;
  }
  if (!willRecord(x, ...affineParams)) {
    const y4 = runKernel('batchNormInference', [x4, runningMean, runningVar, ...affineParams], { eps })[0];
    x4.dispose();
    const y = reshape(y4, x.shape);
    y4.dispose();
    return y;
  }
  x4.dispose();
  // Eval mode with gradients (fine-tuning with frozen statistics): compose differentiable ops.
  const shape = [1, C, ...x.shape.slice(2).map(() => 1)];
  const std = noGrad(() => sqrt(affine(runningVar, 1, eps)));
  const scale = reshape(std, shape);
  let y = div(sub(x, reshape(runningMean, shape)), scale);
  if (weight && bias) y = add(mul(y, reshape(weight, shape)), reshape(bias, shape));
  return y;
}

/**
 * Layer normalisation over the last axis (PyTorch's LayerNorm with normalized_shape [C]):
 * (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance.
 */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  assertFloat('layerNorm', x);
  if (x.ndim < 1) throw new Error(`layerNorm: input must have at least one axis, got ${fmt(x.shape)}`);
  const C = x.shape[x.ndim - 1];
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
    if (t && (t.ndim !== 1 || t.shape[0] !== C)) throw new Error(`layerNorm: ${name} ${fmt(t.shape)} must be [${C}] for input ${fmt(x.shape)} (normalised over the last axis)`);
  }
  const recording = willRecord(x, ...[weight, bias].filter((t): t is Tensor => t !== null));
  if (!recording && hasKernel(x.backend.name, 'layerNorm')) {
    // Inference: one fused kernel.
    const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
    return runKernel('layerNorm', inputs, { eps, hasWeight: !!weight, hasBias: !!bias })[0];
  }
  // With a graph, the composition of differentiable ops; without one, intermediates are freed
  // as soon as they are used.
  const done = (...ts: Tensor[]): void => {
    if (!recording) for (const t of ts) t.dispose();
  };
  const mu = mean(x, -1, true);
  const centred = sub(x, mu);
  done(mu);
  const sq = square(centred);
  const variance = mean(sq, -1, true);
  done(sq);
  const rstd = pow(affine(variance, 1, eps), -0.5);
  done(variance);
  let y = mul(centred, rstd);
  done(centred, rstd);
  if (weight) {
    const scaled = mul(y, weight);
    done(y);
    y = scaled;
  }
  if (bias) {
    const shifted = add(y, bias);
    done(y);
    y = shifted;
  }
  return y;
}
