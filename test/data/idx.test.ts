import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeIdx, IdxError, parseIdx, readIdx, writeIdx, type IdxArray } from '../../src/data/idx.js';

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'fovea-idx-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const samples: IdxArray[] = [
  { dtype: 'uint8', shape: [2, 3, 4], data: Uint8Array.from({ length: 24 }, (_, i) => (i * 37) & 255) },
  { dtype: 'int8', shape: [5], data: Int8Array.from([-128, -1, 0, 1, 127]) },
  { dtype: 'int16', shape: [2, 2], data: Int16Array.from([-32768, -2, 258, 32767]) },
  { dtype: 'int32', shape: [3], data: Int32Array.from([-2147483648, 16909060, 2147483647]) },
  { dtype: 'float32', shape: [2, 2], data: Float32Array.from([0.5, -1.25, 3.4e38, Number.NEGATIVE_INFINITY]) },
  { dtype: 'float64', shape: [3], data: Float64Array.from([Math.PI, -1e-300, 0]) },
  { dtype: 'uint8', shape: [0, 28, 28], data: new Uint8Array(0) },
];

test('IDX round trip, plain and gzipped, for every type', async () => {
  await withTmp(async (dir) => {
    for (const [i, s] of samples.entries()) {
      for (const gzip of [false, true]) {
        const path = join(dir, `a${i}-${gzip ? 'gz' : 'plain'}.idx`);
        await writeIdx(path, s, { gzip });
        const back = await readIdx(path);
        assert.equal(back.dtype, s.dtype);
        assert.deepEqual(back.shape, s.shape);
        assert.equal(back.data.constructor, s.data.constructor);
        assert.deepEqual(Array.from(back.data), Array.from(s.data));
      }
    }
  });
});

test('gzip is detected from the content, not the file name', async () => {
  await withTmp(async (dir) => {
    const s = samples[0];
    await writeFile(join(dir, 'gzipped-without-suffix'), gzipSync(encodeIdx(s)));
    await writeFile(join(dir, 'plain-with-suffix.gz'), encodeIdx(s));
    for (const name of ['gzipped-without-suffix', 'plain-with-suffix.gz']) {
      const back = await readIdx(join(dir, name));
      assert.deepEqual(Array.from(back.data), Array.from(s.data));
    }
  });
});

test('multi-byte values are big-endian', () => {
  const bytes = Uint8Array.from([0, 0, 0x0b, 1, 0, 0, 0, 2, 0x01, 0x02, 0xff, 0xfe]);
  const arr = parseIdx(bytes);
  assert.equal(arr.dtype, 'int16');
  assert.deepEqual(arr.shape, [2]);
  assert.deepEqual(Array.from(arr.data), [258, -2]);
  const enc = encodeIdx({ dtype: 'int32', shape: [1], data: Int32Array.from([0x01020304]) });
  assert.deepEqual(Array.from(enc), [0, 0, 0x0c, 1, 0, 0, 0, 1, 1, 2, 3, 4]);
});

/** Writes `bytes` to a file and checks that reading it fails with an IdxError naming the file and matching `patterns`. */
async function expectIdxError(dir: string, name: string, bytes: Uint8Array, patterns: RegExp[]): Promise<void> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  await assert.rejects(readIdx(path), (err: unknown) => {
    assert.ok(err instanceof IdxError, `expected IdxError, got ${String(err)}`);
    assert.equal(err.file, path);
    assert.ok(err.message.includes(path), `message should name the file: ${err.message}`);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

test('errors: bad magic shows the bytes found', async () => {
  await withTmp(async (dir) => {
    await expectIdxError(dir, 'bad-magic', Uint8Array.from([0x12, 0x34, 0x08, 0x01, 0, 0, 0, 0]), [
      /bad magic/,
      /12 34 08 01/,
    ]);
    await expectIdxError(dir, 'text.idx', new TextEncoder().encode('hello world'), [/bad magic/, /68 65 6c 6c/]);
  });
});

test('errors: unknown type code', async () => {
  await withTmp(async (dir) => {
    await expectIdxError(dir, 'bad-type', Uint8Array.from([0, 0, 0x0a, 1, 0, 0, 0, 0]), [/unknown .*type code 0x0a/]);
  });
});

test('errors: truncated data gives expected and actual byte counts', async () => {
  await withTmp(async (dir) => {
    const full = encodeIdx({ dtype: 'int16', shape: [2, 5], data: new Int16Array(10) });
    // header 12 bytes + 20 data bytes; keep 7 data bytes
    await expectIdxError(dir, 'short', full.subarray(0, 12 + 7), [/truncated/, /\b20\b/, /\b7\b/]);
    // The same when the truncated file is gzipped.
    await expectIdxError(dir, 'short.gz', gzipSync(full.subarray(0, 12 + 7)), [/truncated/, /\b20\b/, /\b7\b/]);
  });
});

test('errors: truncated header', async () => {
  await withTmp(async (dir) => {
    await expectIdxError(dir, 'tiny', Uint8Array.from([0, 0]), [/truncated/]);
    await expectIdxError(dir, 'empty', new Uint8Array(0), [/truncated/]);
    // declares 3 dims (16 header bytes) but has only 8 bytes
    await expectIdxError(dir, 'short-header', Uint8Array.from([0, 0, 8, 3, 0, 0, 0, 1]), [/truncated/, /3 dimensions/]);
  });
});

test('errors: extra trailing bytes', async () => {
  await withTmp(async (dir) => {
    const full = encodeIdx({ dtype: 'uint8', shape: [4], data: new Uint8Array(4) });
    const extra = new Uint8Array(full.length + 3);
    extra.set(full);
    await expectIdxError(dir, 'extra', extra, [/3 extra trailing bytes/, /need 4/, /7 are present/]);
  });
});

test('errors: gzip magic but corrupt stream', async () => {
  await withTmp(async (dir) => {
    await expectIdxError(dir, 'corrupt.gz', Uint8Array.from([0x1f, 0x8b, 1, 2, 3, 4, 5, 6]), [/gzip/, /decompress/]);
  });
});

test('encodeIdx rejects data that does not fit the shape or dtype', () => {
  assert.throws(() => encodeIdx({ dtype: 'uint8', shape: [3], data: new Uint8Array(2) }), /3 elements/);
  assert.throws(() => encodeIdx({ dtype: 'int16', shape: [2], data: new Int32Array(2) }), /does not match/);
});
