/**
 * Batch normalisation on the WebAssembly SIMD kernels (assembly/norm.ts): same signatures and
 * results (to float32 rounding; statistics summed in f64 as the reference) as the reference
 * kernels in ../kernels/batchnorm.ts. Where the WebAssembly kernels are unavailable the
 * reference kernels run instead.
 */
import {
  batchNormBackward as refBatchNormBackward,
  batchNormInferenceForward as refBatchNormInferenceForward,
  batchNormTrainForward as refBatchNormTrainForward,
  batchNormLayout,
} from '../kernels/batchnorm.js';
import { kernelsWith, type WasmKernels } from './module.js';
import { copyOutF32, finishOutput, outputSlot } from './arena.js';
import { runSplit, SPLIT_MIN_ELEMENTS } from './split.js';

interface NormExports {
  bn_train_fwd(x: number, y: number, gamma: number, beta: number, mean: number, invStd: number, varUnbiased: number, scratch: number, n: number, c: number, s: number, eps: number, c0: number, c1: number): void;
  bn_inference_fwd(x: number, y: number, mean: number, variance: number, gamma: number, beta: number, n: number, c: number, s: number, eps: number, c0: number, c1: number): void;
  bn_bwd(dy: number, x: number, mean: number, invStd: number, gamma: number, dx: number, dgamma: number, dbeta: number, scratch: number, n: number, c: number, s: number, c0: number, c1: number): void;
}



const kernels = (): { k: WasmKernels; ex: NormExports } | null => kernelsWith<NormExports>();

function exact(name: string, a: Float32Array, expected: number): Float32Array {
  if (a.length < expected) throw new Error(`batchNorm: ${name} has ${a.length} elements, expected ${expected}`);
  return a.length === expected ? a : a.subarray(0, expected);
}

/** Training-mode forward (reference: batchNormTrainForward). */
export function batchNormTrainForward(
  x: Float32Array,
  shape: readonly number[],
  gamma: Float32Array | null,
  beta: Float32Array | null,
  eps: number,
): { y: Float32Array; mean: Float32Array; invStd: Float32Array; varUnbiased: Float32Array } {
  const wk = kernels();
  if (!wk) return refBatchNormTrainForward(x, shape, gamma, beta, eps) as { y: Float32Array; mean: Float32Array; invStd: Float32Array; varUnbiased: Float32Array };
  const { k } = wk;
  const { n, c, s, size } = batchNormLayout(shape, x.length);
  const a = k.arena;
  a.reset();
  const xa = a.copyIn(exact('x', x, size));
  const ga = gamma ? a.copyIn(exact('gamma', gamma, c)) : 0;
  const ba = beta ? a.copyIn(exact('beta', beta, c)) : 0;
  const y = outputSlot(a, 'float32', size);
  const stats = a.alloc(3 * c * 4);
  runSplit(k, c, 1, size >= SPLIT_MIN_ELEMENTS, (c0, c1) => ({ fn: 'bn_train_fwd', args: [xa, y.address, ga, ba, stats, stats + c * 4, stats + 2 * c * 4, a.alloc(16), n, c, s, eps, c0, c1] }));
  return {
    y: finishOutput(a, y),
    mean: copyOutF32(a.f32(stats, c)),
    invStd: copyOutF32(a.f32(stats + c * 4, c)),
    varUnbiased: copyOutF32(a.f32(stats + 2 * c * 4, c)),
  };
}

/** Inference-mode forward with given statistics (reference: batchNormInferenceForward). */
export function batchNormInferenceForward(
  x: Float32Array,
  shape: readonly number[],
  mean: Float32Array,
  variance: Float32Array,
  gamma: Float32Array | null,
  beta: Float32Array | null,
  eps: number,
): Float32Array {
  const wk = kernels();
  if (!wk) return refBatchNormInferenceForward(x, shape, mean, variance, gamma, beta, eps) as Float32Array;
  const { k } = wk;
  const { n, c, s, size } = batchNormLayout(shape, x.length);
  const a = k.arena;
  a.reset();
  const xa = a.copyIn(exact('x', x, size));
  const ma = a.copyIn(exact('mean', mean, c));
  const va = a.copyIn(exact('variance', variance, c));
  const ga = gamma ? a.copyIn(exact('gamma', gamma, c)) : 0;
  const ba = beta ? a.copyIn(exact('beta', beta, c)) : 0;
  const y = outputSlot(a, 'float32', size);
  runSplit(k, c, 1, size >= SPLIT_MIN_ELEMENTS, (c0, c1) => ({ fn: 'bn_inference_fwd', args: [xa, y.address, ma, va, ga, ba, n, c, s, eps, c0, c1] }));
  return finishOutput(a, y);
}

/** Training-mode backward through the batch statistics (reference: batchNormBackward). */
export function batchNormBackward(
  dy: Float32Array,
  x: Float32Array,
  shape: readonly number[],
  mean: Float32Array,
  invStd: Float32Array,
  gamma: Float32Array | null,
): { dx: Float32Array; dgamma: Float32Array; dbeta: Float32Array } {
  const wk = kernels();
  if (!wk) return refBatchNormBackward(dy, x, shape, mean, invStd, gamma) as { dx: Float32Array; dgamma: Float32Array; dbeta: Float32Array };
  const { k } = wk;
  const { n, c, s, size } = batchNormLayout(shape, x.length);
  if (dy.length < size) throw new Error('batchNormBackward: dy is smaller than x');
  const a = k.arena;
  a.reset();
  const dya = a.copyIn(exact('dy', dy, size));
  const xa = a.copyIn(exact('x', x, size));
  const ma = a.copyIn(exact('mean', mean, c));
  const ia = a.copyIn(exact('invStd', invStd, c));
  const ga = gamma ? a.copyIn(exact('gamma', gamma, c)) : 0;
  const dx = outputSlot(a, 'float32', size);
  const grads = a.alloc(2 * c * 4);
  runSplit(k, c, 1, size >= SPLIT_MIN_ELEMENTS, (c0, c1) => ({ fn: 'bn_bwd', args: [dya, xa, ma, ia, ga, dx.address, grads, grads + c * 4, a.alloc(16), n, c, s, c0, c1] }));
  return { dx: finishOutput(a, dx), dgamma: copyOutF32(a.f32(grads, c)), dbeta: copyOutF32(a.f32(grads + c * 4, c)) };
}
