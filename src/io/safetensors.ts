/**
 * Reading and writing the safetensors format on raw typed arrays.
 *
 * Layout: an 8-byte little-endian u64 N, then N bytes of UTF-8 JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}}`
 * (possibly padded with trailing spaces), then the data buffer. Offsets are
 * relative to the start of the data buffer; tensors are little-endian,
 * row-major and must tile the buffer exactly, without gaps or overlaps.
 *
 * Writing follows the reference implementation byte for byte: tensors are laid
 * out by descending dtype alignment and then by name (so every tensor is
 * naturally aligned), the header is compact JSON with `__metadata__` first, and
 * it is padded with spaces so the data buffer starts at a multiple of 8.
 */
import { float16ToFloat32BitsTable, float32BitsToFloat16 } from '../tensor/float16.js';
import { requireNode } from '../platform.js';
import { writeFileAtomic } from './atomic-file.js';

export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'U8' | 'I8' | 'BOOL';

/** One tensor as stored: `data` holds its little-endian bytes (a view, not a copy, when parsed). */
export interface RawTensor {
  dtype: SafetensorsDType;
  shape: number[];
  data: Uint8Array;
}

export interface SafetensorsFile {
  /** Tensors in file (data offset) order. */
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

/** A tensor to serialize. `data` is any typed array/DataView whose bytes are the tensor's elements. */
export interface SafetensorsInput {
  dtype: SafetensorsDType;
  shape: readonly number[];
  data: ArrayBufferView;
}

export type SafetensorsInputs = Record<string, SafetensorsInput> | ReadonlyMap<string, SafetensorsInput>;

export class SafetensorsError extends Error {
  /** The file (or other source) the error is about, if known. */
  readonly source: string | undefined;
  /** The tensor the error is about, if any. */
  readonly tensor: string | undefined;

  constructor(message: string, options: { source?: string; tensor?: string } = {}) {
    super(message);
    this.name = 'SafetensorsError';
    this.source = options.source;
    this.tensor = options.tensor;
  }
}

const DTYPE_SIZES: Readonly<Record<SafetensorsDType, number>> = {
  F64: 8,
  I64: 8,
  F32: 4,
  I32: 4,
  F16: 2,
  BF16: 2,
  U8: 1,
  I8: 1,
  BOOL: 1,
};

/**
 * Position of each dtype in the reference implementation's `Dtype` enum (which
 * is ordered by increasing alignment); files are written by descending rank.
 */
const DTYPE_RANK: Readonly<Record<SafetensorsDType, number>> = {
  BOOL: 0,
  U8: 1,
  I8: 2,
  F16: 3,
  BF16: 4,
  I32: 5,
  F32: 6,
  F64: 7,
  I64: 8,
};

const SUPPORTED_DTYPES = Object.keys(DTYPE_RANK) as SafetensorsDType[];

/** The reference implementation refuses headers larger than this. */
const MAX_HEADER_BYTES = 100_000_000;

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Size in bytes of one element of `dtype`. */
export function safetensorsDTypeSize(dtype: SafetensorsDType): number {
  return DTYPE_SIZES[dtype];
}

function isDType(value: unknown): value is SafetensorsDType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZES, value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing (missing)';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function jsonish(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Number of elements of `shape`, or an explanation of why it is not a valid shape. */
function checkShape(shape: unknown): { numel: number } | { problem: string } {
  if (!Array.isArray(shape)) return { problem: `shape must be an array of non-negative integers, got ${describe(shape)}` };
  let numel = 1;
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      return { problem: `shape ${jsonish(shape)} must be an array of non-negative integers (dimension ${i} is ${jsonish(d)})` };
    }
    numel *= d;
  }
  if (!Number.isSafeInteger(numel)) return { problem: `shape ${jsonish(shape)} has too many elements` };
  return { numel };
}

/** UTF-8 byte order (= code point order), which is how the reference implementation sorts names. */
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca === cb) continue;
    // Surrogates (0xD800-0xDFFF) encode code points above 0xFFFF, which sort after every BMP unit.
    const sa = ca >= 0xd800 && ca <= 0xdfff;
    const sb = cb >= 0xd800 && cb <= 0xdfff;
    if (sa !== sb) return sa ? 1 : -1;
    return ca - cb;
  }
  return a.length - b.length;
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

interface HeaderEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Parses a complete safetensors file held in memory. Tensor data are views into
 * `bytes`. `source` (e.g. the file name) is used in error messages.
 */
export function parseSafetensors(bytes: Uint8Array, source?: string): SafetensorsFile {
  const where = source ?? '<safetensors buffer>';
  const fail = (message: string, tensor?: string): never => {
    const prefix = tensor === undefined ? '' : `tensor ${JSON.stringify(tensor)}: `;
    throw new SafetensorsError(`${where}: ${prefix}${message}`, { source, tensor });
  };

  const fileSize = bytes.byteLength;
  if (fileSize < 8) {
    fail(`file is only ${fileSize} bytes; a safetensors file starts with an 8-byte header length (truncated or not a safetensors file)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared > BigInt(fileSize - 8)) {
    fail(
      `header length ${declared} declared in the first 8 bytes exceeds the file size of ${fileSize} bytes ` +
        `(truncated or not a safetensors file)`,
    );
  }
  const headerLength = Number(declared);
  if (headerLength > MAX_HEADER_BYTES) {
    fail(`header length ${headerLength} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  }

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    return fail(`header (bytes 8 to ${8 + headerLength}) is not valid UTF-8 (not a safetensors file?)`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return fail(`header (${headerLength} bytes) is not valid JSON: ${reason} (not a safetensors file?)`);
  }
  if (!isPlainObject(header)) {
    return fail(`header must be a JSON object, got ${describe(header)}`);
  }

  const dataStart = 8 + headerLength;
  const bufferSize = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];

  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (info === null) continue;
      if (!isPlainObject(info)) fail(`"__metadata__" must be an object of strings, got ${describe(info)}`);
      for (const [key, value] of Object.entries(info as Record<string, unknown>)) {
        if (typeof value !== 'string') fail(`"__metadata__" entry ${JSON.stringify(key)} must be a string, got ${describe(value)}`);
        Object.defineProperty(metadata, key, { value, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    if (!isPlainObject(info)) fail(`entry must be an object with dtype, shape and data_offsets, got ${describe(info)}`, name);
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    if (dtype === undefined) fail('missing "dtype"', name);
    if (!isDType(dtype)) {
      fail(`unknown dtype ${jsonish(dtype)} (supported: ${SUPPORTED_DTYPES.join(', ')})`, name);
    }
    const checked = checkShape(shape);
    if ('problem' in checked) return fail(checked.problem, name);
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o: unknown) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
    ) {
      return fail(`data_offsets must be [begin, end] with non-negative integers, got ${jsonish(offsets)}`, name);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`data_offsets [${begin}, ${end}] end before they begin`, name);
    const dt = dtype as SafetensorsDType;
    const expected = checked.numel * DTYPE_SIZES[dt];
    if (end - begin !== expected) {
      fail(
        `data_offsets [${begin}, ${end}] span ${end - begin} bytes, but dtype ${dt} with shape ` +
          `${formatShape(shape as number[])} needs ${checked.numel} x ${DTYPE_SIZES[dt]} = ${expected} bytes`,
        name,
      );
    }
    if (end > bufferSize) {
      fail(
        `data_offsets [${begin}, ${end}] reach byte offset ${end} of the data buffer, but the buffer is only ` +
          `${bufferSize} bytes (it starts at file byte ${dataStart}; file size ${fileSize}) - file truncated?`,
        name,
      );
    }
    entries.push({ name, dtype: dt, shape: (shape as number[]).slice(), begin, end });
  }

  // The tensors must tile the data buffer exactly, in offset order.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: HeaderEntry | undefined;
  for (const e of entries) {
    if (e.begin < cursor) {
      const prev = previous as HeaderEntry;
      fail(
        `data_offsets [${e.begin}, ${e.end}] overlap tensor ${JSON.stringify(prev.name)} ` +
          `at [${prev.begin}, ${prev.end}]`,
        e.name,
      );
    }
    if (e.begin > cursor) {
      const after = previous === undefined ? 'the start of the data buffer' : `tensor ${JSON.stringify(previous.name)} (ends at ${cursor})`;
      fail(
        `data_offsets [${e.begin}, ${e.end}] leave a gap of ${e.begin - cursor} unused bytes after ${after}; ` +
          `tensors must be contiguous`,
        e.name,
      );
    }
    cursor = e.end;
    previous = e;
  }
  if (cursor !== bufferSize) {
    const covered = previous === undefined ? 'no tensors' : `tensors cover only bytes [0, ${cursor}]`;
    fail(
      `the data buffer is ${bufferSize} bytes but ${covered}: ${bufferSize - cursor} trailing bytes are not ` +
        `part of any tensor (header and data do not match)`,
    );
  }

  const tensors = new Map<string, RawTensor>();
  for (const e of entries) {
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: bytes.subarray(dataStart + e.begin, dataStart + e.end) });
  }
  return { tensors, metadata };
}

/** Reads and parses a safetensors file. Errors name `path`. */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  const { readFile } = requireNode<typeof import('node:fs/promises')>('node:fs/promises', 'readSafetensors', 'in browsers pass the bytes to parseSafetensors');
  const buf = await readFile(path);
  return parseSafetensors(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path);
}

// ---------------------------------------------------------------------------
// Serializing
// ---------------------------------------------------------------------------

function swapBytesInPlace(bytes: Uint8Array, size: number): void {
  for (let i = 0; i < bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a] as number;
      bytes[a] = bytes[b] as number;
      bytes[b] = t;
    }
  }
}

/**
 * Serializes tensors (and optional string metadata) into safetensors bytes,
 * identical to what the reference implementation writes for the same input.
 * Typed-array data are taken in host byte order.
 */
export function serializeSafetensors(tensors: SafetensorsInputs, metadata?: Record<string, string>): Uint8Array {
  const fail = (message: string, tensor?: string): never => {
    const prefix = tensor === undefined ? '' : `tensor ${JSON.stringify(tensor)}: `;
    throw new SafetensorsError(`serializeSafetensors: ${prefix}${message}`, { tensor });
  };

  const items: Array<[string, SafetensorsInput]> =
    tensors instanceof Map ? [...(tensors as ReadonlyMap<string, SafetensorsInput>)] : Object.entries(tensors);
  const seen = new Set<string>();
  for (const [name, t] of items) {
    if (typeof name !== 'string') fail(`tensor names must be strings, got ${describe(name)}`);
    if (name === '__metadata__') fail('"__metadata__" is reserved and cannot be used as a tensor name');
    if (seen.has(name)) fail('duplicate tensor name', name);
    seen.add(name);
    if (!isPlainObject(t)) fail(`expected { dtype, shape, data }, got ${describe(t)}`, name);
    if (!isDType(t.dtype)) fail(`unknown dtype ${jsonish(t.dtype)} (supported: ${SUPPORTED_DTYPES.join(', ')})`, name);
    const checked = checkShape(t.shape);
    if ('problem' in checked) return fail(checked.problem, name);
    if (!ArrayBuffer.isView(t.data)) fail(`data must be a typed array or DataView, got ${describe(t.data)}`, name);
    const expected = checked.numel * DTYPE_SIZES[t.dtype];
    if (t.data.byteLength !== expected) {
      fail(
        `data has ${t.data.byteLength} bytes, but dtype ${t.dtype} with shape ${formatShape(t.shape)} needs ` +
          `${checked.numel} x ${DTYPE_SIZES[t.dtype]} = ${expected} bytes`,
        name,
      );
    }
  }
  if (metadata !== undefined) {
    if (!isPlainObject(metadata)) fail(`metadata must be an object of strings, got ${describe(metadata)}`);
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') fail(`metadata entry ${JSON.stringify(key)} must be a string, got ${describe(value)}`);
    }
  }

  items.sort(([na, a], [nb, b]) => DTYPE_RANK[b.dtype] - DTYPE_RANK[a.dtype] || compareCodePoints(na, nb));

  // Built by hand rather than with JSON.stringify(object): object keys that look
  // like array indices would otherwise be reordered.
  const parts: string[] = [];
  if (metadata !== undefined) {
    const md = Object.entries(metadata).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
    parts.push(`"__metadata__":{${md.join(',')}}`);
  }
  let offset = 0;
  for (const [name, t] of items) {
    const end = offset + t.data.byteLength;
    parts.push(`${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const headerJson = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLength = Math.ceil(headerJson.length / 8) * 8;
  const dataStart = 8 + headerLength;

  const out = new Uint8Array(dataStart + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(headerJson, 8);
  out.fill(0x20, 8 + headerJson.length, dataStart);
  let pos = dataStart;
  for (const [, t] of items) {
    const src = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(src, pos);
    const size = DTYPE_SIZES[t.dtype];
    if (!HOST_LITTLE_ENDIAN && size > 1 && !(t.data instanceof Uint8Array) && !(t.data instanceof DataView)) {
      swapBytesInPlace(out.subarray(pos, pos + src.length), size);
    }
    pos += src.length;
  }
  return out;
}

/** Serializes and writes a safetensors file atomically (see writeFileAtomic). */
export async function writeSafetensors(path: string, tensors: SafetensorsInputs, metadata?: Record<string, string>): Promise<void> {
  await writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}

// ---------------------------------------------------------------------------
// Element conversions
// ---------------------------------------------------------------------------

function checkRaw(t: RawTensor, fn: string): number {
  if (!isDType(t.dtype)) {
    throw new SafetensorsError(`${fn}: unknown dtype ${jsonish(t.dtype)} (supported: ${SUPPORTED_DTYPES.join(', ')})`);
  }
  const checked = checkShape(t.shape);
  if ('problem' in checked) throw new SafetensorsError(`${fn}: ${checked.problem}`);
  const expected = checked.numel * DTYPE_SIZES[t.dtype];
  if (t.data.byteLength !== expected) {
    throw new SafetensorsError(
      `${fn}: data has ${t.data.byteLength} bytes, but dtype ${t.dtype} with shape ${formatShape(t.shape)} needs ${expected} bytes`,
    );
  }
  return checked.numel;
}

/** A fresh, aligned ArrayBuffer holding a copy of `bytes` (byte-swapped per element on big-endian hosts). */
function alignedCopy(bytes: Uint8Array, elementSize: number): ArrayBuffer {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  if (!HOST_LITTLE_ENDIAN && elementSize > 1) swapBytesInPlace(copy, elementSize);
  return copy.buffer;
}

const TWO_POW_53 = 2n ** 53n;

/** Correctly rounded (nearest, ties to even) float32 value of a 64-bit integer. */
function int64ToFloat32(v: bigint): number {
  if (v >= -TWO_POW_53 && v <= TWO_POW_53) return Math.fround(Number(v)); // exact, then one rounding
  const negative = v < 0n;
  const a = negative ? -v : v;
  const shift = a.toString(2).length - 24;
  let q = a >> BigInt(shift);
  const r = a - (q << BigInt(shift));
  const half = 1n << BigInt(shift - 1);
  if (r > half || (r === half && (q & 1n) === 1n)) q += 1n;
  const value = Number(q) * 2 ** shift;
  return negative ? -value : value;
}

/**
 * The tensor's elements as a new Float32Array. F16 and BF16 are converted
 * exactly, F64 and large integers are rounded to nearest (ties to even), BOOL
 * gives 0/1.
 */
export function toFloat32(t: RawTensor): Float32Array {
  const n = checkRaw(t, 'toFloat32');
  switch (t.dtype) {
    case 'F32':
      return new Float32Array(alignedCopy(t.data, 4));
    case 'F16': {
      const src = new Uint16Array(alignedCopy(t.data, 2));
      const table = float16ToFloat32BitsTable();
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = table[src[i] as number] as number;
      return out;
    }
    case 'BF16': {
      const src = new Uint16Array(alignedCopy(t.data, 2));
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = (src[i] as number) << 16;
      return out;
    }
    case 'F64':
      return new Float32Array(new Float64Array(alignedCopy(t.data, 8)));
    case 'I64': {
      const src = new BigInt64Array(alignedCopy(t.data, 8));
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = int64ToFloat32(src[i] as bigint);
      return out;
    }
    case 'I32':
      return new Float32Array(new Int32Array(alignedCopy(t.data, 4)));
    case 'U8':
      return new Float32Array(t.data);
    case 'I8':
      return new Float32Array(new Int8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    case 'BOOL': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = t.data[i] === 0 ? 0 : 1;
      return out;
    }
  }
}

/** An I64 tensor's elements as a new BigInt64Array. */
export function toBigInt64(t: RawTensor): BigInt64Array {
  checkRaw(t, 'toBigInt64');
  if (t.dtype !== 'I64') throw new SafetensorsError(`toBigInt64: expected an I64 tensor, got ${t.dtype}`);
  return new BigInt64Array(alignedCopy(t.data, 8));
}

/**
 * An integer tensor's elements as a new Int32Array. Accepts I64 (every value
 * must fit in int32), I32, I8 and U8.
 */
export function toInt32(t: RawTensor): Int32Array {
  const n = checkRaw(t, 'toInt32');
  switch (t.dtype) {
    case 'I32':
      return new Int32Array(alignedCopy(t.data, 4));
    case 'I64': {
      const src = new BigInt64Array(alignedCopy(t.data, 8));
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = src[i] as bigint;
        if (v < -2147483648n || v > 2147483647n) {
          throw new SafetensorsError(`toInt32: I64 value ${v} at element ${i} is outside the int32 range [-2147483648, 2147483647]`);
        }
        out[i] = Number(v);
      }
      return out;
    }
    case 'U8':
      return new Int32Array(t.data);
    case 'I8':
      return new Int32Array(new Int8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    default:
      throw new SafetensorsError(`toInt32: expected an integer tensor (I64, I32, I8, U8), got ${t.dtype}`);
  }
}

/** bfloat16 bit pattern of a float32 bit pattern, rounding to nearest, ties to even. */
function float32BitsToBFloat16(f: number): number {
  if ((f & 0x7fffffff) > 0x7f800000) return ((f >>> 16) | 0x0040) & 0xffff; // quiet nan
  return ((f >>> 0) + 0x7fff + ((f >>> 16) & 1)) >>> 16;
}

/**
 * Encodes float32 values as a tensor of the given dtype (F16 and BF16 rounded
 * to nearest, ties to even; overflow gives infinity).
 */
export function fromFloat32(
  data: Float32Array,
  shape: readonly number[],
  dtype: 'F32' | 'F16' | 'BF16',
): { dtype: 'F32' | 'F16' | 'BF16'; shape: number[]; data: Uint8Array } {
  const checked = checkShape(shape);
  if ('problem' in checked) throw new SafetensorsError(`fromFloat32: ${checked.problem}`);
  if (checked.numel !== data.length) {
    throw new SafetensorsError(`fromFloat32: shape ${formatShape(shape)} has ${checked.numel} elements but data has ${data.length}`);
  }
  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') {
    throw new SafetensorsError(`fromFloat32: dtype must be F32, F16 or BF16, got ${jsonish(dtype)}`);
  }
  const n = data.length;
  const outShape = shape.slice();
  if (dtype === 'F32') {
    const bytes = new Uint8Array(n * 4);
    bytes.set(new Uint8Array(data.buffer, data.byteOffset, n * 4));
    if (!HOST_LITTLE_ENDIAN) swapBytesInPlace(bytes, 4);
    return { dtype, shape: outShape, data: bytes };
  }
  const bits = new Uint32Array(data.buffer, data.byteOffset, n);
  const out = new Uint16Array(n);
  const convert = dtype === 'F16' ? float32BitsToFloat16 : float32BitsToBFloat16;
  for (let i = 0; i < n; i++) out[i] = convert(bits[i] as number);
  const bytes = new Uint8Array(out.buffer);
  if (!HOST_LITTLE_ENDIAN) swapBytesInPlace(bytes, 2);
  return { dtype, shape: outShape, data: bytes };
}
