/**
 * Whole models on webgpu against the cpu backend: resnet18 and mobilenet_v2 eval forwards (the
 * fused inference path: folded batch norm, conv epilogues) and one training step of each
 * (loss, every parameter's gradient, the SGD update). Same seed, same weights on both backends.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createModel, manualSeed, noGrad, ops, optim, setBackend, tensor, Rng, type Tensor } from '../../../src/index.js';
import { assertClose, maxAbs, randomInput, skipReason } from './helpers.js';

/** The model built from `seed` on `backend`, and a copy of `input` there. */
function build(backend: string, name: string, seed: number, opts: Record<string, unknown>) {
  setBackend(backend);
  manualSeed(seed);
  return createModel(name, opts);
}

async function evalForward(name: string, input: { values: Float32Array; shape: number[] }): Promise<void> {
  const outputs: Float32Array[] = [];
  for (const backend of ['cpu', 'webgpu']) {
    const model = build(backend, name, 7, { numClasses: 10 }).eval();
    const x = tensor(input.values.slice(), input.shape);
    const y = noGrad(() => model.forward(x));
    outputs.push((await y.data()) as Float32Array);
    y.dispose();
    x.dispose();
    model.dispose();
  }
  setBackend('cpu');
  assertClose(outputs[1], outputs[0], 1e-4, `${name} logits`);
}

/** One SGD step of `name` on both backends: the loss, every gradient and every updated parameter must agree. */
async function trainingStep(name: string): Promise<void> {
  // Batch 4 at 64x64: with fewer values per channel, training-mode batch norm on the last 2x2 maps normalises by
  // near-zero variances and amplifies float32 rounding far beyond what the kernels contribute.
  const input = randomInput([4, 3, 64, 64], new Rng(4));
  const labels = new Int32Array([3, 7, 0, 9]);
  const results: { loss: number; grads: Map<string, Float32Array>; updated: Map<string, Float32Array> }[] = [];
  for (const backend of ['cpu', 'webgpu']) {
    const model = build(backend, name, 11, { numClasses: 10 }).train();
    const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    const x = tensor(input.values.slice(), input.shape);
    const loss = ops.crossEntropy(model.forward(x), tensor(labels.slice(), [4], 'int32'));
    loss.backward();
    const grads = new Map<string, Float32Array>();
    for (const [param, p] of model.namedParameters()) grads.set(param, (await (p.grad as Tensor).data()) as Float32Array);
    opt.step();
    const updated = new Map<string, Float32Array>();
    for (const [param, p] of model.namedParameters()) updated.set(param, (await p.data()) as Float32Array);
    results.push({ loss: await loss.item(), grads, updated });
    model.dispose();
  }
  setBackend('cpu');
  const [cpu, gpu] = results;
  assert.ok(Math.abs(gpu.loss - cpu.loss) <= 1e-5 * Math.abs(cpu.loss), `${name} loss: cpu ${cpu.loss}, webgpu ${gpu.loss}`);
  // Gradients within 1e-4 of the model's largest gradient magnitude (about 1e-5 observed): float32
  // rounding accumulates through dozens of convolution and training-mode batch-norm layers, and
  // some gradients are rounding noise on both backends (a batch-norm shift feeding a convolution
  // and another training-mode batch norm has an exact gradient of zero), so a per-tensor scale
  // would compare noise with noise.
  const gradScale = Math.max(...[...cpu.grads.values()].map(maxAbs));
  for (const [param, expected] of cpu.grads) assertClose(gpu.grads.get(param)!, expected, 1e-4, `${name} grad ${param}`, gradScale);
  // The step moves each parameter by lr * gradient, so the updated values inherit the gradients'
  // tolerance, on the same model-wide scale (zero-initialised biases move by noise alone).
  const paramScale = Math.max(...[...cpu.updated.values()].map(maxAbs));
  for (const [param, expected] of cpu.updated) assertClose(gpu.updated.get(param)!, expected, 1e-4, `${name} updated ${param}`, paramScale);
}

describe('webgpu models vs cpu', { skip: skipReason ?? false }, () => {
  const rng = new Rng(64);

  test('resnet18 eval forward at 64x64, batch 2', async () => {
    await evalForward('resnet18', randomInput([2, 3, 64, 64], rng) as { values: Float32Array; shape: number[] });
  });

  test('mobilenet_v2 eval forward at 64x64, batch 1', async () => {
    await evalForward('mobilenet_v2', randomInput([1, 3, 64, 64], rng) as { values: Float32Array; shape: number[] });
  });

  test('resnet18 training step: loss, gradients and SGD update', async () => {
    await trainingStep('resnet18');
  });

  test('mobilenet_v2 training step: loss, gradients and SGD update', async () => {
    await trainingStep('mobilenet_v2');
  });
});
