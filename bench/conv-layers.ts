/**
 * Per-layer conv2d forward speed, batch 1, fp32: fovea's CPU kernels (the kernel mode in
 * effect, and the TypeScript reference kernels) against onnxruntime-web (wasm, in Node),
 * onnxruntime-node, TensorFlow.js (wasm; cpu on the small layers only) and PyTorch CPU, on
 * ResNet-50 and MobileNetV2 layer shapes. Each runner runs in its own process, one after the
 * other (warm-up, then the median of up to --reps runs within --max-ms per layer; with --rounds N
 * the whole sequence runs N times and each cell keeps its best median, which damps the 2-4x
 * outliers other jobs on a shared 2-core machine cause); all use the
 * same inputs, weights and bias, and every output is checked against fovea's reference kernels
 * before any number is printed as valid. Prints a markdown section for bench/RESULTS.md.
 *
 *   npx tsx bench/conv-layers.ts [--threads 1|2] [--layers resnet50,mobilenetv2|<layer ids>] [--reps 20]
 *                                [--rounds 1] [--max-ms 2000] [--warmup-ms 300] [--runners fovea,fovea-ref,ort-web,ort-node,tfjs-wasm,tfjs-cpu,torch]
 *                                [--tfjs-cpu-max-gflop 0.05] [--readback] [--stat median|min|both] [--no-openblas]
 *                                [--default-malloc] [--note "..."] [--md out.md]
 *
 * Every runner process gets GLIBC_TUNABLES with a fixed 32 MiB malloc mmap threshold and a
 * high trim threshold (unless --default-malloc): on these VMs a page fault costs ~10 µs, and
 * glibc's default mmap/munmap of every multi-MB buffer made onnxruntime-node 10-20x slower on
 * large layers (its per-run scratch buffers were faulted in afresh each run).
 *
 * A timed run covers the convolution with the result left in the runtime's memory (fovea and
 * tfjs: a tensor, disposed; ORT: a preallocated output; PyTorch: a tensor). --readback adds a
 * copy into a fresh JavaScript array per run for the JavaScript runners (fresh multi-MB buffers
 * cost milliseconds of page faults on these VMs; see bench/peers/js-runner.ts).
 *
 * Generated data, ONNX models and outputs go to .bench-cache/conv-layers/ (gitignored).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type ConvLayer, type RunnerResult, CACHE, ensureLayerData, gflop, layerDir, outputPath, readF32, resultPath, selectLayers } from './peers/layers.js';

process.chdir(fileURLToPath(new URL('..', import.meta.url)));

const ALL_RUNNERS = ['fovea', 'fovea-ref', 'ort-web', 'ort-node', 'tfjs-wasm', 'tfjs-cpu', 'torch'] as const;
type RunnerName = (typeof ALL_RUNNERS)[number];

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '1' },
    layers: { type: 'string', default: 'resnet50,mobilenetv2' },
    reps: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '1' },
    'max-ms': { type: 'string', default: '2000' },
    'warmup-ms': { type: 'string', default: '300' },
    runners: { type: 'string', default: ALL_RUNNERS.join(',') },
    'tfjs-cpu-max-gflop': { type: 'string', default: '0.05' },
    'no-openblas': { type: 'boolean', default: false },
    'default-malloc': { type: 'boolean', default: false },
    readback: { type: 'boolean', default: false },
    python: { type: 'string', default: '/usr/bin/python3' },
    tol: { type: 'string', default: '1e-3' },
    note: { type: 'string', default: '' },
    stat: { type: 'string', default: 'median' },
    md: { type: 'string' },
  },
});
const threads = Number(values.threads);
if (!Number.isInteger(threads) || threads < 1) throw new Error(`--threads must be a positive integer, got '${values.threads}'`);
const layers = selectLayers(values.layers!);
const reps = values.reps!;
const rounds = Number(values.rounds);
const maxMs = values['max-ms']!;
const tol = Number(values.tol);
const tfjsCpuMax = Number(values['tfjs-cpu-max-gflop']);
const stat = values.stat!;
if (!['median', 'min', 'both'].includes(stat)) throw new Error(`--stat must be median, min or both, got '${stat}'`);
const python = values.python!;
let runners = values.runners!.split(',').map((s) => s.trim()) as RunnerName[];
for (const r of runners) if (!ALL_RUNNERS.includes(r)) throw new Error(`unknown runner '${r}'; runners: ${ALL_RUNNERS.join(', ')}`);

const log = (s: string): void => void process.stderr.write(`${s}\n`);

/**
 * CPU ticks (USER_HZ) from /proc: busy on all CPUs, and this process with its waited-for
 * children. Their difference over the run is what other processes (other sandboxes sharing
 * the VM included, which ps does not show) took from the cores. null off Linux.
 */
function cpuTicks(): { busy: number; steal: number; own: number } | null {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    const busy = cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6] + cpu[7];
    const self = readFileSync('/proc/self/stat', 'utf8');
    const f = self.slice(self.lastIndexOf(')') + 2).split(' ').map(Number);
    return { busy, steal: cpu[7], own: f[11] + f[12] + f[13] + f[14] };
  } catch {
    return null;
  }
}
const load0 = loadavg()[0];
const ticks0 = cpuTicks();
const started = Date.now();

// fovea's active kernel mode: FOVEA_CPU_KERNELS or the default. When it already is
// 'reference', the fovea-ref run would repeat it.
const { cpuKernels } = await import('../src/backends/cpu/kernel-mode.js');
if (cpuKernels() === 'reference' && runners.includes('fovea') && runners.includes('fovea-ref')) runners = runners.filter((r) => r !== 'fovea-ref');

// 1. Data (x, w, b per layer), the spec for the Python scripts, and the ONNX models.
ensureLayerData(layers);
const specPath = join(CACHE, 'spec.json');
writeFileSync(specPath, JSON.stringify(layers.map((l) => ({ ...l, dir: layerDir(l) })), null, 2));
rmSync(join(CACHE, 'results'), { recursive: true, force: true });
rmSync(join(CACHE, 'out'), { recursive: true, force: true });
if (runners.some((r) => r.startsWith('ort-'))) {
  const onnx = spawnSync(python, ['bench/peers/make_conv_onnx.py', specPath], { stdio: ['ignore', 2, 2] });
  if (onnx.status !== 0 || layers.some((l) => !existsSync(join(layerDir(l), 'model.onnx')))) {
    log(`ONNX export failed (needs ${python} with Debian's python3-torch); skipping onnxruntime runners`);
    runners = runners.filter((r) => !r.startsWith('ort-'));
  }
}

// 2. Each runner in its own process; each round runs them all once more.
const layerIds = (ls: readonly ConvLayer[]): string => ls.map((l) => l.id).join(',');
const results = new Map<RunnerName, RunnerResult>();
const MALLOC_TUNABLES = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296';
const baseEnv: NodeJS.ProcessEnv = values['default-malloc']
  ? process.env
  : { ...process.env, GLIBC_TUNABLES: [process.env.GLIBC_TUNABLES, MALLOC_TUNABLES].filter(Boolean).join(':') };

/** Runs one runner in a child process; it writes resultPath(r) and its outputs. */
function runOnce(r: RunnerName): void {
  if (r === 'torch') {
    const env: NodeJS.ProcessEnv = { ...baseEnv, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
    if (!values['no-openblas']) {
      const ob = spawnSync('sh', ['bench/peers/openblas.sh'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 2] });
      if (ob.status === 0) env.LD_LIBRARY_PATH = [ob.stdout.trim(), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
      else log('  OpenBLAS unavailable (apt-get download libopenblas0-pthread failed); torch runs on its default BLAS');
    }
    const args = ['bench/peers/torch_conv.py', '--spec', specPath, '--threads', String(threads), '--reps', reps, '--max-ms', maxMs, '--warmup-ms', values['warmup-ms']!, '--result', resultPath('torch'), '--outdir', join(CACHE, 'out', 'torch')];
    mkdirSync(join(CACHE, 'results'), { recursive: true });
    const py = spawnSync(python, args, { env, stdio: ['ignore', 2, 2] });
    if (py.status !== 0) log(`  torch runner failed (exit ${py.status}; needs Debian's python3-torch)`);
    return;
  }
  const ls = r === 'tfjs-cpu' ? layers.filter((l) => gflop(l) <= tfjsCpuMax) : layers;
  if (!ls.length) return;
  const args = ['--import', 'tsx', 'bench/peers/js-runner.ts', '--runner', r, '--threads', String(threads), '--layers', layerIds(ls), '--reps', reps, '--max-ms', maxMs, '--warmup-ms', values['warmup-ms']!];
  if (values.readback) args.push('--readback');
  const child = spawnSync(process.execPath, args, { stdio: ['ignore', 2, 2], env: { ...baseEnv, FOVEA_THREADS: String(threads) } });
  if (child.status !== 0) log(`  ${r} failed (exit ${child.status})`);
}

for (let round = 1; round <= rounds; round++) {
  for (const r of runners) {
    log(`${r}${rounds > 1 ? ` (round ${round} of ${rounds})` : ''}:`);
    rmSync(resultPath(r), { force: true });
    const t0 = Date.now();
    runOnce(r);
    log(`  (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    if (!existsSync(resultPath(r))) continue;
    const res = JSON.parse(readFileSync(resultPath(r), 'utf8')) as RunnerResult;
    const best = results.get(r);
    if (!best) {
      results.set(r, res);
      continue;
    }
    for (const [id, t] of Object.entries(res.layers)) {
      const b = best.layers[id];
      if (!b) best.layers[id] = t;
      else best.layers[id] = { ...(t.medianMs < b.medianMs ? t : b), minMs: Math.min(t.minMs, b.minMs), runs: t.runs + b.runs };
    }
  }
}

// 3. Agreement with the oracle (fovea's reference kernels, else the first runner), on the
// outputs of the last round.
const ran = runners.filter((r) => results.has(r));
const oracle = ran.includes('fovea-ref') ? 'fovea-ref' : ran[0];
const mismatches: string[] = [];
const agreement: string[] = [];
for (const r of ran) {
  if (r === oracle) continue;
  let worst = 0;
  let worstLayer = '';
  let compared = 0;
  for (const l of layers) {
    const a = outputPath(oracle, l);
    const b = outputPath(r, l);
    if (!existsSync(a) || !existsSync(b)) continue;
    const ya = readF32(a);
    const yb = readF32(b);
    let d = ya.length === yb.length ? 0 : Infinity;
    for (let i = 0; i < ya.length && d !== Infinity; i++) d = Math.max(d, Math.abs(ya[i] - yb[i]) || (Number.isNaN(yb[i] - ya[i]) ? Infinity : 0));
    compared++;
    if (d > worst || worstLayer === '') [worst, worstLayer] = [d, l.id];
    if (!(d <= tol)) mismatches.push(`${r} ${l.id}: max abs diff ${d.toExponential(2)} > ${tol}`);
  }
  agreement.push(compared ? `${r} ${worst.toExponential(1)} (${compared} layers, worst ${worstLayer})` : `${r}: no outputs to compare`);
}

// 4. The tables.
const f = (v: number, digits: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(digits - 1 > 0 ? 1 : 0) : v.toFixed(digits));
const fovea: RunnerName | undefined = ran.includes('fovea') ? 'fovea' : ran.includes('fovea-ref') ? 'fovea-ref' : undefined;
const peers = ran.filter((r) => r !== 'fovea' && r !== 'fovea-ref');
const ratioPeers = peers.filter((r) => r !== 'tfjs-cpu');
const head = (r: RunnerName): string => `${r} (${results.get(r)!.threads}T) ms · GF/s`;
const cell = (t: number | null, g: number): string => (t === null ? '—' : `${f(t, 2)} · ${f(g / (t / 1e3), 2)}`);
const ratio = (a: number | null, b: number | null): string => (a === null || b === null ? '—' : (b / a).toFixed(2));

/** Markdown rows for one statistic of the timed runs. */
function table(which: 'medianMs' | 'minMs'): string[] {
  const ms = (r: RunnerName, l: ConvLayer): number | null => {
    const t = results.get(r)?.layers[l.id];
    return t && !mismatches.some((m) => m.startsWith(`${r} ${l.id}:`)) ? t[which] : null;
  };
  const out: string[] = [];
  const cols = ['layer', 'GFLOP', ...ran.map(head), ...(fovea ? ratioPeers.map((p) => `${fovea}/${p}`) : [])];
  out.push(`| ${cols.join(' | ')} |`);
  out.push(`|${cols.map((_, i) => (i === 0 ? '---' : '--:')).join('|')}|`);
  for (const l of layers) {
    const g = gflop(l);
    const row = [l.label, g.toFixed(3), ...ran.map((r) => cell(ms(r, l), g)), ...(fovea ? ratioPeers.map((p) => ratio(ms(fovea, l), ms(p, l))) : [])];
    out.push(`| ${row.join(' | ')} |`);
  }
  for (const model of ['resnet50', 'mobilenetv2'] as const) {
    const ls = layers.filter((l) => l.model === model);
    if (ls.length < 2) continue;
    const g = ls.reduce((s, l) => s + gflop(l), 0);
    const total = (r: RunnerName): number | null => {
      const t = ls.map((l) => ms(r, l));
      return t.every((v) => v !== null) ? (t as number[]).reduce((a, b) => a + b, 0) : null;
    };
    const row = [`**${model} layers above, sum**`, g.toFixed(3), ...ran.map((r) => cell(total(r), g)), ...(fovea ? ratioPeers.map((p) => ratio(total(fovea), total(p))) : [])];
    out.push(`| ${row.join(' | ')} |`);
  }
  return out;
}

/** 'x86 family 26, AVX-512F + AVX2 + FMA' from /proc/cpuinfo: native peers (MLAS, oneDNN) pick kernels by ISA. */
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

/** 'other processes kept 1.3 of 2 cores busy' over the run, from cpuTicks(). */
function contention(): string {
  const t1 = cpuTicks();
  if (!ticks0 || !t1) return '';
  const secs = (Date.now() - started) / 1000;
  const others = (t1.busy - ticks0.busy - (t1.own - ticks0.own)) / 100 / secs;
  const steal = (t1.steal - ticks0.steal) / 100 / secs;
  return ` Other processes kept ${Math.max(0, others).toFixed(1)} of ${cpus().length} cores busy on average during the run${steal > 0.05 ? ` (hypervisor steal ${steal.toFixed(1)})` : ''}.`;
}

const lines: string[] = [];
const date = new Date().toISOString().slice(0, 10);
const cpu = cpus();
lines.push(`### conv2d forward per layer: batch 1, fp32, ${threads} thread${threads > 1 ? 's' : ''} (${date})`);
lines.push('');
lines.push(`Machine: ${cpu[0]?.model ?? 'unknown CPU'} (${cpu.length} cores, ${cpuIsa()}), Node ${process.version}; 1-min load average ${load0.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end.${contention()}${values.note ? ` ${values.note}` : ''}  `);
const shellArg = (a: string): string => (/^[\w.,=@/+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
// --note is printed above; --md names a local file.
const shownArgs = process.argv.slice(2).filter((a, i, all) => !['--note', '--md'].includes(a) && !['--note', '--md'].includes(all[i - 1]) && !/^--(note|md)=/.test(a));
const command = ['npx tsx bench/conv-layers.ts', ...shownArgs.map(shellArg)].join(' ').replace(/`/g, "'");
lines.push(`Command: \`${command}\` (${((Date.now() - started) / 1000).toFixed(0)} s in all).  `);
const what = `${values.readback ? 'each run includes reading the output into a fresh JavaScript array (--readback)' : "output left in the runtime's memory (ORT: preallocated output tensor), no read-back copy"}`;
lines.push(`Runner processes: ${values['default-malloc'] ? 'default glibc malloc settings' : `GLIBC_TUNABLES=${MALLOC_TUNABLES} (no mmap/munmap churn of multi-MB buffers; page faults are slow on this VM)`}.  `);
lines.push(`Cells: ms · GFLOP/s (2 x MACs, bias not counted); ${what}.${fovea ? ` ${fovea}/peer = peer ms ÷ ${fovea} ms (above 1: fovea faster).` : ''}`);
const best = rounds > 1 ? `, best of ${rounds} rounds` : '';
if (stat !== 'min') lines.push('', `Median run${best}:`, '', ...table('medianMs'));
if (stat !== 'median') lines.push('', `Fastest run${best} (on a shared machine, the closest to an undisturbed run):`, '', ...table('minMs'));
lines.push('');
lines.push('Runners (each in its own process, one after the other, same data):');
for (const r of ran) {
  const res = results.get(r)!;
  const paths = new Map<string, string[]>();
  for (const l of layers) {
    const p = res.layers[l.id]?.path;
    if (p) paths.set(p, [...(paths.get(p) ?? []), l.id]);
  }
  const pathNote = paths.size ? ` Faster path per layer: ${[...paths].map(([p, ids]) => `${p} on ${ids.join(', ')}`).join('; ')}.` : '';
  lines.push(`- ${r}: ${res.config}.${pathNote}`);
}
if (ran.includes('tfjs-cpu')) lines.push(`- tfjs-cpu runs only layers of at most ${tfjsCpuMax} GFLOP (pure JavaScript, ~0.5 GFLOP/s).`);
for (const r of runners.filter((x) => !results.has(x))) lines.push(`- ${r}: did not run (see stderr).`);
for (const [r, res] of results) for (const [id, e] of Object.entries(res.errors)) lines.push(`- ${r} failed on ${id}: ${e}`);
if (agreement.length) lines.push(`\nOutputs vs ${oracle}, max abs diff (outputs are O(1); tolerance ${tol}): ${agreement.join('; ')}.`);
if (mismatches.length) lines.push(`\n**MISMATCH, numbers left out:** ${mismatches.join('; ')}`);

const md = lines.join('\n');
console.log(md);
if (values.md) writeFileSync(values.md, `${md}\n`);
if (mismatches.length) process.exitCode = 1;
