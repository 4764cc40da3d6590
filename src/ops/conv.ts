import { runKernel } from '../tensor/engine.js';
import { record, needsGrad } from '../tensor/autograd.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Conv2dParams } from '../backends/cpu/kernels/types.js';
import { outputSize } from '../backends/cpu/kernels/types.js';
import { assertFloat, assertRank, assertSameDtype, fmt, pair } from './util.js';
import { sum } from './reduce.js';

export interface Conv2dOptions {
  stride?: number | [number, number];
  /** Zero padding per side, or 'same' (stride 1 only) / 'valid'. */
  padding?: number | [number, number] | 'same' | 'valid';
  dilation?: number | [number, number];
  groups?: number;
}

/** Validates a conv2d call and resolves its geometry (shared by every backend). */
export function conv2dParams(x: Tensor, weight: Tensor, opts: Conv2dOptions): Conv2dParams {
  assertRank('conv2d', 'input', x, 4, 'N, C, H, W');
  assertRank('conv2d', 'weight', weight, 4, 'outChannels, inChannels / groups, kH, kW');
  const [N, C, H, W] = x.shape;
  const [O, Cg, kh, kw] = weight.shape;
  const groups = opts.groups ?? 1;
  const stride = pair(opts.stride ?? 1, 'conv2d', 'stride');
  const dilation = pair(opts.dilation ?? 1, 'conv2d', 'dilation');
  let padding: [number, number];
  if (opts.padding === 'same') {
    if (stride[0] !== 1 || stride[1] !== 1) throw new Error(`conv2d: padding 'same' needs stride 1, got stride ${fmt(stride)}`);
    const th = dilation[0] * (kh - 1);
    const tw = dilation[1] * (kw - 1);
    if (th % 2 || tw % 2) throw new Error(`conv2d: padding 'same' needs an odd effective kernel, got ${kh}x${kw} with dilation ${fmt(dilation)}`);
    padding = [th / 2, tw / 2];
  } else {
    padding = opts.padding === 'valid' ? [0, 0] : pair(opts.padding ?? 0, 'conv2d', 'padding');
  }
  if (!Number.isInteger(groups) || groups < 1 || C % groups || O % groups) {
    throw new Error(`conv2d: groups=${groups} must divide both input channels (${C}) and output channels (${O})`);
  }
  if (Cg * groups !== C) {
    throw new Error(`conv2d: weight ${fmt(weight.shape)} expects ${Cg * groups} input channels (${Cg} per group x ${groups} groups) but input ${fmt(x.shape)} has ${C}`);
  }
  if (stride.some((s) => s < 1) || dilation.some((d) => d < 1) || padding.some((p) => p < 0)) {
    throw new Error(`conv2d: stride ${fmt(stride)} and dilation ${fmt(dilation)} must be >= 1 and padding ${fmt(padding)} >= 0`);
  }
  const oh = outputSize(H, kh, stride[0], padding[0], dilation[0]);
  const ow = outputSize(W, kw, stride[1], padding[1], dilation[1]);
  if (oh < 1 || ow < 1) {
    throw new Error(`conv2d: input ${fmt(x.shape)} is too small for a ${kh}x${kw} kernel with padding ${fmt(padding)} and dilation ${fmt(dilation)} (output would be ${oh}x${ow})`);
  }
  return { inShape: [N, C, H, W], weightShape: [O, Cg, kh, kw], stride, padding, dilation, groups };
}

/**
 * 2-D convolution (cross-correlation, as PyTorch): x [N, C, H, W], weight [O, C/groups, kH, kW],
 * bias [O]. Depthwise is groups = C.
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  assertFloat('conv2d', x, weight);
  assertSameDtype('conv2d', x, weight);
  const params = conv2dParams(x, weight, opts);
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== params.weightShape[0])) {
    throw new Error(`conv2d: bias ${fmt(bias.shape)} must be [${params.weightShape[0]}] for weight ${fmt(weight.shape)}`);
  }
  const y = runKernel('conv2d', bias ? [x, weight, bias] : [x, weight], { params })[0];
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(y, 'conv2d', inputs, (dy) => {
    const dx = needsGrad(x) ? runKernel('conv2dBackwardInput', [dy, weight], { params })[0] : null;
    const dw = needsGrad(weight) ? runKernel('conv2dBackwardWeight', [x, dy], { params })[0] : null;
    const db = bias && needsGrad(bias) ? sum(dy, [0, 2, 3]) : null;
    return bias ? [dx, dw, db] : [dx, dw];
  });
}
