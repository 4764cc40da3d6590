/**
 * In-memory image data sets and a mini-batch loader.
 *
 * A data set is a block of uint8 pixels (N x C x H x W, contiguous) with one class index per
 * image; it does not depend on any tensor class. `DataLoader` turns it into normalised float
 * batches, shuffled in an order that depends only on (seed, epoch), so a resumed run sees
 * exactly the batches it would have seen.
 */
import { Rng } from '../tensor/rng.js';

export interface ImageDataset {
  name: string;
  /** N x C x H x W uint8 pixels, NCHW contiguous. */
  images: Uint8Array;
  /** N class indices. */
  labels: Uint8Array;
  /** [C, H, W] */
  shape: [number, number, number];
  classNames: string[];
  /** Per-channel normalisation constants on the 0..1 scale. */
  mean: number[];
  std: number[];
}

export interface Split {
  train: ImageDataset;
  test: ImageDataset;
}

/**
 * An in-place augmentation of one normalised image (C x H x W floats). It must draw all its
 * randomness from `rng` so batches stay reproducible.
 */
export type Transform = (img: Float32Array, c: number, h: number, w: number, rng: Rng) => void;

export interface DataLoaderOptions {
  batchSize: number;
  shuffle: boolean;
  /** Seed for the shuffle order and for the transform's random numbers (default 0). */
  seed?: number;
  /** Drop the last batch when it is smaller than `batchSize` (default false). */
  dropLast?: boolean;
  transform?: Transform;
}

export interface Batch {
  /** size x C x H x W, normalised: (x / 255 - mean[c]) / std[c]. */
  images: Float32Array;
  labels: Int32Array;
  /** Number of images in this batch (equal to batchSize except perhaps for the last one). */
  size: number;
}

/** Number of images in a data set. */
export function datasetSize(ds: ImageDataset): number {
  return ds.labels.length;
}

/** Checks that a data set's arrays agree with its shape and constants; throws otherwise. */
export function validateDataset(ds: ImageDataset): void {
  const [c, h, w] = ds.shape;
  for (const d of ds.shape) {
    if (!Number.isInteger(d) || d <= 0) throw new RangeError(`${ds.name}: bad image shape [${ds.shape.join(', ')}]`);
  }
  const n = ds.labels.length;
  if (ds.images.length !== n * c * h * w) {
    throw new RangeError(
      `${ds.name}: ${n} labels and image shape [${c}, ${h}, ${w}] need ${n * c * h * w} pixels, but images has ${ds.images.length}`,
    );
  }
  if (ds.mean.length !== c || ds.std.length !== c) {
    throw new RangeError(`${ds.name}: mean and std need ${c} entries (one per channel)`);
  }
  for (const s of ds.std) {
    if (!(s > 0) || !Number.isFinite(s)) throw new RangeError(`${ds.name}: std must be positive, got ${s}`);
  }
  const k = ds.classNames.length;
  for (let i = 0; i < n; i++) {
    if (ds.labels[i] >= k) {
      throw new RangeError(`${ds.name}: label ${ds.labels[i]} at index ${i} is not below the class count ${k}`);
    }
  }
}

/**
 * Mixes integers into a 32-bit seed (a splitmix-style hash), so streams for
 * (seed, epoch, purpose) are unrelated to each other.
 */
export function mixSeed(...parts: number[]): number {
  let h = 0x2545f491;
  for (const p of parts) {
    h = (h ^ (p >>> 0)) >>> 0;
    h = (h + 0x9e3779b9) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h;
}

const SHUFFLE_STREAM = 1;
const TRANSFORM_STREAM = 2;

export class DataLoader {
  readonly dataset: ImageDataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly transform: Transform | undefined;
  /** lut[c * 256 + v] = (v / 255 - mean[c]) / std[c] */
  private readonly lut: Float32Array;

  constructor(ds: ImageDataset, opts: DataLoaderOptions) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize <= 0) {
      throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${opts.batchSize}`);
    }
    validateDataset(ds);
    this.dataset = ds;
    this.batchSize = opts.batchSize;
    this.shuffle = opts.shuffle;
    this.seed = opts.seed ?? 0;
    this.dropLast = opts.dropLast ?? false;
    this.transform = opts.transform;
    const channels = ds.shape[0];
    this.lut = new Float32Array(channels * 256);
    for (let c = 0; c < channels; c++) {
      for (let v = 0; v < 256; v++) this.lut[c * 256 + v] = (v / 255 - ds.mean[c]) / ds.std[c];
    }
  }

  /** Number of images in the data set. */
  get size(): number {
    return this.dataset.labels.length;
  }

  get numBatches(): number {
    const n = this.size;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The order in which `batches(epoch)` visits the images. */
  order(epoch: number): Uint32Array {
    const n = this.size;
    const idx = new Uint32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    if (this.shuffle) new Rng(mixSeed(this.seed, epoch, SHUFFLE_STREAM)).shuffle(idx);
    return idx;
  }

  /**
   * Yields the batches of one epoch. Each batch owns fresh arrays, so callers may keep them.
   * The result depends only on (seed, epoch), not on what was iterated before.
   */
  *batches(epoch = 0): Generator<Batch> {
    const [c, h, w] = this.dataset.shape;
    const plane = h * w;
    const per = c * plane;
    const { images, labels } = this.dataset;
    const lut = this.lut;
    const idx = this.order(epoch);
    const rng = this.transform ? new Rng(mixSeed(this.seed, epoch, TRANSFORM_STREAM)) : undefined;
    const count = this.numBatches;
    for (let b = 0; b < count; b++) {
      const start = b * this.batchSize;
      const size = Math.min(this.batchSize, idx.length - start);
      const out = new Float32Array(size * per);
      const lab = new Int32Array(size);
      for (let i = 0; i < size; i++) {
        const src = idx[start + i];
        lab[i] = labels[src];
        const so = src * per;
        const doff = i * per;
        for (let ch = 0; ch < c; ch++) {
          const lo = ch * 256;
          const base = ch * plane;
          for (let p = 0; p < plane; p++) out[doff + base + p] = lut[lo + images[so + base + p]];
        }
        if (this.transform && rng) this.transform(out.subarray(doff, doff + per), c, h, w, rng);
      }
      yield { images: out, labels: lab, size };
    }
  }
}

/**
 * Standard light augmentation: a random crop of the image zero-padded by `padding` pixels on
 * every side (equivalently a random shift by up to `padding` pixels, filling with zero, which in
 * normalised space is the channel mean), then, if `flip`, a horizontal mirror with probability 1/2.
 */
export function randomCropFlip(padding: number, flip: boolean): Transform {
  if (!Number.isInteger(padding) || padding < 0) {
    throw new RangeError(`randomCropFlip: padding must be a non-negative integer, got ${padding}`);
  }
  let scratch = new Float32Array(0);
  return (img, c, h, w, rng) => {
    const dy = padding > 0 ? rng.int(2 * padding + 1) - padding : 0;
    const dx = padding > 0 ? rng.int(2 * padding + 1) - padding : 0;
    const mirror = flip && rng.next() < 0.5;
    if (dx === 0 && dy === 0 && !mirror) return;
    const n = c * h * w;
    if (scratch.length < n) scratch = new Float32Array(n);
    scratch.set(img.subarray(0, n));
    for (let ch = 0; ch < c; ch++) {
      const base = ch * h * w;
      for (let y = 0; y < h; y++) {
        const sy = y + dy;
        const row = base + y * w;
        if (sy < 0 || sy >= h) {
          img.fill(0, row, row + w);
          continue;
        }
        const srow = base + sy * w;
        for (let x = 0; x < w; x++) {
          // Crop first (shift by dx), then mirror the cropped window.
          const sx = (mirror ? w - 1 - x : x) + dx;
          img[row + x] = sx >= 0 && sx < w ? scratch[srow + sx] : 0;
        }
      }
    }
  };
}
