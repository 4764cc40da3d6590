/**
 * fovea in a real browser: bundles test/browser/page.ts with esbuild (platform 'browser', so a
 * node: import anywhere in the browser entry's graph fails the build), serves it from a local
 * http server with and without cross-origin isolation, and runs it in headless Chromium driven
 * by Playwright (playwright-core on the system's Chromium: no browser download). Isolated pages
 * must get the shared-memory build and a Web Worker pool; the others the unshared
 * single-threaded build. The pages hand their result back through a function Playwright exposes
 * (./report.ts); console errors/warnings and uncaught page errors go into the failure message.
 * Skipped, with how to install it, where Chromium is missing (CI installs Debian's chromium).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';

const root = fileURLToPath(new URL('../../', import.meta.url));
const executablePath = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p));
const skip = executablePath ? false : 'Chromium not found: apt-get install chromium (or set CHROMIUM=/path/to/chrome)';

/** How long one page may take to report, and the browser to start, before the test fails. */
const PAGE_TIMEOUT_MS = 120_000;
const LAUNCH_TIMEOUT_MS = 60_000;

/** Chromium switches that make it offer a WebGPU adapter without a GPU (SwiftShader over Vulkan). */
const WEBGPU_ARGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=swiftshader'];

interface PageResult {
  error?: string;
  variant: { shared: boolean; relaxed: boolean } | null;
  poolThreads: number;
  isolated: boolean;
  convErr: number;
  matmulErr: number;
  modelErr: number;
}

interface PageRun<R> {
  result: R;
  /** Console errors/warnings and uncaught errors the page produced, in order. */
  log: string[];
}

async function bundle(page: string): Promise<string> {
  const out = await build({ entryPoints: [root + 'test/browser/' + page], bundle: true, format: 'esm', platform: 'browser', write: false, logLevel: 'silent' });
  return out.outputFiles[0].text;
}

/** Serves the page, its bundle and build/*.wasm; `?isolated=1` (and what that page loads) gets COOP/COEP. */
function serve(script: string): Promise<Server> {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.searchParams.get('isolated') === '1' || req.headers.referer?.includes('isolated=1')) {
      res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
      res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    }
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    if (url.pathname === '/') {
      res.setHeader('Content-Type', 'text/html');
      res.end('<!doctype html><script type="module" src="/page.js"></script>');
    } else if (url.pathname === '/favicon.ico') {
      res.statusCode = 204; // not a 404 in the page's console
      res.end();
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

/** Starts Chromium with `args`, runs `fn`, and always closes the browser. */
async function withChromium<T>(args: string[], fn: (browser: Browser) => Promise<T>): Promise<T> {
  const browser = await chromium.launch({ executablePath, headless: true, args, timeout: LAUNCH_TIMEOUT_MS });
  try {
    return await fn(browser);
  } finally {
    await browser.close();
  }
}

function withLog(message: string, log: string[]): string {
  return log.length ? `${message}\npage log:\n  ${log.join('\n  ')}` : message;
}

/**
 * Bundles and serves `page`, opens it in a fresh context of `browser` and waits for its report.
 * Fails with the page's own error, a crash, or a timeout, each with what the page logged.
 */
async function runPage<R extends { error?: string }>(browser: Browser, page: string, isolated: boolean): Promise<PageRun<R>> {
  const server = await serve(await bundle(page));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/?isolated=${isolated ? 1 : 0}`;
  const label = `${page} (${isolated ? 'cross-origin isolated' : 'not isolated'})`;
  const log: string[] = [];
  const context = await browser.newContext();
  let timer: NodeJS.Timeout | undefined;
  try {
    context.on('console', (m) => {
      if (m.type() !== 'error' && m.type() !== 'warning') return;
      const where = m.location().url;
      log.push(`console.${m.type()}${m.worker() ? ' (worker)' : ''}: ${m.text()}${where ? ` (${where}:${m.location().lineNumber})` : ''}`);
    });
    const tab = await context.newPage();
    tab.on('pageerror', (e) => log.push(`uncaught: ${e.stack ?? e.message}`));
    let resolve!: (r: R) => void;
    let reject!: (e: Error) => void;
    const reported = new Promise<R>((res, rej) => ((resolve = res), (reject = rej)));
    reported.catch(() => {}); // awaited below; this only keeps an early rejection from counting as unhandled
    tab.on('crash', () => reject(new Error('the page crashed')));
    tab.on('close', () => reject(new Error('the page closed before reporting')));
    await tab.exposeFunction('foveaReport', (r: R) => resolve(r));
    try {
      timer = setTimeout(() => reject(new Error(`the page did not report within ${PAGE_TIMEOUT_MS / 1000} s`)), PAGE_TIMEOUT_MS);
      await tab.goto(url, { waitUntil: 'commit', timeout: PAGE_TIMEOUT_MS });
      const result = await reported;
      if (result.error !== undefined) throw new Error(`the page threw: ${result.error}`);
      return { result, log };
    } catch (e) {
      throw new Error(withLog(`${label}: ${(e as Error).message}`, log), { cause: e });
    }
  } finally {
    clearTimeout(timer);
    await context.close();
    server.close();
  }
}

test('fovea runs in Chromium: shared-memory build with Web Workers when isolated, unshared single-threaded build otherwise', { skip, timeout: 2 * PAGE_TIMEOUT_MS + LAUNCH_TIMEOUT_MS + 30_000 }, async (t: TestContext) => {
  await withChromium(['--disable-gpu'], async (browser) => {
    t.diagnostic(`Chromium ${browser.version()} (${executablePath})`);
    const isolated = await runPage<PageResult>(browser, 'page.ts', true);
    const plain = await runPage<PageResult>(browser, 'page.ts', false);
    t.diagnostic(`isolated: ${JSON.stringify(isolated.result)}`);
    t.diagnostic(`not isolated: ${JSON.stringify(plain.result)}`);
    for (const [{ result: r, log }, want] of [[isolated, { isolated: true, shared: true, threads: 2 }], [plain, { isolated: false, shared: false, threads: 1 }]] as const) {
      const why = withLog(JSON.stringify(r), log);
      if (log.length) t.diagnostic(withLog(`${r.isolated ? 'isolated' : 'not isolated'} page logged:`, log));
      assert.equal(r.isolated, want.isolated, why);
      assert.equal(r.variant?.shared, want.shared, why);
      assert.equal(r.poolThreads, want.threads, why);
      assert.ok(r.convErr < 1e-4 && r.matmulErr < 1e-4 && r.modelErr < 1e-4, `wasm vs reference in the browser: ${why}`);
    }
  });
});

interface WebGpuPageResult {
  error?: string;
  adapter: unknown;
  reason?: string;
  cpuFallbackLoss?: number;
  logitsErr?: number;
  halfLogitsErr?: number;
  lossCpu?: number;
  lossGpu?: number;
  updateErr?: number;
}

test('fovea on WebGPU in Chromium: resnet8 inference and one training step equal the cpu backend (or the CPU fallback without an adapter)', { skip, timeout: PAGE_TIMEOUT_MS + LAUNCH_TIMEOUT_MS + 30_000 }, async (t: TestContext) => {
  await withChromium(WEBGPU_ARGS, async (browser) => {
    const { result: r, log } = await runPage<WebGpuPageResult>(browser, 'webgpu-page.ts', true);
    t.diagnostic(`webgpu page: ${JSON.stringify(r)}`);
    if (log.length) t.diagnostic(withLog('webgpu page logged:', log));
    if (r.adapter === null) {
      assert.ok(Number.isFinite(r.cpuFallbackLoss), withLog('without an adapter the cpu backend still runs', log));
      t.diagnostic(`no WebGPU adapter in Chromium ${browser.version()} (${r.reason}); the GPU comparison was not run`);
      return;
    }
    t.diagnostic(`WebGPU adapter in Chromium ${browser.version()}: ${JSON.stringify(r.adapter)}`);
    assert.ok(r.logitsErr! < 1e-4, withLog(`logits differ by ${r.logitsErr}`, log));
    // WGSL leaves the rounding of f32 -> f16 conversions to the implementation: one half-precision
    // ulp (2^-11 relative) here and there between the GPU and the cpu's round-to-nearest-even.
    assert.ok(r.halfLogitsErr! < 2e-3, withLog(`float16 autocast logits differ by ${r.halfLogitsErr}`, log));
    assert.ok(Math.abs(r.lossGpu! - r.lossCpu!) <= 1e-5 * Math.abs(r.lossCpu!), withLog(`loss cpu ${r.lossCpu}, webgpu ${r.lossGpu}`, log));
    assert.ok(r.updateErr! < 1e-4, withLog(`updated weights differ by ${r.updateErr}`, log));
  });
});
