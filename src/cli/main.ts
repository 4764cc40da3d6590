import { Command, InvalidArgumentError, Option } from 'commander';
import '../backends/cpu/index.js';
import { manualSeed } from '../tensor/engine.js';
import { initThreads } from '../backends/cpu/wasm/threads.js';
import { createModel, listModels, type ModelOptions } from '../models/index.js';
import { DATASETS, isDatasetName, loadDataset, type Split } from '../data/index.js';
import { DEFAULT_TRAIN_CONFIG, fit, type TrainConfig } from '../train/trainer.js';
import { evaluate } from '../train/evaluate.js';
import { loadCheckpointInto, readCheckpointConfig } from '../train/checkpoint.js';
import { formatDuration, Progress } from '../train/progress.js';
import { registerModelsCommand } from './models.js';
import { deviceOption, precisionOption, useDevice, type Device, type Precision } from './device.js';
import { registerSummaryCommand } from './summary.js';
import { registerPredictCommand } from './predict.js';

const number = (what: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${what} must be a number, got '${v}'`);
  return n;
};
const integer = (what: string, min = 1) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${what} must be an integer >= ${min}, got '${v}'`);
  return n;
};
const intList = (v: string): number[] => v.split(',').map((s) => integer('--widths entry')(s.trim()));

function datasetName(v: string): string {
  if (!isDatasetName(v)) throw new InvalidArgumentError(`unknown data set '${v}'; choose one of: ${DATASETS.join(', ')}`);
  return v;
}

function modelName(v: string): string {
  if (!listModels().includes(v)) throw new InvalidArgumentError(`unknown model '${v}'; choose one of: ${listModels().join(', ')}`);
  return v;
}

/** Keeps the first `n` images of a split (quick experiments). */
function limit(split: Split, n?: number): Split {
  if (!n || n >= split.train.labels.length) return split;
  const [C, H, W] = split.train.shape;
  const t = split.train;
  return { ...split, train: { ...t, images: t.images.subarray(0, n * C * H * W), labels: t.labels.subarray(0, n) } };
}

/** The train/demo flags: the training config plus what picks data, model and output. */
interface TrainFlags extends TrainConfig {
  device: Device;
  dataset: string;
  data?: string;
  model: string;
  widths?: number[];
  out?: string;
  resume: boolean;
  limitTrain?: number;
}

function addTrainOptions(cmd: Command, defaults: Partial<TrainFlags>): Command {
  return cmd
    .option('--dataset <name>', `data set: ${DATASETS.join(', ')}`, datasetName, defaults.dataset)
    .option('--data <dir>', 'directory with the data set files (fashion-mnist IDX files)')
    .option('--model <name>', 'model from the zoo (see `fovea models`)', modelName, defaults.model)
    .option('--widths <list>', 'channels per stage for canonical-cnn, e.g. 32,64,128', intList, defaults.widths)
    .option('--epochs <n>', 'training epochs', integer('--epochs'), defaults.epochs)
    .option('--batch-size <n>', 'mini-batch size', integer('--batch-size'), defaults.batchSize)
    .option('--lr <rate>', 'peak learning rate (after warmup)', number('--lr'), defaults.lr)
    .addOption(new Option('--optimizer <name>', 'optimiser').choices(['sgd', 'adamw']).default(defaults.optimizer))
    .option('--momentum <m>', 'SGD momentum', number('--momentum'), DEFAULT_TRAIN_CONFIG.momentum)
    .option('--no-nesterov', 'plain momentum instead of Nesterov')
    .option('--weight-decay <wd>', 'weight decay', number('--weight-decay'), defaults.weightDecay)
    .option('--warmup-epochs <n>', 'linear warmup length in epochs before cosine decay', number('--warmup-epochs'), defaults.warmupEpochs)
    .option('--label-smoothing <s>', 'label smoothing in [0, 1)', number('--label-smoothing'), DEFAULT_TRAIN_CONFIG.labelSmoothing)
    .option('--clip-grad <norm>', 'clip the global gradient norm (0 = off)', number('--clip-grad'), DEFAULT_TRAIN_CONFIG.clipGrad)
    .option('--augment', 'random crop + flip augmentation', defaults.augment ?? false)
    .option('--seed <n>', 'random seed (weights, shuffling, dropout)', integer('--seed', 0), 0)
    .addOption(precisionOption())
    .option('--out <dir>', 'write metrics.jsonl, model.safetensors and config.json here', defaults.out)
    .option('--resume', 'continue from the checkpoint in --out', false)
    .option('--limit-train <n>', 'use only the first n training images', integer('--limit-train'), defaults.limitTrain)
    .addOption(deviceOption());
}

async function runTrain(flags: TrainFlags, io: Io): Promise<void> {
  await initThreads(); // the kernels' worker threads join before the first batch
  await useDevice(flags.device);
  manualSeed(flags.seed);
  const t0 = Date.now();
  const split = limit(await loadDataset(flags.dataset as (typeof DATASETS)[number], { dir: flags.data, seed: flags.seed }), flags.limitTrain);
  const [C, H, W] = split.train.shape;
  let modelOptions: ModelOptions = { inChannels: C, numClasses: split.train.classNames.length };
  if (flags.widths) modelOptions = { ...modelOptions, widths: flags.widths };
  if (flags.resume && flags.out) {
    // The architecture comes from the checkpoint, not from today's flags.
    const saved = await readCheckpointConfig(flags.out).catch(() => null);
    if (saved) {
      if (saved.model !== flags.model) io.err(`note: --resume uses the checkpoint's model '${saved.model}'\n`);
      flags.model = saved.model;
      modelOptions = saved.modelOptions;
    }
  }
  const model = createModel(flags.model, modelOptions);
  const config = Object.fromEntries((Object.keys(DEFAULT_TRAIN_CONFIG) as (keyof TrainConfig)[]).map((k) => [k, flags[k]])) as unknown as TrainConfig;
  io.err(
    `fovea: training ${flags.model} (${(model.numParameters() / 1e3).toFixed(1)}k parameters) on ${flags.dataset} ` +
      `(${split.train.labels.length} train / ${split.test.labels.length} test images, ${C}x${H}x${W}), ${config.epochs} epochs, batch ${config.batchSize}, ${config.optimizer} lr ${config.lr}${config.precision === 'float16' ? ', mixed precision (float16 operands)' : ''}\n`,
  );
  const history = await fit({ model, modelName: flags.model, modelOptions, data: split, datasetName: flags.dataset, config, outDir: flags.out, resume: flags.resume, log: (l) => io.err(`${l}\n`), progress: io.progress() });
  const last = history[history.length - 1];
  if (last) {
    io.out(`final test accuracy ${(100 * last.test_accuracy).toFixed(2)}% after ${last.epoch} epochs (${formatDuration((Date.now() - t0) / 1000)} wall)\n`);
  }
  if (flags.out) io.out(`checkpoint: ${flags.out}/model.safetensors, ${flags.out}/config.json; metrics: ${flags.out}/metrics.jsonl\n`);
}

interface Io {
  out(text: string): void;
  err(text: string): void;
  progress(): Progress;
}

export interface ProgramOptions {
  /** Throw instead of exiting on bad arguments (tests, embedding). */
  exitOverride?: boolean;
  writeOut?: (s: string) => void;
  writeErr?: (s: string) => void;
}

export function buildProgram(opts: ProgramOptions = {}): Command {
  const program = new Command();
  program.name('fovea').description('Convolutional neural networks in TypeScript: train, evaluate and run CNNs.').showHelpAfterError();
  if (opts.exitOverride) program.exitOverride();
  if (opts.writeOut || opts.writeErr) program.configureOutput({ writeOut: opts.writeOut, writeErr: opts.writeErr });
  const io: Io = {
    out: opts.writeOut ?? ((t) => void process.stdout.write(t)),
    err: opts.writeErr ?? ((t) => void process.stderr.write(t)),
    progress: () => (opts.writeErr ? new Progress({ interactive: false, write: opts.writeErr }) : new Progress()),
  };

  addTrainOptions(
    program.command('train').description('train a classifier (with no options: the built-in shapes demo, no download needed)'),
    { dataset: 'shapes', model: 'canonical-cnn', epochs: 4, batchSize: 64, lr: 0.05, optimizer: 'sgd', weightDecay: 5e-4, warmupEpochs: 0.5, widths: [16, 32, 64] },
  ).action((flags: TrainFlags) => runTrain(flags, io));

  addTrainOptions(
    program.command('demo').description('about a minute of training on the built-in synthetic shapes data set (no download)'),
    { dataset: 'shapes', model: 'canonical-cnn', epochs: 5, batchSize: 64, lr: 0.05, optimizer: 'sgd', weightDecay: 5e-4, warmupEpochs: 0.5, widths: [16, 32, 64], limitTrain: 6000, out: 'runs/demo' },
  ).action((flags: TrainFlags) => runTrain(flags, io));

  program
    .command('eval')
    .description('evaluate a checkpoint on a data set\'s test split')
    .requiredOption('--checkpoint <dir>', 'directory written by `fovea train --out`')
    .option('--dataset <name>', 'data set (default: the one it was trained on)', datasetName)
    .option('--data <dir>', 'directory with the data set files')
    .option('--batch-size <n>', 'batch size', integer('--batch-size'), 256)
    .option('--json', 'print a JSON object instead of text', false)
    .addOption(deviceOption())
    .addOption(precisionOption())
    .action(async (flags: { checkpoint: string; dataset?: string; data?: string; batchSize: number; json: boolean; device: Device; precision: Precision }) => {
      await useDevice(flags.device);
      const config = await readCheckpointConfig(flags.checkpoint);
      const dataset = flags.dataset ?? config.dataset;
      const split = await loadDataset(dataset as (typeof DATASETS)[number], { dir: flags.data, seed: Number(config.train.seed ?? 0) });
      const model = createModel(config.model, config.modelOptions);
      await loadCheckpointInto(flags.checkpoint, model);
      const t0 = Date.now();
      const r = await evaluate(model, split.test, { batchSize: flags.batchSize, precision: flags.precision });
      const seconds = (Date.now() - t0) / 1000;
      if (flags.json) {
        io.out(`${JSON.stringify({ checkpoint: flags.checkpoint, model: config.model, dataset, epoch: config.epoch, images: r.count, accuracy: r.accuracy, loss: r.loss, seconds, confusion: r.confusion })}\n`);
      } else {
        io.out(`${config.model} (epoch ${config.epoch}) on ${dataset} test: accuracy ${(100 * r.accuracy).toFixed(2)}%, loss ${r.loss.toFixed(4)}, ${r.count} images in ${seconds.toFixed(1)} s\n`);
      }
    });

  registerModelsCommand(program, io);
  registerSummaryCommand(program, io);
  registerPredictCommand(program, io);

  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
