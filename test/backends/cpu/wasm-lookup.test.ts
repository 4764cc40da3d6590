/**
 * Where Node finds build/fovea-kernels*.wasm (src/backends/cpu/wasm/module.ts, wasmSearchPaths)
 * when fovea is bundled into one file, so that import.meta.url points at the bundle rather than
 * at src/backends/cpu/wasm/. A tiny script that runs a conv2d on the cpu backend through the
 * public API is bundled with esbuild for Node, as CommonJS (esbuild's default for platform
 * 'node', where import.meta.url is empty) and as ESM, into a temp folder outside the repository,
 * and run with `node` under each lookup: FOVEA_WASM_DIR (the repository's build/, a folder of
 * copies, a folder without them), the files copied next to the bundle, an installed
 * node_modules/fovea, initWasm({ bytes }), and nothing at all (a warning naming every path tried;
 * the reference kernels still compute the right answer).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { preferredVariant, wasmFileName } from '../../../src/backends/cpu/wasm/module.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const buildDir = join(root, 'build');
/** The build a child process with this environment picks (same Node, same FOVEA_WASM_* settings). */
const wasmName = wasmFileName(preferredVariant());

/** x = arange(16) as 1x1x4x4, w = [[1,0],[0,1]]: y[i][j] = x[i][j] + x[i+1][j+1] = 8i + 2j + 5. */
const EXPECTED = [5, 7, 9, 13, 15, 17, 21, 23, 25];

const ENTRY = `
import { readFileSync } from 'node:fs';
import { conv2d, initWasm, tensor } from ${JSON.stringify(join(root, 'src/index.ts'))};
import { wasmKernels, wasmLoadError } from ${JSON.stringify(join(root, 'src/backends/cpu/wasm/module.ts'))};

async function main() {
  if (process.env.WASM_BYTES) await initWasm({ bytes: new Uint8Array(readFileSync(process.env.WASM_BYTES)) });
  const x = tensor(Float32Array.from({ length: 16 }, (_, i) => i), [1, 1, 4, 4]);
  const w = tensor(new Float32Array([1, 0, 0, 1]), [1, 1, 2, 2]);
  const y = conv2d(x, w);
  console.log(JSON.stringify({ y: Array.from(await y.data()), variant: wasmKernels()?.variant ?? null, error: wasmLoadError()?.message ?? null }));
}
main();
`;

let tmp = '';
let cjs = '';
let esm = '';

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'fovea-wasm-lookup-'));
  const entry = join(tmp, 'entry.ts');
  writeFileSync(entry, ENTRY);
  cjs = join(tmp, 'out', 'app.cjs');
  esm = join(tmp, 'out', 'app.mjs');
  const common = { entryPoints: [entry], bundle: true, platform: 'node' as const, external: ['webgpu'], logLevel: 'silent' as const };
  await Promise.all([
    build({ ...common, outfile: cjs }),
    // The usual banner for ESM bundles of CommonJS dependencies (cli-progress requires 'readline').
    build({ ...common, outfile: esm, format: 'esm', banner: { js: "import { createRequire as __fovea_cr } from 'node:module'; const require = __fovea_cr(import.meta.url);" } }),
  ]);
});

after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

interface RunResult {
  y: number[];
  variant: { shared: boolean; relaxed: boolean } | null;
  error: string | null;
  stderr: string;
}

/** Runs a bundle with `node` in `cwd` (default: the temp folder, where no build/ is). */
function run(bundle: string, env: Record<string, string | undefined> = {}, cwd = tmp): RunResult {
  const childEnv: Record<string, string | undefined> = { ...process.env, FOVEA_WASM_DIR: undefined, WASM_BYTES: undefined, FOVEA_THREADS: '1', ...env };
  for (const k of Object.keys(childEnv)) if (childEnv[k] === undefined) delete childEnv[k];
  const r = spawnSync(process.execPath, [bundle], { cwd, env: childEnv as NodeJS.ProcessEnv, encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, `node ${bundle} failed:\n${r.stdout}\n${r.stderr}`);
  return { ...(JSON.parse(r.stdout) as Omit<RunResult, 'stderr'>), stderr: r.stderr };
}

/** The kernels loaded, computed the right answer, and nothing was printed to stderr. */
function assertLoaded(r: RunResult): void {
  assert.deepEqual(r.y, EXPECTED);
  assert.equal(r.error, null);
  assert.ok(r.variant, 'the WebAssembly kernels did not load');
  assert.equal(r.stderr, '');
}

/** A folder holding copies of build/*.wasm. */
function copies(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(buildDir)) if (f.endsWith('.wasm')) copyFileSync(join(buildDir, f), join(dir, f));
  return dir;
}

test('a bundle (CommonJS and ESM) run outside the repository loads the kernels from FOVEA_WASM_DIR=<repo>/build', () => {
  assertLoaded(run(cjs, { FOVEA_WASM_DIR: buildDir }));
  assertLoaded(run(esm, { FOVEA_WASM_DIR: buildDir }));
});

test('FOVEA_WASM_DIR pointing at a folder of copies is used', () => {
  const dir = copies(join(tmp, 'copies'));
  assertLoaded(run(cjs, { FOVEA_WASM_DIR: dir }));
});

test('without any build in reach: a warning names every path tried and the remedies; the reference kernels run', () => {
  for (const bundle of [cjs, esm]) {
    const r = run(bundle);
    assert.deepEqual(r.y, EXPECTED);
    assert.equal(r.variant, null);
    assert.ok(r.error, 'wasmLoadError() should say why');
    const next = join(tmp, 'out', wasmName);
    const cwdBuild = join(tmp, 'build', wasmName);
    for (const text of [r.error, r.stderr]) {
      assert.match(text, /FOVEA_WASM_NOT_FOUND|were not found/);
      assert.ok(text.includes(`${next} (next to the bundle)`), `missing the bundle's folder in:\n${text}`);
      assert.ok(text.includes(`${cwdBuild} (working directory)`), `missing the working directory in:\n${text}`);
      assert.ok(text.includes('FOVEA_WASM_DIR') && text.includes('initWasm({ bytes })') && text.includes('next to your bundle'), `missing remedies in:\n${text}`);
    }
    assert.equal(r.stderr.split('FOVEA_WASM_NOT_FOUND').length, 2, 'the warning is printed once');
  }
});

test('FOVEA_WASM_DIR without the files is an error naming that path, even where other places hold a build', () => {
  const empty = join(tmp, 'empty');
  mkdirSync(empty, { recursive: true });
  // cwd = the repository: build/ there and the self-resolved fovea package would both have it.
  const r = run(cjs, { FOVEA_WASM_DIR: empty }, root);
  assert.deepEqual(r.y, EXPECTED);
  assert.equal(r.variant, null);
  assert.ok(r.error?.includes(`${join(empty, wasmName)} (FOVEA_WASM_DIR)`), r.error ?? '');
  assert.ok(r.error?.includes('nowhere else was searched'), r.error ?? '');
  assert.ok(!r.error?.includes('working directory'), r.error ?? '');
  assert.match(r.stderr, /FOVEA_WASM_NOT_FOUND/);
});

test('the .wasm files copied next to the bundle are found', () => {
  const dir = copies(join(tmp, 'beside'));
  copyFileSync(cjs, join(dir, 'app.cjs'));
  assertLoaded(run(join(dir, 'app.cjs')));
});

test('an installed node_modules/fovea is found from the bundle', () => {
  const proj = join(tmp, 'proj');
  const pkg = join(proj, 'node_modules', 'fovea');
  mkdirSync(join(pkg, 'dist'), { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'fovea', type: 'module', exports: { '.': { default: './dist/index.js' } } }));
  writeFileSync(join(pkg, 'dist', 'index.js'), 'export {};\n');
  copies(join(pkg, 'build'));
  mkdirSync(join(proj, 'dist'), { recursive: true });
  copyFileSync(cjs, join(proj, 'dist', 'app.cjs'));
  // Resolved from the bundle's folder (run from the temp root, outside proj)...
  assertLoaded(run(join(proj, 'dist', 'app.cjs')));
  // ...and from the working directory (the bundle outside proj).
  assertLoaded(run(cjs, {}, proj));
});

test('initWasm({ bytes }) loads the kernels with no file lookup (and no warning)', () => {
  assertLoaded(run(cjs, { WASM_BYTES: join(buildDir, wasmName) }));
  assertLoaded(run(esm, { WASM_BYTES: join(buildDir, wasmName) }));
});
