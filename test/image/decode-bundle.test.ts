/**
 * Where Node finds the JPEG and PNG decoders' WebAssembly files (src/image/decode.ts,
 * codecWasmSearchPaths) when fovea is bundled into one file: import.meta.url then points at the
 * bundle (ESM) or is empty (CommonJS, where esbuild makes import.meta `{}`). A tiny script that
 * decodes test/fixtures/images/cat.png and cat.jpg through the public API is bundled with
 * esbuild for Node as CommonJS and as ESM into a temp folder outside the repository, and run
 * with `node` under each lookup: node_modules of the bundle's project, of the working directory,
 * of an installed fovea package (not hoisted), the files next to the bundle, FOVEA_WASM_DIR, and
 * nothing at all (an error naming every place looked at and the remedies).
 * The zoo table (src/models/zoo-stats.ts) is read from a CommonJS bundle too.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { decodeImage, JPEG_WASM, PNG_WASM } from '../../src/image/decode.js';
import { ZOO_STATS_FILE } from '../../src/models/zoo-stats.js';
import { IMAGES } from './fixtures.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const CODECS = [JPEG_WASM, PNG_WASM];
const wasmName = (c: typeof JPEG_WASM): string => c.file.split('/').pop()!;

const ENTRY = `
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { image } from ${JSON.stringify(join(root, 'src/index.ts'))};

async function main() {
  const out = {};
  try {
    for (const name of ['cat.png', 'cat.jpg']) {
      const img = await image.decodeImage(readFileSync(${JSON.stringify(IMAGES)} + name), name);
      out[name] = { width: img.width, height: img.height, sha256: createHash('sha256').update(img.data).digest('hex'), head: Array.from(img.data.subarray(0, 6)) };
    }
  } catch (e) {
    out.error = { name: e.name, message: e.message };
  }
  console.log(JSON.stringify(out));
}
main();
`;

const ZOO_ENTRY = `
import ${JSON.stringify(join(root, 'src/index.ts'))}; // registers the zoo
import { readZooStats, zooStatsFile } from ${JSON.stringify(join(root, 'src/models/zoo-stats.ts'))};
try {
  console.log(JSON.stringify({ file: zooStatsFile(), models: Object.keys(readZooStats()).length }));
} catch (e) {
  console.log(JSON.stringify({ error: e.message }));
}
`;

let tmp = '';
let cjs = '';
let esm = '';
let zooCjs = '';
let expected: { width: number; height: number; sha256: string; head: number[] };

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'fovea-decode-bundle-'));
  writeFileSync(join(tmp, 'entry.ts'), ENTRY);
  writeFileSync(join(tmp, 'zoo.ts'), ZOO_ENTRY);
  cjs = join(tmp, 'out', 'app.cjs');
  esm = join(tmp, 'out', 'app.mjs');
  zooCjs = join(tmp, 'out', 'zoo.cjs');
  const common = { bundle: true, platform: 'node' as const, external: ['webgpu'], logLevel: 'silent' as const };
  const [png] = await Promise.all([
    decodeImage(readFileSync(join(IMAGES, 'cat.png')), 'cat.png'),
    build({ ...common, entryPoints: [join(tmp, 'entry.ts')], outfile: cjs }),
    // The usual banner for ESM bundles of CommonJS dependencies (cli-progress requires 'readline').
    build({ ...common, entryPoints: [join(tmp, 'entry.ts')], outfile: esm, format: 'esm', banner: { js: "import { createRequire as __fovea_cr } from 'node:module'; const require = __fovea_cr(import.meta.url);" } }),
    build({ ...common, entryPoints: [join(tmp, 'zoo.ts')], outfile: zooCjs }),
  ]);
  // What the sources decode in this process (cat.png holds PIL's decoding of cat.jpg: the same pixels).
  expected = { width: png.width, height: png.height, sha256: createHash('sha256').update(png.data).digest('hex'), head: [...png.data.subarray(0, 6)] };
});

after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

type Decoded = { width: number; height: number; sha256: string; head: number[] };
type RunResult = { 'cat.png'?: Decoded; 'cat.jpg'?: Decoded; error?: { name: string; message: string } };

/** Runs a bundle with `node` in `cwd` (default: the temp folder, where no node_modules is). */
function run<T = RunResult>(bundle: string, env: Record<string, string | undefined> = {}, cwd = tmp): T {
  const childEnv: Record<string, string | undefined> = { ...process.env, FOVEA_WASM_DIR: undefined, FOVEA_THREADS: '1', ...env };
  for (const k of Object.keys(childEnv)) if (childEnv[k] === undefined) delete childEnv[k];
  const r = spawnSync(process.execPath, [bundle], { cwd, env: childEnv as NodeJS.ProcessEnv, encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, `node ${bundle} failed:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Both images decoded to the pixels the sources give. */
function assertDecoded(r: RunResult, what: string): void {
  assert.equal(r.error, undefined, `${what}: ${r.error?.message}`);
  assert.deepEqual(r['cat.png'], expected, `${what}: cat.png`);
  assert.deepEqual(r['cat.jpg'], expected, `${what}: cat.jpg`);
}

/** Copies of the codecs' package.json and .wasm files, laid out as in node_modules/. */
function installCodecs(nodeModules: string): void {
  for (const c of CODECS) {
    const src = join(root, 'node_modules', c.pkg);
    const dst = join(nodeModules, c.pkg);
    mkdirSync(join(dst, dirname(c.file)), { recursive: true });
    copyFileSync(join(src, 'package.json'), join(dst, 'package.json'));
    copyFileSync(join(src, c.file), join(dst, c.file));
  }
}

/** A folder holding copies of both .wasm files. */
function wasmCopies(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const c of CODECS) copyFileSync(join(root, 'node_modules', c.pkg, c.file), join(dir, wasmName(c)));
  return dir;
}

test('bundles (CommonJS and ESM) in a project whose node_modules has the codecs decode PNG and JPEG', () => {
  const proj = join(tmp, 'proj');
  installCodecs(join(proj, 'node_modules'));
  mkdirSync(join(proj, 'dist'), { recursive: true });
  for (const bundle of [cjs, esm]) {
    const copy = join(proj, 'dist', bundle.split('/').pop()!);
    copyFileSync(bundle, copy);
    assertDecoded(run(copy), `${copy} run from ${tmp}`);
  }
});

test('bundles outside any project find the codecs through the working directory', () => {
  assertDecoded(run(cjs, {}, root), 'cjs, cwd = repository');
  assertDecoded(run(esm, {}, root), 'esm, cwd = repository');
});

test('the .wasm files next to the bundle, or in FOVEA_WASM_DIR, are found', () => {
  const beside = wasmCopies(join(tmp, 'beside'));
  copyFileSync(cjs, join(beside, 'app.cjs'));
  copyFileSync(esm, join(beside, 'app.mjs'));
  assertDecoded(run(join(beside, 'app.cjs')), 'cjs, files beside');
  assertDecoded(run(join(beside, 'app.mjs')), 'esm, files beside');
  const dir = wasmCopies(join(tmp, 'wasm-dir'));
  assertDecoded(run(cjs, { FOVEA_WASM_DIR: dir }), 'cjs, FOVEA_WASM_DIR');
  assertDecoded(run(esm, { FOVEA_WASM_DIR: dir }), 'esm, FOVEA_WASM_DIR');
});

test('an installed fovea package with its own (unhoisted) codecs is found from the bundle', () => {
  const proj = join(tmp, 'proj-nested');
  const pkg = join(proj, 'node_modules', 'fovea');
  mkdirSync(join(pkg, 'dist'), { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'fovea', type: 'module', exports: { '.': { default: './dist/index.js' } } }));
  writeFileSync(join(pkg, 'dist', 'index.js'), 'export {};\n');
  installCodecs(join(pkg, 'node_modules'));
  mkdirSync(join(proj, 'dist'), { recursive: true });
  copyFileSync(cjs, join(proj, 'dist', 'app.cjs'));
  assertDecoded(run(join(proj, 'dist', 'app.cjs')), 'cjs in a project with node_modules/fovea/node_modules/@jsquash');
});

test('with no codec in reach: an error (not a corrupt-file error) names every place looked at and the remedies', () => {
  for (const bundle of [cjs, esm]) {
    const r = run(bundle, { FOVEA_WASM_DIR: join(tmp, 'no-such-dir') });
    assert.ok(r.error, `${bundle} decoded without any codec in reach`);
    const { name, message } = r.error;
    assert.equal(name, 'Error', message);
    assert.doesNotMatch(message, /corrupt|truncated/);
    // cat.png is decoded first.
    assert.match(message, /cannot decode PNG images: the @jsquash\/png decoder's WebAssembly file squoosh_png_bg\.wasm was not found/);
    for (const place of [
      `${join(tmp, 'no-such-dir', 'squoosh_png_bg.wasm')} (FOVEA_WASM_DIR)`,
      `${join(tmp, 'out', 'squoosh_png_bg.wasm')} (next to the bundle)`,
      `@jsquash/png/codec/pkg/squoosh_png_bg.wasm from ${join(tmp, 'out')}: not installed there or above`,
      `from the working directory ${tmp}: not installed there or above`,
      'the fovea package from',
    ]) {
      assert.ok(message.includes(place), `missing '${place}' in:\n${message}`);
    }
    assert.ok(message.includes('To fix: copy node_modules/@jsquash/png/codec/pkg/squoosh_png_bg.wasm next to your bundle, set FOVEA_WASM_DIR'), message);
  }
});

test('a CommonJS bundle loads zoo-stats.ts, reads the table next to it, and says where it looked when it is nowhere', () => {
  const { error = '' } = run<{ error?: string }>(zooCjs);
  assert.ok(error.includes('the model zoo table zoo-stats.json was not found'), error || 'no error');
  assert.ok(error.includes(`${join(tmp, 'out', 'zoo-stats.json')} (next to the bundle)`), error);
  assert.ok(error.includes('To fix: copy node_modules/fovea/src/models/zoo-stats.json'), error);
  const dir = join(tmp, 'zoo');
  mkdirSync(dir, { recursive: true });
  copyFileSync(zooCjs, join(dir, 'zoo.cjs'));
  copyFileSync(ZOO_STATS_FILE, join(dir, 'zoo-stats.json'));
  const found = run<{ file?: string; models?: number }>(join(dir, 'zoo.cjs'));
  assert.equal(found.file, join(dir, 'zoo-stats.json'));
  assert.ok((found.models ?? 0) > 0, JSON.stringify(found));
});
