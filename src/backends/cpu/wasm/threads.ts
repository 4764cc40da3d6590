import { initWasm, wasmKernels, type WasmKernels } from './module.js';
import { CONTROL_OFFSET, ThreadPool } from './thread-pool.js';
import { envVar, hardwareThreads } from '../../../platform.js';

function defaultThreads(): number {
  const env = envVar('FOVEA_THREADS');
  if (env !== undefined) {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`FOVEA_THREADS must be a positive integer, got '${env}'`);
    return n;
  }
  return hardwareThreads();
}

/** Int32 slots of the thread pool's control-block header (thread-pool.ts HEADER_INTS). */
const CONTROL_HEADER_INTS = 16;

let requested = defaultThreads();
let pool: ThreadPool | null = null;
let starting: Promise<void> | null = null;

/**
 * Sets how many threads the WebAssembly kernels use (default: os.availableParallelism() in
 * Node, navigator.hardwareConcurrency in browsers, or the FOVEA_THREADS environment variable).
 * 1 runs everything on the calling thread. Browser pages that are not cross-origin isolated
 * cannot share memory and always run on one thread.
 */
export async function setNumThreads(n: number): Promise<void> {
  if (!Number.isInteger(n) || n < 1) throw new Error(`setNumThreads: expected a positive integer, got ${n}`);
  requested = n;
  if (pool) {
    const old = pool;
    pool = null;
    starting = null;
    await old.stop();
    // A worker terminated while passing through the task loop (woken late, after the caller had
    // taken every task itself) never decrements the control block's count of active workers,
    // and the next pool's first run() would spin on it forever. (A hang like that, the caller
    // spinning at 100% CPU, was seen once while switching 1 <-> 2 threads between GEMMs on a
    // heavily loaded machine.) Every worker of the old pool has exited now: start the next pool
    // from a clean control block.
    const k = wasmKernels();
    if (k) new Int32Array(k.memory.buffer, CONTROL_OFFSET, CONTROL_HEADER_INTS).fill(0);
  }
  await initThreads();
}

export function numThreads(): number {
  return requested;
}

/**
 * Loads the kernels (browsers fetch the .wasm here) and starts the worker threads; resolves
 * when they have joined. Optional in Node, where both happen on first use.
 */
export async function initThreads(): Promise<void> {
  await initWasm();
  threadPool();
  await starting;
}

/**
 * The pool for kernel tasks, or null when single-threaded or WebAssembly is unavailable. It
 * starts its workers in the background on first use; until they join, work runs on the
 * calling thread.
 */
export function threadPool(): ThreadPool | null {
  if (requested <= 1) return null;
  if (pool) return pool;
  const kernels = wasmKernels();
  if (!kernels || !kernels.variant.shared) return null;
  pool = new ThreadPool(kernels, requested);
  starting = pool.start();
  return pool;
}

/**
 * The pool to split a kernel call over: threadPool() when it serves these kernels and more than
 * one thread has joined, else null (run on the calling thread). Kernels size their splits by
 * `pool.threads`; every split they make computes the single-threaded result bit for bit, so the
 * number of workers that happen to have joined never changes a result.
 */
export function kernelPool(k: WasmKernels): ThreadPool | null {
  const pool = threadPool();
  return pool && pool.threads > 1 && wasmKernels() === k ? pool : null;
}
