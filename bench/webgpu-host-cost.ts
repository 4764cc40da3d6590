/**
 * The JavaScript (and Dawn binding) time fovea spends recording one training step on WebGPU,
 * with the GPU taken out of the measurement: after a few real steps (pipelines compiled, buffers
 * pooled, bind groups cached) `queue.submit` is replaced by a no-op, so the recorded commands
 * never run and nothing waits for them. What remains is the host-side cost per step that a fast
 * GPU cannot hide: autograd, kernel selection, WGSL lookup, uniform packing, bind groups, Dawn's
 * encoder calls. Lavapipe is enough to measure it, and no GPU work competes for the cores.
 *
 *   XDG_RUNTIME_DIR=/tmp/xdg npx tsx bench/webgpu-host-cost.ts [--model canonical-cnn] [--batch 8]
 *                                   [--size 28] [--steps 400] [--runs 3] [--profile FILE]
 *
 * --profile writes a V8 CPU profile of the timed steps (open it in Chrome's DevTools).
 * Values computed after the stub are garbage; the process exits when done.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { createModel, getBackend, initWebGPU, manualSeed, ops, optim, randn, setBackend, tensor, tidy } from '../src/index.js';
import type { WebGPUBackend } from '../src/backends/webgpu/backend.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'canonical-cnn' },
    batch: { type: 'string', default: '8' },
    size: { type: 'string', default: '28' },
    steps: { type: 'string', default: '400' },
    runs: { type: 'string', default: '3' },
    profile: { type: 'string' },
  },
});
const batch = Number(values.batch);
const size = Number(values.size);
const steps = Number(values.steps);
const inChannels = values.model === 'canonical-cnn' ? 1 : 3;

const info = await initWebGPU();
setBackend('webgpu');
manualSeed(0);
const model = createModel(values.model!, { numClasses: 10, inChannels, ...(values.model === 'canonical-cnn' ? { widths: [32, 64, 128] } : {}) } as never);
const opt = new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
const x = randn([batch, inChannels, size, size]);
const y = tensor(Int32Array.from({ length: batch }, (_, i) => i % 10), [batch], 'int32');
const step = () =>
  tidy(() => {
    opt.zeroGrad();
    const loss = ops.crossEntropy(model.forward(x), y);
    loss.backward();
    opt.step();
    return loss;
  });
for (let i = 0; i < 3; i++) {
  const loss = step();
  await loss.data();
  loss.dispose();
}
const backend = getBackend() as unknown as WebGPUBackend;
backend.device.queue.submit = () => undefined;
for (let i = 0; i < 50; i++) step().dispose();

const session = values.profile ? new Session() : null;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
}
const perStep: number[] = [];
for (let r = 0; r < Number(values.runs); r++) {
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step().dispose();
  perStep.push((performance.now() - t0) / steps);
}
if (session) {
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(values.profile!, JSON.stringify(profile));
}
console.log(`adapter: ${info.adapter}; ${values.model} batch ${batch} at ${size}x${size}, SGD momentum + weight decay; ${new Date().toISOString().slice(0, 10)}`);
console.log(`host ms per training step (GPU never runs), ${steps} steps per run: ${perStep.map((v) => v.toFixed(3)).join(', ')}`);
process.exit(0);
