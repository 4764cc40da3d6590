/**
 * The webgpu backend: WGSL kernels under the cpu kernels' names, registered at import (pure
 * data, no GPU needed), and a backend factory that works once `initWebGPU()` has found a device.
 *
 *   await initWebGPU();
 *   setBackend('webgpu');
 */
import { ENGINE } from '../../tensor/engine.js';
import { acquireDevice } from './device.js';
import type { WebGPUInfo } from './info.js';
import { WebGPUBackend } from './backend.js';
import './kernels/elementwise.js';
import './kernels/shape.js';
import './kernels/reduce.js';
import './kernels/misc.js';
import './kernels/matmul.js';
import './kernels/conv2d.js';
import './kernels/pool2d.js';
import './kernels/batchnorm.js';
import './kernels/layernorm.js';
import './kernels/loss.js';
import './kernels/optim.js';

export type { WebGPUInfo, WebGPUFeatures } from './info.js';
export type { KernelTime, KernelProfile } from './profiler.js';
import type { KernelProfile } from './profiler.js';

let backend: WebGPUBackend | null = null;
let pending: Promise<WebGPUBackend> | null = null;

ENGINE.registerBackend('webgpu', () => {
  if (!backend) throw new Error("the webgpu backend is not initialised: call 'await initWebGPU()' before setBackend('webgpu')");
  return backend;
});

/**
 * Finds a WebGPU adapter and device (navigator.gpu in browsers, the optional `webgpu` package in
 * Node) and makes the 'webgpu' backend available to setBackend(). Safe to call more than once.
 * Throws, saying what to install or enable, when there is no adapter.
 */
export async function initWebGPU(): Promise<WebGPUInfo> {
  if (!backend) {
    pending ??= acquireDevice().then((context) => new WebGPUBackend(context));
    try {
      backend = await pending;
    } finally {
      pending = null;
    }
    const lost = backend.device.lost;
    void lost.then((info) => {
      if (info.reason !== 'destroyed') console.error(`fovea: the WebGPU device was lost (${info.message}); call initWebGPU() again`);
      backend = null;
      ENGINE.backends.delete('webgpu');
    });
  }
  return { adapter: backend.context.adapterInfo, features: backend.context.features };
}

/**
 * Runs `fn` on the webgpu backend with every kernel timed on the GPU (timestamp queries) and
 * returns the GPU milliseconds per kernel, slowest first: where a forward pass or a training
 * step spends its GPU time.
 */
export async function profileWebGPU(fn: () => unknown): Promise<KernelProfile> {
  if (!backend) throw new Error("the webgpu backend is not initialised: call 'await initWebGPU()' first");
  backend.startProfile();
  try {
    await fn();
  } catch (e) {
    await backend.stopProfile().catch(() => undefined);
    throw e;
  }
  return backend.stopProfile();
}
