import type { Tensor } from '../tensor/tensor.js';
import { BatchNorm2d, Conv2d, Dropout, Flatten, GlobalAvgPool2d, Linear, MaxPool2d, ReLU, Sequential } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { kaimingNormal } from '../nn/init.js';
import { registerModel } from './registry.js';

export interface CanonicalCnnOptions {
  inChannels?: number;
  numClasses?: number;
  /** Channels of each stage; a 2x2 max-pool separates stages. */
  widths?: number[];
  /** conv-BN-ReLU units per stage. */
  convsPerStage?: number;
  /** Dropout before the dense head. */
  dropout?: number;
}

/**
 * The canonical CNN classifier: stages of (conv3x3-BN-ReLU) x k separated by 2x2 max-pooling,
 * then global average pooling and one dense layer. Names follow torchvision's VGG layout:
 * `features.<i>.*` and `classifier.1.*`.
 */
export class CanonicalCnn extends Module {
  readonly features: Sequential;
  readonly classifier: Sequential;

  constructor(opts: CanonicalCnnOptions = {}) {
    super();
    const widths = opts.widths ?? [32, 64, 128];
    const perStage = opts.convsPerStage ?? 2;
    const layers: Module[] = [];
    let channels = opts.inChannels ?? 3;
    widths.forEach((width, stage) => {
      if (stage > 0) layers.push(new MaxPool2d(2));
      for (let i = 0; i < perStage; i++) {
        const conv = new Conv2d(channels, width, 3, { padding: 1, bias: false });
        conv.weight.assign(kaimingNormal(conv.weight.shape, { mode: 'fanOut' }));
        layers.push(conv, new BatchNorm2d(width), new ReLU());
        channels = width;
      }
    });
    layers.push(new GlobalAvgPool2d(), new Flatten(1));
    this.features = this.module('features', new Sequential(...layers));
    this.classifier = this.module('classifier', new Sequential(new Dropout(opts.dropout ?? 0), new Linear(channels, opts.numClasses ?? 10)));
  }

  forward(x: Tensor): Tensor {
    return this.classifier.forward(this.features.forward(x));
  }
}

registerModel({
  name: 'canonical-cnn',
  description: 'conv-BN-ReLU x2, max-pool, ... , global average pool, dense (the survey\'s canonical classifier)',
  inputShape: [3, 32, 32],
  classifier: ['classifier.1.'],
  create: (o) => new CanonicalCnn(o as CanonicalCnnOptions),
});
