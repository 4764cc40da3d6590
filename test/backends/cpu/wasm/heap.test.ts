/**
 * Tensor storage in the kernels' shared memory (src/backends/cpu/wasm/heap.ts): size classes,
 * reuse of freed blocks, ownership checks across memory growth, graceful exhaustion, and the
 * CPU backend's arrays living there so kernels read and write them in place.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WasmHeap } from '../../../../src/backends/cpu/wasm/heap.js';
import { wasmKernels } from '../../../../src/backends/cpu/wasm/module.js';
import { takeArray, giveArray } from '../../../../src/backends/cpu/array-pool.js';
import { randn, conv2d, noGrad } from '../../../../src/index.js';
import type { CpuStorage } from '../../../../src/backends/cpu/cpu-backend.js';

const memory = (maximum: number): WebAssembly.Memory => new WebAssembly.Memory({ initial: 1, maximum, shared: true } as WebAssembly.MemoryDescriptor);

test('blocks come in power-of-two classes and freed blocks are reused by the next request of their class', () => {
  const heap = new WasmHeap(memory(64), 65536);
  assert.equal(WasmHeap.classBytes(1), 4096);
  assert.equal(WasmHeap.classBytes(5000), 8192);
  const a = heap.alloc(5000);
  const b = heap.alloc(5000);
  assert.notEqual(a, b);
  assert.equal(heap.bytesInUse, 16384);
  heap.release(a, 5000);
  assert.equal(heap.alloc(7000), a, 'same class: the freed block comes back');
  assert.notEqual(heap.alloc(20000), a, 'another class: a new block');
});

test('views made before the memory grew are still recognised as the heap\'s own', () => {
  const mem = memory(256);
  const heap = new WasmHeap(mem, 65536);
  const first = heap.view('float32', heap.alloc(4096), 1024);
  heap.alloc(4 * 65536); // grows the memory: a new buffer object
  const second = heap.view('float32', heap.alloc(4096), 1024);
  assert.notEqual(first.buffer, second.buffer);
  assert.ok(heap.owns(first) && heap.owns(second) && heap.isBlock(first));
  assert.ok(!heap.owns(new Float32Array(4)));
  first[3] = 7;
  assert.equal(new Float32Array(mem.buffer, first.byteOffset, 4)[3], 7);
});

test('an exhausted address space gives -1 (the caller falls back to a JavaScript array)', () => {
  const heap = new WasmHeap(memory(4), 65536);
  assert.ok(heap.alloc(65536) >= 0);
  assert.equal(heap.alloc(8 * 65536), -1);
});

test('CPU arrays live on the heap; kernels write their outputs there in place; freeing returns the block', () => {
  const k = wasmKernels();
  assert.ok(k?.arena.heap, 'the shared-memory build hosts the tensor heap');
  const heap = k.arena.heap;
  const a = takeArray('float32', 10000) as Float32Array;
  assert.ok(heap.isBlock(a));
  assert.ok(a.every((v) => v === 0), 'zeroed on request');
  const before = heap.bytesInUse;
  giveArray(a);
  assert.equal(heap.bytesInUse, before - WasmHeap.classBytes(40000));
  const x = randn([1, 16, 32, 32]);
  const w = randn([8, 16, 1, 1]);
  const y = noGrad(() => conv2d(x, w));
  assert.ok(heap.isBlock((y.storage as CpuStorage).values), 'the convolution wrote its output into a heap block');
});

test('training steps give every temporary heap block back (heap usage is flat from step to step)', async () => {
  const { createModel, manualSeed, optim, ops, tidy, tensor } = await import('../../../../src/index.js');
  const heap = wasmKernels()!.arena.heap!;
  manualSeed(3);
  for (const name of ['canonical-cnn', 'resnet8-cifar']) {
    const model = createModel(name, name === 'canonical-cnn' ? { inChannels: 3, numClasses: 10, widths: [8, 16] } : { numClasses: 10 });
    const opt = new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
    const x = randn([4, 3, 32, 32]);
    const y = tensor([1, 2, 3, 4], [4], 'int32');
    const step = (): void => tidy(() => {
      opt.zeroGrad();
      const loss = ops.crossEntropy(model.forward(x), y, { labelSmoothing: 0.1 });
      loss.backward();
      opt.step();
    });
    step();
    step();
    const before = heap.bytesInUse;
    step();
    step();
    assert.equal(heap.bytesInUse, before, `${name}: heap bytes in use after two more steps`);
    model.dispose();
    opt.zeroGrad();
  }
});
