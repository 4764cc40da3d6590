/**
 * The epilogue of a convolution whose output still sits in WebAssembly memory:
 * y = activation(y + residual), in place, before the single copy out. Saves the separate add
 * and activation kernels their copies in and out and their output arrays. Split over the
 * thread pool in element ranges when there is enough of it.
 */
import type { WasmKernels } from './module.js';
import type { Task } from './thread-pool.js';
import { kernelPool } from './threads.js';
import { splitRange, taskParts } from './gemm.js';
import { ACTIVATION_OPS, type ActivationName } from './activation.js';

export interface ConvEpilogue {
  residual: Float32Array | null;
  activation: ActivationName | null;
}

interface EpilogueExports {
  add_f32(a: number, b: number, out: number, n: number): void;
  act_fwd(op: number, x: number, out: number, n: number): void;
}

/** Below this many elements one thread does the whole pass. */
const THREAD_MIN_ELEMENTS = 1 << 16;

export function hasEpilogue(e: ConvEpilogue | undefined): e is ConvEpilogue {
  return !!e && (e.residual !== null || e.activation !== null);
}

/** Applies `e` to the n floats at address y (arena memory of the current call). */
export function applyEpilogue(k: WasmKernels, y: number, n: number, e: ConvEpilogue): void {
  if (e.residual && e.residual.length < n) throw new Error(`conv2d: residual has ${e.residual.length} elements, expected ${n}`);
  const r = e.residual ? k.arena.copyIn(e.residual.subarray(0, n)) : 0;
  const op = e.activation === null ? -1 : ACTIVATION_OPS[e.activation];
  const pool = n >= THREAD_MIN_ELEMENTS ? kernelPool(k) : null;
  if (!pool) {
    const ex = k.exports as unknown as EpilogueExports;
    if (r) ex.add_f32(y, r, y, n);
    if (op >= 0) ex.act_fwd(op, y, y, n);
    return;
  }
  // Ranges in multiples of 4 floats keep every task's vectors 16-byte aligned.
  const cuts = splitRange(n, 4, taskParts(pool));
  const ranges = cuts.slice(1).map((end, j) => [cuts[j], end]);
  if (r) pool.run(ranges.map(([a, b]): Task => ({ fn: 'add_f32', args: [y + 4 * a, r + 4 * a, y + 4 * a, b - a] })));
  if (op >= 0) pool.run(ranges.map(([a, b]): Task => ({ fn: 'act_fwd', args: [op, y + 4 * a, y + 4 * a, b - a] })));
}
