/**
 * Activations and their gradients on the WebAssembly SIMD kernels (assembly/activation.ts):
 * relu, relu6, sigmoid, tanh, silu, gelu (exact erf form), hardswish, hardsigmoid, with the
 * semantics of the reference `unary` / `unaryGrad` in ../kernels/elementwise.ts and results
 * within a few float32 ulps of them (the reference evaluates in f64 and rounds once).
 *
 * The kernel copies its input into WebAssembly memory and its result out again; for small
 * tensors that round trip and the call cost more than the reference loop saves, so the cpu
 * backend calls these only from WASM_ACTIVATION_MIN_SIZE[op] elements up (see `useWasmActivation`).
 */
import type { UnaryGradName, UnaryName } from '../kernels/elementwise.js';
import { takeArray } from '../array-pool.js';
import { wasmKernels } from './module.js';
import { runElementwise } from './split.js';
import { outputAddress } from './arena.js';

/** Op codes of assembly/activation.ts. */
export const ACTIVATION_OPS: Readonly<Record<UnaryGradName, number>> = {
  relu: 0,
  relu6: 1,
  sigmoid: 2,
  tanh: 3,
  silu: 4,
  gelu: 5,
  hardswish: 6,
  hardsigmoid: 7,
};

export type ActivationName = UnaryGradName;

/**
 * Below this many elements the reference kernels run: there the copy into and out of
 * WebAssembly memory plus the call cost more than the SIMD kernel saves. Measured crossovers
 * (Node 20, AMD EPYC): relu about 512 to 1024 elements forward and 1024 to 2048 for its
 * gradient (the reference relu is a tight monomorphic loop); every other activation already
 * wins at 64 to 128 elements (the reference evaluates exp/erf in f64 per element). The
 * thresholds below keep a margin of about 2x.
 */
export const WASM_ACTIVATION_MIN_SIZE: Readonly<Record<ActivationName, number>> = {
  relu: 4096,
  relu6: 256,
  sigmoid: 256,
  tanh: 256,
  silu: 256,
  gelu: 256,
  hardswish: 256,
  hardsigmoid: 256,
};

export function isActivation(name: UnaryName): name is ActivationName {
  return Object.prototype.hasOwnProperty.call(ACTIVATION_OPS, name);
}

/** Whether the cpu backend should run `name` on n float32 elements with the WebAssembly kernels. */
export function useWasmActivation(name: UnaryName, n: number): name is ActivationName {
  return isActivation(name) && n >= WASM_ACTIVATION_MIN_SIZE[name];
}

/** out = f(x) (reference: unary). Throws if the WebAssembly kernels are unavailable. */
export function activationForward(name: ActivationName, x: Float32Array, out: Float32Array = takeArray('float32', x.length) as Float32Array): Float32Array {
  const k = wasmKernels();
  if (!k) throw new Error('activationForward: the WebAssembly kernels are unavailable');
  const n = x.length;
  const a = k.arena;
  a.reset();
  const xa = a.copyIn(x);
  const direct = outputAddress(a, out);
  const ya = direct >= 0 ? direct : a.alloc(n * 4);
  runElementwise(k, n, (i0, len) => ({ fn: 'act_fwd', args: [ACTIVATION_OPS[name], xa + 4 * i0, ya + 4 * i0, len] }));
  if (direct < 0) out.set(a.f32(ya, n));
  return out;
}

/** out = dy * f'(x) (reference: unaryGrad). Throws if the WebAssembly kernels are unavailable. */
export function activationBackward(name: ActivationName, x: Float32Array, dy: Float32Array, out: Float32Array = takeArray('float32', x.length) as Float32Array): Float32Array {
  const k = wasmKernels();
  if (!k) throw new Error('activationBackward: the WebAssembly kernels are unavailable');
  const n = x.length;
  if (dy.length < n) throw new Error(`activationBackward: dy has ${dy.length} elements, x has ${n}`);
  const a = k.arena;
  a.reset();
  const xa = a.copyIn(x);
  const dya = a.copyIn(dy.length === n ? dy : dy.subarray(0, n));
  const direct = outputAddress(a, out);
  const dxa = direct >= 0 ? direct : a.alloc(n * 4);
  runElementwise(k, n, (i0, len) => ({ fn: 'act_grad', args: [ACTIVATION_OPS[name], xa + 4 * i0, dya + 4 * i0, dxa + 4 * i0, len] }));
  if (direct < 0) out.set(a.f32(dxa, n));
  return out;
}
