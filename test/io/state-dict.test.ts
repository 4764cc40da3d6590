import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSafetensors, saveSafetensors, tensor } from '../../src/index.js';
import { parseSafetensors } from '../../src/io/safetensors.js';

test('saveSafetensors writes float16 tensors as F16, float32 as F32, int32 as I64', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fovea-sd-'));
  try {
    const path = join(dir, 't.safetensors');
    const tensors = new Map([
      ['half', tensor([0.1, -2, 65504], [3], 'float16')],
      ['full', tensor([0.1, -2], [2])],
      ['count', tensor([7], [1], 'int32')],
    ]);
    await saveSafetensors(path, tensors);
    const file = parseSafetensors(new Uint8Array(await readFile(path)));
    assert.deepEqual([...file.tensors].map(([n, t]) => [n, t.dtype]).sort(), [['count', 'I64'], ['full', 'F32'], ['half', 'F16']]);
    const loaded = await loadSafetensors(path);
    assert.deepEqual([...loaded.tensors.get('half')!.dataSync()], [0.0999755859375, -2, 65504]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
