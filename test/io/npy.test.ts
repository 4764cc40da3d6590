import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseNpy, readNpy, serializeNpy, writeNpy } from '../../src/io/npy.js';

// Written by NumPy 1.24's np.save.
const NUMPY = {
  f4_2x3: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAACAPwAAAEAAAEBAAACAQAAAoEA=',
  u1_3: 'k05VTVBZAQB2AHsnZGVzY3InOiAnfHUxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAvo=',
  f8_scalar: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAEQA==',
  i8_4: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDQsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoDAAAAAAAAAAIAAAAAAAAAAQAAAAAAAAAAAAAAAAAAAA==',
  fortran: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAABAQAAAgD8AAIBAAAAAQAAAoEA=',
  bigEndian: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPmY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAP4AAAEAAAAA=',
};
const bytes = (b64: string): Uint8Array => new Uint8Array(Buffer.from(b64, 'base64'));

test('reads what NumPy writes and writes the same bytes back', () => {
  const a = parseNpy(bytes(NUMPY.f4_2x3));
  assert.equal(a.dtype, 'float32');
  assert.deepEqual(a.shape, [2, 3]);
  assert.deepEqual([...a.data], [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(serializeNpy(a.data, a.shape), bytes(NUMPY.f4_2x3));
  // A Node Buffer (whose slice() is a view) at an odd offset of a larger allocation.
  const pooled = Buffer.concat([Buffer.alloc(3, 7), Buffer.from(NUMPY.f4_2x3, 'base64')]).subarray(3);
  assert.deepEqual([...parseNpy(pooled).data], [0, 1, 2, 3, 4, 5]);
  const u = parseNpy(bytes(NUMPY.u1_3));
  assert.deepEqual([u.dtype, u.shape, [...u.data]], ['uint8', [3], [1, 2, 250]]);
  assert.deepEqual(serializeNpy(u.data, u.shape), bytes(NUMPY.u1_3));
  const s = parseNpy(bytes(NUMPY.f8_scalar));
  assert.deepEqual([s.dtype, s.shape, [...s.data]], ['float64', [], [2.5]]);
  assert.deepEqual(serializeNpy(s.data, s.shape), bytes(NUMPY.f8_scalar));
  const i = parseNpy(bytes(NUMPY.i8_4));
  assert.deepEqual([i.dtype, [...i.data]], ['int64', [3n, 2n, 1n, 0n]]);
  assert.deepEqual(serializeNpy(i.data, i.shape), bytes(NUMPY.i8_4));
});

test('round trip through a file, int32, and a version 2.0 header for huge shapes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fovea-npy-'));
  try {
    const path = join(dir, 'x.npy');
    await writeNpy(path, new Int32Array([-7, 8, 2 ** 31 - 1]), [1, 3]);
    const back = await readNpy(path);
    assert.deepEqual([back.dtype, back.shape, [...back.data]], ['int32', [1, 3], [-7, 8, 2 ** 31 - 1]]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const manyDims = new Array(30000).fill(1);
  const v2 = serializeNpy(new Float32Array([1.5]), manyDims);
  assert.equal(v2[6], 2);
  assert.equal((12 + new DataView(v2.buffer).getUint32(8, true)) % 64, 0);
  const back = parseNpy(v2);
  assert.equal(back.shape.length, 30000);
  assert.deepEqual([...back.data], [1.5]);
});

test('bad files are refused with the file name and byte offset', () => {
  assert.throws(() => parseNpy(bytes(NUMPY.fortran), 'f.npy'), /f\.npy: at byte 2\d: the array is in Fortran \(column-major\) order; save np\.ascontiguousarray\(arr\) instead/);
  assert.throws(() => parseNpy(bytes(NUMPY.bigEndian), 'be.npy'), /be\.npy: at byte 11: dtype '>f4' is big-endian; convert it with arr\.astype\('<f4'\)/);
  assert.throws(() => parseNpy(new TextEncoder().encode('PK\x03\x04 a zip'), 'x.npz'), /x\.npz: at byte 0: not a \.npy file/);
  const truncated = bytes(NUMPY.f4_2x3).subarray(0, 140);
  assert.throws(() => parseNpy(truncated, 't.npy'), /t\.npy: at byte 128: shape \(2, 3\) of float32 needs 24 data bytes, but only 12 follow the header/);
  const complex = new TextDecoder('latin1').decode(bytes(NUMPY.u1_3)).replace("'|u1'", "'<c8'");
  assert.throws(() => parseNpy(Uint8Array.from(complex, (c) => c.charCodeAt(0)), 'c.npy'), /dtype '<c8' is not supported/);
  assert.throws(() => serializeNpy(new Float32Array(5), [2, 3]), /shape \[2, 3\] has 6 elements but the data has 5/);
});
