import { readFileSync } from 'node:fs';
import { Arena } from './arena.js';

/** The raw exports of build/fovea-kernels.wasm (see assembly/). Addresses are byte offsets. */
export interface KernelExports {
  add_f32(a: number, b: number, out: number, n: number): void;
  [name: string]: unknown;
}

export interface WasmKernels {
  exports: KernelExports;
  memory: WebAssembly.Memory;
  /** The module, to instantiate again on worker threads over the same memory. */
  module: WebAssembly.Module;
  arena: Arena;
}

const WASM_URL = new URL('../../../../build/fovea-kernels.wasm', import.meta.url);
const MAX_PAGES = 65536;

// A minimal module using v128 (i8x16.splat + drop): validates only where SIMD is supported.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 10, 9, 1, 7, 0, 65, 0, 253, 15, 26, 11]);

export function hasWasmSimd(): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
}

let loaded: WasmKernels | null | undefined;
let loadError: Error | null = null;

/**
 * The WebAssembly kernels, instantiated on first use over a shared memory (so worker threads
 * can join later), or null where WebAssembly SIMD or the built module is unavailable (the
 * reference kernels then run). `wasmLoadError()` says why.
 */
export function wasmKernels(): WasmKernels | null {
  if (loaded !== undefined) return loaded;
  try {
    if (!hasWasmSimd()) throw new Error('this runtime has no WebAssembly SIMD');
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(WASM_URL);
    } catch {
      throw new Error(`the kernel module ${WASM_URL.pathname} is missing: run 'npm run build:wasm'`);
    }
    const module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    const memory = new WebAssembly.Memory({ initial: 256, maximum: MAX_PAGES, shared: true });
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    loaded = { exports: instance.exports as unknown as KernelExports, memory, module, arena: new Arena(memory) };
  } catch (e) {
    loadError = e as Error;
    loaded = null;
  }
  return loaded;
}

export function wasmLoadError(): Error | null {
  wasmKernels();
  return loadError;
}

/** The kernels with their exports typed as `T` (one family's functions), or null when unavailable. */
export function kernelsWith<T>(): { k: WasmKernels; ex: T } | null {
  const k = wasmKernels();
  return k ? { k, ex: k.exports as unknown as T } : null;
}
