/**
 * The four kernel builds. The relaxed-SIMD builds (fused multiply-add in the GEMM and plane kernels) pass the same
 * kernel tests as the plain-SIMD ones. Node 20 validates relaxed SIMD only behind a flag, so
 * the tests run again in a child process with the flag and FOVEA_WASM_RELAXED=1 (which makes
 * loading fail loudly rather than fall back to plain SIMD). The unshared build (browser pages
 * without cross-origin isolation) is forced with FOVEA_WASM_SHARED=0 and must run the same
 * kernels single-threaded even when threads are asked for.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = (name: string): string => fileURLToPath(new URL(name, import.meta.url));

test('kernel tests pass on the relaxed-SIMD build (child process with --experimental-wasm-relaxed-simd)', () => {
  const files = ['gemm.test.ts', 'conv.test.ts', 'depthwise.test.ts', 'threaded.test.ts'].map(here);
  const r = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--import', 'tsx', '--test', '--test-reporter=dot', ...files], {
    env: { ...process.env, FOVEA_WASM_RELAXED: '1' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `relaxed-SIMD kernel tests failed:\n${r.stdout}\n${r.stderr}`);
});

test('the relaxed build is chosen when the runtime validates relaxed SIMD', () => {
  const probe = "import('./src/backends/cpu/wasm/module.ts').then((m) => console.log(JSON.stringify(m.wasmKernels().variant)))";
  const root = fileURLToPath(new URL('../../../../', import.meta.url));
  const withFlag = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--import', 'tsx', '-e', probe], { cwd: root, encoding: 'utf8' });
  assert.deepEqual(JSON.parse(withFlag.stdout), { shared: true, relaxed: true }, withFlag.stderr);
  const forcedOff = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--import', 'tsx', '-e', probe], { cwd: root, encoding: 'utf8', env: { ...process.env, FOVEA_WASM_RELAXED: '0' } });
  assert.deepEqual(JSON.parse(forcedOff.stdout), { shared: true, relaxed: false }, forcedOff.stderr);
});

test('kernel tests pass on the unshared single-threaded build (FOVEA_WASM_SHARED=0, threads requested)', () => {
  const files = ['gemm.test.ts', 'conv.test.ts', 'activation.test.ts', 'batchnorm.test.ts', 'pool.test.ts'].map(here);
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=dot', ...files], {
    env: { ...process.env, FOVEA_WASM_SHARED: '0', FOVEA_THREADS: '2' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `unshared-build kernel tests failed:\n${r.stdout}\n${r.stderr}`);
  const root = fileURLToPath(new URL('../../../../', import.meta.url));
  const probe = "import('./src/index.ts').then(async (m) => { await m.initThreads(); const k = (await import('./src/backends/cpu/wasm/module.ts')).wasmKernels(); const t = await import('./src/backends/cpu/wasm/threads.ts'); console.log(JSON.stringify({ variant: k.variant, pool: t.threadPool() !== null })); })";
  const info = spawnSync(process.execPath, ['--import', 'tsx', '-e', probe], { cwd: root, encoding: 'utf8', env: { ...process.env, FOVEA_WASM_SHARED: '0', FOVEA_THREADS: '2' } });
  assert.deepEqual(JSON.parse(info.stdout), { variant: { shared: false, relaxed: false }, pool: false }, info.stderr);
});
