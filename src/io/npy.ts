/**
 * NumPy's .npy format: the magic "\x93NUMPY", a version (1.0: 2-byte header length, 2.0 and
 * 3.0: 4-byte), then a Python dict literal such as
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 224, 224), }` padded with spaces
 * and a newline so the data starts at a multiple of 64 bytes, then the raw elements.
 *
 * Supported: little-endian float32/float64/int32/int64 and uint8 in C (row-major) order.
 */
import { nodeBuiltin } from '../platform.js';
import { writeFileAtomic } from './atomic-file.js';

export type NpyDType = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8';
export type NpyData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export interface NpyArray {
  dtype: NpyDType;
  shape: number[];
  data: NpyData;
}

export class NpyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NpyError';
  }
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const DESCRS: Record<string, NpyDType> = { f4: 'float32', f8: 'float64', i4: 'int32', i8: 'int64', u1: 'uint8' };
const DESCR_OF: Record<NpyDType, string> = { float32: '<f4', float64: '<f8', int32: '<i4', int64: '<i8', uint8: '|u1' };
const ITEM_SIZE: Record<NpyDType, number> = { float32: 4, float64: 8, int32: 4, int64: 8, uint8: 1 };

function typedArray(dtype: NpyDType, buffer: ArrayBuffer, length: number): NpyData {
  switch (dtype) {
    case 'float32': return new Float32Array(buffer, 0, length);
    case 'float64': return new Float64Array(buffer, 0, length);
    case 'int32': return new Int32Array(buffer, 0, length);
    case 'int64': return new BigInt64Array(buffer, 0, length);
    case 'uint8': return new Uint8Array(buffer, 0, length);
  }
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Parses .npy bytes. `source` (e.g. the file name) is named in errors, with the byte offset. */
export function parseNpy(bytes: Uint8Array, source = '<npy buffer>'): NpyArray {
  const fail = (offset: number, message: string): never => {
    throw new NpyError(`${source}: at byte ${offset}: ${message}`);
  };
  if (bytes.length < 10 || !MAGIC.every((b, i) => bytes[i] === b)) fail(0, 'not a .npy file (it does not start with "\\x93NUMPY")');
  const major = bytes[6];
  if (major < 1 || major > 3) fail(6, `unsupported .npy version ${major}.${bytes[7]} (versions 1.0, 2.0 and 3.0 are read)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) fail(8, 'the file ends inside the header length');
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = 8 + lengthBytes;
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) fail(8, `the header length ${headerLength} runs past the end of the ${bytes.length}-byte file (truncated?)`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));

  // The header is a Python literal; these three keys are all the format defines.
  const field = (key: string, pattern: string): RegExpExecArray => {
    const m = new RegExp(`['"]${key}['"]\\s*:\\s*${pattern}`).exec(header);
    if (!m) return fail(headerStart, `the header ${JSON.stringify(header.trim())} has no valid '${key}' entry`);
    return m;
  };
  const descrMatch = field('descr', `['"]([^'"]*)['"]`);
  const descr = descrMatch[1];
  const descrOffset = headerStart + descrMatch.index;
  const order = descr[0];
  const dtype = DESCRS[descr.slice(1)];
  if (!dtype || !'<>|='.includes(order)) {
    fail(descrOffset, `dtype '${descr}' is not supported; use little-endian float32, float64, int32, int64 or uint8 (e.g. arr.astype('<f4'))`);
  }
  if (order === '>' && ITEM_SIZE[dtype] > 1) {
    fail(descrOffset, `dtype '${descr}' is big-endian; convert it with arr.astype('${DESCR_OF[dtype]}') before saving`);
  }
  const fortranMatch = field('fortran_order', '(True|False)');
  if (fortranMatch[1] === 'True') {
    fail(headerStart + fortranMatch.index, 'the array is in Fortran (column-major) order; save np.ascontiguousarray(arr) instead');
  }
  const shapeMatch = field('shape', '\\(([^)]*)\\)');
  const shape = shapeMatch[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => {
    const n = Number(s.replace(/L$/, ''));
    if (!Number.isSafeInteger(n) || n < 0) fail(headerStart + shapeMatch.index, `shape entry '${s}' is not a non-negative integer`);
    return n;
  });
  const count = shape.reduce((a, b) => a * b, 1);
  const byteLength = count * ITEM_SIZE[dtype];
  if (dataStart + byteLength > bytes.length) {
    fail(dataStart, `shape (${shape.join(', ')}) of ${dtype} needs ${byteLength} data bytes, but only ${bytes.length - dataStart} follow the header (truncated?)`);
  }
  // A copy, so the elements are aligned whatever the header length was (and not Buffer#slice,
  // which is a view).
  const buffer = new Uint8Array(bytes.subarray(dataStart, dataStart + byteLength)).buffer as ArrayBuffer;
  if (!HOST_LITTLE_ENDIAN && ITEM_SIZE[dtype] > 1) swapBytes(new Uint8Array(buffer), ITEM_SIZE[dtype]);
  return { dtype, shape, data: typedArray(dtype, buffer, count) };
}

function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}

function dtypeOf(data: NpyData): NpyDType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  return 'uint8';
}

/** .npy bytes (version 1.0, or 2.0 when the header needs more than 65535 bytes) of a C-order array. */
export function serializeNpy(data: NpyData, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new NpyError(`serializeNpy: shape [${shape.join(', ')}] has ${count} elements but the data has ${data.length}`);
  const dtype = dtypeOf(data);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${DESCR_OF[dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const version = dict.length + 1 + 64 > 0xffff ? 2 : 1; // + newline and padding
  const prefix = version === 1 ? 10 : 12;
  // Pad with spaces and end with a newline so the data starts at a multiple of 64, as NumPy does.
  dict += ' '.repeat((64 - ((prefix + dict.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(prefix + dict.length + data.byteLength);
  out.set(MAGIC);
  out[6] = version;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, dict.length, true);
  else view.setUint32(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) out[prefix + i] = dict.charCodeAt(i);
  const body = out.subarray(prefix + dict.length);
  body.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  if (!HOST_LITTLE_ENDIAN && ITEM_SIZE[dtype] > 1) swapBytes(body, ITEM_SIZE[dtype]);
  return out;
}

/** Reads a .npy file (Node). */
export async function readNpy(path: string): Promise<NpyArray> {
  const fs = nodeBuiltin<typeof import('node:fs/promises')>('node:fs/promises');
  if (!fs) throw new NpyError('readNpy reads files in Node only; in browsers pass the bytes to parseNpy');
  const buf = await fs.readFile(path);
  return parseNpy(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path);
}

/** Writes a .npy file atomically (Node). */
export async function writeNpy(path: string, data: NpyData, shape: readonly number[]): Promise<void> {
  await writeFileAtomic(path, serializeNpy(data, shape));
}
