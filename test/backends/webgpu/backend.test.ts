/**
 * The webgpu backend's contract: unusable (with a clear message) before initWebGPU(), async
 * reads only, uploads of every dtype it stores, byte accounting, and buffer reuse.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { initWebGPU, setBackend, tensor, memory, getBackend, zeros, full } from '../../../src/index.js';
import type { WebGPUBackend } from '../../../src/backends/webgpu/backend.js';

test("setBackend('webgpu') before initWebGPU() says to call it", () => {
  assert.throws(() => setBackend('webgpu'), /await initWebGPU\(\)/);
  setBackend('cpu');
});

const skipReason = await initWebGPU().then(
  () => null,
  (e: Error) => `no WebGPU adapter, webgpu tests skipped: ${e.message}`,
);

describe('webgpu backend', { skip: skipReason ?? false }, () => {
  test('uploads and reads back float32, int32 and uint8 (odd byte lengths)', async () => {
    setBackend('webgpu');
    try {
      assert.deepEqual(await tensor(new Float32Array([1.5, -2, 3])).data(), new Float32Array([1.5, -2, 3]));
      assert.deepEqual(await tensor(new Int32Array([7, -8])).data(), new Int32Array([7, -8]));
      assert.deepEqual(await tensor(new Uint8Array([1, 2, 3, 250, 5])).data(), new Uint8Array([1, 2, 3, 250, 5]));
      assert.deepEqual(await full([5], 9, 'uint8').data(), new Uint8Array(5).fill(9));
      assert.deepEqual(await tensor(new Float32Array(0)).data(), new Float32Array(0));
    } finally {
      setBackend('cpu');
    }
  });

  test('float64 and synchronous reads are refused with what to do instead', () => {
    setBackend('webgpu');
    try {
      assert.throws(() => tensor(new Float64Array([1])), /float64/);
      assert.throws(() => zeros([2]).dataSync(), /await tensor\.data\(\)/);
      const backend = getBackend('webgpu');
      assert.throws(() => backend.readSync(zeros([2]).storage, 'float32', 2), /await t\.data\(\)/);
    } finally {
      setBackend('cpu');
    }
  });

  test('a kernel that fails on the GPU is reported by the next read', async () => {
    setBackend('webgpu');
    try {
      const backend = getBackend('webgpu') as WebGPUBackend;
      const x = zeros([4]);
      const out = backend.createStorage(16);
      backend.run({ name: 'broken', inputs: [['X', 'f32']], outputs: [['Y', 'f32']], code: '@compute @workgroup_size(1) fn main() { Y[0] = X[0] + undefinedName; }', workgroups: [1] }, [x.storage as never], [out]);
      await assert.rejects(x.data(), /a kernel failed on the GPU.*undefinedName/s);
      backend.free(out);
      assert.deepEqual(await x.data(), new Float32Array(4), 'the error is reported once');
    } finally {
      setBackend('cpu');
    }
  });

  test('programs with a key reuse their pipeline; a key that names two sources is caught when keys are checked', { skip: process.env.FOVEA_WEBGPU_CHECK_KEYS === '1' ? false : 'FOVEA_WEBGPU_CHECK_KEYS is not 1 (scripts/run-tests.mjs sets it)' }, async () => {
    setBackend('webgpu');
    try {
      const backend = getBackend('webgpu') as WebGPUBackend;
      const x = tensor([1, 2, 3, 4]);
      const out = backend.createStorage(16);
      const program = (expr: string) => ({ name: 'keyed', key: 'k', inputs: [['X', 'f32']] as [string, 'f32'][], outputs: [['Y', 'f32']] as [string, 'f32'][], code: `@compute @workgroup_size(4) fn main(@builtin(local_invocation_index) i: u32) { Y[i] = ${expr}; }`, workgroups: [1] });
      backend.run(program('X[i] * 2.0'), [x.storage as never], [out]);
      backend.run(program('X[i] * 2.0'), [x.storage as never], [out]);
      assert.throws(() => backend.run(program('X[i] * 3.0'), [x.storage as never], [out]), /key 'keyed' \/ 'k' names two different WGSL sources/);
      await backend.sync();
      backend.free(out);
      x.dispose();
    } finally {
      setBackend('cpu');
    }
  });

  test('an upload takes a buffer no unsubmitted command uses, so it needs no submit of its own', async () => {
    setBackend('webgpu');
    try {
      const backend = getBackend('webgpu') as WebGPUBackend;
      const submits = (): number => (backend as unknown as { submits: number }).submits;
      const a = tensor([1, 2, 3, 4]);
      await a.data();
      // A recorded (unsubmitted) kernel writes b's buffer; b is freed at once, in the same batch of commands.
      const b = a.mul(a);
      const freed = (b.storage as unknown as { buffer: unknown }).buffer;
      b.dispose();
      const before = submits();
      const c = tensor([9, 8, 7, 6]);
      assert.equal(submits(), before, 'the upload did not submit');
      assert.notEqual((c.storage as unknown as { buffer: unknown }).buffer, freed, 'not the buffer the pending kernel writes');
      const d = a.add(c);
      assert.deepEqual(await c.data(), new Float32Array([9, 8, 7, 6]));
      assert.deepEqual(await d.data(), new Float32Array([10, 10, 10, 10]));
      // Once submitted, the freed buffer is fair game for uploads again.
      const e = tensor([5, 5, 5, 5]);
      assert.deepEqual(await e.data(), new Float32Array([5, 5, 5, 5]));
      for (const t of [a, c, d, e]) t.dispose();
    } finally {
      setBackend('cpu');
    }
  });

  test('bytesInUse follows live tensors, and freed buffers are reused', async () => {
    setBackend('webgpu');
    try {
      const backend = getBackend('webgpu') as WebGPUBackend;
      const before = memory().bytes.webgpu;
      const a = zeros([1000]);
      assert.equal(memory().bytes.webgpu - before, 4000);
      const buffer = (a.storage as unknown as { buffer: unknown }).buffer;
      a.dispose();
      assert.equal(memory().bytes.webgpu, before);
      const b = zeros([990]);
      assert.equal((b.storage as unknown as { buffer: unknown }).buffer, buffer, 'a buffer of the same size bucket is reused');
      assert.deepEqual(await b.data(), new Float32Array(990));
      b.dispose();
      await backend.sync();
    } finally {
      setBackend('cpu');
    }
  });

  test('a training loop binds the same buffers every step: after warm-up every bind group comes from the cache', async () => {
    const { createModel, manualSeed, ops, optim, randn, tidy } = await import('../../../src/index.js');
    setBackend('webgpu');
    manualSeed(4);
    const model = createModel('resnet8-cifar', { numClasses: 10 });
    const opt = new optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
    const x = randn([2, 3, 16, 16]);
    const y = tensor([3, 7], [2], 'int32');
    const backend = getBackend() as unknown as WebGPUBackend;
    const step = async (): Promise<void> => {
      const loss = tidy(() => {
        opt.zeroGrad();
        const l = ops.crossEntropy(model.forward(x), y);
        l.backward();
        opt.step();
        return l;
      });
      await loss.data();
      loss.dispose();
    };
    for (let i = 0; i < 4; i++) await step();
    const before = backend.bindGroupStats();
    await step();
    await step();
    const after = backend.bindGroupStats();
    setBackend('cpu');
    assert.ok(after.lookups - before.lookups > 100, 'dispatches were recorded');
    assert.equal(after.misses - before.misses, 0, `bind-group cache misses in steady state (${after.lookups - before.lookups} lookups)`);
    model.dispose();
  });
});

