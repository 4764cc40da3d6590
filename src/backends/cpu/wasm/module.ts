import { Arena } from './arena.js';
import { WasmHeap } from './heap.js';
import { CONTROL_BYTES, CONTROL_OFFSET } from './thread-pool.js';
import { useWasmHeap } from '../array-pool.js';
import { canShareMemory, envVar, isNode, nodeBuiltin } from '../../../platform.js';
import { installedFovea, moduleFile, resolutionBases, SearchList } from '../../../asset-files.js';

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

// One literal `new URL(..., import.meta.url)` per build, so that bundlers that copy assets see
// each file. Where import.meta.url is empty (a CommonJS bundle) the URL is null and Node looks
// elsewhere (wasmSearchPaths).
function near(make: () => URL): URL | null {
  try {
    return make();
  } catch {
    return null;
  }
}

const FILES = {
  shared: near(() => new URL('../../../../build/fovea-kernels.wasm', import.meta.url)),
  sharedRelaxed: near(() => new URL('../../../../build/fovea-kernels-relaxed.wasm', import.meta.url)),
  single: near(() => new URL('../../../../build/fovea-kernels-single.wasm', import.meta.url)),
  singleRelaxed: near(() => new URL('../../../../build/fovea-kernels-single-relaxed.wasm', import.meta.url)),
};

/** The file name of a build: fovea-kernels[-single][-relaxed].wasm. */
export function wasmFileName(v: WasmVariant): string {
  return `fovea-kernels${v.shared ? '' : '-single'}${v.relaxed ? '-relaxed' : ''}.wasm`;
}

function fileFor(v: WasmVariant): URL | null {
  if (v.shared) return v.relaxed ? FILES.sharedRelaxed : FILES.shared;
  return v.relaxed ? FILES.singleRelaxed : FILES.single;
}

const REMEDY =
  "set FOVEA_WASM_DIR to the folder that holds fovea-kernels*.wasm (node_modules/fovea/build/, or build/ in a fovea checkout after 'npm run build:wasm'), " +
  'copy those files next to your bundle, or call initWasm({ bytes }) with the file\'s contents';

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

type NodeFs = { existsSync(path: string): boolean; readFileSync(path: string): Uint8Array };
type NodePath = { join(...parts: string[]): string; dirname(path: string): string };
type NodeUrl = { fileURLToPath(url: URL | string): string };

/**
 * Where Node looks for a build, in order: $FOVEA_WASM_DIR alone when it is set (an explicit
 * setting wins and is never second-guessed); else the literal URL beside the sources
 * (../../../../build/), this file's own folder (next to a bundle), build/ in the `fovea`
 * package that Node resolves from this file and then from the working directory, and build/
 * under the working directory. Each entry is [path, where it came from].
 */
export function wasmSearchPaths(variant: WasmVariant): [string, string][] {
  const path = nodeBuiltin<NodePath>('node:path')!;
  const url = nodeBuiltin<NodeUrl>('node:url')!;
  const name = wasmFileName(variant);
  const dir = envVar('FOVEA_WASM_DIR');
  if (dir) return [[path.join(dir, name), 'FOVEA_WASM_DIR']];
  const list = new SearchList();
  const file = fileFor(variant);
  if (file?.protocol === 'file:') list.add(url.fileURLToPath(file), 'beside the sources');
  const own = moduleFile(import.meta.url);
  if (own) list.add(path.join(path.dirname(own), name), 'next to the bundle');
  for (const [from] of resolutionBases(own)) {
    const pkg = installedFovea(from);
    if (pkg) list.add(path.join(pkg, 'build', name), 'installed fovea package');
  }
  const cwd = (globalThis as { process?: { cwd(): string } }).process!.cwd();
  list.add(path.join(cwd, 'build', name), 'working directory');
  return list.candidates.map((c) => [c.path!, c.where]);
}

/** The kernel build is nowhere to be found (as opposed to a runtime without WebAssembly SIMD). */
class WasmNotFoundError extends Error {}

function readBuild(variant: WasmVariant): Uint8Array {
  const fs = nodeBuiltin<NodeFs>('node:fs');
  if (!fs) {
    throw new Error("the WebAssembly kernels are not loaded yet: in browsers call 'await initWasm()' (or initThreads()) before the first operation");
  }
  const tried = wasmSearchPaths(variant);
  for (const [p] of tried) {
    if (fs.existsSync(p)) return fs.readFileSync(p);
  }
  const list = tried.map(([p, why]) => `\n  ${p} (${why})`).join('');
  const only = envVar('FOVEA_WASM_DIR') ? ' (FOVEA_WASM_DIR is set, so nowhere else was searched)' : '';
  throw new WasmNotFoundError(`fovea: the WebAssembly kernels (${wasmFileName(variant)}) were not found; looked in${only}:${list}\nTo fix: ${REMEDY}.`);
}

/**
 * The WebAssembly kernels, instantiated on first use (Node reads the build synchronously from
 * the first of wasmSearchPaths() that has it; browsers must `await initWasm()` first), or null
 * where WebAssembly SIMD or the module is unavailable (the reference kernels then run).
 * `wasmLoadError()` says why; in Node a build found nowhere is also reported once as a
 * FOVEA_WASM_NOT_FOUND process warning.
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
    // The reference kernels run instead; say so once, since that is many times slower.
    if (e instanceof WasmNotFoundError) {
      nodeBuiltin<{ emitWarning(msg: string, opts: { code: string }): void }>('node:process')?.emitWarning(
        `${e.message}\nRunning the TypeScript reference kernels instead.`,
        { code: 'FOVEA_WASM_NOT_FOUND' },
      );
    }
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
    const url = opts.baseUrl ? new URL(file ? file.pathname.split('/').pop()! : wasmFileName(variant), opts.baseUrl) : file;
    const remedy = "serve fovea's build/*.wasm files where your bundle expects them, pass initWasm({ baseUrl }) with the folder they are served from, or pass initWasm({ bytes })";
    if (!url) throw new Error(`initWasm: this bundle has no URL for ${wasmFileName(variant)} (import.meta.url is empty); ${remedy}`);
    let response: Response;
    try {
      response = await fetch(url);
    } catch (e) {
      throw new Error(`initWasm: fetching ${url.href} failed (${(e as Error).message}); ${remedy}`);
    }
    if (!response.ok) throw new Error(`initWasm: fetching ${url.href} failed with HTTP ${response.status}; ${remedy}`);
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
