// Runs in Chromium (bundled by test/browser/browser.test.ts): loads fovea's browser entry, its
// WebAssembly kernels and (on cross-origin-isolated pages) its Web Worker pool, checks a
// convolution, a matrix product and a whole model against the TypeScript reference kernels,
// and reports what it saw to the test (./report.ts).
import { initWasm, initThreads, setNumThreads, setCpuKernels, createModel, randn, manualSeed, conv2d, matmul, noGrad, type Tensor } from '../../src/browser.js';
import { wasmKernels } from '../../src/backends/cpu/wasm/module.js';
import { threadPool } from '../../src/backends/cpu/wasm/threads.js';
import { maxRelativeError } from '../helpers/compare.js';
import { report } from './report.js';

function both(fn: () => Tensor): number {
  setCpuKernels('wasm');
  const fast = fn();
  setCpuKernels('reference');
  const ref = fn();
  setCpuKernels('wasm');
  return maxRelativeError(fast, ref);
}

async function run(): Promise<Record<string, unknown>> {
  await initWasm({ baseUrl: new URL('/build/', location.href) });
  await setNumThreads(2);
  await initThreads();
  manualSeed(1);
  const x = randn([2, 8, 17, 19]);
  const w = randn([16, 8, 3, 3]);
  const a = randn([70, 130]);
  const b = randn([130, 90]);
  const model = createModel('resnet8-cifar', { numClasses: 10 }).eval();
  const img = randn([2, 3, 32, 32]);
  return {
    variant: wasmKernels()?.variant ?? null,
    poolThreads: threadPool()?.threads ?? 1,
    isolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated ?? false,
    convErr: both(() => conv2d(x, w, null, { stride: 1, padding: 1 })),
    matmulErr: both(() => matmul(a, b)),
    modelErr: both(() => noGrad(() => model.forward(img))),
  };
}

report(run);
