/**
 * How many GPU dispatches (and submits) fovea's WebGPU backend records for one training step
 * and one inference forward of a zoo model: the host-side cost that bounds small models on a
 * fast GPU (about 3.4 µs of GPU time per dispatch in one pass on an H100, plus the JavaScript
 * that records it). Counts do not depend on the GPU, so lavapipe gives the real numbers.
 *
 *   npx tsx bench/webgpu-dispatches.ts [--models canonical-cnn,resnet50,mobilenet_v2] [--size 32] [--batch 2]
 */
import { parseArgs } from 'node:util';
import { createModel, getBackend, initWebGPU, manualSeed, noGrad, ops, optim, randn, setBackend, tensor, tidy } from '../src/index.js';
import type { WebGPUBackend } from '../src/backends/webgpu/backend.js';

const { values } = parseArgs({ options: { models: { type: 'string', default: 'canonical-cnn,resnet50,mobilenet_v2' }, size: { type: 'string', default: '32' }, batch: { type: 'string', default: '2' } } });
await initWebGPU();
setBackend('webgpu');
const backend = getBackend() as unknown as WebGPUBackend;
const counts = new Map<string, number>();
let submits = 0;
const run = backend.run.bind(backend);
backend.run = (program, inputs, outputs) => {
  const family = program.name.replace(/_(vec4|sg|f16|labels|res|relu6?|count|\d+)\b.*$/, '');
  counts.set(family, (counts.get(family) ?? 0) + 1);
  run(program, inputs, outputs);
};
const flush = backend.flush.bind(backend);
backend.flush = () => {
  submits++;
  flush();
};

const batch = Number(values.batch);
const size = Number(values.size);
console.log(`dispatches per call, batch ${batch}, ${size}x${size} input (counts do not depend on the size), ${new Date().toISOString().slice(0, 10)}\n`);
console.log('| model | training step (SGD momentum) | submits | inference forward (batch norm folded) | top kernels of the step |');
console.log('|---|--:|--:|--:|---|');
for (const name of values.models!.split(',')) {
  manualSeed(0);
  const inChannels = name === 'canonical-cnn' ? 1 : 3;
  const model = createModel(name, { numClasses: 10, inChannels });
  const opt = new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  const x = randn([batch, inChannels, size, size]);
  const y = tensor(Int32Array.from({ length: batch }, (_, i) => i % 10), [batch], 'int32');
  const step = async (): Promise<void> => {
    const loss = tidy(() => {
      opt.zeroGrad();
      const l = ops.crossEntropy(model.forward(x), y);
      l.backward();
      opt.step();
      return l;
    });
    await loss.data();
    loss.dispose();
  };
  await step(); // first step: optimizer state, pipelines
  counts.clear();
  submits = 0;
  await step();
  const train = [...counts.values()].reduce((a, b) => a + b, 0);
  const top = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, n]) => `${k} ${n}`).join(', ');
  const trainSubmits = submits;
  model.eval();
  for (let i = 0; i < 2; i++) {
    // The first eval forward folds batch norm into the convolutions (cached until the weights change).
    counts.clear();
    const logits = noGrad(() => model.forward(x));
    await logits.data();
    logits.dispose();
  }
  const infer = [...counts.values()].reduce((a, b) => a + b, 0);
  console.log(`| ${name} | ${train} | ${trainSubmits} | ${infer} | ${top} |`);
  model.dispose();
}
process.exit(0);
