import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SafetensorsError,
  fromFloat32,
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  toBigInt64,
  toFloat32,
  toInt32,
  writeSafetensors,
  type RawTensor,
  type SafetensorsDType,
  type SafetensorsInput,
} from '../../src/io/safetensors.js';

const FILE = 'model.safetensors';

/** A file made of an 8-byte LE length, `header` as given (no padding added) and `data`. */
function build(header: string, data: ArrayLike<number> = []): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(Array.from(data), 8 + h.length);
  return out;
}

function ascii(s: string): number[] {
  return Array.from(s, (c) => c.charCodeAt(0));
}

function f32Bits(x: number): number {
  return new Uint32Array(new Float32Array([x]).buffer)[0] as number;
}

function f32FromBits(bits: number): number {
  return new Float32Array(new Uint32Array([bits]).buffer)[0] as number;
}

function half(x: number): number {
  const { data } = fromFloat32(new Float32Array([x]), [1], 'F16');
  return (data[0] as number) | ((data[1] as number) << 8);
}

function bf16(x: number): number {
  const { data } = fromFloat32(new Float32Array([x]), [1], 'BF16');
  return (data[0] as number) | ((data[1] as number) << 8);
}

function halfToF32(bits: number): number {
  return toFloat32({ dtype: 'F16', shape: [], data: new Uint8Array([bits & 0xff, bits >>> 8]) })[0] as number;
}

/** Asserts that `fn` throws a SafetensorsError whose message contains every string in `parts`. */
function assertError(fn: () => unknown, parts: string[]): SafetensorsError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof SafetensorsError, `expected a SafetensorsError, got ${String(caught)}`);
  for (const p of parts) assert.ok(caught.message.includes(p), `message ${JSON.stringify(caught.message)} should mention ${JSON.stringify(p)}`);
  return caught;
}

function assertParseError(bytes: Uint8Array, parts: string[]): SafetensorsError {
  const err = assertError(() => parseSafetensors(bytes, FILE), [FILE, ...parts]);
  assert.equal(err.source, FILE);
  return err;
}

describe('safetensors: byte-exact output', () => {
  it('matches the reference layout for a single F32 tensor', () => {
    const out = serializeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) } });
    const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}'; // 64 bytes: no padding needed
    const expected = [
      64, 0, 0, 0, 0, 0, 0, 0,
      ...ascii(header),
      0, 0, 0, 0, /* 0 */ 0, 0, 0x80, 0x3f, /* 1 */ 0, 0, 0, 0x40, /* 2 */ 0, 0, 0x40, 0x40, /* 3 */ 0, 0, 0x80, 0x40, /* 4 */ 0, 0, 0xa0, 0x40, /* 5 */
    ];
    assert.deepEqual(Array.from(out), expected);
  });

  it('orders by descending dtype alignment then name, writes metadata first and pads the header with spaces', () => {
    const out = serializeSafetensors(
      {
        b: { dtype: 'U8', shape: [], data: new Uint8Array([7]) },
        a: { dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) },
        h: { dtype: 'F16', shape: [1], data: new Uint16Array([0x3c00]) },
        w: { dtype: 'F32', shape: [2], data: new Float32Array([1, -2]) },
      },
      { format: 'pt' },
    );
    const header =
      '{"__metadata__":{"format":"pt"},' +
      '"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"h":{"dtype":"F16","shape":[1],"data_offsets":[8,10]},' +
      '"a":{"dtype":"U8","shape":[3],"data_offsets":[10,13]},' +
      '"b":{"dtype":"U8","shape":[],"data_offsets":[13,14]}}';
    assert.equal(header.length, 246);
    const expected = [
      248, 0, 0, 0, 0, 0, 0, 0,
      ...ascii(header), 0x20, 0x20,
      0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, // w = [1, -2]
      0x00, 0x3c, // h = [1]
      1, 2, 3, // a
      7, // b
    ];
    assert.deepEqual(Array.from(out), expected);
  });

  it('writes an empty file as "{}" padded to 8 bytes', () => {
    assert.deepEqual(Array.from(serializeSafetensors({})), [8, 0, 0, 0, 0, 0, 0, 0, ...ascii('{}      ')]);
  });

  it('sorts names by UTF-8 byte order and keeps index-like names in that order', () => {
    const one = (v: number) => ({ dtype: 'U8' as const, shape: [1], data: new Uint8Array([v]) });
    const out = serializeSafetensors({ '10': one(1), '2': one(2), b: one(3), B: one(4), '\u{1F600}': one(5), '\uFF21': one(6) });
    const file = parseSafetensors(out);
    assert.deepEqual([...file.tensors.keys()], ['10', '2', 'B', 'b', '\uFF21', '\u{1F600}']);
    const text = new TextDecoder().decode(out.subarray(8));
    assert.ok(text.indexOf('"10"') < text.indexOf('"2"'));
  });

  it('gives the same bytes for a Map and a plain object, whatever the insertion order', () => {
    const x = { dtype: 'F32' as const, shape: [2], data: new Float32Array([1, 2]) };
    const y = { dtype: 'I64' as const, shape: [1], data: new BigInt64Array([5n]) };
    const a = serializeSafetensors({ x, y });
    const b = serializeSafetensors(new Map<string, SafetensorsInput>([['y', y], ['x', x]]));
    assert.deepEqual(a, b);
  });

  it('aligns the data buffer to 8 bytes and every tensor to its element size', () => {
    const out = serializeSafetensors({
      odd: { dtype: 'U8', shape: [3], data: new Uint8Array(3) },
      h: { dtype: 'F16', shape: [3], data: new Uint16Array(3) },
      f: { dtype: 'F32', shape: [1], data: new Float32Array(1) },
      d: { dtype: 'F64', shape: [1], data: new Float64Array(1) },
      i: { dtype: 'I64', shape: [1], data: new BigInt64Array(1) },
    });
    const n = Number(new DataView(out.buffer).getBigUint64(0, true));
    assert.equal((8 + n) % 8, 0);
    const file = parseSafetensors(out);
    for (const [name, t] of file.tensors) {
      const size = { U8: 1, F16: 2, F32: 4, F64: 8, I64: 8 }[t.dtype as 'U8'];
      assert.equal((t.data.byteOffset - 8 - n) % size, 0, `${name} is misaligned`);
    }
  });
});

describe('safetensors: round trips', () => {
  const cases: Array<{ dtype: SafetensorsDType; shape: number[]; data: ArrayBufferView; floats: number[] }> = [
    { dtype: 'F32', shape: [2, 2], data: new Float32Array([1.5, -2.25, 3e-39, 1e30]), floats: [1.5, -2.25, Math.fround(3e-39), Math.fround(1e30)] },
    { dtype: 'F16', shape: [3], data: new Uint16Array([0x3c00, 0xc000, 0x0001]), floats: [1, -2, 2 ** -24] },
    { dtype: 'BF16', shape: [3], data: new Uint16Array([0x3f80, 0xc040, 0x7f80]), floats: [1, -3, Infinity] },
    { dtype: 'F64', shape: [3], data: new Float64Array([0.1, -1e300, 2.5]), floats: [Math.fround(0.1), -Infinity, 2.5] },
    { dtype: 'I64', shape: [3], data: new BigInt64Array([-1n, 2n ** 40n, -(2n ** 63n)]), floats: [-1, 2 ** 40, -(2 ** 63)] },
    { dtype: 'I32', shape: [1, 3], data: new Int32Array([-7, 2147483647, 0]), floats: [-7, 2147483648, 0] },
    { dtype: 'U8', shape: [4], data: new Uint8Array([0, 1, 128, 255]), floats: [0, 1, 128, 255] },
    { dtype: 'I8', shape: [4], data: new Int8Array([0, -1, 127, -128]), floats: [0, -1, 127, -128] },
    { dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]), floats: [1, 0, 1] },
  ];

  for (const c of cases) {
    it(`round-trips ${c.dtype}`, () => {
      const out = serializeSafetensors({ t: c });
      const file = parseSafetensors(out, FILE);
      const t = file.tensors.get('t');
      assert.ok(t);
      assert.equal(t.dtype, c.dtype);
      assert.deepEqual(t.shape, c.shape);
      assert.deepEqual(Array.from(t.data), Array.from(new Uint8Array(c.data.buffer, c.data.byteOffset, c.data.byteLength)));
      assert.deepEqual(Array.from(toFloat32(t)), c.floats);
      assert.deepEqual(serializeSafetensors(file.tensors), out, 'parse -> serialize is the identity');
    });
  }

  it('round-trips all dtypes together through a file on disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fovea-st-'));
    try {
      const path = join(dir, 'all.safetensors');
      const tensors = Object.fromEntries(cases.map((c) => [`t.${c.dtype}`, c]));
      await writeSafetensors(path, tensors, { note: 'all dtypes' });
      const file = await readSafetensors(path);
      assert.deepEqual([...file.tensors.keys()].sort(), Object.keys(tensors).sort());
      assert.deepEqual(file.metadata, { note: 'all dtypes' });
      for (const c of cases) assert.deepEqual(Array.from(toFloat32(file.tensors.get(`t.${c.dtype}`) as RawTensor)), c.floats);
      assert.deepEqual(await readdir(dir), ['all.safetensors']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('handles scalars and empty tensors', () => {
    const out = serializeSafetensors({
      scalar: { dtype: 'F32', shape: [], data: new Float32Array([42]) },
      empty: { dtype: 'F32', shape: [0], data: new Float32Array(0) },
      empty2: { dtype: 'I64', shape: [2, 0, 3], data: new BigInt64Array(0) },
      emptyU8: { dtype: 'U8', shape: [0], data: new Uint8Array(0) },
    });
    const file = parseSafetensors(out);
    const scalar = file.tensors.get('scalar') as RawTensor;
    assert.deepEqual(scalar.shape, []);
    assert.deepEqual(Array.from(toFloat32(scalar)), [42]);
    assert.deepEqual(file.tensors.get('empty2')?.shape, [2, 0, 3]);
    assert.equal(toFloat32(file.tensors.get('empty') as RawTensor).length, 0);
    assert.equal(toBigInt64(file.tensors.get('empty2') as RawTensor).length, 0);
    assert.equal(file.tensors.get('emptyU8')?.data.length, 0);
  });

  it('round-trips metadata, including unusual keys, and omits it when not given', () => {
    const metadata = { format: 'pt', 'unicode ✓': 'naïve "quotes" \\ \n tab\t', __proto__x: 'y', '': '' };
    const withProto = JSON.parse('{"__proto__": "not a prototype"}') as Record<string, string>;
    const file = parseSafetensors(serializeSafetensors({}, { ...metadata, ...withProto }));
    assert.deepEqual(Object.entries(file.metadata), Object.entries({ ...metadata, ...withProto }));
    assert.equal(Object.getPrototypeOf(file.metadata), Object.prototype);
    assert.deepEqual(parseSafetensors(serializeSafetensors({ a: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } })).metadata, {});
    assert.ok(!new TextDecoder().decode(serializeSafetensors({})).includes('__metadata__'));
    // An explicit empty object is written, like the reference does for Some({}).
    assert.ok(new TextDecoder().decode(serializeSafetensors({}, {})).includes('"__metadata__":{}'));
  });

  it('accepts a header with surrounding whitespace and tensors listed out of data order', () => {
    const header =
      '  {"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},' +
      '"__metadata__":null}     ';
    const file = parseSafetensors(build(header, [1, 2, 3]), FILE);
    assert.deepEqual([...file.tensors.keys()], ['a', 'b'], 'map is in data order');
    assert.deepEqual(Array.from(file.tensors.get('a')?.data ?? []), [1, 2]);
    assert.deepEqual(Array.from(file.tensors.get('b')?.data ?? []), [3]);
    assert.deepEqual(file.metadata, {});
  });

  it('returns views into the input bytes', () => {
    const bytes = serializeSafetensors({ a: { dtype: 'U8', shape: [2], data: new Uint8Array([5, 6]) } });
    const t = parseSafetensors(bytes).tensors.get('a') as RawTensor;
    assert.equal(t.data.buffer, bytes.buffer);
    bytes[bytes.length - 1] = 9;
    assert.equal(t.data[1], 9);
  });

  it('parses an input that is itself a view at an odd offset', () => {
    const inner = serializeSafetensors({ a: { dtype: 'F32', shape: [2], data: new Float32Array([1.25, -8]) } });
    const outer = new Uint8Array(inner.length + 3);
    outer.set(inner, 3);
    const t = parseSafetensors(outer.subarray(3)).tensors.get('a') as RawTensor;
    assert.equal(t.data.byteOffset % 4, 3);
    assert.deepEqual(Array.from(toFloat32(t)), [1.25, -8]);
  });
});

describe('safetensors: F16 / BF16 conversion', () => {
  it('encodes F16 special values', () => {
    assert.equal(half(0), 0x0000);
    assert.equal(half(-0), 0x8000);
    assert.equal(half(1), 0x3c00);
    assert.equal(half(-2), 0xc000);
    assert.equal(half(0.333251953125), 0x3555);
    assert.equal(half(65504), 0x7bff, 'max finite');
    assert.equal(half(Infinity), 0x7c00);
    assert.equal(half(-Infinity), 0xfc00);
    const nan = half(NaN);
    assert.equal(nan & 0x7c00, 0x7c00);
    assert.notEqual(nan & 0x03ff, 0, 'NaN keeps a non-zero mantissa');
    assert.equal(half(1e10), 0x7c00, 'overflow -> inf');
    assert.equal(half(-1e10), 0xfc00);
    assert.equal(half(f32FromBits(0x00000001)), 0x0000, 'float32 subnormal -> 0');
    assert.equal(half(-f32FromBits(0x00000001)), 0x8000, 'keeps the sign of zero');
  });

  it('encodes F16 subnormals', () => {
    assert.equal(half(2 ** -24), 0x0001, 'smallest subnormal');
    assert.equal(half(1023 * 2 ** -24), 0x03ff, 'largest subnormal');
    assert.equal(half(2 ** -14), 0x0400, 'smallest normal');
    assert.equal(half(-(5 * 2 ** -24)), 0x8005);
    assert.equal(half(2 ** -26), 0x0000, 'below half the smallest subnormal');
    assert.equal(half(1e-10), 0x0000);
  });

  it('rounds F16 to nearest, ties to even', () => {
    assert.equal(half(1 + 2 ** -11), 0x3c00, 'tie between 0x3c00 and 0x3c01 -> even 0x3c00');
    assert.equal(half(1 + 3 * 2 ** -11), 0x3c02, 'tie between 0x3c01 and 0x3c02 -> even 0x3c02');
    assert.equal(half(1 + 2 ** -11 + 2 ** -20), 0x3c01, 'just above a tie rounds up');
    assert.equal(half(1 + 2 ** -11 - 2 ** -20), 0x3c00, 'just below a tie rounds down');
    assert.equal(half(65519), 0x7bff, 'below the overflow tie');
    assert.equal(half(65520), 0x7c00, 'the tie above the max finite rounds to even = inf');
    assert.equal(half(2 ** -25), 0x0000, 'subnormal tie between 0 and 0x0001 -> 0');
    assert.equal(half(f32FromBits(f32Bits(2 ** -25) + 1)), 0x0001, 'just above that tie -> 0x0001');
    assert.equal(half(3 * 2 ** -25), 0x0002, 'subnormal tie between 0x0001 and 0x0002 -> 0x0002');
    assert.equal(half(2 ** -14 - 2 ** -25), 0x0400, 'tie between the largest subnormal and the smallest normal -> 0x0400');
    assert.equal(half(2 ** -14 - 2 ** -24 + 2 ** -26), 0x03ff);
  });

  it('decodes F16 exactly', () => {
    assert.equal(halfToF32(0x0001), 2 ** -24);
    assert.equal(halfToF32(0x03ff), 1023 * 2 ** -24);
    assert.equal(halfToF32(0x0400), 2 ** -14);
    assert.equal(halfToF32(0x7bff), 65504);
    assert.equal(halfToF32(0x3555), 0.333251953125);
    assert.equal(halfToF32(0x7c00), Infinity);
    assert.equal(halfToF32(0xfc00), -Infinity);
    assert.ok(Number.isNaN(halfToF32(0x7e00)));
    assert.ok(Object.is(halfToF32(0x8000), -0));
    assert.ok(Object.is(halfToF32(0x0000), 0));
  });

  it('F16 decode then encode is the identity on all 65536 bit patterns', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const floats = toFloat32({ dtype: 'F16', shape: [65536], data: new Uint8Array(all.buffer) });
    const back = new Uint16Array(fromFloat32(floats, [65536], 'F16').data.buffer);
    for (let i = 0; i < 65536; i++) {
      const isNaN16 = (i & 0x7c00) === 0x7c00 && (i & 0x03ff) !== 0;
      if (isNaN16) {
        assert.ok(Number.isNaN(floats[i]));
        assert.equal((back[i] as number) & 0x7c00, 0x7c00);
        assert.notEqual((back[i] as number) & 0x03ff, 0);
      } else {
        assert.equal(back[i], i, `pattern 0x${i.toString(16)}`);
      }
    }
  });

  it('encodes BF16 with round-to-nearest-even', () => {
    assert.equal(bf16(1), 0x3f80);
    assert.equal(bf16(-0), 0x8000);
    assert.equal(bf16(Infinity), 0x7f80);
    assert.equal(bf16(-Infinity), 0xff80);
    assert.equal(bf16(f32FromBits(0x3f808000)), 0x3f80, 'tie -> even (down)');
    assert.equal(bf16(f32FromBits(0x3f818000)), 0x3f82, 'tie -> even (up)');
    assert.equal(bf16(f32FromBits(0x3f808001)), 0x3f81, 'above the tie');
    assert.equal(bf16(f32FromBits(0x3f807fff)), 0x3f80, 'below the tie');
    assert.equal(bf16(f32FromBits(0x7f7fffff)), 0x7f80, 'float32 max rounds to inf');
    assert.equal(bf16(f32FromBits(0x7f7f7fff)), 0x7f7f, 'largest value that stays finite');
    assert.equal(bf16(f32FromBits(0x00000001)), 0x0000, 'tiny subnormal rounds to 0');
    assert.equal(bf16(f32FromBits(0x00018000)), 0x0002, 'subnormal tie -> even');
    const nan = bf16(NaN);
    assert.equal(nan & 0x7f80, 0x7f80);
    assert.notEqual(nan & 0x007f, 0);
    assert.notEqual(bf16(f32FromBits(0x7f800001)) & 0x007f, 0, 'NaN with a payload only in the low bits stays NaN');
  });

  it('decodes BF16 exactly on all 65536 bit patterns', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const floats = toFloat32({ dtype: 'BF16', shape: [256, 256], data: new Uint8Array(all.buffer) });
    const bits = new Uint32Array(floats.buffer);
    for (let i = 0; i < 65536; i++) assert.equal(bits[i], (i << 16) >>> 0);
    const back = new Uint16Array(fromFloat32(floats, [65536], 'BF16').data.buffer);
    for (let i = 0; i < 65536; i++) {
      const isNaN16 = (i & 0x7f80) === 0x7f80 && (i & 0x7f) !== 0;
      if (!isNaN16) assert.equal(back[i], i);
    }
  });

  it('fromFloat32 F32 copies the little-endian bytes', () => {
    const src = new Float32Array([1, -2]);
    const t = fromFloat32(src, [2], 'F32');
    assert.deepEqual(Array.from(t.data), [0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]);
    assert.notEqual(t.data.buffer, src.buffer);
    assert.deepEqual(t.shape, [2]);
  });

  it('fromFloat32 checks shape against the data length', () => {
    assertError(() => fromFloat32(new Float32Array(3), [2, 2], 'F16'), ['4 elements', 'data has 3']);
    assertError(() => fromFloat32(new Float32Array(1), [-1], 'F32'), ['non-negative integers']);
  });
});

describe('safetensors: element conversions', () => {
  it('toFloat32 returns a copy for F32, also from an unaligned view', () => {
    const bytes = new Uint8Array(9);
    bytes.set(new Uint8Array(new Float32Array([3.5, -1]).buffer), 1);
    const t: RawTensor = { dtype: 'F32', shape: [2], data: bytes.subarray(1) };
    const f = toFloat32(t);
    assert.deepEqual(Array.from(f), [3.5, -1]);
    f[0] = 0;
    assert.deepEqual(Array.from(toFloat32(t)), [3.5, -1]);
  });

  it('rounds F64 and 64-bit integers to nearest float32', () => {
    const f64: RawTensor = { dtype: 'F64', shape: [4], data: new Uint8Array(new Float64Array([0.1, 1 + 2 ** -24, 1 + 3 * 2 ** -24, NaN]).buffer) };
    const f = toFloat32(f64);
    assert.equal(f[0], Math.fround(0.1));
    assert.equal(f[1], 1, 'tie -> even');
    assert.equal(f[2], 1 + 2 ** -22, 'tie -> even (up)');
    assert.ok(Number.isNaN(f[3]));
    const big = [2n ** 53n + 1n, (2n ** 24n + 1n) * 2n ** 30n, (2n ** 24n + 3n) * 2n ** 30n, (2n ** 24n + 1n) * 2n ** 30n + 1n, -(2n ** 63n), 2n ** 63n - 1n, 16777217n];
    const i64: RawTensor = { dtype: 'I64', shape: [big.length], data: new Uint8Array(new BigInt64Array(big).buffer) };
    assert.deepEqual(Array.from(toFloat32(i64)), [2 ** 53, 2 ** 54, (2 ** 24 + 4) * 2 ** 30, (2 ** 24 + 2) * 2 ** 30, -(2 ** 63), 2 ** 63, 16777216]);
  });

  it('converts BOOL bytes to 0/1', () => {
    assert.deepEqual(Array.from(toFloat32({ dtype: 'BOOL', shape: [4], data: new Uint8Array([0, 1, 2, 255]) })), [0, 1, 1, 1]);
  });

  it('toBigInt64 reads I64 and rejects other dtypes', () => {
    const data = new Uint8Array(new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n]).buffer);
    const t: RawTensor = { dtype: 'I64', shape: [3], data };
    assert.deepEqual(Array.from(toBigInt64(t)), [-(2n ** 63n), 2n ** 63n - 1n, 0n]);
    assertError(() => toBigInt64({ dtype: 'I32', shape: [1], data: new Uint8Array(4) }), ['toBigInt64', 'I64', 'I32']);
  });

  it('toInt32 converts I64 within range, I32, I8 and U8, and rejects the rest', () => {
    const ok: RawTensor = { dtype: 'I64', shape: [3], data: new Uint8Array(new BigInt64Array([-2147483648n, 2147483647n, 5n]).buffer) };
    assert.deepEqual(Array.from(toInt32(ok)), [-2147483648, 2147483647, 5]);
    const bad: RawTensor = { dtype: 'I64', shape: [2], data: new Uint8Array(new BigInt64Array([1n, 2147483648n]).buffer) };
    assertError(() => toInt32(bad), ['2147483648', 'element 1', 'int32 range']);
    const low: RawTensor = { dtype: 'I64', shape: [1], data: new Uint8Array(new BigInt64Array([-2147483649n]).buffer) };
    assertError(() => toInt32(low), ['-2147483649', 'int32 range']);
    assert.deepEqual(Array.from(toInt32({ dtype: 'I32', shape: [2], data: new Uint8Array(new Int32Array([-3, 9]).buffer) })), [-3, 9]);
    assert.deepEqual(Array.from(toInt32({ dtype: 'I8', shape: [2], data: new Uint8Array([0xff, 0x7f]) })), [-1, 127]);
    assert.deepEqual(Array.from(toInt32({ dtype: 'U8', shape: [2], data: new Uint8Array([0xff, 0x7f]) })), [255, 127]);
    assertError(() => toInt32({ dtype: 'F32', shape: [1], data: new Uint8Array(4) }), ['toInt32', 'F32']);
  });

  it('conversions check that the data length matches the shape', () => {
    assertError(() => toFloat32({ dtype: 'F32', shape: [2], data: new Uint8Array(7) }), ['toFloat32', '7 bytes', 'needs 8 bytes']);
    assertError(() => toInt32({ dtype: 'I64', shape: [1], data: new Uint8Array(4) }), ['toInt32', 'needs 8 bytes']);
  });
});

describe('safetensors: validation errors', () => {
  const ok = (extra = '') => `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}${extra}}`;

  it('rejects a file shorter than 8 bytes', () => {
    assertParseError(new Uint8Array(5), ['only 5 bytes', '8-byte header length']);
    assertParseError(new Uint8Array(0), ['only 0 bytes']);
  });

  it('rejects a header length larger than the file', () => {
    const bytes = build(ok(), new Uint8Array(8));
    new DataView(bytes.buffer).setBigUint64(0, 100000n, true);
    assertParseError(bytes, ['header length 100000', `file size of ${bytes.length} bytes`, 'truncated or not a safetensors file']);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 2n ** 64n - 1n, true);
    assertParseError(huge, ['18446744073709551615', 'file size of 16 bytes', 'truncated or not a safetensors file']);
  });

  it('rejects headers that are not UTF-8, not JSON or not an object', () => {
    const notUtf8 = build('{}');
    notUtf8[9] = 0xff;
    assertParseError(notUtf8, ['not valid UTF-8']);
    assertParseError(build('{"a": '), ['not valid JSON']);
    assertParseError(build('PK\u0003\u0004'), ['not valid JSON']);
    assertParseError(build('[1, 2]'), ['must be a JSON object', 'array']);
    assertParseError(build('null'), ['must be a JSON object', 'null']);
    assertParseError(build('42      '), ['must be a JSON object', 'number 42']);
  });

  it('rejects a tensor entry that is not an object', () => {
    assertParseError(build('{"a": 3}'), ['tensor "a"', 'must be an object']);
  });

  it('rejects unknown dtypes', () => {
    const err = assertParseError(build('{"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}', [0]), ['tensor "w"', 'unknown dtype "F8_E4M3"', 'supported:']);
    assert.equal(err.tensor, 'w');
    assertParseError(build('{"w":{"shape":[1],"data_offsets":[0,1]}}', [0]), ['tensor "w"', 'missing "dtype"']);
  });

  it('rejects shapes that are not arrays of non-negative integers', () => {
    for (const shape of ['[-1]', '[1.5]', '"3"', '["2"]', '[2, null]', '{"0": 1}']) {
      assertParseError(build(`{"w":{"dtype":"U8","shape":${shape},"data_offsets":[0,1]}}`, [0]), ['tensor "w"', 'shape', 'non-negative integers']);
    }
    assertParseError(build('{"w":{"dtype":"U8","data_offsets":[0,1]}}', [0]), ['tensor "w"', 'shape must be an array']);
  });

  it('rejects malformed data_offsets', () => {
    for (const offsets of ['[0]', '[0,1,2]', '[-1,0]', '"0,1"', '[0,1.5]']) {
      assertParseError(build(`{"w":{"dtype":"U8","shape":[1],"data_offsets":${offsets}}}`, [0]), ['tensor "w"', 'data_offsets must be [begin, end]']);
    }
    assertParseError(build('{"w":{"dtype":"U8","shape":[0],"data_offsets":[1,0]}}', [0]), ['tensor "w"', '[1, 0]', 'end before they begin']);
  });

  it('rejects data_offsets that do not match dtype size x element count', () => {
    assertParseError(build('{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}', new Uint8Array(20)), [
      'tensor "w"',
      'span 20 bytes',
      'F32',
      '[2, 3]',
      'needs 6 x 4 = 24 bytes',
    ]);
  });

  it('rejects offsets outside the data buffer', () => {
    const err = assertParseError(build(ok(), new Uint8Array(6)), ['tensor "a"', 'byte offset 8', 'only 6 bytes', 'file truncated?']);
    assert.equal(err.tensor, 'a');
  });

  it('detects a real file that lost its tail', () => {
    const full = serializeSafetensors({ a: { dtype: 'F32', shape: [4], data: new Float32Array(4) }, b: { dtype: 'U8', shape: [2], data: new Uint8Array(2) } });
    assertParseError(full.subarray(0, full.length - 5), ['byte offset', 'file truncated?']);
  });

  it('rejects overlapping tensors', () => {
    const header = '{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}';
    assertParseError(build(header, new Uint8Array(6)), ['tensor "b"', '[2, 6]', 'overlap', '"a"', '[0, 4]']);
    const same = '{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}';
    assertParseError(build(same, new Uint8Array(4)), ['overlap']);
  });

  it('rejects gaps between tensors, before the first and after the last', () => {
    const gap = '{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}}';
    assertParseError(build(gap, new Uint8Array(6)), ['tensor "b"', 'gap of 2 unused bytes', 'tensor "a" (ends at 2)', 'contiguous']);
    const lead = '{"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}';
    assertParseError(build(lead, new Uint8Array(3)), ['tensor "b"', 'gap of 1 unused bytes', 'start of the data buffer']);
    assertParseError(build(ok(), new Uint8Array(11)), ['data buffer is 11 bytes', 'bytes [0, 8]', '3 trailing bytes']);
    assertParseError(build('{}', [1, 2]), ['data buffer is 2 bytes', 'no tensors']);
  });

  it('rejects bad metadata', () => {
    assertParseError(build('{"__metadata__":{"epoch":3}}'), ['"__metadata__" entry "epoch" must be a string', 'number 3']);
    assertParseError(build('{"__metadata__":["x"]}'), ['"__metadata__" must be an object of strings']);
  });

  it('uses a generic source name when none is given, and readSafetensors names the path', async () => {
    assertError(() => parseSafetensors(new Uint8Array(3)), ['<safetensors buffer>', 'only 3 bytes']);
    const dir = await mkdtemp(join(tmpdir(), 'fovea-st-'));
    try {
      const path = join(dir, 'broken.safetensors');
      await writeFile(path, build(ok(), new Uint8Array(4)));
      await assert.rejects(readSafetensors(path), (err: unknown) => {
        assert.ok(err instanceof SafetensorsError);
        assert.ok(err.message.startsWith(`${path}: `), err.message);
        assert.ok(err.message.includes('file truncated?'));
        return true;
      });
      await assert.rejects(readSafetensors(join(dir, 'missing.safetensors')), { code: 'ENOENT' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('safetensors: serialization errors', () => {
  it('rejects inconsistent or invalid tensors', () => {
    assertError(() => serializeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } }), [
      'tensor "w"',
      'data has 12 bytes',
      'needs 4 x 4 = 16 bytes',
    ]);
    assertError(() => serializeSafetensors({ w: { dtype: 'Q4' as SafetensorsDType, shape: [1], data: new Uint8Array(1) } }), ['tensor "w"', 'unknown dtype "Q4"']);
    assertError(() => serializeSafetensors({ w: { dtype: 'U8', shape: [1.5], data: new Uint8Array(1) } }), ['tensor "w"', 'non-negative integers']);
    assertError(() => serializeSafetensors({ w: { dtype: 'U8', shape: [1], data: [1] as unknown as Uint8Array } }), ['tensor "w"', 'typed array']);
    assertError(() => serializeSafetensors({ __metadata__: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } }), ['reserved']);
    assertError(() => serializeSafetensors({}, { epoch: 3 as unknown as string }), ['metadata entry "epoch" must be a string']);
  });

  it('writeSafetensors leaves an existing file alone when serialization fails', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fovea-st-'));
    try {
      const path = join(dir, 'm.safetensors');
      await writeSafetensors(path, { a: { dtype: 'U8', shape: [1], data: new Uint8Array([1]) } });
      const before = await readFile(path);
      await assert.rejects(writeSafetensors(path, { a: { dtype: 'F32', shape: [2], data: new Float32Array(1) } }), SafetensorsError);
      assert.deepEqual(await readFile(path), before);
      assert.deepEqual(await readdir(dir), ['m.safetensors']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
