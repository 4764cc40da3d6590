import { Argument, InvalidArgumentError, type Command } from 'commander';
import { initThreads } from '../backends/cpu/wasm/threads.js';
import { createModel, listModels, modelInfo } from '../models/registry.js';
import { collapseToDepth, summarize, type LayerRow, type ModelSummary } from '../models/summary.js';
import { formatBytes, formatCount, formatShape, formatSi, formatTable } from './table.js';
import { deviceOption, useDevice, type Device } from './device.js';
import { profileWebGPU } from '../backends/webgpu/index.js';
import { noGrad } from '../tensor/engine.js';
import { randn } from '../ops/creation.js';
import { Rng } from '../tensor/rng.js';
import type { Module } from '../nn/module.js';

/** Where the command writes; main.ts's io object fits. */
export interface SummaryOutput {
  out(text: string): void;
}

export const MACS_NOTE =
  'MACs are multiply-accumulates of the conv and linear layers, the number torchvision and timm publish as "GFLOPS" (resnet50: 4.09 G at 224x224); norms, pooling and element-wise ops count zero.';

function knownModel(name: string): string {
  if (!listModels().includes(name)) throw new InvalidArgumentError(`unknown model '${name}'; choose one of: ${listModels().join(', ')}`);
  return name;
}

/** '1x3x224x224' -> [1, 3, 224, 224]; 'CxHxW' means batch 1. */
export function parseInputShape(value: string): number[] {
  const dims = value.split('x').map(Number);
  if ((dims.length !== 3 && dims.length !== 4) || !dims.every((d) => Number.isInteger(d) && d > 0)) {
    throw new InvalidArgumentError(`--input must be NxCxHxW (or CxHxW for batch 1) with positive integers, e.g. 1x3x224x224; got '${value}'`);
  }
  return dims.length === 3 ? [1, ...dims] : dims;
}

function integerAtLeast(flag: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${flag} must be an integer >= ${min}, got '${value}'`);
    return n;
  };
}

interface SummaryFlags {
  input?: number[];
  device: Device;
  profile: boolean;
  runs: number;
  json: boolean;
  depth?: number;
}

function layerTable(rows: LayerRow[], profile: boolean): string {
  const header = ['layer', 'type', 'output shape', 'params', 'MACs'];
  if (profile) header.push('ms', '%');
  const cells = rows.map((r) => {
    const line = [r.name || '(model)', r.type, formatShape(r.outputShape), r.params ? formatCount(r.params) : '-', r.macs ? formatSi(r.macs) : '-'];
    if (profile) line.push((r.ms ?? 0).toFixed(3), (100 * (r.share ?? 0)).toFixed(1));
    return line;
  });
  return formatTable(header, cells, ['left', 'left', 'left', 'right', 'right', 'right', 'right']);
}

function totalsText(summary: ModelSummary, rows: LayerRow[]): string {
  const t = summary.totals;
  const inputBytes = t.inputShape.reduce((a, b) => a * b, 4);
  const lines = [
    `params       ${formatCount(t.params)}${t.trainableParams !== t.params ? ` (${formatCount(t.trainableParams)} trainable)` : ''}`,
    `MACs         ${formatSi(t.macs)} (${formatCount(t.macs)})`,
    `input        ${formatShape(t.inputShape)} (${formatBytes(inputBytes)})`,
    `activations  ${formatBytes(t.activationBytes)} (every layer output of one forward; about what a training step keeps for backward)`,
  ];
  if (t.forwardMs !== undefined) {
    const listed = rows.reduce((s, r) => s + (r.ms ?? 0), 0);
    const other = Math.max(0, t.forwardMs - listed);
    lines.push(`forward      ${t.forwardMs.toFixed(2)} ms (mean of ${t.runs} runs after 1 warm-up); ${other.toFixed(2)} ms (${((100 * other) / (t.forwardMs || 1)).toFixed(1)}%) outside the listed layers`);
  }
  return lines.join('\n') + '\n';
}

/**
 * GPU time per kernel of `runs` fused inference forwards on the webgpu backend (timestamp
 * queries): on a GPU, per-layer host timing would only measure how fast commands are recorded.
 */
async function gpuKernelTable(model: Module, input: number[], runs: number): Promise<string> {
  const x = randn(input, { rng: new Rng(0) });
  const forward = async (): Promise<void> => {
    const y = noGrad(() => model.forward(x));
    await y.data();
    y.dispose();
  };
  await forward();
  const profile = await profileWebGPU(async () => {
    for (let i = 0; i < runs; i++) await forward();
  });
  x.dispose();
  const total = profile.kernels.reduce((t, k) => t + k.ms, 0);
  const rows = profile.kernels.map((k) => [k.kernel, String(k.calls / runs), (k.ms / runs).toFixed(3), `${((100 * k.ms) / (total || 1)).toFixed(1)}%`]);
  const untimed = profile.untimedDispatches ? ` (${profile.untimedDispatches} dispatches past the query capacity not timed)` : '';
  return `GPU time per forward, by kernel (mean of ${runs}, fused inference path, timestamp queries)${untimed}:\n\n` +
    formatTable(['kernel', 'calls', 'ms', 'share'], rows, ['left', 'right', 'right', 'right']) +
    `\nkernels     ${(total / runs).toFixed(2)} ms per forward\n`;
}

async function runSummary(name: string, flags: SummaryFlags, io: SummaryOutput): Promise<void> {
  const info = modelInfo(name);
  const input = flags.input ?? [1, ...info.inputShape];
  await useDevice(flags.device);
  const onGpu = flags.device === 'webgpu';
  const model = createModel(name, input[1] !== info.inputShape[0] ? { inChannels: input[1] } : {});
  if (flags.profile) await initThreads(); // time the kernels as `train` and `predict` run them
  let summary: ModelSummary;
  let gpuTable = '';
  try {
    summary = summarize(model, input, { profile: flags.profile && !onGpu, runs: flags.runs, containers: flags.depth !== undefined });
    if (flags.profile && onGpu) gpuTable = await gpuKernelTable(model.eval(), input, flags.runs);
  } catch (e) {
    throw new Error(`summary: ${name} cannot run on input ${formatShape(input)} (its default is ${formatShape([1, ...info.inputShape])}): ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    model.dispose();
  }
  const rows = flags.depth !== undefined ? collapseToDepth(summary.rows, flags.depth) : summary.rows;
  if (flags.json) {
    io.out(`${JSON.stringify({ model: name, macsNote: MACS_NOTE, rows, totals: summary.totals })}\n`);
    return;
  }
  io.out(`${name} at input ${formatShape(input)}\n${MACS_NOTE}\n\n`);
  io.out(layerTable(rows, flags.profile && !onGpu));
  io.out('\n');
  io.out(totalsText(summary, rows));
  if (gpuTable) io.out(`\n${gpuTable}`);
}

/** Adds `fovea summary <model>`: per-layer output shapes, parameters, MACs and (--profile) time. */
export function registerSummaryCommand(program: Command, io: SummaryOutput): void {
  program
    .command('summary')
    .description('per-layer output shapes, parameters and MACs of a zoo model (--profile: time per layer)')
    .addArgument(new Argument('<model>', 'model from the zoo (see `fovea models`)').argParser(knownModel))
    .option('--input <NxCxHxW>', 'input shape (default: batch 1 at the model\'s default input)', parseInputShape)
    .option('--profile', 'time every layer over --runs forwards after one warm-up', false)
    .option('--runs <n>', 'timed forwards with --profile', integerAtLeast('--runs', 1), 10)
    .option('--depth <d>', 'one row per module at this nesting depth (0 = the whole model), holding its subtree', integerAtLeast('--depth', 0))
    .option('--json', 'print one JSON object (rows and totals) instead of the table', false)
    .addOption(deviceOption())
    .action((name: string, flags: SummaryFlags) => runSummary(name, flags, io));
}
