/**
 * Model-zoo parity with torchvision: every file in test/fixtures/zoo (written by
 * scripts/make-zoo-fixtures.py from torchvision's own code at reduced width/depth, with
 * randomised statistics) is loaded strictly into the fovea model it names and run in eval
 * mode on both CPU kernel sets. Tolerance: max |fovea - torch| <= 1e-4 x max |torch|.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createModel, noGrad, setCpuKernels, cpuKernels, initThreads } from '../../src/index.js';
import { loadSafetensors } from '../../src/io/state-dict.js';
import { maxAbsError } from '../helpers/compare.js';
import type { CpuKernelMode } from '../../src/backends/cpu/kernel-mode.js';

const dir = fileURLToPath(new URL('../fixtures/zoo/', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort();

await initThreads();

for (const file of files) {
  const { tensors, metadata } = await loadSafetensors(dir + file);
  const input = tensors.get('__input__')!;
  const expected = tensors.get('__output__')!;
  tensors.delete('__input__');
  tensors.delete('__output__');
  const options = JSON.parse(metadata.options ?? '{}') as Record<string, unknown>;
  for (const mode of ['wasm', 'reference'] as CpuKernelMode[]) {
    test(`${file.replace('.safetensors', '')} (${metadata.model}) matches torchvision, ${mode} kernels`, () => {
      const before = cpuKernels();
      setCpuKernels(mode);
      try {
        const model = createModel(metadata.model, { ...options, weights: tensors }).eval();
        const output = noGrad(() => model.forward(input));
        const { err, scale } = maxAbsError(output, expected);
        output.dispose();
        model.dispose();
        assert.ok(err <= 1e-4 * scale, `max abs error ${err.toExponential(2)} > 1e-4 x ${scale.toExponential(2)}`);
      } finally {
        setCpuKernels(before);
      }
    });
  }
}
