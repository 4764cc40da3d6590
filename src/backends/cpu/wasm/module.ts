import { Arena } from './arena.js';
import { WasmHeap } from './heap.js';
import { CONTROL_BYTES, CONTROL_OFFSET } from './thread-pool.js';
import { useWasmHeap } from '../array-pool.js';
import { canShareMemory, envVar, isNode, nodeBuiltin } from '../../../platform.js';

/** The raw exports of the kernel module (see assembly/). Addresses are byte offsets. */
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
  /** Which build runs: shared memory (threads possible) and relaxed SIMD (fused multiply-add). */
  variant: WasmVariant;
}

export interface WasmVariant {
  shared: boolean;
  relaxed: boolean;
}

// One literal URL per build, so that bundlers see and copy each file.
const FILES = {
  shared: new URL('../../../../build/fovea-kernels.wasm', import.meta.url),
  sharedRelaxed: new URL('../../../../build/fovea-kernels-relaxed.wasm', import.meta.url),
  single: new URL('../../../../build/fovea-kernels-single.wasm', import.meta.url),
  singleRelaxed: new URL('../../../../build/fovea-kernels-single-relaxed.wasm', import.meta.url),
};

function fileFor(v: WasmVariant): URL {
  if (v.shared) return v.relaxed ? FILES.sharedRelaxed : FILES.shared;
  return v.relaxed ? FILES.singleRelaxed : FILES.single;
}

const MAX_PAGES = 65536;

// Minimal modules that validate only where the feature exists: i8x16.splat + drop (SIMD) and
// f32x4.relaxed_madd of three zero vectors + drop (relaxed SIMD).
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 10, 9, 1, 7, 0, 65, 0, 253, 15, 26, 11]);
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 10, 20, 1, 18, 0,
  65, 0, 253, 15, 65, 0, 253, 15, 65, 0, 253, 15, 253, 133, 2, 26, 11,
]);

export function hasWasmSimd(): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
}

export function hasRelaxedSimd(): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(RELAXED_PROBE);
}

/**
 * The build this runtime should run: shared memory where threads can share it, relaxed SIMD
 * where the engine validates it (Chrome >= 114, Node >= 22; Node 20 behind
 * --experimental-wasm-relaxed-simd). FOVEA_WASM_RELAXED=0 forces plain SIMD and
 * FOVEA_WASM_SHARED=0 the unshared, single-threaded build (as on a page without cross-origin
 * isolation).
 */
export function preferredVariant(): WasmVariant {
  const sharedEnv = envVar('FOVEA_WASM_SHARED');
  if (sharedEnv !== undefined && sharedEnv !== '0' && sharedEnv !== '1') throw new Error(`FOVEA_WASM_SHARED must be '0' or '1', got '${sharedEnv}'`);
  const relaxedEnv = envVar('FOVEA_WASM_RELAXED');
  if (relaxedEnv !== undefined && relaxedEnv !== '0' && relaxedEnv !== '1') throw new Error(`FOVEA_WASM_RELAXED must be '0' or '1', got '${relaxedEnv}'`);
  const relaxed = relaxedEnv === '0' ? false : hasRelaxedSimd();
  if (relaxedEnv === '1' && !relaxed) throw new Error('FOVEA_WASM_RELAXED=1 but this runtime has no relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd)');
  return { shared: sharedEnv !== '0' && canShareMemory(), relaxed };
}

let loaded: WasmKernels | null | undefined;
let loadError: Error | null = null;
let preloaded: { bytes: Uint8Array; variant: WasmVariant } | null = null;

/** Per-call scratch space below the tensor heap (shared memory only; see heap.ts). */
const ARENA_BYTES = 1024 * 2 ** 20;

function instantiate(bytes: Uint8Array, variant: WasmVariant): WasmKernels {
  const module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  const memory = new WebAssembly.Memory({ initial: 256, maximum: MAX_PAGES, shared: variant.shared } as WebAssembly.MemoryDescriptor);
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const heapStart = CONTROL_OFFSET + CONTROL_BYTES + ARENA_BYTES;
  const useHeap = variant.shared && envVar('FOVEA_WASM_HEAP') !== '0';
  const arena = new Arena(memory, useHeap ? heapStart : Infinity);
  if (useHeap) {
    arena.heap = new WasmHeap(memory, heapStart);
    useWasmHeap(arena.heap);
  }
  return { exports: instance.exports as unknown as KernelExports, memory, module, arena, variant };
}

function readBuild(variant: WasmVariant): Uint8Array {
  const fs = nodeBuiltin<{ readFileSync(path: URL): Uint8Array }>('node:fs');
  if (!fs) {
    throw new Error("the WebAssembly kernels are not loaded yet: in browsers call 'await initWasm()' (or initThreads()) before the first operation");
  }
  const file = fileFor(variant);
  try {
    return fs.readFileSync(file);
  } catch {
    throw new Error(`the kernel module ${file.pathname} is missing: run 'npm run build:wasm'`);
  }
}

/**
 * The WebAssembly kernels, instantiated on first use (Node reads the build synchronously;
 * browsers must `await initWasm()` first), or null where WebAssembly SIMD or the module is
 * unavailable (the reference kernels then run). `wasmLoadError()` says why.
 */
export function wasmKernels(): WasmKernels | null {
  if (loaded !== undefined) return loaded;
  try {
    if (!hasWasmSimd()) throw new Error('this runtime has no WebAssembly SIMD');
    if (preloaded) {
      loaded = instantiate(preloaded.bytes, preloaded.variant);
    } else {
      const variant = preferredVariant();
      loaded = instantiate(readBuild(variant), variant);
    }
  } catch (e) {
    loadError = e as Error;
    // In a browser before initWasm(), stay unloaded so that a later initWasm() can still load.
    if (!isNode && !preloaded) return null;
    loaded = null;
  }
  return loaded;
}

/**
 * Fetches and instantiates the kernel build for this runtime (browsers need this once before
 * the first operation; in Node it is optional). `baseUrl` is where the build/*.wasm files are
 * served when a bundler does not place them itself; `bytes` passes a module directly (it must
 * match the variant: shared memory on cross-origin-isolated pages).
 */
export async function initWasm(opts: { baseUrl?: string | URL; bytes?: Uint8Array; variant?: WasmVariant } = {}): Promise<WasmKernels | null> {
  if (loaded) return loaded;
  if (!hasWasmSimd()) return wasmKernels();
  const variant = opts.variant ?? preferredVariant();
  let bytes = opts.bytes;
  if (!bytes) {
    if (isNode) return wasmKernels();
    const file = fileFor(variant);
    const url = opts.baseUrl ? new URL(file.pathname.split('/').pop()!, opts.baseUrl) : file;
    const response = await fetch(url);
    if (!response.ok) throw new Error(`initWasm: fetching ${url.href} failed with HTTP ${response.status}; serve fovea's build/*.wasm files or pass { baseUrl }`);
    bytes = new Uint8Array(await response.arrayBuffer());
  }
  preloaded = { bytes, variant };
  loaded = undefined;
  return wasmKernels();
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
