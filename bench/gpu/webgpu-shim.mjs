// The `webgpu` package as the bundled benches see it (bench/gpu/run-h100.sh installs this file as
// .dev/bench/node_modules/webgpu/index.mjs, which Node finds before any other `webgpu` when a bundle
// in .dev/bench does `import('webgpu')`): the real package (Dawn), with one flag added to create():
// `disable-dawn-features=timestamp_quantization`.
//
// Dawn quantizes timestamp-query values to 65,536 ns by default (a guard against timing attacks in
// browsers; seen with webgpu@0.6.2 on lavapipe: every timestamp a multiple of 65,536). fovea's
// src/backends/webgpu/device.ts calls create(['enable-dawn-features=vulkan_enable_f16_on_nvidia'])
// only, so profileWebGPU's per-kernel times come in steps of 65.5 µs, which on an H100 is longer
// than many kernels. With the toggle off they are the GPU's own timestamps.
//
// The real package: $WEBGPU_MODULE (set by ../shared/gpu/gpu-host-setup.sh on the GPU host), else
// the repository's node_modules/webgpu (development machine).
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const path = process.env.WEBGPU_MODULE ?? createRequire(new URL('../../../../package.json', import.meta.url)).resolve('webgpu');
const real = await import(pathToFileURL(path).href);

export const globals = real.globals;

export function create(flags = []) {
  const toggle = 'timestamp_quantization';
  const i = flags.findIndex((f) => f.startsWith('disable-dawn-features='));
  const merged = [...flags];
  if (i >= 0) merged[i] = `${flags[i]},${toggle}`;
  else merged.push(`disable-dawn-features=${toggle}`);
  globalThis.__foveaBenchTimestamps = 'exact (Dawn timestamp_quantization disabled by bench/gpu/webgpu-shim.mjs)';
  return real.create(merged);
}

export default { create, globals };
