/**
 * Full-size model-zoo verification against torchvision, and ResNet-50 load and inference
 * times. For each model: ensures .bench-cache/zoo-full/<name>.safetensors exists (else runs
 * `/usr/bin/python3 scripts/make-zoo-fixtures.py --full <name>`, which builds torchvision's
 * model at full size with seeded random weights and randomised BatchNorm statistics and stores
 * its state dict, an input batch `__input__` and PyTorch's eval-mode output `__output__`),
 * loads it with createModel(name, { weights }), runs `__input__` in eval mode under noGrad on
 * the WebAssembly kernels (with --reference also on the reference kernels) and compares with
 * `__output__`: PASS when max |fovea - torch| <= 1e-4 x max |torch| (the tolerance of
 * test/models/zoo-parity.test.ts). For resnet50 it also times, at batch 1 on the WebAssembly
 * kernels: loading the weight file (read + parse, then createModel with the weights), the
 * first forward pass of the fresh model and the steady state (median of --runs passes).
 * A model that fovea's zoo does not have yet is reported as 'not in the zoo yet'. Exit code 1
 * when any comparison fails (or a fixture cannot be written).
 *
 *   npx tsx bench/verify-zoo.ts [--models resnet50,mobilenet_v3_large,...] [--reference] [--runs 5]
 *                               [--threads N] [--python /usr/bin/python3]
 *
 * Progress goes to stderr, the table to stdout.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

process.chdir(fileURLToPath(new URL('..', import.meta.url)));

const DEFAULT_MODELS = ['resnet50', 'mobilenet_v3_large', 'efficientnet_b0', 'convnext_tiny', 'shufflenet_v2_x1_0', 'regnet_y_400mf'];
const TOL = 1e-4;
const CACHE = '.bench-cache/zoo-full';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: DEFAULT_MODELS.join(',') },
    reference: { type: 'boolean', default: false },
    runs: { type: 'string', default: '5' },
    threads: { type: 'string' },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
});
const models = values.models!.split(',').map((s) => s.trim()).filter(Boolean);
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got '${values.runs}'`);
const log = (s: string): void => void process.stderr.write(`${s}\n`);

const fv = await import('../src/index.js');
const km = await import('../src/backends/cpu/kernel-mode.js');
type Tensor = import('../src/index.js').Tensor;
type Mode = import('../src/backends/cpu/kernel-mode.js').CpuKernelMode;

if (values.threads !== undefined) {
  const n = Number(values.threads);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--threads must be a positive integer, got '${values.threads}'`);
  await fv.setNumThreads(n);
} else {
  await fv.initThreads();
}
const wasmLoaded = (): boolean => {
  const before = km.cpuKernels();
  km.setCpuKernels('wasm');
  const ok = km.activeWasm() !== null;
  km.setCpuKernels(before);
  return ok;
};
if (!wasmLoaded()) log('WARNING: the WebAssembly module did not load; the "wasm" rows ran the reference kernels');
const modes: Mode[] = values.reference ? ['wasm', 'reference'] : ['wasm'];

interface Row {
  model: string;
  mode: Mode | '';
  err?: number;
  scale?: number;
  status: 'PASS' | 'FAIL' | 'not in the zoo yet' | 'no fixture';
  note?: string;
}
const rows: Row[] = [];
const timings: string[] = [];
let failed = false;

function compare(actual: Tensor, expected: Tensor): { err: number; scale: number } {
  if (actual.shape.join() !== expected.shape.join()) return { err: Infinity, scale: NaN };
  const a = actual.dataSync();
  const e = expected.dataSync();
  let err = 0;
  let scale = 0;
  for (let i = 0; i < e.length; i++) {
    scale = Math.max(scale, Math.abs(e[i]));
    const d = Math.abs(a[i] - e[i]);
    if (!(d <= err)) err = Number.isNaN(d) ? Infinity : d;
  }
  return { err, scale };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Loads the fixture file; returns the state dict without `__input__`/`__output__`. */
async function loadFixture(path: string): Promise<{ state: Map<string, Tensor>; input: Tensor; expected: Tensor; options: Record<string, unknown> }> {
  const { tensors, metadata } = await fv.loadSafetensors(path);
  const input = tensors.get('__input__');
  const expected = tensors.get('__output__');
  if (!input || !expected) throw new Error(`${path} has no __input__ / __output__`);
  tensors.delete('__input__');
  tensors.delete('__output__');
  return { state: tensors, input, expected, options: JSON.parse(metadata.options ?? '{}') as Record<string, unknown> };
}

/** ResNet-50 at batch 1 on the WebAssembly kernels: weight-file load, first and steady-state inference. */
async function timeLoadAndInference(name: string, path: string): Promise<void> {
  km.setCpuKernels('wasm');
  const t0 = performance.now();
  const { state, input, expected, options } = await loadFixture(path);
  const t1 = performance.now();
  const model = fv.createModel(name, { ...options, weights: state }).eval();
  const t2 = performance.now();
  for (const t of state.values()) t.dispose();
  expected.dispose();
  const [, C, H, W] = input.shape;
  const x = fv.tensor(input.dataSync().slice(0, C * H * W), [1, C, H, W]);
  input.dispose();
  const forward = (): number => {
    const s = performance.now();
    const y = fv.noGrad(() => model.forward(x));
    y.dataSync();
    y.dispose();
    return performance.now() - s;
  };
  const first = forward();
  const steady: number[] = [];
  for (let i = 0; i < runs; i++) steady.push(forward());
  x.dispose();
  model.dispose();
  const ms = (v: number): string => `${v.toFixed(0)} ms`;
  timings.push(
    `${name}, wasm kernels, ${fv.numThreads()} thread${fv.numThreads() > 1 ? 's' : ''}: weight-file load ${ms(t2 - t0)} (read + parse ${ms(t1 - t0)}, createModel with the weights ${ms(t2 - t1)}); ` +
      `first inference at batch 1 ${ms(first)}; steady state at batch 1 ${ms(median(steady))} (median of ${runs}, fastest ${ms(Math.min(...steady))})`,
  );
  log(`  ${timings[timings.length - 1]}`);
}

const zoo = new Set(fv.listModels());
for (const name of models) {
  log(`${name}:`);
  if (!zoo.has(name)) {
    rows.push({ model: name, mode: '', status: 'not in the zoo yet' });
    log('  not in the zoo yet');
    continue;
  }
  const path = join(CACHE, `${name}.safetensors`);
  if (!existsSync(path)) {
    log(`  ${path} is missing: running ${values.python} scripts/make-zoo-fixtures.py --full ${name}`);
    const gen = spawnSync(values.python!, ['scripts/make-zoo-fixtures.py', '--full', name], { stdio: ['ignore', 2, 2] });
    if (gen.status !== 0 || !existsSync(path)) {
      rows.push({ model: name, mode: '', status: 'no fixture', note: `make-zoo-fixtures.py --full ${name} failed (exit ${gen.status})` });
      failed = true;
      continue;
    }
  }
  try {
    if (name === 'resnet50') await timeLoadAndInference(name, path);
    const { state, input, expected, options } = await loadFixture(path);
    for (const mode of modes) {
      km.setCpuKernels(mode);
      const t0 = performance.now();
      const model = fv.createModel(name, { ...options, weights: state }).eval();
      const y = fv.noGrad(() => model.forward(input));
      const { err, scale } = compare(y, expected);
      const secs = (performance.now() - t0) / 1000;
      y.dispose();
      model.dispose();
      const pass = err <= TOL * scale;
      if (!pass) failed = true;
      rows.push({ model: name, mode, err, scale, status: pass ? 'PASS' : 'FAIL', note: `batch ${input.shape[0]}, ${input.shape.slice(2).join('x')}, create + forward ${secs.toFixed(1)} s` });
      log(`  ${mode}: max |fovea - torch| ${err.toExponential(2)}, max |torch| ${scale.toExponential(2)}: ${pass ? 'PASS' : 'FAIL'} (${secs.toFixed(1)} s)`);
    }
    for (const t of [...state.values(), input, expected]) t.dispose();
  } catch (e) {
    rows.push({ model: name, mode: km.cpuKernels(), status: 'FAIL', note: (e as Error).message.split('\n')[0] });
    log(`  FAILED: ${(e as Error).stack ?? (e as Error).message}`);
    failed = true;
  } finally {
    km.setCpuKernels('wasm');
  }
}

const cpu = cpus();
console.log(`### Full-size zoo vs torchvision (${new Date().toISOString().slice(0, 10)})`);
console.log('');
console.log(`Machine: ${cpu[0]?.model ?? 'unknown CPU'} (${cpu.length} cores), Node ${process.version}, 1-min load average ${loadavg()[0].toFixed(2)}; fovea threads ${fv.numThreads()}. Tolerance: max |fovea - torch| <= ${TOL} x max |torch|.`);
console.log('');
console.log('| model | kernels | max abs diff | max abs torch | diff / (1e-4 x max abs torch) | result | notes |');
console.log('|---|---|--:|--:|--:|---|---|');
const e = (v: number | undefined): string => (v === undefined ? '—' : v.toExponential(2));
for (const r of rows) {
  const ratio = r.err !== undefined && r.scale !== undefined ? (r.err / (TOL * r.scale)).toFixed(3) : '—';
  console.log(`| ${r.model} | ${r.mode || '—'} | ${e(r.err)} | ${e(r.scale)} | ${ratio} | ${r.status} | ${r.note ?? ''} |`);
}
if (timings.length) {
  console.log('');
  for (const t of timings) console.log(`- ${t}`);
}
// The worker pool keeps the event loop alive.
process.exit(failed ? 1 : 0);
