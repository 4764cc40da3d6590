import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wasmKernels } from '../../../../src/backends/cpu/wasm/module.js';
import { ThreadPool } from '../../../../src/backends/cpu/wasm/thread-pool.js';

test('the thread pool runs every task exactly once, job after job', async () => {
  const k = wasmKernels();
  assert.ok(k, 'WebAssembly kernels should load in Node 20');
  const pool = new ThreadPool(k, 3);
  await pool.start();
  assert.equal(pool.threads, 3);
  const n = 4099;
  k.arena.reset();
  const a = k.arena.alloc(n * 4);
  const b = k.arena.alloc(n * 4);
  const out = k.arena.alloc(n * 4);
  const av = k.arena.f32(a, n);
  const bv = k.arena.f32(b, n);
  for (let i = 0; i < n; i++) {
    av[i] = i;
    bv[i] = 1;
  }
  const chunk = 64;
  for (let job = 0; job < 300; job++) {
    k.arena.f32(out, n).fill(-1);
    const tasks = [];
    for (let s = 0; s < n; s += chunk) tasks.push({ fn: 'add_f32', args: [a + s * 4, b + s * 4, out + s * 4, Math.min(chunk, n - s)] });
    pool.run(tasks);
    const o = k.arena.f32(out, n);
    for (let i = 0; i < n; i++) if (o[i] !== i + 1) assert.fail(`job ${job}: out[${i}] = ${o[i]}`);
    for (let i = 0; i < n; i++) bv[i] = 1;
  }
  assert.throws(() => pool.run([{ fn: 'nope', args: [] }, { fn: 'nope', args: [] }]), /has no function 'nope'/);
  await pool.stop();
});
