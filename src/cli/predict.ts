/**
 * `fovea predict`: classify images with a zoo model and its weights, using the model's own
 * preprocessing, or run a raw input tensor (.safetensors / .npy) through it.
 */
import { deviceOption, precisionOption, useDevice, type Device, type Precision } from './device.js';
import { autocast } from '../tensor/autocast.js';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { access, readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { initThreads } from '../backends/cpu/wasm/threads.js';
import { noGrad, tidy } from '../tensor/engine.js';
import { tensor } from '../ops/creation.js';
import { softmax } from '../ops/softmax.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Module } from '../nn/module.js';
import { createModel, listModels, modelInfo, type ModelOptions, type Preprocessing } from '../models/registry.js';
import { IMAGENET_CLASSES } from '../models/imagenet-classes.js';
import { parseSafetensors, toFloat32, writeSafetensors } from '../io/safetensors.js';
import { parseNpy, writeNpy } from '../io/npy.js';
import { decodeImage, preprocessImage, type Interpolation } from '../image/index.js';

/** Where the command writes; main.ts's io object fits. */
export interface PredictOutput {
  out(text: string): void;
  err(text: string): void;
}

interface PredictFlags {
  model: string;
  weights: string;
  labels?: string;
  top: number;
  json: boolean;
  input?: string;
  output?: string;
  size?: number;
  resize?: number;
  mean?: number[];
  std?: number[];
  interpolation?: Interpolation;
  device: Device;
  precision: Precision;
}

/** The key under which `fovea train` checkpoints embed their run config (src/train/checkpoint.ts). */
const CHECKPOINT_CONFIG_KEY = 'fovea.config';

function knownModel(name: string): string {
  if (!listModels().includes(name)) throw new InvalidArgumentError(`unknown model '${name}'; choose one of: ${listModels().join(', ')}`);
  return name;
}

function positiveInteger(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} must be an integer >= 1, got '${v}'`);
    return n;
  };
}

function rgbTriple(flag: string) {
  return (v: string): number[] => {
    const parts = v.split(',').map((s) => Number(s.trim()));
    if (parts.length !== 3 || !parts.every(Number.isFinite)) throw new InvalidArgumentError(`${flag} takes three numbers, one per RGB channel, e.g. 0.485,0.456,0.406; got '${v}'`);
    return parts;
  };
}

async function readInputFile(path: string, what: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${what} not found: ${path}`);
    throw e;
  }
}

/** The model's transform, with the command-line overrides applied. */
export function resolvePreprocessing(model: string, own: Preprocessing | undefined, flags: Pick<PredictFlags, 'size' | 'resize' | 'mean' | 'std' | 'interpolation'>): Preprocessing {
  if (!own && (flags.size === undefined || !flags.mean || !flags.std)) {
    const zoo = listModels().filter((m) => modelInfo(m).preprocessing);
    throw new Error(
      `model '${model}' has no image preprocessing of its own: pass --size N (the crop), --mean r,g,b and --std r,g,b ` +
        `(and optionally --resize N, --interpolation) as it was trained with, or choose a zoo model${zoo.length ? ` (${zoo.join(', ')})` : ''}`,
    );
  }
  const cropSize = flags.size ?? own!.cropSize;
  // Without --resize, keep the model's resize-to-crop ratio (256/224 for most of the zoo).
  const resizeSize = flags.resize ?? (own ? Math.round((cropSize * own.resizeSize) / own.cropSize) : cropSize);
  return {
    resizeSize,
    cropSize,
    interpolation: flags.interpolation ?? own?.interpolation ?? 'bilinear',
    mean: (flags.mean ?? own!.mean) as Preprocessing['mean'],
    std: (flags.std ?? own!.std) as Preprocessing['std'],
  };
}

async function readLabels(path: string | undefined, numClasses: number): Promise<string[]> {
  if (!path) return numClasses === 1000 ? [...IMAGENET_CLASSES] : Array.from({ length: numClasses }, (_, i) => String(i));
  const lines = new TextDecoder().decode(await readInputFile(path, 'labels file')).split(/\r?\n/);
  while (lines.length && lines[lines.length - 1].trim() === '') lines.pop();
  if (lines.length !== numClasses) throw new Error(`${path} has ${lines.length} labels but the model has ${numClasses} outputs; give one label per line, in output order`);
  return lines;
}

/** Builds the model from its weights; a `fovea train` checkpoint also brings the options it was trained with. */
async function loadModel(flags: PredictFlags, io: PredictOutput): Promise<{ model: Module; options: ModelOptions }> {
  const bytes = await readInputFile(flags.weights, 'weights file');
  const file = parseSafetensors(bytes, flags.weights);
  let options: ModelOptions = {};
  const embedded = file.metadata[CHECKPOINT_CONFIG_KEY];
  if (embedded) {
    const config = JSON.parse(embedded) as { model?: string; modelOptions?: ModelOptions };
    if (config.model && config.model !== flags.model) throw new Error(`${flags.weights} is a checkpoint of '${config.model}', not '${flags.model}'; pass --model ${config.model}`);
    options = config.modelOptions ?? {};
  }
  const model = createModel(flags.model, { ...options, weights: bytes, log: (m) => io.err(`warning: ${m}\n`) });
  model.eval();
  return { model, options };
}

function forward(model: Module, x: Tensor, inputShape: readonly number[], precision: Precision): Tensor {
  try {
    return noGrad(() => autocast(() => model.call(x), { enabled: precision === 'float16' }));
  } catch (e) {
    throw new Error(`the model cannot run an input of shape [${inputShape.join(', ')}]: ${e instanceof Error ? e.message : String(e)}`);
  }
}

interface Prediction {
  index: number;
  label: string;
  probability: number;
}

function topK(probabilities: Float32Array, k: number, labels: string[]): Prediction[] {
  const order = Array.from(probabilities.keys()).sort((a, b) => probabilities[b] - probabilities[a] || a - b);
  return order.slice(0, k).map((index) => ({ index, label: labels[index], probability: probabilities[index] }));
}

async function classifyImages(images: string[], flags: PredictFlags, io: PredictOutput): Promise<void> {
  const entry = modelInfo(flags.model);
  const preprocessing = resolvePreprocessing(flags.model, entry.preprocessing, flags);
  // Fail on a mistyped path before spending seconds on loading a large model.
  for (const path of images) await access(path).catch(() => Promise.reject(new Error(`image file not found: ${path}`)));
  const { model } = await loadModel(flags, io);
  const results: { image: string; top: Prediction[] }[] = [];
  let labels: string[] | undefined;
  for (const path of images) {
    const image = await decodeImage(await readInputFile(path, 'image file'), path);
    const x = preprocessImage(image, preprocessing);
    const probs = tidy(() => softmax(forward(model, x, x.shape, flags.precision), -1));
    x.dispose();
    const p = (await probs.data()) as Float32Array;
    probs.dispose();
    labels ??= await readLabels(flags.labels, p.length);
    const top = topK(p, Math.min(flags.top, p.length), labels);
    results.push({ image: path, top });
    if (!flags.json) {
      io.out(`${path}\n`);
      for (const [rank, t] of top.entries()) io.out(`  ${rank + 1}. ${(100 * t.probability).toFixed(2).padStart(6)}%  ${t.label} (${t.index})\n`);
    }
  }
  if (flags.json) io.out(`${JSON.stringify({ model: flags.model, weights: flags.weights, preprocessing, results })}\n`);
}

async function readInputTensor(path: string): Promise<{ data: Float32Array; shape: number[] }> {
  const ext = extname(path).toLowerCase();
  if (ext === '.npy') {
    const a = parseNpy(await readInputFile(path, 'input file'), path);
    if (a.dtype !== 'float32' && a.dtype !== 'float64') throw new Error(`${path} holds ${a.dtype} values; the model takes floats (save arr.astype('float32'))`);
    return { data: a.data instanceof Float32Array ? a.data : Float32Array.from(a.data as Float64Array), shape: a.shape };
  }
  if (ext === '.safetensors') {
    const file = parseSafetensors(await readInputFile(path, 'input file'), path);
    const t = file.tensors.get('input');
    if (!t) throw new Error(`${path} has no tensor named 'input' (it has: ${[...file.tensors.keys()].join(', ') || 'none'})`);
    return { data: toFloat32(t), shape: t.shape };
  }
  throw new Error(`--input ${path}: give a .safetensors file (tensor 'input') or a .npy file`);
}

async function runRawTensor(flags: PredictFlags, io: PredictOutput): Promise<void> {
  const output = flags.output!;
  const outExt = extname(output).toLowerCase();
  if (outExt !== '.npy' && outExt !== '.safetensors') throw new Error(`--output ${output}: give a .safetensors or .npy file name`);
  const { data, shape } = await readInputTensor(flags.input!);
  const entry = modelInfo(flags.model);
  const { model, options } = await loadModel(flags, io);
  const channels = (options.inChannels as number | undefined) ?? entry.inputShape[0];
  const size = entry.preprocessing?.cropSize;
  const [h, w] = size ? [size, size] : entry.inputShape.slice(1);
  if (shape.length !== 4 || shape[1] !== channels) {
    throw new Error(`${flags.input} holds a tensor of shape [${shape.join(', ')}]; ${flags.model} takes [N, ${channels}, H, W] (e.g. [1, ${channels}, ${h}, ${w}])`);
  }
  const x = tensor(data, shape);
  const y = forward(model, x, shape, flags.precision);
  x.dispose();
  const values = (await y.data()) as Float32Array;
  const outShape = [...y.shape];
  y.dispose();
  if (outExt === '.npy') await writeNpy(output, values, outShape);
  else await writeSafetensors(output, { output: { dtype: 'F32', shape: outShape, data: values } }, { model: flags.model, producer: 'fovea predict' });
  if (!flags.json) io.out(`${output}: output [${outShape.join(', ')}] from input [${shape.join(', ')}]\n`);
  else io.out(`${JSON.stringify({ model: flags.model, input: flags.input, inputShape: shape, output, outputShape: outShape })}\n`);
}

export function registerPredictCommand(program: Command, io: PredictOutput): void {
  program
    .command('predict')
    .description('classify images (top-K classes with probabilities) with a zoo model and its weights, or run a raw tensor with --input/--output')
    .argument('[images...]', 'JPEG or PNG files')
    .requiredOption('--model <name>', 'model from the zoo (see `fovea models`)', knownModel)
    .requiredOption('--weights <file>', 'safetensors weights with torchvision key names, or a `fovea train` model.safetensors')
    .option('--labels <file>', 'class names, one per line (default: ImageNet\'s for 1000-class models, else indices)')
    .option('--top <k>', 'how many classes to show per image', positiveInteger('--top'), 5)
    .option('--json', 'print one JSON object instead of text', false)
    .option('--input <file>', 'run this tensor instead of images: .safetensors (tensor \'input\') or .npy, shape [N, C, H, W]')
    .option('--output <file>', 'with --input: write the model output here (.safetensors tensor \'output\', or .npy)')
    .option('--size <n>', 'crop size (default: the model\'s)', positiveInteger('--size'))
    .option('--resize <n>', 'shorter side before the crop (default: the model\'s, scaled with --size)', positiveInteger('--resize'))
    .option('--mean <r,g,b>', 'normalisation mean per channel (default: the model\'s)', rgbTriple('--mean'))
    .option('--std <r,g,b>', 'normalisation std per channel (default: the model\'s)', rgbTriple('--std'))
    .addOption(new Option('--interpolation <filter>', 'resize filter (default: the model\'s)').choices(['bilinear', 'bicubic', 'nearest']))
    .addOption(deviceOption())
    .addOption(precisionOption())
    .action(async (images: string[], flags: PredictFlags) => {
      await useDevice(flags.device);
      if (flags.input !== undefined || flags.output !== undefined) {
        if (flags.input === undefined || flags.output === undefined) throw new Error('--input and --output go together: fovea predict --model M --weights W --input x.npy --output y.npy');
        if (images.length) throw new Error(`give either images or --input, not both (got ${images.join(', ')} and --input ${flags.input})`);
        await initThreads();
        return runRawTensor(flags, io);
      }
      if (!images.length) throw new Error('no images given: fovea predict --model M --weights W image.jpg ... (or --input x.npy --output y.npy)');
      await initThreads();
      return classifyImages(images, flags, io);
    });
}
