/**
 * The epilogue of a convolution, on its output in WebAssembly memory:
 * y = activation(y + residual), in place, while the output is still hot in cache. Saves the
 * separate add and activation kernels, their passes over memory and their output arrays.
 * Split over the thread pool in element ranges when there is enough of it.
 */
import type { WasmKernels } from './module.js';
import { runElementwise } from './split.js';
import { ACTIVATION_OPS, type ActivationName } from './activation.js';

export interface ConvEpilogue {
  residual: Float32Array | null;
  activation: ActivationName | null;
}

export function hasEpilogue(e: ConvEpilogue | undefined): e is ConvEpilogue {
  return !!e && (e.residual !== null || e.activation !== null);
}

/** Applies `e` to the n floats at address y (the output: on the tensor heap or in the call's arena). */
export function applyEpilogue(k: WasmKernels, y: number, n: number, e: ConvEpilogue): void {
  if (e.residual && e.residual.length < n) throw new Error(`conv2d: residual has ${e.residual.length} elements, expected ${n}`);
  const r = e.residual ? k.arena.copyIn(e.residual.subarray(0, n)) : 0;
  const op = e.activation === null ? -1 : ACTIVATION_OPS[e.activation];
  if (r) runElementwise(k, n, (i0, len) => ({ fn: 'add_f32', args: [y + 4 * i0, r + 4 * i0, y + 4 * i0, len] }));
  if (op >= 0) runElementwise(k, n, (i0, len) => ({ fn: 'act_fwd', args: [op, y + 4 * i0, y + 4 * i0, len] }));
}
