/**
 * Shared by the webgpu tests: initialises the backend once per file (or explains why the tests
 * skip), runs a kernel on the cpu backend (the oracle) and on webgpu with the same inputs, and
 * compares every output.
 */
import assert from 'node:assert/strict';
import { initWebGPU, runKernel, setBackend, tensor, Rng, type Tensor, type TypedArray, type DType } from '../../../src/index.js';

/** Why the webgpu tests skip on this machine, or null when an adapter is available. */
export const skipReason: string | null = await initWebGPU().then(
  () => null,
  (e: Error) => `no WebGPU adapter, webgpu tests skipped: ${e.message}`,
);
if (skipReason) console.log(`# ${skipReason}`);

export interface Input {
  values: TypedArray;
  shape: number[];
}

export function randomInput(shape: number[], rng: Rng, low = -1, high = 1): Input {
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = rng.uniform(low, high);
  return { values, shape };
}

export function intInput(shape: number[], rng: Rng, n: number): Input {
  const values = new Int32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = rng.int(n);
  return { values, shape };
}

/** Tensors on `backend` holding copies of `inputs`. */
export function upload(backend: string, inputs: readonly Input[]): Tensor[] {
  setBackend(backend);
  return inputs.map((i) => tensor(i.values.slice(), i.shape));
}

/**
 * Asserts |actual - expected| <= rtol * scale elementwise, scale defaulting to max(|expected|):
 * float32 kernels summing in a different order than the oracle differ by rounding relative to
 * the magnitudes summed, not to each (possibly cancelled) result.
 */
export function assertClose(actual: TypedArray, expected: TypedArray, rtol: number, what: string, scale = maxAbs(expected)): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const tol = rtol * Math.max(scale, 1e-30);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    const a = actual[i];
    if (!Number.isFinite(e) || Number.isNaN(e)) {
      assert.ok(Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e)), `${what}[${i}]: expected ${e}, got ${a}`);
      continue;
    }
    if (Math.abs(a - e) > tol) assert.fail(`${what}[${i}]: expected ${e}, got ${a} (|diff| ${Math.abs(a - e)} > ${tol})`);
  }
}

/** The largest finite magnitude in `values`. */
export function maxAbs(values: TypedArray): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) m = Math.max(m, Math.abs(values[i]));
  return m;
}

/** Runs `kernel` on both backends and compares all outputs (shapes, dtypes and values). */
export async function compareKernel(kernel: string, inputs: readonly Input[], attrs: Record<string, unknown>, rtol = 1e-5, label = kernel): Promise<void> {
  const cpuOut = runKernel(kernel, upload('cpu', inputs), { ...attrs, backend: 'cpu' });
  const gpuOut = runKernel(kernel, upload('webgpu', inputs), { ...attrs, backend: 'webgpu' });
  setBackend('cpu');
  assert.equal(gpuOut.length, cpuOut.length, `${label}: number of outputs`);
  for (let k = 0; k < cpuOut.length; k++) {
    assert.deepEqual(gpuOut[k].shape, cpuOut[k].shape, `${label} output ${k}: shape`);
    assert.equal(gpuOut[k].dtype, cpuOut[k].dtype, `${label} output ${k}: dtype`);
    assertClose(await gpuOut[k].data(), await cpuOut[k].data(), rtol, `${label} output ${k}`);
  }
  for (const t of [...cpuOut, ...gpuOut]) t.dispose();
}

export type { DType };
