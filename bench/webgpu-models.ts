/**
 * fovea on WebGPU: ResNet-50 (or any zoo model) inference and training images/s, and a square
 * fp32 GEMM, against PyTorch on the same GPU (bench/peers/torch_gpu.py: fp32 with TF32 off as
 * the like-for-like row, TF32 and bf16 autocast rows for context). Made to run on a GPU host
 * (see ../shared/gpu/README.md there: bundle this file with esbuild, ship .dev/nodewg); on a
 * machine without a GPU it runs on Mesa's lavapipe at toy sizes to check that it works.
 *
 *   npx tsx bench/webgpu-models.ts [--model resnet50] [--size 224] [--batch 64,128] [--steps 10]
 *                                  [--gemm 4096] [--python python3] [--no-torch]
 *
 * Timing: each step ends with a readback of one value (the loss, or one logit), so the GPU
 * queue is drained inside the timed region; median of --steps after 2 warm-up steps. Where the
 * adapter has 'timestamp-query', one training step at the largest batch is also profiled per
 * kernel (profileWebGPU).
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { createModel, initWebGPU, manualSeed, matmul, noGrad, ops, optim, profileWebGPU, randn, setBackend, tensor, tidy, type Tensor } from '../src/index.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet50' },
    size: { type: 'string', default: '224' },
    batch: { type: 'string', default: '64,128' },
    steps: { type: 'string', default: '10' },
    gemm: { type: 'string', default: '4096' },
    python: { type: 'string', default: 'python3' },
    'no-torch': { type: 'boolean', default: false },
  },
});
const size = Number(values.size);
const steps = Number(values.steps);
const batches = values.batch!.split(',').map(Number);

const info = await initWebGPU();
setBackend('webgpu');
console.log(`adapter: ${JSON.stringify(info)}`);

async function median(run: () => Promise<void>): Promise<number> {
  for (let i = 0; i < 2; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    await run();
    times.push((performance.now() - t) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const rows: string[] = [];
const profileLines: string[] = [];
for (const batch of batches) {
  manualSeed(0);
  const model = createModel(values.model!, { numClasses: 1000 });
  const x = randn([batch, 3, size, size]);
  const y = tensor(Int32Array.from({ length: batch }, (_, i) => i % 1000), [batch], 'int32');
  model.eval();
  const infer = await median(async () => {
    const logits = noGrad(() => model.forward(x));
    await ops.slice(logits, [0, 0], [1, 1]).data();
    logits.dispose();
  });
  model.train();
  const opt = new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const train = await median(async () => {
    const loss = tidy(() => {
      opt.zeroGrad();
      const l = ops.crossEntropy(model.forward(x), y);
      l.backward();
      opt.step();
      return l;
    });
    await loss.data();
    loss.dispose();
  });
  rows.push(`| fovea webgpu fp32 | ${values.model} | ${batch} | ${(batch / infer).toFixed(1)} | ${(batch / train).toFixed(1)} |`);
  if (info.features.timestampQuery && batch === batches[batches.length - 1]) {
    // Where a training step's GPU time goes (timestamp queries, one pass per kernel).
    const profile = await profileWebGPU(async () => {
      const loss = tidy(() => {
        opt.zeroGrad();
        const l = ops.crossEntropy(model.forward(x), y);
        l.backward();
        opt.step();
        return l;
      });
      await loss.data();
      loss.dispose();
    });
    const total = profile.kernels.reduce((t, k) => t + k.ms, 0);
    profileLines.push(`\nGPU time of one training step at batch ${batch}: ${total.toFixed(1)} ms in kernels (${profile.untimedDispatches} dispatches past the query capacity untimed)\n`);
    profileLines.push('| kernel | calls | ms | share |', '|---|--:|--:|--:|');
    for (const k of profile.kernels.slice(0, 12)) profileLines.push(`| ${k.kernel} | ${k.calls} | ${k.ms.toFixed(2)} | ${((100 * k.ms) / total).toFixed(1)} % |`);
  }
  model.dispose();
  x.dispose();
  y.dispose();
}

const n = Number(values.gemm);
const a = randn([n, n]);
const b = randn([n, n]);
const gemmSeconds = await median(async () => {
  const c: Tensor = matmul(a, b);
  await ops.slice(c, [0, 0], [1, 1]).data();
  c.dispose();
});
const gemmRow = `| fovea webgpu fp32 | ${n}^3 | ${((2 * n ** 3) / gemmSeconds / 1e9).toFixed(1)} GFLOP/s |`;

let torchRows: string[] = [];
if (!values['no-torch']) {
  const py = spawnSync(values.python!, ['bench/peers/torch_gpu.py', '--model', values.model!, '--size', String(size), '--batch', values.batch!, '--steps', String(steps), '--gemm', String(n)], { encoding: 'utf8' });
  if (py.status === 0) torchRows = py.stdout.trim().split('\n').filter((l) => l.startsWith('|'));
  else process.stderr.write(`PyTorch peer failed: ${py.stderr.slice(-400)}\n`);
}

console.log(`\n${values.model} at ${size}x${size}, images/s (median of ${steps} steps, readback of one value per step)\n`);
console.log('| runner | model | batch | inference img/s | training img/s |');
console.log('|---|---|---|--:|--:|');
for (const r of [...rows, ...torchRows.filter((l) => l.split('|').length === 7)]) console.log(r);
for (const l of profileLines) console.log(l);
console.log('\n| runner | GEMM | throughput |\n|---|---|--:|');
for (const r of [gemmRow, ...torchRows.filter((l) => l.split('|').length === 5)]) console.log(r);
process.exit(0);
