import type { Tensor } from '../tensor/tensor.js';
import * as ops from '../ops/index.js';
import { Module } from './module.js';
import { runSequential } from './fused.js';
import { defaultBias, defaultWeight } from './init.js';
import { zeros, ones } from '../ops/creation.js';
import { fmt, pair } from '../ops/util.js';
import type { Conv2dOptions } from '../ops/conv.js';
import type { Pool2dOptions } from '../ops/pool.js';

export interface Conv2dConfig extends Conv2dOptions {
  bias?: boolean;
}

/** 2-D convolution layer, PyTorch's Conv2d (weight [out, in/groups, kh, kw], bias [out]). */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly options: Conv2dOptions;

  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernelSize: number | [number, number], config: Conv2dConfig = {}) {
    super();
    const groups = config.groups ?? 1;
    if (inChannels % groups || outChannels % groups) throw new Error(`Conv2d: groups=${groups} must divide inChannels=${inChannels} and outChannels=${outChannels}`);
    const [kh, kw] = pair(kernelSize, 'Conv2d', 'kernelSize');
    this.weight = this.param('weight', defaultWeight([outChannels, inChannels / groups, kh, kw]));
    this.bias = this.param('bias', config.bias === false ? null : defaultBias(outChannels, (inChannels / groups) * kh * kw));
    this.options = { stride: config.stride, padding: config.padding, dilation: config.dilation, groups };
  }

  forward(x: Tensor): Tensor {
    return ops.conv2d(x, this.weight, this.bias, this.options);
  }
}

/** Fully connected layer, PyTorch's Linear (weight [out, in]). */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { bias?: boolean } = {}) {
    super();
    this.weight = this.param('weight', defaultWeight([outFeatures, inFeatures]));
    this.bias = this.param('bias', opts.bias === false ? null : defaultBias(outFeatures, inFeatures));
  }

  forward(x: Tensor): Tensor {
    return ops.linear(x, this.weight, this.bias);
  }
}

/** Batch normalisation over channels of [N, C, H, W] (also accepts [N, C]), PyTorch's BatchNorm2d. */
export class BatchNorm2d extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly numBatchesTracked: Tensor | null;

  constructor(readonly numFeatures: number, readonly opts: { eps?: number; momentum?: number; affine?: boolean; trackRunningStats?: boolean } = {}) {
    super();
    const affine = opts.affine ?? true;
    const track = opts.trackRunningStats ?? true;
    this.weight = this.param('weight', affine ? ones([numFeatures]) : null);
    this.bias = this.param('bias', affine ? zeros([numFeatures]) : null);
    this.runningMean = this.buffer('running_mean', track ? zeros([numFeatures]) : null);
    this.runningVar = this.buffer('running_var', track ? ones([numFeatures]) : null);
    this.numBatchesTracked = this.buffer('num_batches_tracked', track ? zeros([], 'int32') : null);
  }

  forward(x: Tensor): Tensor {
    return this.forwardActivated(x, null);
  }

  /** activation(batchNorm(x) + residual); in training the sum and the activation run inside the batch-norm kernels. */
  forwardActivated(x: Tensor, activation: 'relu' | 'relu6' | null, residual: Tensor | null = null): Tensor {
    if (x.ndim !== 4 && x.ndim !== 2) throw new Error(`BatchNorm2d: expected [N, C, H, W] input, got ${fmt(x.shape)}`);
    if (x.shape[1] !== this.numFeatures) throw new Error(`BatchNorm2d(${this.numFeatures}): input ${fmt(x.shape)} has ${x.shape[1]} channels`);
    return ops.batchNorm(x, this.runningMean, this.runningVar, this.weight, this.bias, {
      training: this.training,
      numBatchesTracked: this.numBatchesTracked,
      activation,
      residual,
      momentum: this.opts.momentum ?? 0.1,
      eps: this.opts.eps ?? 1e-5,
    });
  }
}

/** Wraps an element-wise function as a layer. */
abstract class Activation extends Module {
  protected abstract fn(x: Tensor): Tensor;
  forward(x: Tensor): Tensor {
    return this.fn(x);
  }
}

export class ReLU extends Activation { protected fn = ops.relu; }
export class ReLU6 extends Activation { protected fn = ops.relu6; }
export class SiLU extends Activation { protected fn = ops.silu; }
export class GELU extends Activation { protected fn = ops.gelu; }
export class Hardswish extends Activation { protected fn = ops.hardswish; }
export class Hardsigmoid extends Activation { protected fn = ops.hardsigmoid; }
export class Sigmoid extends Activation { protected fn = ops.sigmoid; }
export class Tanh extends Activation { protected fn = ops.tanh; }

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
  }
  forward(x: Tensor): Tensor {
    return ops.dropout(x, this.p, this.training);
  }
}

export class MaxPool2d extends Module {
  constructor(readonly kernelSize: number | [number, number], readonly options: Pool2dOptions = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return ops.maxPool2d(x, this.kernelSize, this.options);
  }
}

export class AvgPool2d extends Module {
  constructor(readonly kernelSize: number | [number, number], readonly options: Pool2dOptions = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return ops.avgPool2d(x, this.kernelSize, this.options);
  }
}

/** Global average pooling to [N, C, 1, 1] (AdaptiveAvgPool2d((1, 1)) in PyTorch). */
export class GlobalAvgPool2d extends Module {
  forward(x: Tensor): Tensor {
    return ops.globalAvgPool2d(x);
  }
}

export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return ops.flatten(x, this.startDim, this.endDim);
  }
}

/** Runs modules in order; children are named '0', '1', ... as in PyTorch. */
export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers.map((m, i) => this.module(String(i), m));
  }
  /** Conv2d -> BatchNorm2d (-> activation) runs are fused in inference (see fused.ts). */
  forward(x: Tensor): Tensor {
    return runSequential(this.layers, x);
  }
}

/** Layer normalisation over the last axis, PyTorch's LayerNorm([C]) (weight and bias [C]). */
export class LayerNorm extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(readonly normalizedShape: number, readonly opts: { eps?: number; elementwiseAffine?: boolean } = {}) {
    super();
    const affine = opts.elementwiseAffine ?? true;
    this.weight = this.param('weight', affine ? ones([normalizedShape]) : null);
    this.bias = this.param('bias', affine ? zeros([normalizedShape]) : null);
  }

  forward(x: Tensor): Tensor {
    if (x.shape[x.ndim - 1] !== this.normalizedShape) throw new Error(`LayerNorm(${this.normalizedShape}): input ${fmt(x.shape)} must end in ${this.normalizedShape}`);
    return ops.layerNorm(x, this.weight, this.bias, this.opts.eps ?? 1e-5);
  }
}

/** LayerNorm over the channels of [N, C, H, W] (torchvision's LayerNorm2d, used by ConvNeXt). */
export class LayerNorm2d extends LayerNorm {
  override forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== this.normalizedShape) throw new Error(`LayerNorm2d(${this.normalizedShape}): expected [N, ${this.normalizedShape}, H, W] input, got ${fmt(x.shape)}`);
    const nhwc = ops.permute(x, [0, 2, 3, 1]);
    const y = ops.layerNorm(nhwc, this.weight, this.bias, this.opts.eps ?? 1e-5);
    const out = ops.permute(y, [0, 3, 1, 2]);
    if (!y.requiresGrad) {
      nhwc.dispose();
      y.dispose();
    }
    return out;
  }
}

/** Reorders axes, torchvision's Permute (no parameters). */
export class Permute extends Module {
  constructor(readonly axes: readonly number[]) {
    super();
  }
  forward(x: Tensor): Tensor {
    return ops.permute(x, this.axes);
  }
}

/** Drops residual branches per sample in training, torchvision.ops.StochasticDepth. */
export class StochasticDepth extends Module {
  constructor(readonly p: number, readonly mode: 'row' | 'batch' = 'row') {
    super();
  }
  forward(x: Tensor): Tensor {
    return ops.stochasticDepth(x, this.p, this.mode, this.training);
  }
}
