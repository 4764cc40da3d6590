import { runKernel } from '../tensor/engine.js';
import { record, needsGrad, willRecord } from '../tensor/autograd.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Conv2dParams } from '../backends/cpu/kernels/types.js';
import { outputSize } from '../backends/cpu/kernels/types.js';
import { assertFloat, assertProductDtypes, assertRank, assertSameDtype, fmt, pair } from './util.js';
import { sum } from './reduce.js';
import { add, cast } from './elementwise.js';
import { autocastOperands, isAutocasting } from '../tensor/autocast.js';
import { activation as unaryActivation } from './activation.js';

export interface Conv2dOptions {
  stride?: number | [number, number];
  /** Zero padding per side, or 'same' (stride 1 only) / 'valid'. */
  padding?: number | [number, number] | 'same' | 'valid';
  dilation?: number | [number, number];
  groups?: number;
}

/** Activations a convolution can apply in its epilogue (the activation kernels' names). */
export type ConvActivation = 'relu' | 'relu6' | 'sigmoid' | 'tanh' | 'silu' | 'gelu' | 'hardswish' | 'hardsigmoid';
const CONV_ACTIVATIONS: readonly string[] = ['relu', 'relu6', 'sigmoid', 'tanh', 'silu', 'gelu', 'hardswish', 'hardsigmoid'];

/** Post-operations fused into the convolution: y = activation(conv(x, w) + bias + residual). */
export interface Conv2dEpilogue {
  /** Added to the convolution's output (same shape), e.g. a residual shortcut. */
  residual?: Tensor | null;
  activation?: ConvActivation | null;
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
 * bias [O]. Depthwise is groups = C. `residual` and `activation` apply
 * activation(conv + bias + residual) in the kernel's epilogue, in one pass over the output,
 * when no gradient is recorded (inference); with gradients they run as the separate ops.
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions & Conv2dEpilogue = {}): Tensor {
  const { residual, activation, ...convOpts } = opts;
  if (residual) assertSameDtype('conv2d', x, residual);
  if (isAutocasting()) [x, weight] = autocastOperands(cast, x, weight);
  if (!residual && !activation) return conv2dPlain(x, weight, bias ?? null, convOpts);
  if (activation && !CONV_ACTIVATIONS.includes(activation)) throw new Error(`conv2d: activation must be one of ${CONV_ACTIVATIONS.join(', ')}, got '${activation}'`);
  const params = conv2dParams(x, weight, convOpts);
  const outShape = conv2dOutputShapeOf(params);
  if (residual && residual.shape.join() !== outShape.join()) throw new Error(`conv2d: residual ${fmt(residual.shape)} must match the output ${fmt(outShape)}`);
  const tensors = [x, weight, ...(bias ? [bias] : []), ...(residual ? [residual] : [])];
  if (willRecord(...tensors)) {
    // Training: the same result through differentiable ops.
    let y = conv2dPlain(x, weight, bias ?? null, convOpts);
    if (residual) y = add(y, residual);
    return activation ? unaryActivation(activation, y) : y;
  }
  validateBias(bias ?? null, params, weight);
  return runKernel('conv2d', tensors, { params, hasBias: !!bias, hasResidual: !!residual, activation: activation ?? null })[0];
}

function validateBias(bias: Tensor | null, params: Conv2dParams, weight: Tensor): void {
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== params.weightShape[0])) {
    throw new Error(`conv2d: bias ${fmt(bias.shape)} must be [${params.weightShape[0]}] for weight ${fmt(weight.shape)}`);
  }
}

function conv2dOutputShapeOf(p: Conv2dParams): number[] {
  const [N, , H, W] = p.inShape;
  const [O, , kh, kw] = p.weightShape;
  return [N, O, outputSize(H, kh, p.stride[0], p.padding[0], p.dilation[0]), outputSize(W, kw, p.stride[1], p.padding[1], p.dilation[1])];
}

function conv2dPlain(x: Tensor, weight: Tensor, bias: Tensor | null, opts: Conv2dOptions): Tensor {
  assertFloat('conv2d', x, weight);
  assertProductDtypes('conv2d', x, weight);
  const params = conv2dParams(x, weight, opts);
  validateBias(bias, params, weight);
  const y = runKernel('conv2d', bias ? [x, weight, bias] : [x, weight], { params, hasBias: !!bias })[0];
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(y, 'conv2d', inputs, (dy) => {
    const dx = needsGrad(x) ? runKernel('conv2dBackwardInput', [dy, weight], { params })[0] : null;
    const dw = needsGrad(weight) ? runKernel('conv2dBackwardWeight', [x, dy], { params })[0] : null;
    const db = bias && needsGrad(bias) ? sum(dy, [0, 2, 3]) : null;
    return bias ? [dx, dw, db] : [dx, dw];
  });
}
