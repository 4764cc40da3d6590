/**
 * "shapes": a built-in, procedurally generated 10-class RGB image data set for demos and tests
 * that need no download. Deterministic given its seed.
 *
 * Classes (index: name):
 *   0 circle              filled disc
 *   1 square              filled square, any rotation
 *   2 triangle            filled equilateral triangle, any rotation
 *   3 plus                plus/cross of two bars, any rotation (so also "x")
 *   4 ring                annulus with a visible hole
 *   5 horizontal stripes  whole-image stripes, tilted at most 12 degrees from horizontal
 *   6 vertical stripes    whole-image stripes, tilted at most 12 degrees from vertical
 *   7 checkerboard        whole-image checkerboard, tilted at most 12 degrees
 *   8 diagonal line       one thick straight line across the image at 30..60 or 120..150 degrees
 *   9 star                filled five-pointed star, any rotation
 *
 * Every image has a random position (for the shapes), size, rotation, stripe period / cell size /
 * phase, a random background and foreground colour (drawn independently of the class, with a
 * guaranteed luminance contrast, so colour alone does not tell the classes apart), antialiased
 * edges, and additive Gaussian pixel noise of a random strength. Train and test are drawn from
 * different seeds derived from `seed`.
 */
import { Rng } from '../tensor/rng.js';
import { mixSeed, type ImageDataset, type Split } from './dataset.js';

export const SHAPES_CLASSES = [
  'circle',
  'square',
  'triangle',
  'plus',
  'ring',
  'horizontal stripes',
  'vertical stripes',
  'checkerboard',
  'diagonal line',
  'star',
];

export interface ShapesOptions {
  /** Training images (default 10000). */
  trainSize?: number;
  /** Test images (default 2000). */
  testSize?: number;
  /** Image side in pixels (default 32). Geometry scales with it. */
  size?: number;
  /** Seed (default 0). */
  seed?: number;
}

const TRAIN_STREAM = 0x5eed0001;
const TEST_STREAM = 0x5eed0002;
const NOISE_TABLE = 65536;
const TILT = (12 * Math.PI) / 180;

/** Reusable per-image work buffers. */
interface Scratch {
  u: Float32Array;
  v: Float32Array;
  alpha: Float32Array;
  noise: Float32Array;
}

function luminance(c: number[]): number {
  return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
}

/** Background and foreground colours on the 0..1 scale, at least 0.3 apart in luminance. */
function pickColours(rng: Rng): [number[], number[]] {
  for (;;) {
    const bg = [rng.next(), rng.next(), rng.next()];
    const fg = [rng.next(), rng.next(), rng.next()];
    if (Math.abs(luminance(fg) - luminance(bg)) >= 0.3) return [bg, fg];
  }
}

/**
 * Fills `s.alpha` with the foreground coverage of one random instance of class `cls`.
 * Each class computes a signed distance d (pixels, negative inside) and coverage
 * clamp(0.5 - d, 0, 1), which antialiases edges.
 */
function renderCoverage(cls: number, size: number, rng: Rng, s: Scratch): void {
  const k = size / 32; // geometry is specified for 32x32 and scaled
  const n = size * size;
  const { u, v, alpha } = s;

  // Position and orientation of the local frame.
  let cx = size / 2;
  let cy = size / 2;
  let theta = 0;
  // Class parameters, in pixels.
  let a = 0;
  let b = 0;
  let c = 0;

  const place = (extent: number): void => {
    const lo = Math.min(extent + 1, size / 2);
    cx = rng.uniform(lo, size - lo);
    cy = rng.uniform(lo, size - lo);
  };

  switch (cls) {
    case 0: // circle: a = radius
      a = rng.uniform(5, 11) * k;
      place(a);
      break;
    case 1: // square: a = half side
      a = rng.uniform(4.5, 9.5) * k;
      theta = rng.uniform(0, Math.PI / 2);
      place(a * 1.15);
      break;
    case 2: // triangle: a = inradius (circumradius 2a)
      a = rng.uniform(3.5, 6.5) * k;
      theta = rng.uniform(0, (2 * Math.PI) / 3);
      place(a * 1.6);
      break;
    case 3: // plus: a = arm half length, b = half width
      a = rng.uniform(6, 12) * k;
      b = Math.min(rng.uniform(1.2, 2.6) * k, a / 3);
      theta = rng.uniform(0, Math.PI / 2);
      place(a * 0.9);
      break;
    case 4: {
      // ring: a = mid radius, b = half thickness
      const outer = rng.uniform(6.5, 12) * k;
      const thick = Math.min(rng.uniform(1.5, 3.5) * k, outer - 3 * k);
      b = thick / 2;
      a = outer - b;
      place(outer);
      break;
    }
    case 5: // horizontal stripes: a = period, b = phase
    case 6: // vertical stripes
      a = rng.uniform(4, 9) * k;
      b = rng.uniform(0, a);
      theta = rng.uniform(-TILT, TILT);
      break;
    case 7: // checkerboard: a = cell, b, c = phases
      a = rng.uniform(3, 7) * k;
      b = rng.uniform(0, 2 * a);
      c = rng.uniform(0, 2 * a);
      theta = rng.uniform(-TILT, TILT);
      break;
    case 8: // diagonal line: a = half width; the line is v = b in the rotated frame
      a = rng.uniform(1, 2.5) * k;
      b = rng.uniform(-5, 5) * k;
      theta = (rng.next() < 0.5 ? Math.PI / 4 : (3 * Math.PI) / 4) + rng.uniform(-Math.PI / 12, Math.PI / 12);
      break;
    case 9: // star: a = outer radius, b = inner radius
      a = rng.uniform(7, 13) * k;
      b = a * rng.uniform(0.38, 0.5);
      theta = rng.uniform(0, (2 * Math.PI) / 5);
      place(a * 0.85);
      break;
    default:
      throw new RangeError(`shapes: no class ${cls}`);
  }

  // Local coordinates of each pixel centre: (u, v) = R(-theta) (p - centre).
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  for (let y = 0, i = 0; y < size; y++) {
    const dy = y + 0.5 - cy;
    for (let x = 0; x < size; x++, i++) {
      const dx = x + 0.5 - cx;
      u[i] = cos * dx + sin * dy;
      v[i] = -sin * dx + cos * dy;
    }
  }

  switch (cls) {
    case 0:
      for (let i = 0; i < n; i++) alpha[i] = Math.sqrt(u[i] * u[i] + v[i] * v[i]) - a;
      break;
    case 1:
      for (let i = 0; i < n; i++) alpha[i] = Math.max(Math.abs(u[i]), Math.abs(v[i])) - a;
      break;
    case 2: {
      // Intersection of three half-planes with outward normals at 90, 210 and 330 degrees.
      const h = Math.sqrt(3) / 2;
      for (let i = 0; i < n; i++) {
        const x = u[i];
        const y = v[i];
        alpha[i] = Math.max(y, -h * x - 0.5 * y, h * x - 0.5 * y) - a;
      }
      break;
    }
    case 3:
      for (let i = 0; i < n; i++) {
        const x = Math.abs(u[i]);
        const y = Math.abs(v[i]);
        alpha[i] = Math.min(Math.max(x - a, y - b), Math.max(x - b, y - a));
      }
      break;
    case 4:
      for (let i = 0; i < n; i++) alpha[i] = Math.abs(Math.sqrt(u[i] * u[i] + v[i] * v[i]) - a) - b;
      break;
    case 5:
    case 6: {
      const coord = cls === 5 ? v : u;
      const p = a;
      const q = a / 4;
      for (let i = 0; i < n; i++) {
        let t = (coord[i] + b) % p;
        if (t < 0) t += p;
        alpha[i] = Math.abs(t - p / 2) - q;
      }
      break;
    }
    case 7:
      for (let i = 0; i < n; i++) {
        const s1 = (u[i] + b) / a;
        const s2 = (v[i] + c) / a;
        const i1 = Math.floor(s1);
        const i2 = Math.floor(s2);
        const f1 = s1 - i1;
        const f2 = s2 - i2;
        const edge = Math.min(Math.min(f1, 1 - f1), Math.min(f2, 1 - f2)) * a;
        alpha[i] = (i1 + i2) & 1 ? -edge : edge;
      }
      break;
    case 8:
      for (let i = 0; i < n; i++) alpha[i] = Math.abs(v[i] - b) - a;
      break;
    case 9: {
      // Fold the angle into one half-spike [0, pi/5]; there the star is the side of the edge
      // from the tip A = (R, 0) to the notch B = r (cos pi/5, sin pi/5) that holds the origin.
      const sector = (2 * Math.PI) / 5;
      const half = sector / 2;
      const bx = b * Math.cos(half);
      const by = b * Math.sin(half);
      let nx = by;
      let ny = a - bx;
      const len = Math.hypot(nx, ny);
      nx /= len;
      ny /= len;
      for (let i = 0; i < n; i++) {
        const rho = Math.sqrt(u[i] * u[i] + v[i] * v[i]);
        let phi = Math.atan2(v[i], u[i]) % sector;
        if (phi < 0) phi += sector;
        if (phi > half) phi = sector - phi;
        alpha[i] = nx * (rho * Math.cos(phi) - a) + ny * rho * Math.sin(phi);
      }
      break;
    }
  }
  // Turn signed distance into coverage.
  for (let i = 0; i < n; i++) {
    const t = 0.5 - alpha[i];
    alpha[i] = t <= 0 ? 0 : t >= 1 ? 1 : t;
  }
}

function generate(count: number, size: number, rng: Rng): { images: Uint8Array; labels: Uint8Array } {
  const classes = SHAPES_CLASSES.length;
  const n = size * size;
  const images = new Uint8Array(count * 3 * n);
  const pixels = new Uint8ClampedArray(images.buffer);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = i % classes;
  rng.shuffle(labels);

  const scratch: Scratch = {
    u: new Float32Array(n),
    v: new Float32Array(n),
    alpha: new Float32Array(n),
    noise: new Float32Array(NOISE_TABLE),
  };
  for (let i = 0; i < NOISE_TABLE; i++) scratch.noise[i] = rng.normal();
  const noise = scratch.noise;

  for (let i = 0; i < count; i++) {
    renderCoverage(labels[i], size, rng, scratch);
    const [bg, fg] = pickColours(rng);
    const sigma = rng.uniform(0.02, 0.1) * 255;
    const alpha = scratch.alpha;
    const base = i * 3 * n;
    for (let ch = 0; ch < 3; ch++) {
      const b0 = bg[ch] * 255;
      const df = fg[ch] * 255 - b0;
      const o = base + ch * n;
      // Pixel noise: indices into the Gaussian table from a xorshift32 stream seeded by `rng`
      // once per channel (kept in int32 arithmetic; far cheaper than one Rng call per pixel).
      let x = rng.uint32() | 0 || 0x6d2b79f5;
      for (let p = 0; p < n; p++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        pixels[o + p] = b0 + df * alpha[p] + sigma * noise[(x >>> 16) ^ (x & 0xffff)]; // clamps and rounds
      }
    }
  }
  return { images, labels };
}

/** Per-channel mean and standard deviation on the 0..1 scale, from exact pixel histograms. */
export function channelStats(images: Uint8Array, channels: number, plane: number): { mean: number[]; std: number[] } {
  const hist = new Float64Array(channels * 256);
  const per = channels * plane;
  const count = images.length / per;
  for (let i = 0; i < count; i++) {
    for (let c = 0; c < channels; c++) {
      const o = i * per + c * plane;
      const h = c * 256;
      for (let p = 0; p < plane; p++) hist[h + images[o + p]]++;
    }
  }
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < channels; c++) {
    let s = 0;
    let s2 = 0;
    let total = 0;
    for (let v = 0; v < 256; v++) {
      const m = hist[c * 256 + v];
      const x = v / 255;
      s += m * x;
      s2 += m * x * x;
      total += m;
    }
    const mu = total > 0 ? s / total : 0;
    const variance = total > 0 ? Math.max(s2 / total - mu * mu, 0) : 0;
    mean.push(mu);
    std.push(Math.sqrt(variance) || 1);
  }
  return { mean, std };
}

function checkCount(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`makeShapesDataset: ${what} must be a non-negative integer, got ${v}`);
}

export function makeShapesDataset(opts: ShapesOptions = {}): Split {
  const trainSize = opts.trainSize ?? 10000;
  const testSize = opts.testSize ?? 2000;
  const size = opts.size ?? 32;
  const seed = opts.seed ?? 0;
  checkCount('trainSize', trainSize);
  checkCount('testSize', testSize);
  if (!Number.isInteger(size) || size < 8) throw new RangeError(`makeShapesDataset: size must be an integer >= 8, got ${size}`);

  const train = generate(trainSize, size, new Rng(mixSeed(seed, TRAIN_STREAM)));
  const test = generate(testSize, size, new Rng(mixSeed(seed, TEST_STREAM)));
  const { mean, std } = channelStats(train.images, 3, size * size);
  const make = (part: { images: Uint8Array; labels: Uint8Array }): ImageDataset => ({
    name: 'shapes',
    images: part.images,
    labels: part.labels,
    shape: [3, size, size],
    classNames: [...SHAPES_CLASSES],
    mean: [...mean],
    std: [...std],
  });
  return { train: make(train), test: make(test) };
}
