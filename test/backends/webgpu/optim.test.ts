/**
 * The fused optimiser kernels on webgpu against the cpu ones: SGD and AdamW run side by side on
 * both backends for a few steps (each backend feeding its own state forward), sizes with and
 * without the vec4 path, and one dispatch per parameter per step.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, getBackend, optim, setBackend, tensor, type Tensor } from '../../../src/index.js';
import type { WebGPUBackend } from '../../../src/backends/webgpu/backend.js';
import { assertClose, skipReason } from './helpers.js';

const SHAPES = [[3, 5], [2, 8], [1]];
const STEPS = 4;

type Make = (params: Tensor[]) => optim.Optimizer;

/** Steps `make` on cpu and webgpu with the same gradients and compares parameters and state after every step. */
async function compare(make: Make, label: string): Promise<void> {
  const rng = new Rng(11);
  const random = (shape: number[]): Float32Array => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(-2, 2));
  const initial = SHAPES.map(random);
  const sides = ['cpu', 'webgpu'].map((backend) => {
    setBackend(backend);
    const params = SHAPES.map((s, i) => tensor(initial[i].slice(), s).requiresGrad_());
    return { backend, params, opt: make(params) };
  });
  try {
    for (let step = 1; step <= STEPS; step++) {
      const grads = SHAPES.map(random);
      for (const { backend, params, opt } of sides) {
        setBackend(backend);
        if (step === 3) opt.lr *= 0.5;
        opt.zeroGrad();
        params.forEach((p, i) => (p.grad = tensor(grads[i].slice(), SHAPES[i])));
        opt.step();
      }
      const [cpu, gpu] = sides;
      for (let i = 0; i < SHAPES.length; i++) {
        assertClose(await gpu.params[i].data(), await cpu.params[i].data(), 1e-6, `${label} step ${step} param ${i}`);
      }
      const cpuState = cpu.opt.stateDict().tensors;
      const gpuState = gpu.opt.stateDict().tensors;
      assert.deepEqual([...gpuState.keys()], [...cpuState.keys()], `${label}: state names`);
      for (const [name, t] of cpuState) assertClose(await gpuState.get(name)!.data(), await t.data(), 1e-6, `${label} step ${step} ${name}`);
    }
  } finally {
    setBackend('cpu');
  }
}

/** Dispatches recorded on the webgpu backend while `fn` runs. */
function countDispatches(fn: () => void): number {
  const backend = getBackend('webgpu') as WebGPUBackend;
  const run = backend.run;
  let count = 0;
  backend.run = (...args) => (count++, run.apply(backend, args));
  try {
    fn();
  } finally {
    backend.run = run;
  }
  return count;
}

describe('webgpu optimiser kernels vs cpu', { skip: skipReason ?? false }, () => {
  test('SGD: plain, momentum, dampening, Nesterov, weight decay', async () => {
    const cases: optim.SgdOptions[] = [
      { lr: 0.1 },
      { lr: 0.1, weightDecay: 0.01 },
      { lr: 0.1, momentum: 0.9 },
      { lr: 0.1, momentum: 0.9, dampening: 0.3, weightDecay: 0.01 },
      { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 },
    ];
    for (const o of cases) await compare((p) => new optim.SGD(p, o), `SGD ${JSON.stringify(o)}`);
  });

  test('AdamW: default and other betas, eps, weight decay', async () => {
    const cases: optim.AdamWOptions[] = [
      { lr: 0.01 },
      { lr: 0.01, weightDecay: 0 },
      { lr: 0.01, betas: [0.5, 0.9], eps: 0.1, weightDecay: 0.1 },
    ];
    for (const o of cases) await compare((p) => new optim.AdamW(p, o), `AdamW ${JSON.stringify(o)}`);
  });

  test('one dispatch per parameter per step', async () => {
    for (const make of [(p: Tensor[]) => new optim.SGD(p, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 }), (p: Tensor[]) => new optim.AdamW(p, { lr: 0.01 })]) {
      setBackend('webgpu');
      try {
        const params = SHAPES.map((s) => tensor(new Float32Array(s.reduce((a, b) => a * b, 1)).fill(1), s).requiresGrad_());
        const opt = make(params);
        for (let step = 0; step < 2; step++) {
          params.forEach((p) => (p.grad = tensor(new Float32Array(p.size).fill(0.5), p.shape)));
          assert.equal(countDispatches(() => opt.step()), params.length);
          opt.zeroGrad();
        }
        await params[0].data();
      } finally {
        setBackend('cpu');
      }
    }
  });
});
