import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildProgram } from '../../src/cli/main.js';
import type { LayerRow, SummaryTotals } from '../../src/models/summary.js';

async function run(args: string[]): Promise<{ out: string; err: string }> {
  let out = '';
  let err = '';
  await buildProgram({ exitOverride: true, writeOut: (s) => (out += s), writeErr: (s) => (err += s) }).parseAsync(['node', 'fovea', ...args]);
  return { out, err };
}

async function runJson(args: string[]): Promise<{ model: string; rows: LayerRow[]; totals: SummaryTotals }> {
  return JSON.parse((await run([...args, '--json'])).out);
}

test('fovea summary prints the MACs convention, an aligned layer table and totals', async () => {
  const { out } = await run(['summary', 'resnet8-cifar']);
  assert.match(out, /^resnet8-cifar at input 1x3x32x32\n/);
  assert.match(out, /the number torchvision and timm publish as "GFLOPS" \(resnet50: 4\.09 G at 224x224\)/);
  assert.match(out, /\nlayer +type +output shape +params +MACs\n/);
  assert.match(out, /\nconv1 +Conv2d +1x16x32x32 +432 +442\.37 k\n/);
  assert.match(out, /\nlayer3\.0\.downsample\.0 +Conv2d +1x64x8x8 +2,048 +131\.07 k\n/);
  assert.match(out, /\nfc +Linear +1x10 +650 +640\n/);
  assert.match(out, /\nparams +78,042\n/);
  assert.match(out, /\nMACs +12\.50 M \(12,501,632\)\n/);
  assert.match(out, /\ninput +1x3x32x32 \(12\.0 KiB\)\n/);
  assert.match(out, /\nactivations +[\d.]+ (KiB|MiB)/);
  const table = out.split('\n\n')[1].split('\n');
  const typeColumn = table[0].indexOf('type');
  assert.ok(table.slice(1).every((line) => line[typeColumn - 1] === ' ' && line[typeColumn] !== ' '), 'type column aligned');
});

test('fovea summary --json, --depth and --input', async () => {
  const full = await runJson(['summary', 'resnet8-cifar']);
  assert.equal(full.model, 'resnet8-cifar');
  assert.equal(full.totals.macs, 12_501_632);
  assert.equal(full.rows.reduce((s, r) => s + r.params, 0), full.totals.params);

  const top = await runJson(['summary', 'resnet8-cifar', '--depth', '1']);
  assert.deepEqual(top.rows.map((r) => r.name), ['conv1', 'bn1', 'layer1', 'layer2', 'layer3', 'fc']);
  assert.equal(top.rows.reduce((s, r) => s + r.macs, 0), full.totals.macs);

  const batch = await runJson(['summary', 'resnet8-cifar', '--input', '2x3x16x16']);
  assert.deepEqual(batch.totals.inputShape, [2, 3, 16, 16]);
  assert.deepEqual(batch.rows[0].outputShape, [2, 16, 16, 16]);
  const fc = 64 * 10;
  assert.equal(batch.totals.macs, (full.totals.macs - fc) / 2 + 2 * fc); // convs: 2 images of a quarter the pixels

  const gray = await runJson(['summary', 'canonical-cnn', '--input', '1x28x28']);
  assert.deepEqual(gray.totals.inputShape, [1, 1, 28, 28]);
  assert.equal(gray.rows[0].params, 1 * 32 * 9);
});

test('fovea summary --profile adds per-layer times', async () => {
  const { out } = await run(['summary', 'resnet8-cifar', '--profile', '--runs', '2']);
  assert.match(out, /\nlayer +type +output shape +params +MACs +ms +%\n/);
  assert.match(out, /\nconv1 +Conv2d +1x16x32x32 +432 +442\.37 k +\d+\.\d{3} +\d+\.\d\n/);
  assert.match(out, /\nforward +[\d.]+ ms \(mean of 2 runs after 1 warm-up\); [\d.]+ ms \([\d.]+%\) outside the listed layers\n/);
  const json = await runJson(['summary', 'resnet8-cifar', '--profile', '--runs', '1']);
  assert.ok(json.rows.every((r) => r.ms! >= 0 && r.share! >= 0));
  assert.equal(json.totals.runs, 1);
});

test('fovea summary rejects bad arguments with what to do', async () => {
  await assert.rejects(run(['summary', 'vgg']), /unknown model 'vgg'; choose one of: canonical-cnn/);
  await assert.rejects(run(['summary', 'resnet8-cifar', '--input', '224x224']), /--input must be NxCxHxW \(or CxHxW for batch 1\) with positive integers, e\.g\. 1x3x224x224; got '224x224'/);
  await assert.rejects(run(['summary', 'resnet8-cifar', '--input', '1x3x0x32']), /--input must be NxCxHxW/);
  await assert.rejects(run(['summary', 'resnet8-cifar', '--runs', '0']), /--runs must be an integer >= 1, got '0'/);
  await assert.rejects(run(['summary', 'resnet8-cifar', '--depth', '-1']), /--depth must be an integer >= 0/);
});
