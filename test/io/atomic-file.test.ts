import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../../src/io/atomic-file.js';

let dir = '';

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fovea-atomic-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('creates a file from bytes or a string and leaves no temporary files', async () => {
    const a = join(dir, 'a.bin');
    const b = join(dir, 'b.txt');
    await writeFileAtomic(a, new Uint8Array([0, 1, 2, 255]));
    await writeFileAtomic(b, 'héllo\n');
    assert.deepEqual(Array.from(await readFile(a)), [0, 1, 2, 255]);
    assert.equal(await readFile(b, 'utf8'), 'héllo\n');
    assert.deepEqual((await readdir(dir)).sort(), ['a.bin', 'b.txt']);
  });

  it('writes only the bytes of a subarray view', async () => {
    const path = join(dir, 'view.bin');
    const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
    await writeFileAtomic(path, backing.subarray(2, 5));
    assert.deepEqual(Array.from(await readFile(path)), [1, 2, 3]);
  });

  it('replaces an existing file and keeps its permissions', async () => {
    const path = join(dir, 'cfg');
    await writeFile(path, 'old content that is longer than the new one');
    await chmod(path, 0o600);
    await writeFileAtomic(path, 'new');
    assert.equal(await readFile(path, 'utf8'), 'new');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), ['cfg']);
  });

  it('fails without creating anything when the directory does not exist', async () => {
    const path = join(dir, 'missing', 'x.bin');
    await assert.rejects(writeFileAtomic(path, 'data'), { code: 'ENOENT' });
    assert.deepEqual(await readdir(dir), []);
  });

  it('keeps the old file and removes the temp file when writing fails mid-way', async () => {
    const path = join(dir, 'model.bin');
    await writeFile(path, 'original');
    // The temp file is created, then writing the (invalid) data throws.
    await assert.rejects(writeFileAtomic(path, { not: 'bytes' } as unknown as Uint8Array));
    assert.equal(await readFile(path, 'utf8'), 'original');
    assert.deepEqual(await readdir(dir), ['model.bin']);
  });

  it('removes the temp file when the final rename fails', async () => {
    const target = join(dir, 'occupied');
    await mkdir(target);
    await writeFile(join(target, 'keep'), 'x'); // a non-empty directory cannot be renamed over
    await assert.rejects(writeFileAtomic(target, 'data'));
    assert.deepEqual(await readdir(dir), ['occupied']);
    assert.deepEqual(await readdir(target), ['keep']);
  });

  it('never exposes a half-written file to concurrent readers and writers', async () => {
    const path = join(dir, 'big.bin');
    const versions = Array.from({ length: 8 }, (_, v) => new Uint8Array(1 << 20).fill(v + 1));
    await writeFileAtomic(path, versions[0] as Uint8Array);
    let reading = true;
    let reads = 0;
    const reader = (async () => {
      while (reading) {
        const got = await readFile(path);
        assert.equal(got.length, 1 << 20, 'reader saw a file of the wrong size');
        const first = got[0] as number;
        assert.ok(got.every((b) => b === first), 'reader saw mixed content');
        reads++;
      }
    })();
    await Promise.all(versions.map((data) => writeFileAtomic(path, data)));
    reading = false;
    await reader;
    assert.ok(reads > 0);
    const final = await readFile(path);
    assert.ok(versions.some((v) => Buffer.compare(Buffer.from(v), final) === 0), 'final content is one complete version');
    assert.deepEqual(await readdir(dir), ['big.bin']);
  });
});

describe('writeJsonAtomic', () => {
  it('writes pretty JSON followed by a newline', async () => {
    const path = join(dir, 'state.json');
    await writeJsonAtomic(path, { epoch: 3, lr: [0.1, 0.01], name: 'résumé' });
    assert.equal(await readFile(path, 'utf8'), '{\n  "epoch": 3,\n  "lr": [\n    0.1,\n    0.01\n  ],\n  "name": "résumé"\n}\n');
  });

  it('rejects values that are not JSON-serializable and leaves the old file', async () => {
    const path = join(dir, 'state.json');
    await writeJsonAtomic(path, { ok: true });
    await assert.rejects(writeJsonAtomic(path, undefined), TypeError);
    await assert.rejects(writeJsonAtomic(path, { n: 1n }), TypeError);
    assert.equal(await readFile(path, 'utf8'), '{\n  "ok": true\n}\n');
    assert.deepEqual(await readdir(dir), ['state.json']);
  });
});
