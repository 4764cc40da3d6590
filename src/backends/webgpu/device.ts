/// <reference types="@webgpu/types" />
/**
 * Finding a WebGPU device: navigator.gpu in browsers, Dawn (the optional npm package `webgpu`)
 * in Node, loaded lazily so that importing fovea needs neither the package nor a GPU.
 */
import { envVar, isNode, nodeBuiltin } from '../../platform.js';
import type { WebGPUFeatures } from './info.js';


export interface WebGPUContext {
  /**
   * Held for the device's lifetime: Dawn for Node destroys its instance when the GPU object is
   * garbage-collected, and pending map/submit events then crash the process.
   */
  gpu: GPU;
  adapter: GPUAdapter;
  device: GPUDevice;
  features: WebGPUFeatures;
  /** What the adapter says it is (vendor, architecture, device, description), for logs. */
  adapterInfo: string;
}

const HOW_TO_INSTALL_NODE =
  "In Node, install the optional package 'webgpu' (npm install webgpu) and a Vulkan driver; without a GPU, " +
  'Mesa >= 24 provides a CPU device (lavapipe): on Debian bookworm, add the bookworm-backports suite and run ' +
  "'apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1'. See docs/ARCHITECTURE.md (WebGPU).";
const HOW_TO_ENABLE_BROWSER = 'Use a browser with WebGPU enabled (Chrome/Edge >= 113, or Chromium with --enable-unsafe-webgpu) on a secure (https or localhost) page.';

/** Dawn needs a writable XDG_RUNTIME_DIR; headless machines and containers often lack one. */
function ensureRuntimeDir(): void {
  if (envVar('XDG_RUNTIME_DIR')) return;
  const os = nodeBuiltin<{ tmpdir(): string }>('node:os');
  const fs = nodeBuiltin<{ mkdirSync(p: string, o: { recursive: boolean; mode: number }): void }>('node:fs');
  const proc = (globalThis as { process?: { env: Record<string, string | undefined>; getuid?: () => number } }).process;
  if (!os || !fs || !proc) return;
  const dir = `${os.tmpdir()}/fovea-xdg-${proc.getuid ? proc.getuid() : 'user'}`;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  proc.env.XDG_RUNTIME_DIR = dir;
}

async function nodeGpu(): Promise<GPU> {
  ensureRuntimeDir();
  // A computed specifier: bundlers must not try to bundle the native Dawn module into a browser build.
  const specifier = 'webgpu';
  let mod: { create(flags: string[]): GPU; globals: object };
  try {
    mod = (await import(/* @vite-ignore */ specifier)) as typeof mod;
  } catch (e) {
    throw new Error(`initWebGPU: could not load the 'webgpu' package (${(e as Error).message}). ${HOW_TO_INSTALL_NODE}`);
  }
  // Dawn's GPUBufferUsage, GPUMapMode, ... as globals, the way browsers have them.
  Object.assign(globalThis, mod.globals);
  // Dawn hides 'shader-f16' on NVIDIA's Vulkan driver unless asked for it, and rounds timestamp
  // queries to 65.5 µs unless quantization is off (longer than many kernels on a fast GPU).
  // FOVEA_DAWN_ENABLE adds Dawn toggles (comma-separated names), for measuring their effect.
  const extra = envVar('FOVEA_DAWN_ENABLE');
  const enable = ['vulkan_enable_f16_on_nvidia', ...(extra ? extra.split(',').map((t) => t.trim()).filter(Boolean) : [])];
  return mod.create([`enable-dawn-features=${enable.join(',')}`, 'disable-dawn-features=timestamp_quantization']);
}

function describe(adapter: GPUAdapter): string {
  const info = adapter.info as Partial<GPUAdapterInfo> | undefined;
  if (!info) return 'unknown adapter';
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((p) => typeof p === 'string' && p.length > 0);
  return parts.length ? parts.join(' / ') : 'unnamed adapter';
}

/**
 * Requests an adapter and a device with the optional features the adapter offers and its
 * largest buffer and workgroup-memory limits. Throws, saying what to install, when there is
 * no WebGPU implementation or no adapter.
 */
export async function acquireDevice(): Promise<WebGPUContext> {
  let gpu: GPU | undefined;
  if (isNode) gpu = await nodeGpu();
  else gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) throw new Error(`initWebGPU: this runtime has no WebGPU (navigator.gpu is missing). ${HOW_TO_ENABLE_BROWSER}`);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new Error(`initWebGPU: no WebGPU adapter was found. ${isNode ? HOW_TO_INSTALL_NODE : HOW_TO_ENABLE_BROWSER}`);
  }
  const wanted: GPUFeatureName[] = ['shader-f16', 'subgroups', 'timestamp-query'];
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
    },
  });
  const has = (f: GPUFeatureName): boolean => device.features.has(f);
  return {
    gpu,
    adapter,
    device,
    features: { shaderF16: has('shader-f16'), subgroups: has('subgroups'), timestampQuery: has('timestamp-query') },
    adapterInfo: describe(adapter),
  };
}
