/**
 * The platform-neutral part of fovea (tensors, ops, layers, optimisers, models, safetensors,
 * the cpu backend), shared by the Node entry (index.ts) and the browser entry (browser.ts).
 */
import './backends/cpu/index.js';

export { Tensor, leakedTensorCount, type GradFn } from './tensor/tensor.js';
export { ENGINE, getBackend, setBackend, manualSeed, noGrad, isGradEnabled, tidy, keep, memory, runKernel } from './tensor/engine.js';
export { autocast, isAutocasting, type AutocastOptions } from './tensor/autocast.js';
export { float16Bits, float16Value, toFloat16Bits, fromFloat16Bits } from './tensor/float16.js';
export { Rng } from './tensor/rng.js';
export type { DType, TypedArray } from './tensor/dtype.js';
export { registerKernel, listKernels, hasKernel } from './backends/registry.js';
export type { Backend, Storage, KernelTensor, KernelOutput } from './backends/backend.js';
export * from './ops/index.js';
export * as ops from './ops/index.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * from './models/index.js';
export { loadSafetensors, saveSafetensors } from './io/state-dict.js';
export * as io from './io/index.js';
export { setNumThreads, numThreads, initThreads } from './backends/cpu/wasm/threads.js';
export { initWasm, hasRelaxedSimd } from './backends/cpu/wasm/module.js';
export { setCpuKernels, cpuKernels } from './backends/cpu/kernel-mode.js';
export type { StateDict } from './nn/module.js';
export { initWebGPU, profileWebGPU, type WebGPUInfo, type KernelTime, type KernelProfile } from './backends/webgpu/index.js';
export * as image from './image/index.js';
