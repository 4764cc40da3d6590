import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { manualSeed, tidy, memory } from '../tensor/engine.js';
import { initThreads } from '../backends/cpu/wasm/threads.js';
import { tensor } from '../ops/creation.js';
import { crossEntropy } from '../ops/loss.js';
import { autocast } from '../tensor/autocast.js';
import { argmax, sum } from '../ops/reduce.js';
import { equal } from '../ops/elementwise.js';
import type { Module } from '../nn/module.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Optimizer } from '../optim/optimizer.js';
import { SGD } from '../optim/sgd.js';
import { AdamW } from '../optim/adamw.js';
import { clipGradNorm } from '../optim/clip.js';
import { warmupCosine } from '../optim/schedule.js';
import { DataLoader, mixSeed, randomCropFlip, type Batch, type Split } from '../data/dataset.js';
import type { ModelOptions } from '../models/registry.js';
import { evaluate } from './evaluate.js';
import { Progress, formatDuration } from './progress.js';
import { checkpointExists, loadCheckpointInto, saveCheckpoint, type CheckpointConfig } from './checkpoint.js';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: 'sgd' | 'adamw';
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  warmupEpochs: number;
  labelSmoothing: number;
  /** Max global gradient norm; 0 disables clipping. */
  clipGrad: number;
  /** Random crop (padding 2 or 4) + horizontal flip. */
  augment: boolean;
  seed: number;
  /**
   * 'float16': mixed precision (autocast around the forward pass: float16 operands for the
   * convolutions and matrix products, float32 master weights, gradients and optimizer).
   */
  precision: 'float32' | 'float16';
}

export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  epochs: 10,
  batchSize: 128,
  lr: 0.1,
  optimizer: 'sgd',
  momentum: 0.9,
  nesterov: true,
  weightDecay: 5e-4,
  warmupEpochs: 1,
  labelSmoothing: 0,
  clipGrad: 0,
  augment: false,
  seed: 0,
  precision: 'float32',
};

export interface FitOptions {
  model: Module;
  modelName: string;
  modelOptions: ModelOptions;
  data: Split;
  datasetName: string;
  config: TrainConfig;
  /** Checkpoint and metrics directory; nothing is written without it. */
  outDir?: string;
  /** Continue from the checkpoint in outDir. */
  resume?: boolean;
  log?: (line: string) => void;
  progress?: Progress;
}

/**
 * One optimisation step on a batch (the step `fit` runs): forward (under autocast for
 * precision 'float16'), cross-entropy, backward, optional gradient clipping, update. Returns
 * the loss and the number of correct predictions as device scalars, for reading back later.
 */
export function trainStep(
  model: Module,
  optimizer: Optimizer,
  batch: Batch,
  imageShape: readonly number[],
  config: Pick<TrainConfig, 'precision' | 'labelSmoothing' | 'clipGrad'>,
): [Tensor, Tensor] {
  return tidy(() => {
    optimizer.zeroGrad();
    const x = tensor(batch.images, [batch.size, ...imageShape]);
    const y = tensor(batch.labels, [batch.size], 'int32');
    const logits = autocast(() => model.forward(x), { enabled: config.precision === 'float16' });
    const loss = crossEntropy(logits, y, { labelSmoothing: config.labelSmoothing });
    loss.backward();
    if (config.clipGrad > 0) clipGradNorm(optimizer.params, config.clipGrad);
    optimizer.step();
    return [loss, sum(equal(argmax(logits, 1), y))] as [Tensor, Tensor];
  });
}

export interface EpochRecord {
  type: 'epoch';
  epoch: number;
  step: number;
  lr: number;
  train_loss: number;
  train_accuracy: number;
  test_loss: number;
  test_accuracy: number;
  images_per_second: number;
  epoch_seconds: number;
  elapsed_seconds: number;
  live_tensors: number;
}

/** Raised when the loss becomes NaN or infinite; the last good checkpoint is left in place. */
export class DivergenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DivergenceError';
  }
}

export function makeOptimizer(params: ReturnType<Module['parameters']>, c: TrainConfig): Optimizer {
  return c.optimizer === 'adamw'
    ? new AdamW(params, { lr: c.lr, weightDecay: c.weightDecay })
    : new SGD(params, { lr: c.lr, momentum: c.momentum, nesterov: c.nesterov && c.momentum > 0, weightDecay: c.weightDecay });
}

/**
 * Trains a classifier with mini-batch SGD/AdamW, a warmup + cosine schedule, optional label
 * smoothing, clipping and augmentation; evaluates on the test split after every epoch,
 * appends metrics to outDir/metrics.jsonl and checkpoints outDir atomically.
 */
export async function fit(opts: FitOptions): Promise<EpochRecord[]> {
  const { model, data, config: c } = opts;
  await initThreads(); // the kernels' worker threads join before the first batch
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const progress = opts.progress ?? new Progress();
  const optimizer = makeOptimizer(model.parameters().filter((p) => p.requiresGrad), c);
  const loader = new DataLoader(data.train, {
    batchSize: c.batchSize,
    shuffle: true,
    seed: c.seed,
    dropLast: true,
    transform: c.augment ? randomCropFlip(data.train.shape[1] >= 32 ? 4 : 2, data.train.shape[1] >= 32) : undefined,
  });
  if (loader.numBatches === 0) throw new Error(`the training set has ${data.train.labels.length} images, fewer than one batch of ${c.batchSize}; lower --batch-size`);
  const totalSteps = c.epochs * loader.numBatches;
  const schedule = warmupCosine({ baseLr: c.lr, totalSteps, warmupSteps: Math.min(Math.round(c.warmupEpochs * loader.numBatches), totalSteps - 1) });
  let startEpoch = 0;
  let step = 0;
  const metricsPath = opts.outDir ? join(opts.outDir, 'metrics.jsonl') : null;
  if (opts.outDir) await mkdir(opts.outDir, { recursive: true });
  if (opts.resume) {
    if (!opts.outDir || !(await checkpointExists(opts.outDir))) throw new Error(`--resume: no checkpoint found in ${opts.outDir ?? '(no --out given)'}`);
    const saved = await loadCheckpointInto(opts.outDir, model, optimizer, log);
    startEpoch = saved.epoch;
    step = saved.step;
    log(`resumed from ${opts.outDir} at epoch ${startEpoch} (step ${step})`);
    if (startEpoch >= c.epochs) log(`the checkpoint has already completed ${startEpoch} of ${c.epochs} epochs; raise --epochs to train further`);
  }
  const [C, H, W] = data.train.shape;
  const history: EpochRecord[] = [];
  const started = Date.now();
  model.train();
  for (let epoch = startEpoch; epoch < c.epochs; epoch++) {
    manualSeed(mixSeed(c.seed, epoch, 0x5eed));
    const epochStart = Date.now();
    let lossSum = 0;
    let correctSum = 0;
    let seen = 0;
    progress.begin(`epoch ${epoch + 1}/${c.epochs}`, loader.numBatches * c.batchSize);
    // Loss and accuracy stay on the device and are read back every `readEvery` steps: on the CPU
    // every step (free), on a GPU in groups, so the queue is not drained after each step.
    const readEvery = model.parameters()[0]?.backend.hostResident === false ? 16 : 1;
    let pending: { loss: Tensor; correct: Tensor; size: number; step: number }[] = [];
    const flush = async (): Promise<void> => {
      for (const p of pending) {
        const loss = await p.loss.item();
        const correct = await p.correct.item();
        if (!Number.isFinite(loss)) {
          for (const q of pending) {
            q.loss.dispose();
            q.correct.dispose();
          }
          pending = [];
          progress.end();
          throw new DivergenceError(
            `training diverged: the loss became ${loss} at epoch ${epoch + 1}, step ${p.step}. ` +
              (opts.outDir ? `The last good checkpoint (if any) is kept in ${opts.outDir}. ` : '') +
              `Lower --lr (now ${c.lr}), add --clip-grad 1, or use more warmup.`,
          );
        }
        lossSum += loss * p.size;
        correctSum += correct;
        seen += p.size;
        p.loss.dispose();
        p.correct.dispose();
      }
      pending = [];
      progress.update(seen, seen, { loss: (lossSum / seen).toFixed(4), acc: `${((100 * correctSum) / seen).toFixed(1)}%`, lr: optimizer.lr.toPrecision(3) });
    };
    for (const batch of loader.batches(epoch)) {
      optimizer.lr = schedule(step);
      const [lossT, correctT] = trainStep(model, optimizer, batch, [C, H, W], c);
      step++;
      pending.push({ loss: lossT, correct: correctT, size: batch.size, step });
      if (pending.length >= readEvery) await flush();
    }
    await flush();
    progress.end();
    const trainSeconds = (Date.now() - epochStart) / 1000;
    const test = await evaluate(model, data.test, { batchSize: 256, precision: c.precision });
    model.train();
    const record: EpochRecord = {
      type: 'epoch',
      epoch: epoch + 1,
      step,
      lr: optimizer.lr,
      train_loss: lossSum / seen,
      train_accuracy: correctSum / seen,
      test_loss: test.loss,
      test_accuracy: test.accuracy,
      images_per_second: seen / trainSeconds,
      epoch_seconds: (Date.now() - epochStart) / 1000,
      elapsed_seconds: (Date.now() - started) / 1000,
      live_tensors: memory().numTensors,
    };
    history.push(record);
    log(
      `epoch ${epoch + 1}/${c.epochs}: train loss ${record.train_loss.toFixed(4)} acc ${(100 * record.train_accuracy).toFixed(2)}% | ` +
        `test loss ${test.loss.toFixed(4)} acc ${(100 * test.accuracy).toFixed(2)}% | ${record.images_per_second.toFixed(0)} img/s | ${formatDuration(record.epoch_seconds)}`,
    );
    if (opts.outDir && metricsPath) {
      await appendFile(metricsPath, `${JSON.stringify(record)}\n`);
      const checkpoint: CheckpointConfig = {
        format: 'fovea-checkpoint',
        version: 1,
        model: opts.modelName,
        modelOptions: opts.modelOptions,
        dataset: opts.datasetName,
        epoch: epoch + 1,
        step,
        train: { ...c },
        metrics: { test_accuracy: test.accuracy, test_loss: test.loss, train_loss: record.train_loss },
        createdAt: new Date().toISOString(),
      };
      await saveCheckpoint(opts.outDir, model, optimizer, checkpoint);
    }
  }
  return history;
}
