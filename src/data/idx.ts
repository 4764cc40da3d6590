/**
 * Reader (and writer) for the IDX format used by MNIST and Fashion-MNIST.
 *
 * Layout: a 4-byte magic number `00 00 <type> <ndims>`, then `ndims` big-endian uint32
 * dimension sizes, then the elements in row-major order, big-endian. Type codes:
 * 0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double.
 *
 * `readIdx` gunzips transparently when the file begins with the gzip magic (1f 8b),
 * whatever the file is called.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { gunzip, gzip } from 'node:zlib';
import { promisify } from 'node:util';

const gunzipAsync = promisify(gunzip);
const gzipAsync = promisify(gzip);

export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  dtype: IdxDtype;
  shape: number[];
  data: IdxData;
}

/** A malformed IDX file. The message names the file and what is wrong with it. */
export class IdxError extends Error {
  readonly file: string;
  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, options);
    this.name = 'IdxError';
    this.file = file;
  }
}

interface TypeInfo {
  code: number;
  dtype: IdxDtype;
  bytes: number;
  label: string;
}

const TYPES: TypeInfo[] = [
  { code: 0x08, dtype: 'uint8', bytes: 1, label: 'unsigned byte' },
  { code: 0x09, dtype: 'int8', bytes: 1, label: 'signed byte' },
  { code: 0x0b, dtype: 'int16', bytes: 2, label: 'short' },
  { code: 0x0c, dtype: 'int32', bytes: 4, label: 'int' },
  { code: 0x0d, dtype: 'float32', bytes: 4, label: 'float' },
  { code: 0x0e, dtype: 'float64', bytes: 8, label: 'double' },
];

function typeByCode(code: number): TypeInfo | undefined {
  return TYPES.find((t) => t.code === code);
}

function typeByDtype(dtype: IdxDtype): TypeInfo {
  const t = TYPES.find((x) => x.dtype === dtype);
  if (!t) throw new TypeError(`unknown IDX dtype "${String(dtype)}"`);
  return t;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Parses IDX bytes (already decompressed). `file` is only used in error messages.
 * The returned data never aliases `bytes`.
 */
export function parseIdx(bytes: Uint8Array, file = '<buffer>'): IdxArray {
  if (bytes.length < 4) {
    throw new IdxError(
      file,
      `truncated: the 4-byte IDX header needs 4 bytes but the file has ${bytes.length}` +
        (bytes.length > 0 ? ` (found ${hex(bytes)})` : ''),
    );
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new IdxError(
      file,
      `not an IDX file: bad magic number, expected 00 00 <type> <ndims> but found ${hex(bytes.subarray(0, 4))}`,
    );
  }
  const type = typeByCode(bytes[2]);
  if (!type) {
    const known = TYPES.map((t) => `0x${t.code.toString(16).padStart(2, '0')} ${t.label}`).join(', ');
    throw new IdxError(
      file,
      `unknown IDX data type code 0x${bytes[2].toString(16).padStart(2, '0')} (known: ${known})`,
    );
  }
  const ndims = bytes[3];
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new IdxError(
      file,
      `truncated: the header declares ${ndims} dimensions, needing ${headerBytes} header bytes, but the file has ${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    shape.push(d);
    count *= d;
  }
  const expected = count * type.bytes;
  const actual = bytes.length - headerBytes;
  const dims = `[${shape.join(', ')}]`;
  if (actual < expected) {
    throw new IdxError(
      file,
      `truncated: dimensions ${dims} of ${type.label} (${type.bytes} byte${type.bytes === 1 ? '' : 's'} each) need ` +
        `${expected} data bytes after the ${headerBytes}-byte header, but only ${actual} are present`,
    );
  }
  if (actual > expected) {
    throw new IdxError(
      file,
      `${actual - expected} extra trailing bytes: dimensions ${dims} of ${type.label} need ${expected} data bytes ` +
        `after the ${headerBytes}-byte header, but ${actual} are present`,
    );
  }
  return { dtype: type.dtype, shape, data: decode(type, view, headerBytes, count, bytes) };
}

function decode(type: TypeInfo, view: DataView, offset: number, count: number, bytes: Uint8Array): IdxData {
  switch (type.dtype) {
    // Copies (not `bytes.slice`, which for a Node Buffer is a view).
    case 'uint8': {
      const out = new Uint8Array(count);
      out.set(bytes.subarray(offset, offset + count));
      return out;
    }
    case 'int8': {
      const out = new Int8Array(count);
      out.set(new Int8Array(bytes.buffer, bytes.byteOffset + offset, count));
      return out;
    }
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/** Reads an IDX file, gunzipping it first when it starts with the gzip magic bytes. */
export async function readIdx(path: string): Promise<IdxArray> {
  const raw = await readFile(path);
  let bytes: Uint8Array = raw;
  if (isGzip(raw)) {
    try {
      bytes = await gunzipAsync(raw);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new IdxError(path, `starts with the gzip magic (1f 8b) but could not be decompressed: ${reason}`, {
        cause: err,
      });
    }
  }
  return parseIdx(bytes, path);
}

function dataMatches(dtype: IdxDtype, data: IdxData): boolean {
  switch (dtype) {
    case 'uint8':
      return data instanceof Uint8Array;
    case 'int8':
      return data instanceof Int8Array;
    case 'int16':
      return data instanceof Int16Array;
    case 'int32':
      return data instanceof Int32Array;
    case 'float32':
      return data instanceof Float32Array;
    case 'float64':
      return data instanceof Float64Array;
  }
}

/** Encodes an array as IDX bytes (uncompressed). */
export function encodeIdx(array: IdxArray): Uint8Array {
  const type = typeByDtype(array.dtype);
  const { shape, data } = array;
  if (!dataMatches(array.dtype, data)) {
    throw new TypeError(`encodeIdx: data is a ${data.constructor.name}, which does not match dtype ${array.dtype}`);
  }
  if (shape.length > 255) throw new RangeError(`encodeIdx: at most 255 dimensions, got ${shape.length}`);
  let count = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) throw new RangeError(`encodeIdx: bad dimension ${d}`);
    count *= d;
  }
  if (count !== data.length) {
    throw new RangeError(`encodeIdx: shape [${shape.join(', ')}] has ${count} elements but data has ${data.length}`);
  }
  const headerBytes = 4 + 4 * shape.length;
  const out = new Uint8Array(headerBytes + count * type.bytes);
  const view = new DataView(out.buffer);
  out[2] = type.code;
  out[3] = shape.length;
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const o = headerBytes;
  switch (array.dtype) {
    case 'uint8':
    case 'int8':
      out.set(new Uint8Array(data.buffer, data.byteOffset, count), o);
      break;
    case 'int16':
      for (let i = 0; i < count; i++) view.setInt16(o + 2 * i, data[i], false);
      break;
    case 'int32':
      for (let i = 0; i < count; i++) view.setInt32(o + 4 * i, data[i], false);
      break;
    case 'float32':
      for (let i = 0; i < count; i++) view.setFloat32(o + 4 * i, data[i], false);
      break;
    case 'float64':
      for (let i = 0; i < count; i++) view.setFloat64(o + 8 * i, data[i], false);
      break;
  }
  return out;
}

/** Writes an IDX file, gzipped when `opts.gzip` is set. */
export async function writeIdx(path: string, array: IdxArray, opts: { gzip?: boolean } = {}): Promise<void> {
  const bytes = encodeIdx(array);
  await writeFile(path, opts.gzip ? await gzipAsync(bytes) : bytes);
}
