/**
 * JPEG and PNG bytes to RGB pixels. JPEG goes through libjpeg-turbo's decoder (MozJPEG built
 * to WebAssembly, `@jsquash/jpeg`), so the pixels equal what PIL decodes (PIL links
 * libjpeg-turbo: same ISLOW IDCT and fancy upsampling); PNG through `@jsquash/png`.
 * Alpha is dropped and grey is replicated, as PIL's `convert('RGB')` does.
 */
import decodeJpegWasm, { init as initJpegWasm } from '@jsquash/jpeg/decode.js';
import { decode as decodePngWasm, init as initPngWasm } from '@jsquash/png/decode.js';
import { envVar, isNode, nodeBuiltin } from '../platform.js';
import { moduleFile, resolutionBases, resolveFrom, SearchList } from '../asset-files.js';
import { rgbImage, type RgbImage } from './image.js';

export type ImageFormat = 'jpeg' | 'png';

export class ImageDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageDecodeError';
  }
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The format the leading bytes announce, or null for anything else. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  return null;
}

/** A codec's WebAssembly file: its package and its path inside it. */
export interface CodecWasm {
  format: ImageFormat;
  pkg: string;
  file: string;
}

export const JPEG_WASM: CodecWasm = { format: 'jpeg', pkg: '@jsquash/jpeg', file: 'codec/dec/mozjpeg_dec.wasm' };
export const PNG_WASM: CodecWasm = { format: 'png', pkg: '@jsquash/png', file: 'codec/pkg/squoosh_png_bg.wasm' };

type NodeFsPromises = { readFile(path: string): Promise<Uint8Array> };
type NodePath = { join(...parts: string[]): string; dirname(path: string): string; basename(path: string): string };

/**
 * Where Node looks for a codec's .wasm, in order: $FOVEA_WASM_DIR (when it holds the file: it
 * may name the kernels' folder only), next to this file (next to the bundle, once bundled), the
 * package file that Node resolves from this file (node_modules of the sources or of the
 * bundle's folder), from the working directory, and from the `fovea` package that Node resolves
 * from either (its own node_modules, when npm did not hoist the codec). Computed only when a
 * decoder first starts.
 */
export function codecWasmSearchPaths(codec: CodecWasm): SearchList {
  const path = nodeBuiltin<NodePath>('node:path')!;
  const name = path.basename(codec.file);
  const specifier = `${codec.pkg}/${codec.file}`;
  const list = new SearchList();
  const dir = envVar('FOVEA_WASM_DIR');
  if (dir) list.add(path.join(dir, name), 'FOVEA_WASM_DIR');
  const own = moduleFile(import.meta.url);
  if (own) list.add(path.join(path.dirname(own), name), 'next to the bundle');
  const bases = resolutionBases(own);
  for (const [from, label] of bases) {
    const p = resolveFrom(from, specifier);
    list.add(p, p ? `resolved from ${label}` : `${specifier} from ${label}: not installed there or above`);
  }
  for (const [from, label] of bases) {
    const fovea = resolveFrom(from, 'fovea');
    const p = fovea && resolveFrom(fovea, specifier);
    list.add(p, p ? 'resolved from the fovea package' : fovea ? `${specifier} from the fovea package at ${fovea}: not installed` : `the fovea package from ${label}: not installed there or above`);
  }
  return list;
}

/** The first of codecWasmSearchPaths() that exists, or an error naming every place and the remedies. */
export function findCodecWasm(codec: CodecWasm): string {
  const tried = codecWasmSearchPaths(codec);
  const found = tried.find();
  if (found) return found;
  const name = codec.file.split('/').pop()!;
  throw new Error(
    `fovea: cannot decode ${codec.format.toUpperCase()} images: the ${codec.pkg} decoder's WebAssembly file ${name} was not found; looked in:${tried.describe()}\n` +
      `To fix: copy node_modules/${codec.pkg}/${codec.file} next to your bundle, set FOVEA_WASM_DIR to a folder that holds it, ` +
      `or install fovea (or ${codec.pkg}, the version that was bundled) in node_modules of the bundle's folder or of the working directory.`,
  );
}

/**
 * In a browser the codecs fetch their .wasm next to their module (bundlers handle that); Node
 * has no fetch for file URLs, so there the module is compiled from the file findCodecWasm()
 * finds (which also works inside an ESM or CommonJS bundle).
 */
async function compileInstalledWasm(codec: CodecWasm): Promise<WebAssembly.Module> {
  const { readFile } = nodeBuiltin<NodeFsPromises>('node:fs/promises')!;
  const path = findCodecWasm(codec);
  const bytes = await readFile(path);
  try {
    return await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  } catch (e) {
    throw new Error(`fovea: ${path} is not a valid ${codec.pkg} decoder (${(e as Error).message}); replace it with node_modules/${codec.pkg}/${codec.file}`);
  }
}

/** `make()` once; a failure is not kept, so that a later call (after the file is put in place) tries again. */
function retryable<T>(make: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= make().catch((e: unknown) => {
      pending = undefined;
      throw e;
    });
    return pending;
  };
}

/** What libjpeg printed during the current decode (its warnings go to stdout otherwise). */
let jpegMessages: string[] = [];

const initJpeg = retryable(async () => {
  // The published typings only declare init(options); the code also takes a compiled module.
  const init = initJpegWasm as unknown as (module: WebAssembly.Module | undefined, options: object) => Promise<void>;
  const options = { print: (m: string) => jpegMessages.push(m), printErr: (m: string) => jpegMessages.push(m) };
  return init(isNode ? await compileInstalledWasm(JPEG_WASM) : undefined, options);
});

/** JPEG decodes run one after another, so each one's libjpeg messages are its own. */
let jpegQueue: Promise<unknown> = Promise.resolve();

function decodeJpeg(buffer: ArrayBuffer): Promise<ImageData> {
  const result = jpegQueue.then(() => decodeJpegNow(buffer));
  jpegQueue = result.catch(() => undefined);
  return result;
}

/**
 * libjpeg pads a truncated file with grey and only warns; PIL refuses such a file ("image file
 * is truncated"), and so do we. Its other warnings (e.g. extraneous bytes) PIL ignores too.
 */
async function decodeJpegNow(buffer: ArrayBuffer): Promise<ImageData> {
  await initJpeg();
  jpegMessages = [];
  try {
    const image = await decodeJpegWasm(buffer, { preserveOrientation: false });
    const truncated = jpegMessages.find((m) => /premature end/i.test(m));
    if (truncated) throw new Error(truncated);
    return image;
  } catch (e) {
    if (e instanceof Error) throw e;
    throw new Error(jpegMessages.join('; ') || 'libjpeg failed');
  }
}

const initPng = retryable(async () => {
  const init = initPngWasm as unknown as (module?: WebAssembly.Module) => Promise<unknown>;
  return isNode ? init(await compileInstalledWasm(PNG_WASM)) : init();
});

function dropAlpha(rgba: Uint8ClampedArray, width: number, height: number): RgbImage {
  const image = rgbImage(width, height);
  const rgb = image.data;
  for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) {
    rgb[j] = rgba[i];
    rgb[j + 1] = rgba[i + 1];
    rgb[j + 2] = rgba[i + 2];
  }
  return image;
}

/**
 * Decodes a JPEG or PNG file's bytes to RGB. `source` (e.g. the file name) goes into errors.
 * EXIF orientation is not applied, as PIL and torchvision do not apply it either.
 */
export async function decodeImage(bytes: Uint8Array, source = 'image'): Promise<RgbImage> {
  const format = sniffImageFormat(bytes);
  if (!format) {
    const head = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new ImageDecodeError(`${source}: not a JPEG or PNG file (it starts with bytes ${head || '(empty file)'}); convert it to JPEG or PNG first`);
  }
  // The codecs take an ArrayBuffer of exactly the file.
  const buffer = new Uint8Array(bytes).buffer as ArrayBuffer; // a copy: `bytes` may be a view into a larger (pooled) buffer
  // A decoder that cannot start says why itself: that is no fault of the file.
  await (format === 'jpeg' ? initJpeg() : initPng());
  let decoded: { data: Uint8ClampedArray; width: number; height: number };
  try {
    decoded = format === 'jpeg' ? await decodeJpeg(buffer) : await decodePngWasm(buffer);
  } catch (e) {
    const detail = e instanceof Error && !/unwrap_throw/.test(e.message) ? ` (${e.message})` : '';
    throw new ImageDecodeError(`${source}: cannot decode this ${format.toUpperCase()} file${detail}; it is truncated, corrupt or uses an unsupported variant`);
  }
  return dropAlpha(decoded.data, decoded.width, decoded.height);
}
