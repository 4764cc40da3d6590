/**
 * Training throughput of the canonical CNN at batch 128 on 28x28x1 input (Fashion-MNIST
 * shape): fovea (CPU backend) against PyTorch CPU (Debian python3-torch) with the same model,
 * batch and thread count, in one run. Prints a table and the ratio.
 *
 *   npx tsx bench/train-throughput.ts [--widths 32,64,128] [--batch 128] [--steps 10] [--threads 1]
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';
import { createModel, manualSeed, optim, ops, randn, tensor, tidy, initThreads, numThreads, cpuKernels } from '../src/index.js';

const { values } = parseArgs({
  options: {
    widths: { type: 'string', default: '32,64,128' },
    batch: { type: 'string', default: '128' },
    steps: { type: 'string', default: '10' },
    threads: { type: 'string', default: '1' },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
});
const widths = values.widths!.split(',').map(Number);
const batch = Number(values.batch);
const steps = Number(values.steps);

await initThreads(); // workers join before timing (FOVEA_THREADS sets how many)
manualSeed(0);
const model = createModel('canonical-cnn', { inChannels: 1, numClasses: 10, widths });
const opt = new optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
const x = randn([batch, 1, 28, 28]);
const y = tensor(Int32Array.from({ length: batch }, (_, i) => i % 10), [batch], 'int32');
const step = (): void => {
  tidy(() => {
    opt.zeroGrad();
    const loss = ops.crossEntropy(model.forward(x), y);
    loss.backward();
    opt.step();
  });
};
for (let i = 0; i < 2; i++) step();
const times: number[] = [];
for (let i = 0; i < steps; i++) {
  const t = performance.now();
  step();
  times.push((performance.now() - t) / 1000);
}
times.sort((a, b) => a - b);
const foveaMedian = times[Math.floor(times.length / 2)];
const fovea = batch / foveaMedian;

const py = spawnSync(values.python!, ['bench/torch_train.py', '--widths', values.widths!, '--batch', String(batch), '--threads', values.threads!, '--steps', String(Math.max(steps, 10))], {
  encoding: 'utf8',
  env: { ...process.env, OMP_NUM_THREADS: values.threads! },
});
let torchRate: number | null = null;
let torchVersion = '';
if (py.status === 0) {
  const r = JSON.parse(py.stdout.trim().split('\n').pop()!);
  torchRate = r.images_per_s;
  torchVersion = r.torch;
} else {
  process.stderr.write(`PyTorch peer failed (install Debian's python3-torch): ${py.stderr.slice(-500)}\n`);
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(`training throughput, canonical-cnn widths [${widths}], 2 convs/stage, 28x28x1, batch ${batch}, ${cpu}, ${new Date().toISOString().slice(0, 10)}`);
console.log(`| runner | threads | median step (s) | images/s |`);
console.log(`|---|---|---|---|`);
console.log(`| fovea cpu (${cpuKernels() === 'wasm' ? 'WebAssembly SIMD kernels' : 'TypeScript reference kernels'}) | ${cpuKernels() === 'wasm' ? numThreads() : 1} | ${foveaMedian.toFixed(3)} | ${fovea.toFixed(1)} |`);
if (torchRate) console.log(`| PyTorch ${torchVersion} CPU | ${values.threads} | ${(batch / torchRate).toFixed(3)} | ${torchRate.toFixed(1)} |`);
if (torchRate) console.log(`ratio fovea / PyTorch: ${(fovea / torchRate).toFixed(3)}`);
