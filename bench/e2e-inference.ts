/**
 * End-to-end inference, fp32, 224x224, eval mode: ResNet-50 and MobileNetV2 built in fovea
 * (createModel + weights, noGrad forward) against onnxruntime-node, onnxruntime-web (wasm, in
 * Node), TensorFlow.js wasm (the same network written with tfjs-core ops) and PyTorch CPU, all
 * with the same seeded random weights, at each batch and thread count. Each runtime runs in its
 * own process, one after the other; a cell is the median of --runs whole forward passes after
 * --warmup untimed ones. Every runtime's logits are checked against fovea's (and against the
 * PyTorch logits stored when the weights were written) before its numbers are shown: this
 * guards against benchmarking a different network. Prints a markdown section on stdout
 * (progress on stderr).
 *
 *   npx tsx bench/e2e-inference.ts [--threads 1,2] [--batch 1,8] [--models resnet50,mobilenet_v2] [--runs 10]
 *                                  [--warmup 2] [--runners fovea,ort-node,ort-web,tfjs-wasm,torch] [--tol 1e-3] [--stat median|min|both]
 *                                  [--no-openblas] [--default-malloc] [--note "..."] [--md out.md] [--python /usr/bin/python3]
 *
 * Weights and networks: bench/peers/export_onnx.py writes, once, torchvision's resnet50 and
 * mobilenet_v2 with seeded random weights and randomised BatchNorm statistics to
 * .bench-cache/e2e/ as safetensors (fovea, tfjs and PyTorch load it) and as ONNX (opset 13, one
 * static-batch export per batch; onnxruntime loads it), plus a seeded input batch and PyTorch's
 * logits on it. Runners: bench/peers/e2e-runner.ts (fovea, ort-node, ort-web, tfjs-wasm) and
 * bench/peers/torch_e2e.py (torch). A model that fovea's zoo does not have yet is reported as
 * such and the peers still run (checked against PyTorch's stored logits).
 *
 * Every runner process gets GLIBC_TUNABLES with a fixed 32 MiB malloc mmap threshold (see
 * bench/conv-layers.ts and bench/README.md: page faults are slow on these VMs).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readF32 } from './peers/layers.js';
import { CLASSES, E2E_CACHE, E2E_MODELS, type E2eResult, e2eCell, e2eOutputPath, e2eResultPath, refPath } from './peers/e2e-runner.js';

process.chdir(fileURLToPath(new URL('..', import.meta.url)));

const ALL_RUNNERS = ['fovea', 'ort-node', 'ort-web', 'tfjs-wasm', 'torch'] as const;
type RunnerName = (typeof ALL_RUNNERS)[number];

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '1,2' },
    batch: { type: 'string', default: '1,8' },
    models: { type: 'string', default: E2E_MODELS.join(',') },
    runs: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    runners: { type: 'string', default: ALL_RUNNERS.join(',') },
    tol: { type: 'string', default: '1e-3' },
    stat: { type: 'string', default: 'median' },
    'no-openblas': { type: 'boolean', default: false },
    'default-malloc': { type: 'boolean', default: false },
    python: { type: 'string', default: '/usr/bin/python3' },
    note: { type: 'string', default: '' },
    md: { type: 'string' },
  },
});
const list = (s: string): string[] => s.split(',').map((x) => x.trim()).filter(Boolean);
const posInts = (flag: string, s: string): number[] => {
  const v = list(s).map(Number);
  if (!v.length || v.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--${flag} takes positive integers, got '${s}'`);
  return v;
};
const threadCounts = posInts('threads', values.threads!);
const batches = posInts('batch', values.batch!);
const [runs] = posInts('runs', values.runs!);
const warmup = Number(values.warmup);
const tol = Number(values.tol);
const python = values.python!;
const stat = values.stat!;
if (!['median', 'min', 'both'].includes(stat)) throw new Error(`--stat must be median, min or both, got '${stat}'`);
const models = list(values.models!);
for (const m of models) if (!(E2E_MODELS as readonly string[]).includes(m)) throw new Error(`unknown model '${m}'; models: ${E2E_MODELS.join(', ')}`);
let runners = list(values.runners!) as RunnerName[];
for (const r of runners) if (!ALL_RUNNERS.includes(r)) throw new Error(`unknown runner '${r}'; runners: ${ALL_RUNNERS.join(', ')}`);

const log = (s: string): void => void process.stderr.write(`${s}\n`);
const load0 = loadavg()[0];
const started = Date.now();

// 1. Weights, ONNX exports, input and PyTorch's logits (kept when already there).
const gen = spawnSync(python, ['bench/peers/export_onnx.py', '--models', models.join(','), '--batch', batches.join(',')], { stdio: ['ignore', 2, 2] });
if (gen.status !== 0) throw new Error(`bench/peers/export_onnx.py failed (exit ${gen.status}; needs ${python} with Debian's python3-torch and python3-torchvision)`);

// 2. Each runner in its own process per thread count.
const MALLOC_TUNABLES = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296';
const baseEnv: NodeJS.ProcessEnv = values['default-malloc']
  ? process.env
  : { ...process.env, GLIBC_TUNABLES: [process.env.GLIBC_TUNABLES, MALLOC_TUNABLES].filter(Boolean).join(':') };
rmSync(join(E2E_CACHE, 'results'), { recursive: true, force: true });
rmSync(join(E2E_CACHE, 'out'), { recursive: true, force: true });
mkdirSync(join(E2E_CACHE, 'results'), { recursive: true });
const common = ['--models', models.join(','), '--batch', batches.join(','), '--runs', String(runs), '--warmup', String(warmup)];
let openblas: string | null | undefined;

function runOnce(r: RunnerName, threads: number): void {
  if (r === 'torch') {
    const env: NodeJS.ProcessEnv = { ...baseEnv, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
    if (!values['no-openblas']) {
      if (openblas === undefined) {
        const ob = spawnSync('sh', ['bench/peers/openblas.sh'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 2] });
        openblas = ob.status === 0 ? ob.stdout.trim() : null;
        if (openblas === null) log('  OpenBLAS unavailable (apt-get download libopenblas0-pthread failed); torch runs on its default BLAS');
      }
      if (openblas) env.LD_LIBRARY_PATH = [openblas, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
    }
    const args = ['bench/peers/torch_e2e.py', '--cache', E2E_CACHE, '--threads', String(threads), ...common, '--result', e2eResultPath('torch', threads), '--outdir', join(E2E_CACHE, 'out', `torch-t${threads}`)];
    const py = spawnSync(python, args, { env, stdio: ['ignore', 2, 2] });
    if (py.status !== 0) log(`  torch runner failed (exit ${py.status}; needs Debian's python3-torch)`);
    return;
  }
  const args = ['--import', 'tsx', 'bench/peers/e2e-runner.ts', '--runner', r, '--threads', String(threads), ...common];
  const child = spawnSync(process.execPath, args, { stdio: ['ignore', 2, 2], env: { ...baseEnv, FOVEA_THREADS: String(threads) } });
  if (child.status !== 0) log(`  ${r} failed (exit ${child.status})`);
}

const results = new Map<string, E2eResult>(); // key `${runner}-t${threads}`
const key = (r: RunnerName, t: number): string => `${r}-t${t}`;
for (const t of threadCounts) {
  for (const r of runners) {
    log(`${r}, ${t} thread${t > 1 ? 's' : ''}:`);
    const t0 = Date.now();
    runOnce(r, t);
    log(`  (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    if (existsSync(e2eResultPath(r, t))) results.set(key(r, t), JSON.parse(readFileSync(e2eResultPath(r, t), 'utf8')) as E2eResult);
  }
}
runners = runners.filter((r) => threadCounts.some((t) => results.has(key(r, t))));

// 3. Agreement: every runner's logits against fovea's (same thread count) and against the
// PyTorch logits written with the weights. Tolerance: max abs diff <= tol x max |reference logit|.
interface Check {
  vsFovea: number | null;
  vsTorchRef: number;
  scale: number;
  ok: boolean;
}
const checks = new Map<string, Check>(); // `${runner}-t${threads}:${cell}`
const mismatches: string[] = [];
function maxDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Math.abs(a[i] - b[i]);
    if (!(x <= d)) d = Number.isNaN(x) ? Infinity : x;
  }
  return d;
}
const maxAbs = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
for (const model of models) {
  const ref = readF32(refPath(model));
  for (const b of batches) {
    const refB = ref.subarray(0, b * CLASSES);
    const scale = maxAbs(refB);
    for (const t of threadCounts) {
      const foveaOut = e2eOutputPath('fovea', t, model, b);
      const fv = results.get(key('fovea', t))?.cells[e2eCell(model, b)] && existsSync(foveaOut) ? readF32(foveaOut) : null;
      for (const r of runners) {
        const cell = e2eCell(model, b);
        const out = e2eOutputPath(r, t, model, b);
        if (!results.get(key(r, t))?.cells[cell] || !existsSync(out)) continue;
        const y = readF32(out);
        const vsTorchRef = maxDiff(y, refB);
        const vsFovea = fv && r !== 'fovea' ? maxDiff(y, fv) : null;
        const ok = vsTorchRef <= tol * scale && (vsFovea === null || vsFovea <= tol * scale);
        checks.set(`${key(r, t)}:${cell}`, { vsFovea, vsTorchRef, scale, ok });
        if (!ok) mismatches.push(`${r} ${t}T ${cell}: max abs diff ${vsFovea !== null ? `${vsFovea.toExponential(2)} vs fovea, ` : ''}${vsTorchRef.toExponential(2)} vs PyTorch reference; max |logit| ${scale.toExponential(2)}, tolerance ${tol} x that`);
      }
    }
  }
}

// 4. The table.
type Stat = 'medianMs' | 'minMs';
const ms = (r: RunnerName, t: number, model: string, b: number, which: Stat): number | null => {
  const c = results.get(key(r, t))?.cells[e2eCell(model, b)];
  return c && checks.get(`${key(r, t)}:${e2eCell(model, b)}`)?.ok ? c[which] : null;
};
const fmt = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const peers = runners.filter((r) => r !== 'fovea');
const hasFovea = runners.includes('fovea');
const cols = ['model', 'batch', 'threads', ...runners.map((r) => `${r} ms · img/s`), ...(hasFovea ? peers.map((p) => `fovea/${p}`) : [])];
/** Markdown rows for one statistic of the timed runs. */
function table(which: Stat): string[] {
  const rows: string[] = [`| ${cols.join(' | ')} |`, `|${cols.map((_, i) => (i < 3 ? '---' : '--:')).join('|')}|`];
  for (const model of models) {
    for (const b of batches) {
      for (const t of threadCounts) {
        const cell = (r: RunnerName): string => {
          const v = ms(r, t, model, b, which);
          const used = results.get(key(r, t))?.threads;
          const note = used !== undefined && used !== t ? ` (${used}T)` : '';
          return v === null ? '—' : `${fmt(v)} · ${fmt((b * 1000) / v)}${note}`;
        };
        const ratio = (p: RunnerName): string => {
          const f = ms('fovea', t, model, b, which);
          const q = ms(p, t, model, b, which);
          return f === null || q === null ? '—' : (q / f).toFixed(2);
        };
        rows.push(`| ${[model, b, t, ...runners.map(cell), ...(hasFovea ? peers.map(ratio) : [])].join(' | ')} |`);
      }
    }
  }
  return rows;
}

/** 'x86 family 26, AVX-512F + AVX2 + FMA' from /proc/cpuinfo: native peers pick kernels by ISA. */
function cpuIsa(): string {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const flags = new Set(/^flags\s*:(.*)$/m.exec(info)?.[1].trim().split(/\s+/) ?? []);
    const isa = ['avx512f', 'avx2', 'fma'].filter((x) => flags.has(x)).map((x) => (x === 'avx512f' ? 'AVX-512F' : x.toUpperCase()));
    return `x86 family ${/^cpu family\s*:\s*(\d+)/m.exec(info)?.[1] ?? '?'}, ${isa.join(' + ') || 'no AVX'}`;
  } catch {
    return process.arch;
  }
}

const lines: string[] = [];
const cpu = cpus();
lines.push(`### End-to-end inference: ${models.join(', ')}, 224x224, fp32, eval (${new Date().toISOString().slice(0, 10)})`);
lines.push('');
lines.push(`Machine: ${cpu[0]?.model ?? 'unknown CPU'} (${cpu.length} cores, ${cpuIsa()}), Node ${process.version}; 1-min load average ${load0.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end.${values.note ? ` ${values.note}` : ''}  `);
const shellArg = (a: string): string => (/^[\w.,=@/+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
const shownArgs = process.argv.slice(2).filter((a, i, all) => !['--note', '--md'].includes(a) && !['--note', '--md'].includes(all[i - 1]) && !/^--(note|md)=/.test(a));
lines.push(`Command: \`${['npx tsx bench/e2e-inference.ts', ...shownArgs.map(shellArg)].join(' ').replace(/`/g, "'")}\` (${((Date.now() - started) / 1000).toFixed(0)} s in all).  `);
lines.push(`Cells: ms per batch (median, or fastest with --stat min) of ${runs} forward passes after ${warmup} warm-up passes, from an input tensor in the runtime to the logits in a JavaScript array (PyTorch: a tensor) · images/s. fovea/peer = peer ms ÷ fovea ms (above 1: fovea faster). A runner that used fewer threads than asked says so in brackets.`);
if (stat !== 'min') lines.push('', 'Median run:', '', ...table('medianMs'));
if (stat !== 'median') lines.push('', 'Fastest run (on a shared machine, the closest to an undisturbed run):', '', ...table('minMs'));
lines.push('');
lines.push('Runners (each in its own process, one after the other, same weights and input):');
for (const r of runners) {
  const cfgs = threadCounts.filter((t) => results.has(key(r, t))).map((t) => [t, results.get(key(r, t))!.config] as const);
  if (cfgs.length === 1) lines.push(`- ${r}: ${cfgs[0][1]}.`);
  else lines.push(`- ${r}:`, ...cfgs.map(([t, c]) => `  - ${t} thread${t > 1 ? 's' : ''}: ${c}.`));
}
for (const r of list(values.runners!).filter((x) => !runners.includes(x as RunnerName))) lines.push(`- ${r}: did not run (see stderr).`);
for (const [k, res] of results) for (const [cell, e] of Object.entries(res.errors)) lines.push(`- ${k} ${cell}: ${/not in the zoo yet/.test(e) ? 'not in the zoo yet' : `failed: ${e}`}`);
const agree: string[] = [];
for (const model of models) {
  for (const b of batches) {
    const parts: string[] = [];
    let scale = 0;
    for (const t of threadCounts) {
      for (const r of runners) {
        const c = checks.get(`${key(r, t)}:${e2eCell(model, b)}`);
        if (!c) continue;
        scale = c.scale;
        parts.push(`${r} ${t}T ${c.vsFovea !== null ? `${c.vsFovea.toExponential(1)} / ` : ''}${c.vsTorchRef.toExponential(1)}`);
      }
    }
    if (parts.length) agree.push(`${e2eCell(model, b)} (max |logit| ${scale.toPrecision(3)}): ${parts.join(', ')}`);
  }
}
if (agree.length) lines.push('', `Logits, max abs diff vs fovea (same thread count) / vs PyTorch's logits stored with the weights (tolerance ${tol} x max |logit|):`, '', ...agree.map((a) => `- ${a}`));
if (mismatches.length) lines.push('', `**MISMATCH, numbers left out:** ${mismatches.join('; ')}`);

const md = lines.join('\n');
console.log(md);
if (values.md) writeFileSync(values.md, `${md}\n`);
if (mismatches.length) process.exitCode = 1;
