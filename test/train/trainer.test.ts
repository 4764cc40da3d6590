import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createModel, manualSeed } from '../../src/index.js';
import { makeShapesDataset } from '../../src/data/synthetic.js';
import { fit, DEFAULT_TRAIN_CONFIG, DivergenceError, type TrainConfig } from '../../src/train/trainer.js';
import { evaluate } from '../../src/train/evaluate.js';
import { Progress } from '../../src/train/progress.js';
import { loadCheckpointInto, readCheckpointConfig } from '../../src/train/checkpoint.js';

const data = makeShapesDataset({ trainSize: 256, testSize: 64, size: 12, seed: 5 });
const quiet = { log: () => {}, progress: new Progress({ interactive: false, write: () => {} }) };
const config = (over: Partial<TrainConfig>): TrainConfig => ({ ...DEFAULT_TRAIN_CONFIG, batchSize: 32, lr: 0.05, warmupEpochs: 0, ...over });
const modelOptions = { inChannels: 3, numClasses: 10, widths: [4, 8], convsPerStage: 1 };

test('fit writes metrics.jsonl and an atomic checkpoint; resume continues where it stopped', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fovea-fit-'));
  try {
    manualSeed(0);
    const model = createModel('canonical-cnn', modelOptions);
    const h = await fit({ model, modelName: 'canonical-cnn', modelOptions, data, datasetName: 'shapes', config: config({ epochs: 1 }), outDir: dir, ...quiet });
    assert.equal(h.length, 1);
    let lines = (await readFile(join(dir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 1);
    assert.equal(lines[0].epoch, 1);
    for (const k of ['train_loss', 'train_accuracy', 'test_accuracy', 'images_per_second']) assert.equal(typeof lines[0][k], 'number');
    const cfg = await readCheckpointConfig(dir);
    assert.equal(cfg.epoch, 1);
    assert.equal(cfg.step, 8);

    const resumed = createModel('canonical-cnn', modelOptions);
    const h2 = await fit({ model: resumed, modelName: 'canonical-cnn', modelOptions, data, datasetName: 'shapes', config: config({ epochs: 2 }), outDir: dir, resume: true, ...quiet });
    assert.deepEqual(h2.map((r) => r.epoch), [2]);
    assert.equal(h2[0].step, 16);
    lines = (await readFile(join(dir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);

    const reloaded = createModel('canonical-cnn', modelOptions);
    const saved = await loadCheckpointInto(dir, reloaded);
    assert.equal(saved.epoch, 2);
    const a = await evaluate(resumed, data.test);
    const b = await evaluate(reloaded, data.test);
    assert.equal(a.accuracy, b.accuracy);
    assert.ok(Math.abs(a.loss - b.loss) < 1e-6);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a diverging run stops with a clear message and keeps the last good checkpoint', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fovea-nan-'));
  try {
    const model = createModel('canonical-cnn', modelOptions);
    await fit({ model, modelName: 'canonical-cnn', modelOptions, data, datasetName: 'shapes', config: config({ epochs: 1 }), outDir: dir, ...quiet });
    const before = await stat(join(dir, 'model.safetensors'));
    const bytes = await readFile(join(dir, 'model.safetensors'));
    await assert.rejects(
      fit({ model, modelName: 'canonical-cnn', modelOptions, data, datasetName: 'shapes', config: config({ epochs: 3, lr: 1e30, momentum: 0, weightDecay: 0 }), outDir: dir, resume: true, ...quiet }),
      (e: Error) => e instanceof DivergenceError && /loss became (NaN|Infinity)/.test(e.message) && e.message.includes(dir),
    );
    assert.deepEqual(await readFile(join(dir, 'model.safetensors')), bytes);
    assert.equal((await stat(join(dir, 'model.safetensors'))).mtimeMs, before.mtimeMs);
    assert.equal((await readCheckpointConfig(dir)).epoch, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an interrupted save (optimiser file from another epoch) resumes with a warning, not a crash', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fovea-torn-'));
  try {
    const model = createModel('canonical-cnn', modelOptions);
    await fit({ model, modelName: 'canonical-cnn', modelOptions, data, datasetName: 'shapes', config: config({ epochs: 1 }), outDir: dir, ...quiet });
    const opt = await readFile(join(dir, 'optimizer.safetensors'));
    await fit({ model, modelName: 'canonical-cnn', modelOptions, data, datasetName: 'shapes', config: config({ epochs: 2 }), outDir: dir, resume: true, ...quiet });
    await writeFile(join(dir, 'optimizer.safetensors'), opt);
    const warnings: string[] = [];
    const fresh = createModel('canonical-cnn', modelOptions);
    const { makeOptimizer } = await import('../../src/train/trainer.js');
    const cfg = await loadCheckpointInto(dir, fresh, makeOptimizer(fresh.parameters(), config({})), (m) => warnings.push(m));
    assert.equal(cfg.epoch, 2);
    assert.match(warnings[0], /from epoch 1 but the weights are from epoch 2/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('resume without a checkpoint says so', async () => {
  const model = createModel('canonical-cnn', modelOptions);
  await assert.rejects(fit({ model, modelName: 'canonical-cnn', modelOptions, data, datasetName: 'shapes', config: config({}), outDir: join(tmpdir(), 'fovea-none-xyz'), resume: true, ...quiet }), /--resume: no checkpoint found/);
});
