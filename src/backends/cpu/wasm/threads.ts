import { availableParallelism } from 'node:os';
import { wasmKernels } from './module.js';
import { ThreadPool } from './thread-pool.js';

function defaultThreads(): number {
  const env = typeof process !== 'undefined' ? process.env.FOVEA_THREADS : undefined;
  if (env !== undefined) {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`FOVEA_THREADS must be a positive integer, got '${env}'`);
    return n;
  }
  return availableParallelism();
}

let requested = defaultThreads();
let pool: ThreadPool | null = null;
let starting: Promise<void> | null = null;

/**
 * Sets how many threads the WebAssembly kernels use (default: os.availableParallelism(), or
 * the FOVEA_THREADS environment variable). 1 runs everything on the calling thread.
 */
export async function setNumThreads(n: number): Promise<void> {
  if (!Number.isInteger(n) || n < 1) throw new Error(`setNumThreads: expected a positive integer, got ${n}`);
  requested = n;
  if (pool) {
    const old = pool;
    pool = null;
    starting = null;
    await old.stop();
  }
  await initThreads();
}

export function numThreads(): number {
  return requested;
}

/** Starts the worker threads now and resolves when they have joined. */
export async function initThreads(): Promise<void> {
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
  if (!kernels) return null;
  pool = new ThreadPool(kernels, requested);
  starting = pool.start();
  return pool;
}
