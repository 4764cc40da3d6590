import { ENGINE, runKernel } from '../tensor/engine.js';
import { record } from '../tensor/autograd.js';
import type { Tensor } from '../tensor/tensor.js';
import { assertFloat } from './util.js';

/**
 * Zeroes each element with probability p and scales the rest by 1 / (1 - p) in training;
 * identity otherwise. The mask's seed comes from the default generator (manualSeed).
 */
export function dropout(x: Tensor, p: number, training: boolean): Tensor {
  assertFloat('dropout', x);
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
  if (!training || p === 0) return x;
  const mask = runKernel('dropoutMask', [], { shape: [...x.shape], p, seed: ENGINE.rng.uint32(), dtype: x.dtype, backend: x.backend.name })[0];
  const y = runKernel('binary', [x, mask], { op: 'mul', outShape: [...x.shape] })[0];
  return record(y, 'dropout', [x], (dy) => [runKernel('binary', [dy, mask], { op: 'mul', outShape: [...x.shape] })[0]]);
}

/**
 * Stochastic depth (Huang et al. 2016), as torchvision.ops.stochastic_depth: in training,
 * drops the whole residual branch per sample ('row') or for the batch ('batch') with
 * probability p and scales survivors by 1 / (1 - p); identity in evaluation.
 */
export function stochasticDepth(x: Tensor, p: number, mode: 'row' | 'batch', training: boolean): Tensor {
  assertFloat('stochasticDepth', x);
  if (!(p >= 0 && p <= 1)) throw new Error(`stochasticDepth: p must be in [0, 1], got ${p}`);
  if (mode !== 'row' && mode !== 'batch') throw new Error(`stochasticDepth: mode must be 'row' or 'batch', got '${mode}'`);
  if (!training || p === 0) return x;
  const maskShape = mode === 'row' ? [x.shape[0], ...x.shape.slice(1).map(() => 1)] : x.shape.map(() => 1);
  const mask = runKernel('dropoutMask', [], { shape: maskShape, p, seed: ENGINE.rng.uint32(), dtype: x.dtype, backend: x.backend.name })[0];
  const y = runKernel('binary', [x, mask], { op: 'mul', outShape: [...x.shape] })[0];
  return record(y, 'stochasticDepth', [x], (dy) => [runKernel('binary', [dy, mask], { op: 'mul', outShape: [...x.shape] })[0]]);
}
