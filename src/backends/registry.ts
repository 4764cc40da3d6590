import type { Backend, KernelOutput, KernelTensor } from './backend.js';

/** Attributes of a kernel call: plain data (numbers, arrays, booleans, strings). */
export type KernelAttrs = Record<string, unknown>;

export type KernelFn = (backend: Backend, inputs: readonly KernelTensor[], attrs: KernelAttrs) => KernelOutput[];

const kernels = new Map<string, KernelFn>();

const key = (backendName: string, kernelName: string): string => `${backendName}/${kernelName}`;

/** Registers the implementation of `kernelName` for `backendName` (later registrations replace earlier ones). */
export function registerKernel(backendName: string, kernelName: string, fn: KernelFn): void {
  kernels.set(key(backendName, kernelName), fn);
}

export function getKernel(backendName: string, kernelName: string): KernelFn {
  const fn = kernels.get(key(backendName, kernelName));
  if (!fn) {
    const available = listKernels(backendName);
    throw new Error(
      `kernel '${kernelName}' is not registered for backend '${backendName}'` +
        (available.length ? ` (it has ${available.length} kernels; see listKernels('${backendName}'))` : ' (the backend has no kernels: was it initialised?)'),
    );
  }
  return fn;
}

export function hasKernel(backendName: string, kernelName: string): boolean {
  return kernels.has(key(backendName, kernelName));
}

/** Kernel names registered for a backend, sorted: the op x backend coverage matrix. */
export function listKernels(backendName: string): string[] {
  const prefix = `${backendName}/`;
  return [...kernels.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)).sort();
}
