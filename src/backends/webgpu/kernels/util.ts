import type { KernelOutput, KernelTensor } from '../../backend.js';
import { registerKernel, type KernelAttrs } from '../../registry.js';
import type { WebGPUBackend, WebGPUStorage } from '../backend.js';

export type GpuKernel = (backend: WebGPUBackend, inputs: readonly KernelTensor[], attrs: KernelAttrs) => KernelOutput[];

/** Registers a kernel of the webgpu backend under the cpu kernel's name (same inputs and attrs). */
export function gpuKernel(name: string, fn: GpuKernel): void {
  registerKernel('webgpu', name, (backend, inputs, attrs) => fn(backend as WebGPUBackend, inputs, attrs));
}

/** The GPU storage of a kernel input. */
export const storageOf = (t: KernelTensor): WebGPUStorage => t.storage as WebGPUStorage;

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** A WGSL f32 literal of `v` (finite values only). */
export function f32Literal(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`internal: ${v} has no WGSL f32 literal`);
  const s = Math.fround(v).toString();
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

export { stridesOf } from '../../strides.js';
