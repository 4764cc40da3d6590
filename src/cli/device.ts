import { Option } from 'commander';
import { setBackend } from '../tensor/engine.js';
import { initWebGPU } from '../backends/webgpu/index.js';

export const DEVICES = ['cpu', 'webgpu'] as const;
export type Device = (typeof DEVICES)[number];

/** The `--device` option shared by the commands that compute. */
export function deviceOption(): Option {
  return new Option('--device <name>', 'where to compute: cpu (WebAssembly kernels) or webgpu (a GPU through WebGPU; Dawn in Node)').choices(DEVICES).default('cpu');
}

export const PRECISIONS = ['float32', 'float16'] as const;
export type Precision = (typeof PRECISIONS)[number];

/** The `--precision` option shared by the commands that compute. */
export function precisionOption(): Option {
  return new Option('--precision <p>', 'float16: mixed precision (float16 operands for convolutions and matrix products; float32 weights, sums and everything else)').choices(PRECISIONS).default('float32');
}

/** Makes `device` the backend new tensors live on (starting WebGPU first when asked). */
export async function useDevice(device: Device): Promise<void> {
  if (device === 'webgpu') await initWebGPU();
  setBackend(device);
}
