import { wasmKernels, type WasmKernels } from './wasm/module.js';
import { envVar } from '../../platform.js';

/**
 * Which implementation the cpu backend runs: 'wasm' (WebAssembly SIMD kernels, the default
 * where the runtime supports them) or 'reference' (the TypeScript kernels, always available,
 * the oracle in tests). float64 tensors always use the reference kernels.
 */
export type CpuKernelMode = 'wasm' | 'reference';

const fromEnv = envVar('FOVEA_CPU_KERNELS');
if (fromEnv !== undefined && fromEnv !== 'wasm' && fromEnv !== 'reference') {
  throw new Error(`FOVEA_CPU_KERNELS must be 'wasm' or 'reference', got '${fromEnv}'`);
}
let mode: CpuKernelMode = (fromEnv as CpuKernelMode | undefined) ?? 'wasm';

export function setCpuKernels(next: CpuKernelMode): void {
  if (next !== 'wasm' && next !== 'reference') throw new Error(`setCpuKernels: expected 'wasm' or 'reference', got '${String(next)}'`);
  mode = next;
}

/** The mode asked for (the WebAssembly kernels may still be unavailable; see activeWasm). */
export function cpuKernels(): CpuKernelMode {
  return mode;
}

/** The WebAssembly kernels when they are selected and available, else null. */
export function activeWasm(): WasmKernels | null {
  return mode === 'wasm' ? wasmKernels() : null;
}
