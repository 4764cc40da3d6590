// Shared helpers for the WebAssembly kernel tests.
import assert from 'node:assert/strict';
import { Rng } from '../../../../src/tensor/rng.js';
import { wasmKernels, wasmLoadError, type WasmKernels } from '../../../../src/backends/cpu/wasm/module.js';
import { cpuKernels, setCpuKernels, type CpuKernelMode } from '../../../../src/backends/cpu/kernel-mode.js';

/** Relative tolerance of a float32 WebAssembly kernel against its reference twin. */
export const TOL = 1e-5;

/** The kernels; fails the test (with the reason) where they cannot load. */
export function kernels(): WasmKernels {
  const k = wasmKernels();
  assert.ok(k, `WebAssembly kernels unavailable: ${wasmLoadError()?.message}`);
  return k;
}

export function requireWasm(): void {
  kernels();
}

export function randomF32(rng: Rng, n: number, mean = 0, std = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal(mean, std);
  return a;
}

/** Runs `fn` with the cpu backend in `mode`, restoring the previous mode afterwards. */
export function withMode<T>(mode: CpuKernelMode, fn: () => T): T {
  const before = cpuKernels();
  setCpuKernels(mode);
  try {
    return fn();
  } finally {
    setCpuKernels(before);
  }
}
