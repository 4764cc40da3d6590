import { runKernel } from '../tensor/engine.js';
import { record } from '../tensor/autograd.js';
import type { Tensor } from '../tensor/tensor.js';
import type { UnaryGradName } from '../backends/cpu/kernels/elementwise.js';
import { assertFloat } from './util.js';

/** One activation = a forward kernel and a fused dy * f'(x) kernel; every activation saves only x. */
export function activation(op: UnaryGradName, x: Tensor): Tensor {
  assertFloat(op, x);
  const y = runKernel('unary', [x], { op })[0];
  return record(y, op, [x], (dy) => [runKernel('unaryGrad', [x, dy], { op })[0]]);
}

export const relu = (x: Tensor): Tensor => activation('relu', x);
/** min(max(x, 0), 6), MobileNet's activation. */
export const relu6 = (x: Tensor): Tensor => activation('relu6', x);
export const sigmoid = (x: Tensor): Tensor => activation('sigmoid', x);
export const tanh = (x: Tensor): Tensor => activation('tanh', x);
/** x * sigmoid(x) (a.k.a. swish), EfficientNet's activation. */
export const silu = (x: Tensor): Tensor => activation('silu', x);
/** Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), as PyTorch's default. */
export const gelu = (x: Tensor): Tensor => activation('gelu', x);
/** x * relu6(x + 3) / 6, MobileNetV3's activation. */
export const hardswish = (x: Tensor): Tensor => activation('hardswish', x);
/** relu6(x + 3) / 6. */
export const hardsigmoid = (x: Tensor): Tensor => activation('hardsigmoid', x);
