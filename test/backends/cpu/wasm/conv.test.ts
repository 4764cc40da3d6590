// The WebAssembly convolutions (src/backends/cpu/wasm/conv.ts: im2col/col2im + packed GEMM)
// against the TypeScript reference twins (src/backends/cpu/kernels/conv2d.ts), float32, and the
// kernel-mode switch through the public ops (forward and gradients agree between modes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../../src/tensor/rng.js';
import { conv2dBackwardInput, conv2dBackwardWeight, conv2dForward, conv2dOutputShape } from '../../../../src/backends/cpu/kernels/conv2d.js';
import type { Conv2dParams } from '../../../../src/backends/cpu/kernels/types.js';
import type { WasmKernels } from '../../../../src/backends/cpu/wasm/module.js';
import { isDepthwiseConv, wasmConv2dBackwardInput, wasmConv2dBackwardWeight, wasmConv2dForward } from '../../../../src/backends/cpu/wasm/conv.js';
import { ops, tensor, tidy, type Tensor } from '../../../../src/index.js';
import { assertClose } from '../kernels/util.js';
import { TOL, kernels, randomF32, withMode } from './util.js';

const abs64 = (a: ArrayLike<number>): Float64Array => Float64Array.from(a, Math.abs);

/** Forward and both backward products, WASM vs reference, errors measured against the sum of |terms| (the same products on |values| in float64). */
function checkConv(k: WasmKernels, rng: Rng, p: Conv2dParams, withBias: boolean): void {
  const [n, c, h, w] = p.inShape;
  const [o, cg, kh, kw] = p.weightShape;
  const outShape = conv2dOutputShape(p);
  const ySize = outShape.reduce((a, b) => a * b, 1);
  const x = randomF32(rng, n * c * h * w);
  const wt = randomF32(rng, o * cg * kh * kw);
  const bias = withBias ? randomF32(rng, o) : null;
  const dy = randomF32(rng, ySize);
  const what = `conv ${JSON.stringify(p)}${withBias ? ' +bias' : ''}`;

  const y = wasmConv2dForward(k, x, wt, bias, p);
  const yRef = conv2dForward(x, wt, bias, p);
  const yScale = conv2dForward(abs64(x), abs64(wt), bias ? abs64(bias) : null, p);
  assertClose(y, yRef, TOL, `${what} forward`, yScale);

  const dx = wasmConv2dBackwardInput(k, dy, wt, p);
  assertClose(dx, conv2dBackwardInput(dy, wt, p), TOL, `${what} backward input`, conv2dBackwardInput(abs64(dy), abs64(wt), p));

  const dw = wasmConv2dBackwardWeight(k, x, dy, p);
  assertClose(dw, conv2dBackwardWeight(x, dy, p), TOL, `${what} backward weight`, conv2dBackwardWeight(abs64(x), abs64(dy), p));
}

function params(n: number, c: number, h: number, w: number, o: number, groups: number, kh: number, kw: number, stride: [number, number], padding: [number, number], dilation: [number, number]): Conv2dParams {
  return { inShape: [n, c, h, w], weightShape: [o, c / groups, kh, kw], stride, padding, dilation, groups };
}

test('wasm conv2d (forward, backward input, backward weight) matches the reference on hand-picked shapes', () => {
  const k = kernels();
  const rng = new Rng(21);
  const cases: Conv2dParams[] = [
    params(1, 3, 7, 7, 4, 1, 3, 3, [1, 1], [1, 1], [1, 1]),
    params(3, 4, 9, 11, 6, 2, 3, 3, [2, 2], [1, 1], [1, 1]),
    params(1, 8, 6, 6, 8, 4, 1, 1, [1, 1], [0, 0], [1, 1]), // pointwise, grouped
    params(3, 5, 5, 7, 7, 1, 1, 1, [1, 1], [0, 0], [1, 1]), // pointwise: GEMM straight on x
    params(1, 5, 9, 9, 3, 1, 1, 1, [2, 2], [0, 0], [1, 1]), // 1x1 stride 2: im2col
    params(1, 3, 16, 16, 8, 1, 7, 7, [2, 2], [3, 3], [1, 1]), // ResNet stem-like
    params(1, 2, 13, 12, 3, 1, 3, 3, [1, 1], [3, 3], [2, 2]), // dilation 2, padding 3
    params(3, 4, 8, 10, 4, 4, 3, 2, [2, 1], [0, 1], [1, 2]), // depthwise shape: skipped here
    params(3, 8, 8, 10, 4, 4, 3, 2, [2, 1], [0, 1], [1, 2]), // groups 4, 2 channels each
    params(1, 33, 9, 9, 65, 1, 3, 3, [1, 1], [1, 1], [1, 1]), // ragged GEMM tiles
    params(1, 64, 7, 7, 257, 1, 3, 3, [1, 1], [1, 1], [1, 1]), // K = 576: three K blocks
    params(3, 2, 2, 3, 3, 1, 7, 7, [1, 1], [3, 3], [1, 1]), // 'same' padding, taps entirely in the padding
    params(1, 3, 1, 1, 2, 1, 3, 3, [1, 1], [1, 1], [1, 1]), // 1x1 image
    params(2, 4, 12, 5, 4, 2, 5, 3, [1, 1], [4, 2], [2, 2]), // 'same' with dilation, non-square
  ];
  for (const p of cases) {
    if (isDepthwiseConv(p)) continue; // depthwise never takes this path (tested through the ops below)
    checkConv(k, rng, p, true);
    checkConv(k, rng, p, false);
  }
});

test('wasm conv2d matches the reference on seeded random shapes (stride, padding, dilation, groups, kernels, batch)', () => {
  const k = kernels();
  const rng = new Rng(22);
  let ran = 0;
  while (ran < 60) {
    const groups = [1, 2, 4][rng.int(3)];
    const cg = [1, 2, 3, 5][rng.int(4)];
    const og = [1, 2, 3, 7][rng.int(4)];
    const ksize = [1, 3, 7][rng.int(3)];
    const kh = rng.int(4) === 0 ? [1, 2, 3][rng.int(3)] : ksize;
    const kw = ksize;
    const stride: [number, number] = [[1, 2][rng.int(2)], [1, 2][rng.int(2)]];
    const pad = [0, 1, 3][rng.int(3)];
    const padding: [number, number] = [pad, rng.int(3) === 0 ? [0, 1, 3][rng.int(3)] : pad];
    const dil = [1, 2][rng.int(2)];
    const dilation: [number, number] = [dil, dil];
    const n = [1, 3][rng.int(2)];
    const h = 1 + rng.int(17);
    const w = 1 + rng.int(17);
    const p = params(n, groups * cg, h, w, groups * og, groups, kh, kw, stride, padding, dilation);
    if (isDepthwiseConv(p)) continue;
    const oh = Math.floor((h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) / stride[0]) + 1;
    const ow = Math.floor((w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) / stride[1]) + 1;
    if (oh < 1 || ow < 1) continue;
    checkConv(k, rng, p, rng.int(2) === 0);
    ran++;
  }
});

// ---------------------------------------------------------------------------------------------
// Through the public ops: the kernel mode picks the path, and both paths agree.

const SENTINEL = 12345.5;
/** Marks the start of the kernels' arena, which a WebAssembly kernel call overwrites first. */
function markArena(k: WasmKernels): number {
  k.arena.reset();
  const address = k.arena.alloc(64 * 4); // after a reset, the arena's first address
  k.arena.f32(address, 64).fill(SENTINEL);
  k.arena.reset();
  return address;
}
const arenaUntouched = (k: WasmKernels, address: number): boolean => k.arena.f32(address, 64).every((v) => v === SENTINEL);

function f32Tensor(rng: Rng, shape: number[], grad = false): Tensor {
  const t = tensor(randomF32(rng, shape.reduce((a, b) => a * b, 1)), shape);
  return grad ? t.requiresGrad_() : t;
}

test("setCpuKernels('reference') routes conv2d and matmul (and their gradients) to the reference kernels", () => {
  const k = kernels();
  const rng = new Rng(23);
  const x = f32Tensor(rng, [2, 4, 6, 6], true);
  const w = f32Tensor(rng, [6, 2, 3, 3], true);
  const a = f32Tensor(rng, [5, 7], true);
  const b = f32Tensor(rng, [7, 3], true);
  const run = (): void => {
    tidy(() => {
      ops.sum(ops.conv2d(x, w, null, { groups: 2, padding: 1 })).backward();
      ops.sum(ops.matmul(a, b)).backward();
    });
    for (const t of [x, w, a, b]) {
      t.grad?.dispose();
      t.grad = null;
    }
  };
  const address = markArena(k);
  withMode('reference', run);
  assert.ok(arenaUntouched(k, address), 'reference mode must not run the WebAssembly kernels');
  withMode('wasm', run);
  assert.ok(!arenaUntouched(k, address), 'wasm mode must run the WebAssembly kernels');
});

/** Runs fn in both modes and compares every returned array (values, then gradients). */
function agree(what: string, fn: () => Float32Array[], rtol = 1e-5): void {
  const ref = withMode('reference', fn);
  const got = withMode('wasm', fn);
  assert.equal(got.length, ref.length);
  got.forEach((g, i) => {
    // Relative to the array's largest magnitude: the results are sums of O(1) terms.
    let scale = 0;
    for (const v of ref[i]) scale = Math.max(scale, Math.abs(v));
    assertClose(g, ref[i], rtol, `${what} [output ${i}]`, new Float64Array(g.length).fill(Math.max(scale, 1e-30)));
  });
}

test('conv2d through the ops: forward and gradients agree between wasm and reference modes', () => {
  const rng = new Rng(24);
  const configs: { x: number[]; w: number[]; opts: ops.Conv2dOptions }[] = [
    { x: [3, 4, 9, 9], w: [6, 2, 3, 3], opts: { groups: 2, padding: 1, stride: 2 } },
    { x: [2, 8, 5, 5], w: [16, 8, 1, 1], opts: {} },
    { x: [1, 3, 15, 15], w: [4, 3, 7, 7], opts: { padding: 3, stride: 2, dilation: 1 } },
    { x: [2, 3, 10, 10], w: [5, 3, 3, 3], opts: { padding: 2, dilation: 2 } },
    { x: [2, 4, 7, 7], w: [8, 1, 3, 3], opts: { groups: 4, padding: 1 } }, // depthwise (multiplier 2)
  ];
  for (const c of configs) {
    const x = f32Tensor(rng, c.x, true);
    const w = f32Tensor(rng, c.w, true);
    const bias = f32Tensor(rng, [c.w[0]], true);
    const probe = tidy(() => ops.conv2d(x, w, bias, c.opts));
    const r = f32Tensor(rng, [...probe.shape]);
    probe.dispose();
    agree(`conv2d x=${c.x} w=${c.w} ${JSON.stringify(c.opts)}`, () => {
      for (const t of [x, w, bias]) {
        t.grad?.dispose();
        t.grad = null;
      }
      const y = ops.conv2d(x, w, bias, c.opts);
      ops.sum(ops.mul(y, r)).backward();
      const out = [y.dataSync() as Float32Array, x.grad!.dataSync() as Float32Array, w.grad!.dataSync() as Float32Array, bias.grad!.dataSync() as Float32Array];
      y.dispose();
      return out;
    });
  }
});

test('matmul through the ops: batched and folded products and gradients agree between modes', () => {
  const rng = new Rng(25);
  for (const [as, bs] of [[[2, 5, 7], [2, 7, 3]], [[4, 5, 33], [33, 9]], [[1, 65], [65, 1]], [[70, 300], [300, 20]]]) {
    const a = f32Tensor(rng, as, true);
    const b = f32Tensor(rng, bs, true);
    agree(`matmul ${as} @ ${bs}`, () => {
      for (const t of [a, b]) {
        t.grad?.dispose();
        t.grad = null;
      }
      const y = ops.matmul(a, b);
      ops.sum(ops.mul(y, y)).backward();
      const out = [y.dataSync() as Float32Array, a.grad!.dataSync() as Float32Array, b.grad!.dataSync() as Float32Array];
      y.dispose();
      return out;
    }, 1e-4);
  }
});

test('a small CNN training step gives the same loss and parameter gradients in both modes', () => {
  const rng = new Rng(26);
  const x = f32Tensor(rng, [4, 3, 12, 12]);
  const labels = tensor(Int32Array.from([0, 3, 1, 2]), [4], 'int32');
  const w1 = f32Tensor(rng, [8, 3, 3, 3], true);
  const b1 = f32Tensor(rng, [8], true);
  const w2 = f32Tensor(rng, [16, 4, 3, 3], true);
  const w3 = f32Tensor(rng, [16, 16, 1, 1], true);
  const fc = f32Tensor(rng, [4, 16 * 6 * 6], true);
  const params = [w1, b1, w2, w3, fc];
  agree('cnn step', () => {
    for (const t of params) {
      t.grad?.dispose();
      t.grad = null;
    }
    let h = ops.relu(ops.conv2d(x, ops.mul(w1, 0.3), b1, { padding: 1 }));
    h = ops.relu(ops.conv2d(h, ops.mul(w2, 0.2), null, { padding: 1, stride: 2, groups: 2 }));
    h = ops.conv2d(h, ops.mul(w3, 0.25), null);
    const logits = ops.linear(ops.reshape(h, [4, -1]), ops.mul(fc, 0.05));
    const loss = ops.crossEntropy(logits, labels);
    loss.backward();
    const out = [loss.dataSync() as Float32Array, ...params.map((t) => t.grad!.dataSync() as Float32Array)];
    loss.dispose();
    return out;
  }, 1e-4);
});
