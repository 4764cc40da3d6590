import type { WasmKernels } from './module.js';
import type { Task } from './thread-pool.js';
import { kernelPool } from './threads.js';
import { splitRange, taskParts } from './gemm.js';

/** Elements from which an element-wise or per-channel pass is worth splitting over the thread pool. */
export const SPLIT_MIN_ELEMENTS = 1 << 16;

/**
 * Runs a kernel over [0, count): `part(i0, i1)` describes the call for one range (boundaries
 * multiples of `unit`). With a pool and `worthSplitting`, the ranges run as pool tasks;
 * otherwise the whole range is one call on this thread. Each range must compute its elements
 * exactly as the whole call would, so results do not depend on the thread count.
 */
export function runSplit(k: WasmKernels, count: number, unit: number, worthSplitting: boolean, part: (i0: number, i1: number) => Task): void {
  const pool = worthSplitting && count > unit ? kernelPool(k) : null;
  if (!pool) {
    const { fn, args } = part(0, count);
    (k.exports[fn] as (...xs: number[]) => void)(...args);
    return;
  }
  const cuts = splitRange(count, unit, taskParts(pool));
  pool.run(cuts.slice(1).map((end, j) => part(cuts[j], end)));
}

/** runSplit for an element-wise pass over n floats (ranges of whole 16-byte vectors). */
export function runElementwise(k: WasmKernels, n: number, part: (i0: number, len: number) => Task): void {
  runSplit(k, n, 4, n >= SPLIT_MIN_ELEMENTS, (i0, i1) => part(i0, i1 - i0));
}
