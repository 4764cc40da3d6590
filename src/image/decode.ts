/**
 * JPEG and PNG bytes to RGB pixels. JPEG goes through libjpeg-turbo's decoder (MozJPEG built
 * to WebAssembly, `@jsquash/jpeg`), so the pixels equal what PIL decodes (PIL links
 * libjpeg-turbo: same ISLOW IDCT and fancy upsampling); PNG through `@jsquash/png`.
 * Alpha is dropped and grey is replicated, as PIL's `convert('RGB')` does.
 */
import decodeJpegWasm, { init as initJpegWasm } from '@jsquash/jpeg/decode.js';
import { decode as decodePngWasm, init as initPngWasm } from '@jsquash/png/decode.js';
import { isNode, nodeBuiltin } from '../platform.js';
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

/**
 * In a browser the codecs fetch their .wasm next to their module (bundlers handle that); Node
 * has no fetch for file URLs, so there the module is compiled from the installed file.
 */
async function compileInstalledWasm(specifier: string): Promise<WebAssembly.Module> {
  const { createRequire } = nodeBuiltin<typeof import('node:module')>('node:module')!;
  const { readFile } = nodeBuiltin<typeof import('node:fs/promises')>('node:fs/promises')!;
  const path = createRequire(import.meta.url).resolve(specifier);
  return WebAssembly.compile(await readFile(path));
}

let jpegReady: Promise<void> | undefined;
let pngReady: Promise<unknown> | undefined;

/** What libjpeg printed during the current decode (its warnings go to stdout otherwise). */
let jpegMessages: string[] = [];

function initJpeg(): Promise<void> {
  // The published typings only declare init(options); the code also takes a compiled module.
  const init = initJpegWasm as unknown as (module: WebAssembly.Module | undefined, options: object) => Promise<void>;
  const options = { print: (m: string) => jpegMessages.push(m), printErr: (m: string) => jpegMessages.push(m) };
  jpegReady ??= isNode ? compileInstalledWasm('@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm').then((m) => init(m, options)) : init(undefined, options);
  return jpegReady;
}

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

function initPng(): Promise<unknown> {
  const init = initPngWasm as unknown as (module?: WebAssembly.Module) => Promise<unknown>;
  pngReady ??= isNode ? compileInstalledWasm('@jsquash/png/codec/pkg/squoosh_png_bg.wasm').then(init) : init();
  return pngReady;
}

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
  let decoded: { data: Uint8ClampedArray; width: number; height: number };
  try {
    if (format === 'jpeg') {
      decoded = await decodeJpeg(buffer);
    } else {
      await initPng();
      decoded = await decodePngWasm(buffer);
    }
  } catch (e) {
    const detail = e instanceof Error && !/unwrap_throw/.test(e.message) ? ` (${e.message})` : '';
    throw new ImageDecodeError(`${source}: cannot decode this ${format.toUpperCase()} file${detail}; it is truncated, corrupt or uses an unsupported variant`);
  }
  return dropAlpha(decoded.data, decoded.width, decoded.height);
}
