import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../../src/cli/main.js';

/** Runs the CLI in-process, capturing what it writes. */
async function run(args: string[]): Promise<{ out: string; err: string }> {
  let out = '';
  let err = '';
  await buildProgram({ exitOverride: true, writeOut: (s) => (out += s), writeErr: (s) => (err += s) }).parseAsync(['node', 'fovea', ...args]);
  return { out, err };
}

test('fovea train writes a checkpoint that fovea eval reads (text and --json)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fovea-cli-'));
  try {
    const t = await run(['train', '--dataset', 'shapes', '--limit-train', '256', '--widths', '4,8', '--epochs', '1', '--batch-size', '32', '--out', dir]);
    assert.match(t.out, /final test accuracy \d+\.\d+% after 1 epochs/);
    assert.match(t.err, /training canonical-cnn \([\d.]+k parameters\) on shapes \(256 train \/ 2000 test images, 3x32x32\)/);
    const metrics = (await readFile(join(dir, 'metrics.jsonl'), 'utf8')).trim().split('\n');
    assert.equal(metrics.length, 1);
    const e = await run(['eval', '--checkpoint', dir, '--json']);
    const r = JSON.parse(e.out);
    assert.equal(r.images, 2000);
    assert.equal(r.model, 'canonical-cnn');
    assert.ok(Math.abs(r.accuracy - JSON.parse(metrics[0]).test_accuracy) < 1e-9);
    const text = await run(['eval', '--checkpoint', dir]);
    assert.match(text.out, /canonical-cnn \(epoch 1\) on shapes test: accuracy/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('fovea train --precision float16 trains with mixed precision and records it in the checkpoint config', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fovea-cli-'));
  try {
    const t = await run(['train', '--dataset', 'shapes', '--limit-train', '256', '--widths', '4,8', '--epochs', '1', '--batch-size', '32', '--precision', 'float16', '--out', dir]);
    assert.match(t.err, /mixed precision \(float16 operands\)/);
    assert.match(t.out, /final test accuracy \d+\.\d+% after 1 epochs/);
    assert.equal(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')).train.precision, 'float16');
    const e = JSON.parse((await run(['eval', '--checkpoint', dir, '--json', '--precision', 'float16'])).out);
    assert.ok(Math.abs(e.accuracy - JSON.parse((await readFile(join(dir, 'metrics.jsonl'), 'utf8')).trim()).test_accuracy) < 1e-9, 'the trainer evaluates with its precision too');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bad arguments give clear errors', async () => {
  await assert.rejects(run(['train', '--precision', 'int8']), /--precision <p>' argument 'int8' is invalid. Allowed choices are float32, float16/);
  await assert.rejects(run(['train', '--dataset', 'cifar']), /unknown data set 'cifar'; choose one of: fashion-mnist, shapes/);
  await assert.rejects(run(['train', '--epochs', '0']), /--epochs must be an integer >= 1/);
  await assert.rejects(run(['train', '--model', 'vgg']), /unknown model 'vgg'; choose one of: canonical-cnn/);
  await assert.rejects(run(['train', '--device', 'tpu']), /--device <name>' argument 'tpu' is invalid. Allowed choices are cpu, webgpu/);
  await assert.rejects(run(['eval', '--checkpoint', join(tmpdir(), 'fovea-missing-ckpt')]), /no checkpoint in .*config.json is missing/);
});

test('fovea models lists the zoo with parameter counts', async () => {
  const { out } = await run(['models']);
  assert.match(out, /canonical-cnn +- +[\d.]+ k +[\d.]+ +3x32x32/);
  assert.match(out, /resnet20-cifar/);
});
