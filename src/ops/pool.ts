import { runKernel } from '../tensor/engine.js';
import { record } from '../tensor/autograd.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Pool2dParams } from '../backends/cpu/kernels/types.js';
import { outputSize } from '../backends/cpu/kernels/types.js';
import { assertFloat, assertRank, fmt, pair } from './util.js';
import { mean } from './reduce.js';

export interface Pool2dOptions {
  /** Defaults to the kernel size, as in PyTorch. */
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  ceilMode?: boolean;
  /** Average pooling: count zero padding in the divisor (PyTorch default true). */
  countIncludePad?: boolean;
}

function poolParams(op: string, x: Tensor, kernel: number | [number, number], opts: Pool2dOptions): Pool2dParams {
  assertFloat(op, x);
  assertRank(op, 'input', x, 4, 'N, C, H, W');
  const k = pair(kernel, op, 'kernel');
  const stride = pair(opts.stride ?? k, op, 'stride');
  const padding = pair(opts.padding ?? 0, op, 'padding');
  const dilation = pair(opts.dilation ?? 1, op, 'dilation');
  if (padding[0] * 2 > k[0] || padding[1] * 2 > k[1]) throw new Error(`${op}: padding ${fmt(padding)} must be at most half the kernel ${fmt(k)}`);
  const [N, C, H, W] = x.shape;
  const ceilMode = opts.ceilMode ?? false;
  const oh = outputSize(H, k[0], stride[0], padding[0], dilation[0], ceilMode);
  const ow = outputSize(W, k[1], stride[1], padding[1], dilation[1], ceilMode);
  if (oh < 1 || ow < 1) throw new Error(`${op}: input ${fmt(x.shape)} is too small for kernel ${fmt(k)} with padding ${fmt(padding)} (output ${oh}x${ow})`);
  return { inShape: [N, C, H, W], kernel: k, stride, padding, dilation, ceilMode, countIncludePad: opts.countIncludePad ?? true };
}

/** Max pooling over kH x kW windows (PyTorch semantics, -inf padding). */
export function maxPool2d(x: Tensor, kernel: number | [number, number], opts: Pool2dOptions = {}): Tensor {
  const params = poolParams('maxPool2d', x, kernel, opts);
  const [y, argmax] = runKernel('maxPool2d', [x], { params });
  // The argmax indices live exactly as long as the backward needs them.
  const out = record(y, 'maxPool2d', [x], (dy) => {
    const dx = runKernel('maxPool2dBackward', [dy, argmax], { params })[0];
    argmax.dispose();
    return [dx];
  });
  if (!out.gradFn) argmax.dispose();
  return out;
}

/** Average pooling over kH x kW windows. */
export function avgPool2d(x: Tensor, kernel: number | [number, number], opts: Pool2dOptions = {}): Tensor {
  const params = poolParams('avgPool2d', x, kernel, { ...opts, dilation: 1 });
  const y = runKernel('avgPool2d', [x], { params })[0];
  return record(y, 'avgPool2d', [x], (dy) => [runKernel('avgPool2dBackward', [dy], { params })[0]]);
}

/** Mean over H and W: [N, C, H, W] -> [N, C, 1, 1] (adaptive average pooling to 1x1). */
export function globalAvgPool2d(x: Tensor): Tensor {
  assertRank('globalAvgPool2d', 'input', x, 4, 'N, C, H, W');
  return mean(x, [2, 3], true);
}
