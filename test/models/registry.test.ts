/**
 * createModel with weights: from a safetensors path, from its bytes and from a state dict
 * (F16 converted), the head replaced with a notice and a fresh (non-zero) initialisation when
 * numClasses differs, and every other mismatch an error listing the keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createModel, manualSeed, saveSafetensors, randn, noGrad } from '../../src/index.js';
import { StateDictError } from '../../src/nn/module.js';
import { maxAbsError } from '../helpers/compare.js';

const OPTS = { depth: 8, widths: [4, 8, 8] as [number, number, number] };

test('weights load from a path, from bytes and from a state dict, with the same outputs', async () => {
  manualSeed(1);
  const source = createModel('resnet8-cifar', { ...OPTS, numClasses: 10 }).eval();
  const dir = await mkdtemp(join(tmpdir(), 'fovea-weights-'));
  try {
    const path = join(dir, 'w.safetensors');
    await saveSafetensors(path, source.stateDict(), { floatDtype: 'F16' });
    const x = randn([2, 3, 16, 16]);
    const expected = noGrad(() => source.forward(x));
    for (const weights of [path, new Uint8Array(await readFile(path))]) {
      const model = createModel('resnet8-cifar', { ...OPTS, numClasses: 10, weights }).eval();
      const { err, scale } = maxAbsError(noGrad(() => model.forward(x)), expected);
      assert.ok(err <= 2e-3 * scale, `F16 weights give the same outputs up to F16 rounding (${err} vs ${scale})`);
    }
    const fromMap = createModel('resnet8-cifar', { ...OPTS, numClasses: 10, weights: source.stateDict() }).eval();
    assert.deepEqual(noGrad(() => fromMap.forward(x)).dataSync(), expected.dataSync());
    assert.ok(!source.stateDict().get('conv1.weight')!.isDisposed, "a caller's state dict is copied, not consumed");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a different numClasses replaces the head with a fresh initialisation and says so', () => {
  manualSeed(2);
  const source = createModel('resnet8-cifar', { ...OPTS, numClasses: 10 });
  const messages: string[] = [];
  const model = createModel('resnet8-cifar', { ...OPTS, numClasses: 3, weights: source.stateDict(), log: (m) => messages.push(m) });
  assert.equal(messages.length, 1);
  assert.match(messages[0], /classifier fc\.weight, fc\.bias not loaded \(the weights have fc\.weight \[10, 8\], the model \[3, 8\]\)/);
  const head = model.stateDict().get('fc.weight')!.dataSync();
  assert.ok(head.some((v) => v !== 0), 'the new head is initialised, not left at zero');
  assert.deepEqual(model.stateDict().get('conv1.weight')!.dataSync(), source.stateDict().get('conv1.weight')!.dataSync());
});

test('any other mismatch is an error naming every key', () => {
  const source = createModel('resnet8-cifar', { ...OPTS, numClasses: 10 });
  const state = new Map(source.stateDict());
  state.delete('bn1.running_var');
  state.set('extra.weight', randn([2]));
  assert.throws(() => createModel('resnet8-cifar', { ...OPTS, numClasses: 10, weights: state }), (e: unknown) => {
    assert.ok(e instanceof StateDictError);
    assert.deepEqual(e.missing, ['bn1.running_var']);
    assert.deepEqual(e.unexpected, ['extra.weight']);
    return true;
  });
  assert.throws(() => createModel('resnet8-cifar', { weights: '/nonexistent/w.safetensors' }), /ENOENT|no such file/);
});
