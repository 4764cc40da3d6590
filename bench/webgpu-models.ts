/**
 * fovea on WebGPU: ResNet-50 (or any zoo model) inference and training images/s, and a square
 * fp32 GEMM, against PyTorch on the same GPU (bench/peers/torch_gpu.py: fp32 with TF32 off as
 * the like-for-like row, TF32 and bf16 autocast rows for context). Made to run on a GPU host
 * (bench/gpu/run-h100.sh bundles it with esbuild and ships .dev/nodewg, as ../shared/gpu/README.md
 * describes); on a machine without a GPU it runs on Mesa's lavapipe at toy sizes to check that
 * it works.
 *
 *   npx tsx bench/webgpu-models.ts [--model resnet50] [--size 224] [--batch 64,128] [--steps 10]
 *                                  [--precision float32,float16] [--warmup-ms 500] [--max-seconds 60]
 *                                  [--budget-seconds S]
 *                                  [--gemm 4096] [--json FILE] [--python python3] [--no-torch]
 *
 * --precision float16 adds rows for fovea's mixed precision: `autocast(() => model.forward(x))`
 * (float16 operands for the convolutions and matrix products, float32 sums, weights, gradients
 * and optimizer), the counterpart of PyTorch's autocast rows.
 *
 * Timing: each step ends with a readback of one value (the loss, or one logit), so the GPU
 * queue is drained inside the timed region. Per cell: one untimed step (shader compilation),
 * then back-to-back steps for --warmup-ms (the H100 needs 250-350 ms of work to reach its boost
 * clock), then up to --steps timed steps, stopping early (after at least 3) once a cell has
 * taken --max-seconds; the median is tabulated. Where the adapter has 'timestamp-query', one
 * training step and one inference pass at the largest batch are also profiled per kernel
 * (profileWebGPU), for each precision. --budget-seconds skips the fovea cells and profiles that
 * would start after that many seconds (they show as errors), leaving time for the PyTorch peer
 * under an outer time limit. --gemm 0 skips the GEMM (bench/webgpu-gemm.ts measures
 * it in more detail). The PyTorch peer (bench/peers/torch_gpu.py) warms up by time too.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { autocast, createModel, initWebGPU, manualSeed, matmul, noGrad, ops, optim, profileWebGPU, randn, setBackend, tensor, tidy, type KernelProfile, type Tensor } from '../src/index.js';
import { loadBundledWasm } from './gpu/bundled-wasm.js';
import { cells, message, timeRuns, timestampNote, writeJson, type Timing } from './gpu/common.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet50' },
    size: { type: 'string', default: '224' },
    batch: { type: 'string', default: '64,128' },
    steps: { type: 'string', default: '10' },
    precision: { type: 'string', default: 'float32' },
    'warmup-ms': { type: 'string', default: '500' },
    'max-seconds': { type: 'string', default: '60' },
    'budget-seconds': { type: 'string' },
    gemm: { type: 'string', default: '4096' },
    json: { type: 'string' },
    python: { type: 'string', default: 'python3' },
    'no-torch': { type: 'boolean', default: false },
  },
});
const size = Number(values.size);
const steps = Number(values.steps);
const batches = values.batch!.split(',').map(Number);
const precisions = values.precision!.split(',') as ('float32' | 'float16')[];
for (const p of precisions) if (p !== 'float32' && p !== 'float16') throw new Error(`--precision: float32 or float16, got '${p}'`);
const timing = { steps, warmupMs: Number(values['warmup-ms']), maxMs: 1000 * Number(values['max-seconds']) };
const started = performance.now();
const budgetMs = values['budget-seconds'] ? 1000 * Number(values['budget-seconds']) : Infinity;
/** Throws once the --budget-seconds have passed. */
const inBudget = (): void => {
  if (performance.now() - started > budgetMs) throw new Error(`skipped: past --budget-seconds ${values['budget-seconds']}`);
};
const label = (p: string): string => (p === 'float16' ? 'fovea webgpu float16 autocast' : 'fovea webgpu fp32');

process.stderr.write(`${await loadBundledWasm()}\n`);
const info = await initWebGPU();
setBackend('webgpu');
console.log(`adapter: ${JSON.stringify(info)}`);

interface Cell {
  runner: string;
  precision: string;
  batch: number;
  inference: Timing | null;
  training: Timing | null;
  inferenceImgS: number | null;
  trainingImgS: number | null;
  errors: string[];
}
interface Profile {
  precision: string;
  batch: number;
  phase: 'training step' | 'inference';
  totalMs: number;
  untimedDispatches: number;
  kernels: KernelProfile['kernels'];
}
const results: Cell[] = [];
const profiles: Profile[] = [];

for (const batch of batches) {
  let model: ReturnType<typeof createModel> | null = null;
  let x: Tensor | null = null;
  let y: Tensor | null = null;
  try {
    manualSeed(0);
    model = createModel(values.model!, { numClasses: 1000 });
    x = randn([batch, 3, size, size]);
    y = tensor(Int32Array.from({ length: batch }, (_, i) => i % 1000), [batch], 'int32');
  } catch (e) {
    for (const precision of precisions) results.push({ runner: label(precision), precision, batch, inference: null, training: null, inferenceImgS: null, trainingImgS: null, errors: [`setup: ${message(e)}`] });
    continue;
  }
  const m = model;
  const input = x;
  const target = y;
  for (const precision of precisions) {
    const half = precision === 'float16';
    const cell: Cell = { runner: label(precision), precision, batch, inference: null, training: null, inferenceImgS: null, trainingImgS: null, errors: [] };
    results.push(cell);
    const infer = async (): Promise<void> => {
      const logits = noGrad(() => autocast(() => m.forward(input), { enabled: half }));
      const one = ops.slice(logits, [0, 0], [1, 1]);
      await one.data();
      one.dispose();
      logits.dispose();
    };
    const opt = new optim.SGD(m.parameters(), { lr: 0.01, momentum: 0.9 });
    const train = async (): Promise<void> => {
      const loss = tidy(() => {
        opt.zeroGrad();
        const l = ops.crossEntropy(autocast(() => m.forward(input), { enabled: half }), target);
        l.backward();
        opt.step();
        return l;
      });
      await loss.data();
      loss.dispose();
    };
    try {
      inBudget();
      m.eval();
      cell.inference = await timeRuns(infer, timing);
      cell.inferenceImgS = batch / cell.inference.median;
    } catch (e) {
      cell.errors.push(`inference: ${message(e)}`);
    }
    try {
      inBudget();
      m.train();
      cell.training = await timeRuns(train, timing);
      cell.trainingImgS = batch / cell.training.median;
    } catch (e) {
      cell.errors.push(`training: ${message(e)}`);
    }
    process.stderr.write(`${cell.runner} batch ${batch}: inference ${cell.inferenceImgS?.toFixed(1) ?? '-'} img/s, training ${cell.trainingImgS?.toFixed(1) ?? '-'} img/s${cell.errors.length ? ` (${cell.errors.join('; ')})` : ''}\n`);
    if (info.features.timestampQuery && batch === batches[batches.length - 1]) {
      // Where the GPU time goes (timestamp queries, one pass per kernel), after the warm-up above.
      for (const [phase, fn] of [['training step', train], ['inference', infer]] as const) {
        try {
          inBudget();
          m.train(phase === 'training step');
          // The training step just changed the weights: the first inference after it folds batch
          // norm into the convolutions again (cached until the weights change), which the timed
          // inference runs never pay. Fold outside the profile.
          if (phase === 'inference') await fn();
          const p = await profileWebGPU(fn);
          profiles.push({ precision, batch, phase, totalMs: p.kernels.reduce((t, k) => t + k.ms, 0), untimedDispatches: p.untimedDispatches, kernels: p.kernels });
        } catch (e) {
          cell.errors.push(`profile (${phase}): ${message(e)}`);
        }
      }
    }
  }
  m.dispose();
  input.dispose();
  target.dispose();
}

const n = Number(values.gemm);
let gemm: { n: number; timing: Timing; gflops: number } | null = null;
let gemmError = '';
if (n > 0) {
  try {
    inBudget();
    const a = randn([n, n]);
    const b = randn([n, n]);
    const t = await timeRuns(async () => {
      const c: Tensor = matmul(a, b);
      const one = ops.slice(c, [0, 0], [1, 1]);
      await one.data();
      one.dispose();
      c.dispose();
    }, timing);
    gemm = { n, timing: t, gflops: (2 * n ** 3) / t.median / 1e9 };
    a.dispose();
    b.dispose();
  } catch (e) {
    gemmError = message(e);
  }
}

let torchRows: string[] = [];
let torchError = '';
if (!values['no-torch']) {
  const args = ['bench/peers/torch_gpu.py', '--warmup-ms', values['warmup-ms']!, '--model', values.model!, '--size', String(size), '--batch', values.batch!, '--steps', String(steps), '--gemm', String(n > 0 ? n : 256)];
  const py = spawnSync(values.python!, args, { encoding: 'utf8' });
  if (py.status === 0) torchRows = py.stdout.trim().split('\n').filter((l) => l.startsWith('|'));
  else torchError = (py.stderr ?? String(py.error)).slice(-400);
  if (torchError) process.stderr.write(`PyTorch peer failed: ${torchError}\n`);
  if (n <= 0) torchRows = torchRows.filter((l) => l.split('|').length === 7);
}

const fmt = (v: number | null): string => (v === null ? 'error' : v.toFixed(1));
console.log(`\n${values.model} at ${size}x${size}, images/s (median of up to ${steps} steps after ${timing.warmupMs} ms of warm-up, readback of one value per step)\n`);
console.log('| runner | model | batch | inference img/s | training img/s |');
console.log('|---|---|---|--:|--:|');
for (const c of results) console.log(`| ${c.runner} | ${values.model} | ${c.batch} | ${fmt(c.inferenceImgS)} | ${fmt(c.trainingImgS)} |`);
for (const r of torchRows.filter((l) => l.split('|').length === 7)) console.log(r);
for (const c of results) if (c.errors.length) console.log(`\n${c.runner}, batch ${c.batch}: ${c.errors.join('; ')}`);
if (torchError) console.log(`\nPyTorch peer failed: ${torchError.split('\n').filter(Boolean).pop()}`);
if (profiles.length) console.log(`\nPer-kernel GPU time: timestamp queries around each dispatch (one compute pass per kernel while profiling), timestamps ${timestampNote()}.`);
for (const p of profiles) {
  console.log(`\nGPU time of one ${p.phase} at batch ${p.batch}, ${label(p.precision)}: ${p.totalMs.toFixed(1)} ms in kernels (${p.untimedDispatches} dispatches past the query capacity untimed)\n`);
  console.log('| kernel | calls | ms | share |');
  console.log('|---|--:|--:|--:|');
  for (const k of p.kernels.slice(0, 12)) console.log(`| ${k.kernel} | ${k.calls} | ${k.ms.toFixed(2)} | ${((100 * k.ms) / p.totalMs).toFixed(1)} % |`);
}
if (n > 0) {
  console.log('\n| runner | GEMM | throughput |\n|---|---|--:|');
  console.log(gemm ? `| fovea webgpu fp32 | ${n}^3 | ${gemm.gflops.toFixed(1)} GFLOP/s |` : `| fovea webgpu fp32 | ${n}^3 | error: ${gemmError} |`);
  for (const r of torchRows.filter((l) => l.split('|').length === 5)) console.log(r);
}

writeJson(values.json, {
  bench: 'webgpu-models',
  date: new Date().toISOString(),
  adapter: info.adapter,
  features: info.features,
  model: values.model,
  size,
  steps,
  warmupMs: timing.warmupMs,
  maxSeconds: Number(values['max-seconds']),
  fovea: results,
  timestamps: timestampNote(),
  profiles,
  torch: torchRows.map((r) => {
    const c = cells(r);
    return c.length === 5 ? { runner: c[0], model: c[1], batch: Number(c[2]), inferenceImgS: Number(c[3]), trainingImgS: Number(c[4]) } : { runner: c[0], gemm: c[1], throughput: c[2] };
  }),
  torchError: torchError || undefined,
  gemm: n > 0 ? (gemm ?? { n, error: gemmError }) : undefined,
});
process.exit(0);
