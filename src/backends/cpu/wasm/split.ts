import type { WasmKernels } from './module.js';
import type { Task } from './thread-pool.js';
import { kernelPool } from './threads.js';
import { splitRange, taskParts } from './gemm.js';

/** Elements from which an element-wise pass is split over the thread pool. */
const THREAD_MIN_ELEMENTS = 1 << 16;

/**
 * An element-wise pass over n floats: `whole()` on the calling thread, or, with a pool and
 * enough elements, `part(i0, len)` tasks over ranges whose starts are multiples of 4 floats
 * (so every task's vectors stay 16-byte aligned).
 */
export function runElementwise(k: WasmKernels, n: number, part: (i0: number, len: number) => Task, whole: () => void): void {
  const pool = n >= THREAD_MIN_ELEMENTS ? kernelPool(k) : null;
  if (!pool) return whole();
  const cuts = splitRange(n, 4, taskParts(pool));
  pool.run(cuts.slice(1).map((end, j) => part(cuts[j], end - cuts[j])));
}
