/**
 * fovea in a real browser: bundles test/browser/page.ts with esbuild (platform 'browser', so a
 * node: import anywhere in the browser entry's graph fails the build), serves it with and
 * without cross-origin isolation, and runs it in headless Chromium. Isolated pages must get the
 * shared-memory build and a Web Worker pool; the others the unshared single-threaded build.
 * Skipped, with how to install it, where Chromium is missing (CI installs Debian's chromium).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../../', import.meta.url));
const chromium = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p));

interface PageResult {
  error?: string;
  variant: { shared: boolean; relaxed: boolean } | null;
  poolThreads: number;
  isolated: boolean;
  convErr: number;
  matmulErr: number;
  modelErr: number;
}

async function bundle(page = 'page.ts'): Promise<string> {
  const out = await build({ entryPoints: [root + 'test/browser/' + page], bundle: true, format: 'esm', platform: 'browser', write: false, logLevel: 'silent' });
  return out.outputFiles[0].text;
}

function serve<R>(script: string, onResult: (r: R) => void): Promise<Server> {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.searchParams.get('isolated') === '1' || req.headers.referer?.includes('isolated=1')) {
      res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
      res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    }
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    if (req.method === 'POST' && url.pathname === '/result') {
      let body = '';
      for await (const chunk of req) body += chunk;
      res.end('ok');
      onResult(JSON.parse(body) as R);
    } else if (url.pathname === '/') {
      res.setHeader('Content-Type', 'text/html');
      res.end('<!doctype html><script type="module" src="/page.js"></script>');
    } else if (url.pathname === '/page.js') {
      res.setHeader('Content-Type', 'text/javascript');
      res.end(script);
    } else if (url.pathname.startsWith('/build/') && url.pathname.endsWith('.wasm')) {
      try {
        const bytes = await readFile(root + 'build/' + url.pathname.slice('/build/'.length).replace(/[^\w.-]/g, ''));
        res.setHeader('Content-Type', 'application/wasm');
        res.end(bytes);
      } catch {
        res.statusCode = 404;
        res.end();
      }
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function runPage<R = PageResult>(script: string, isolated: boolean, extraArgs: string[] = []): Promise<R> {
  let resolveResult!: (r: R) => void;
  const result = new Promise<R>((r) => (resolveResult = r));
  const server = await serve<R>(script, resolveResult);
  const port = (server.address() as { port: number }).port;
  const profile = `--user-data-dir=/tmp/fovea-chromium-${process.pid}-${isolated ? 1 : 0}-${extraArgs.length}`;
  const browser = spawn(chromium!, ['--headless=new', '--no-sandbox', '--no-first-run', ...(extraArgs.length ? extraArgs : ['--disable-gpu']), profile, `http://127.0.0.1:${port}/?isolated=${isolated ? 1 : 0}`], { stdio: 'ignore' });
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the page did not report within 120 s')), 120_000).unref());
  try {
    return await Promise.race([result, timeout]);
  } finally {
    browser.kill();
    server.close();
  }
}

test('fovea runs in Chromium: shared-memory build with Web Workers when isolated, unshared single-threaded build otherwise', { skip: chromium ? false : 'Chromium not found: apt-get install chromium (or set CHROMIUM=/path/to/chrome)' }, async (t) => {
  const script = await bundle();
  const isolated = await runPage(script, true);
  assert.equal(isolated.error, undefined, isolated.error ?? "");
  assert.equal(isolated.isolated, true);
  assert.equal(isolated.variant?.shared, true);
  assert.equal(isolated.poolThreads, 2);
  const plain = await runPage(script, false);
  assert.equal(plain.error, undefined, plain.error ?? "");
  assert.equal(plain.isolated, false);
  assert.equal(plain.variant?.shared, false);
  assert.equal(plain.poolThreads, 1);
  t.diagnostic(`isolated: ${JSON.stringify(isolated)}`);
  t.diagnostic(`not isolated: ${JSON.stringify(plain)}`);
  for (const r of [isolated, plain]) {
    assert.ok(r.convErr < 1e-4 && r.matmulErr < 1e-4 && r.modelErr < 1e-4, `wasm vs reference in the browser: ${JSON.stringify(r)}`);
  }
});

interface WebGpuPageResult {
  error?: string;
  adapter: unknown;
  reason?: string;
  cpuFallbackLoss?: number;
  logitsErr?: number;
  lossCpu?: number;
  lossGpu?: number;
  updateErr?: number;
}

test('fovea on WebGPU in Chromium: resnet8 inference and one training step equal the cpu backend (or the CPU fallback without an adapter)', { skip: chromium ? false : 'Chromium not found: apt-get install chromium (or set CHROMIUM=/path/to/chrome)' }, async (t) => {
  const script = await bundle('webgpu-page.ts');
  const r = await runPage<WebGpuPageResult>(script, true, ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=swiftshader']);
  t.diagnostic(`webgpu page: ${JSON.stringify(r)}`);
  assert.equal(r.error, undefined, r.error ?? '');
  if (r.adapter === null) {
    assert.ok(Number.isFinite(r.cpuFallbackLoss), 'without an adapter the cpu backend still runs');
    t.diagnostic(`no WebGPU adapter in this Chromium (${r.reason}); the GPU comparison was not run`);
    return;
  }
  assert.ok(r.logitsErr! < 1e-4, `logits differ by ${r.logitsErr}`);
  assert.ok(Math.abs(r.lossGpu! - r.lossCpu!) <= 1e-5 * Math.abs(r.lossCpu!), `loss cpu ${r.lossCpu}, webgpu ${r.lossGpu}`);
  assert.ok(r.updateErr! < 1e-4, `updated weights differ by ${r.updateErr}`);
});
