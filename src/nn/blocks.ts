import type { Tensor } from '../tensor/tensor.js';
import * as ops from '../ops/index.js';
import { Module } from './module.js';
import { BatchNorm2d, Conv2d, Sequential } from './layers.js';

/** Builds an activation layer (or returns null for none); shared by the model families. */
export type ActivationFactory = () => Module;

export interface ConvNormActivationConfig {
  stride?: number;
  /** Defaults to (kernel - 1) / 2 * dilation, torchvision's "same-ish" padding. */
  padding?: number;
  groups?: number;
  dilation?: number;
  /** Normalisation layer for `outChannels`; null for none (the conv then gets a bias). */
  norm?: ((channels: number) => Module) | null;
  activation?: ActivationFactory | null;
  bias?: boolean;
}

/**
 * torchvision's Conv2dNormActivation: conv, then norm (BatchNorm2d by default), then
 * activation, as a Sequential so the state-dict keys are `0.weight`, `1.running_mean`, ...
 */
export class ConvNormActivation extends Sequential {
  constructor(inChannels: number, outChannels: number, kernelSize: number, config: ConvNormActivationConfig = {}) {
    const dilation = config.dilation ?? 1;
    const norm = config.norm === undefined ? (c: number) => new BatchNorm2d(c) : config.norm;
    const layers: Module[] = [
      new Conv2d(inChannels, outChannels, kernelSize, {
        stride: config.stride ?? 1,
        padding: config.padding ?? ((kernelSize - 1) / 2) * dilation,
        dilation,
        groups: config.groups ?? 1,
        bias: config.bias ?? norm === null,
      }),
    ];
    if (norm) layers.push(norm(outChannels));
    if (config.activation) layers.push(config.activation());
    super(...layers);
  }
}

/**
 * torchvision.ops.SqueezeExcitation: global average pool, 1x1 conv `fc1`, activation,
 * 1x1 conv `fc2`, gate activation, and the input scaled channel-wise by the gate.
 */
export class SqueezeExcitation extends Module {
  readonly fc1: Conv2d;
  readonly fc2: Conv2d;
  readonly activation: Module;
  readonly scaleActivation: Module;

  constructor(inputChannels: number, squeezeChannels: number, activation: ActivationFactory, scaleActivation: ActivationFactory) {
    super();
    this.fc1 = this.module('fc1', new Conv2d(inputChannels, squeezeChannels, 1));
    this.fc2 = this.module('fc2', new Conv2d(squeezeChannels, inputChannels, 1));
    this.activation = this.module('activation', activation());
    this.scaleActivation = this.module('scale_activation', scaleActivation());
  }

  forward(x: Tensor): Tensor {
    const pooled = ops.globalAvgPool2d(x);
    const squeezed = this.activation.forward(this.fc1.forward(pooled));
    const scale = this.scaleActivation.forward(this.fc2.forward(squeezed));
    return ops.mul(x, scale);
  }
}
