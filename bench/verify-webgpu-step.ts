/**
 * One full-size SGD training step of a zoo model on the webgpu backend against the cpu backend
 * (WebAssembly kernels), with the cpu's own reference (TypeScript) kernels as the yardstick: two
 * float32 implementations of the same step already disagree on gradients, because rounding
 * differences grow through dozens of training-mode batch norms. The webgpu backend should be no
 * further from the cpu than the cpu's two implementations are from each other. Unit tests check
 * every kernel on small shapes; this checks the real sizes (128 x 128 GEMM tiles, chunked batch
 * norm statistics, per-phase strided input gradients) end to end.
 *
 *   XDG_RUNTIME_DIR=/tmp/xdg npx tsx bench/verify-webgpu-step.ts [--model resnet50] [--size 224] [--batch 2]
 *
 * Prints the loss of each run, and per comparison the largest gradient difference relative to the
 * model's largest gradient and the parameters whose gradients differ most relative to their own
 * largest entry. Exits 1 when webgpu's gradient difference is more than twice the cpu-vs-reference one.
 */
import { parseArgs } from 'node:util';
import { createModel, initWebGPU, manualSeed, ops, optim, Rng, setBackend, tensor, type Tensor } from '../src/index.js';
import { setCpuKernels } from '../src/backends/cpu/kernel-mode.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet50' },
    size: { type: 'string', default: '224' },
    batch: { type: 'string', default: '2' },
  },
});
const size = Number(values.size);
const batch = Number(values.batch);
const info = await initWebGPU();
const rng = new Rng(4);
const input = new Float32Array(batch * 3 * size * size).map(() => rng.normal());
const labels = Int32Array.from({ length: batch }, (_, i) => (i * 7 + 3) % 10);

interface Run { label: string; loss: number; grads: Map<string, Float32Array>; ms: number }

async function step(label: string, backend: 'cpu' | 'webgpu', kernels: 'wasm' | 'reference'): Promise<Run> {
  setCpuKernels(kernels);
  setBackend(backend);
  manualSeed(11);
  const model = createModel(values.model!, { numClasses: 10 }).train();
  const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  const t0 = performance.now();
  const loss = ops.crossEntropy(model.forward(tensor(input.slice(), [batch, 3, size, size])), tensor(labels.slice(), [batch], 'int32'));
  loss.backward();
  const grads = new Map<string, Float32Array>();
  for (const [name, p] of model.namedParameters()) grads.set(name, (await (p.grad as Tensor).data()) as Float32Array);
  opt.step();
  const run = { label, loss: await loss.item(), grads, ms: performance.now() - t0 };
  model.dispose();
  setCpuKernels('wasm');
  return run;
}

/** Largest |a - b| over the model relative to its largest |a|, and the parameters that differ most relative to their own scale. */
function compare(a: Run, b: Run): { overall: number; worst: string } {
  let maxGrad = 0;
  let maxDiff = 0;
  const perParam: [string, number][] = [];
  for (const [name, g] of a.grads) {
    const h = b.grads.get(name)!;
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < g.length; i++) {
      scale = Math.max(scale, Math.abs(g[i]));
      diff = Math.max(diff, Math.abs(g[i] - h[i]));
    }
    maxGrad = Math.max(maxGrad, scale);
    maxDiff = Math.max(maxDiff, diff);
    perParam.push([name, diff / (scale || 1)]);
  }
  perParam.sort((x, y) => y[1] - x[1]);
  return { overall: maxDiff / maxGrad, worst: perParam.slice(0, 3).map(([n, r]) => `${n} ${r.toExponential(1)}`).join(', ') };
}

const cpu = await step('cpu (wasm kernels)', 'cpu', 'wasm');
const reference = await step('cpu (reference kernels)', 'cpu', 'reference');
const gpu = await step(`webgpu (${info.adapter})`, 'webgpu', 'wasm');
setBackend('cpu');
console.log(`${values.model} at ${size}x${size}, batch ${batch}, one SGD step (momentum 0.9), ${new Date().toISOString().slice(0, 10)}\n`);
console.log('| run | loss | ms |');
console.log('|---|--:|--:|');
for (const r of [cpu, reference, gpu]) console.log(`| ${r.label} | ${r.loss.toPrecision(8)} | ${r.ms.toFixed(0)} |`);
const yardstick = compare(cpu, reference);
const webgpu = compare(cpu, gpu);
console.log('\n| comparison | loss rel. diff | max grad diff / max grad | parameters differing most (relative to their own max) |');
console.log('|---|--:|--:|---|');
console.log(`| cpu wasm vs cpu reference | ${(Math.abs(reference.loss - cpu.loss) / Math.abs(cpu.loss)).toExponential(1)} | ${yardstick.overall.toExponential(1)} | ${yardstick.worst} |`);
console.log(`| cpu wasm vs webgpu | ${(Math.abs(gpu.loss - cpu.loss) / Math.abs(cpu.loss)).toExponential(1)} | ${webgpu.overall.toExponential(1)} | ${webgpu.worst} |`);
const ok = webgpu.overall <= 2 * yardstick.overall && Math.abs(gpu.loss - cpu.loss) <= 1e-4 * Math.abs(cpu.loss);
console.log(`\n${ok ? 'PASS' : 'FAIL'}: webgpu ${ok ? 'within' : 'outside'} twice the cpu implementations' own spread`);
process.exit(ok ? 0 : 1);
