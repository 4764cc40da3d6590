import { ENGINE } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import { rand, randn } from '../ops/creation.js';
import type { Rng } from '../tensor/rng.js';

/** fan_in and fan_out of a linear [out, in] or conv [out, in/groups, kh, kw] weight, as PyTorch computes them. */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: (shape[1] ?? 1) * receptive, fanOut: shape[0] * receptive };
}

export type Nonlinearity = 'relu' | 'linear' | 'leaky_relu' | 'tanh' | 'sigmoid';

/** The recommended gain for a nonlinearity (torch.nn.init.calculate_gain). */
export function gain(nonlinearity: Nonlinearity, negativeSlope = 0.01): number {
  switch (nonlinearity) {
    case 'relu': return Math.SQRT2;
    case 'leaky_relu': return Math.sqrt(2 / (1 + negativeSlope * negativeSlope));
    case 'tanh': return 5 / 3;
    default: return 1;
  }
}

/** He normal initialisation (torchvision's choice for convolutions: mode fan_out, relu). */
export function kaimingNormal(shape: readonly number[], opts: { mode?: 'fanIn' | 'fanOut'; nonlinearity?: Nonlinearity; rng?: Rng } = {}): Tensor {
  const f = fans(shape);
  const std = gain(opts.nonlinearity ?? 'relu') / Math.sqrt(opts.mode === 'fanOut' ? f.fanOut : f.fanIn);
  return randn(shape, { std, rng: opts.rng ?? ENGINE.rng });
}

/** PyTorch's default for Conv2d and Linear weights: kaiming_uniform(a=sqrt(5)), i.e. U(±1/sqrt(fan_in)). */
export function defaultWeight(shape: readonly number[], rng?: Rng): Tensor {
  const bound = 1 / Math.sqrt(fans(shape).fanIn);
  return rand(shape, { low: -bound, high: bound, rng: rng ?? ENGINE.rng });
}

/** PyTorch's default bias: U(±1/sqrt(fan_in)) of the weight. */
export function defaultBias(size: number, fanIn: number, rng?: Rng): Tensor {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return rand([size], { low: -bound, high: bound, rng: rng ?? ENGINE.rng });
}
