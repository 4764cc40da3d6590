import type { Tensor } from '../tensor/tensor.js';
import { BatchNorm2d, Conv2d, Linear, Sequential } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { kaimingNormal } from '../nn/init.js';
import * as ops from '../ops/index.js';
import { registerModel } from './registry.js';

function conv(inC: number, outC: number, k: number, stride: number): Conv2d {
  const c = new Conv2d(inC, outC, k, { stride, padding: (k - 1) / 2, bias: false });
  c.weight.assign(kaimingNormal(c.weight.shape, { mode: 'fanOut' }));
  return c;
}

/** torchvision's BasicBlock: conv3x3-BN-ReLU-conv3x3-BN + shortcut, ReLU. Same parameter names. */
export class BasicBlock extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor(inC: number, outC: number, stride: number) {
    super();
    this.conv1 = this.module('conv1', conv(inC, outC, 3, stride));
    this.bn1 = this.module('bn1', new BatchNorm2d(outC));
    this.conv2 = this.module('conv2', conv(outC, outC, 3, 1));
    this.bn2 = this.module('bn2', new BatchNorm2d(outC));
    this.downsample = stride !== 1 || inC !== outC ? this.module('downsample', new Sequential(conv(inC, outC, 1, stride), new BatchNorm2d(outC))) : null;
  }

  forward(x: Tensor): Tensor {
    const out = this.bn2.forward(this.conv2.forward(ops.relu(this.bn1.forward(this.conv1.forward(x)))));
    const identity = this.downsample ? this.downsample.forward(x) : x;
    return ops.relu(ops.add(out, identity));
  }
}

export interface ResNetCifarOptions {
  inChannels?: number;
  numClasses?: number;
  /** 6n + 2 (8, 14, 20, 32, 44, 56, 110): n basic blocks in each of the three stages. */
  depth?: number;
  widths?: [number, number, number];
}

/**
 * The CIFAR ResNet of He et al. (2016): a 3x3 stem, three stages of basic blocks at widths
 * 16/32/64 (stride 2 between stages), global average pooling and a dense layer. Parameter
 * names follow torchvision's ResNet (`conv1`, `bn1`, `layer1.0.conv1`, `fc`).
 */
export class ResNetCifar extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly layers: Sequential[];
  readonly fc: Linear;

  constructor(opts: ResNetCifarOptions = {}) {
    super();
    const depth = opts.depth ?? 20;
    if ((depth - 2) % 6 !== 0 || depth < 8) throw new Error(`ResNetCifar: depth must be 6n + 2 with n >= 1 (8, 14, 20, ...), got ${depth}`);
    const n = (depth - 2) / 6;
    const widths = opts.widths ?? [16, 32, 64];
    this.conv1 = this.module('conv1', conv(opts.inChannels ?? 3, widths[0], 3, 1));
    this.bn1 = this.module('bn1', new BatchNorm2d(widths[0]));
    let inC = widths[0];
    this.layers = widths.map((w, stage) => {
      const blocks: Module[] = [];
      for (let i = 0; i < n; i++) {
        blocks.push(new BasicBlock(inC, w, i === 0 && stage > 0 ? 2 : 1));
        inC = w;
      }
      return this.module(`layer${stage + 1}`, new Sequential(...blocks));
    });
    this.fc = this.module('fc', new Linear(inC, opts.numClasses ?? 10));
  }

  forward(x: Tensor): Tensor {
    let y = ops.relu(this.bn1.forward(this.conv1.forward(x)));
    for (const layer of this.layers) y = layer.forward(y);
    return this.fc.forward(ops.flatten(ops.globalAvgPool2d(y), 1));
  }
}

for (const depth of [8, 20]) {
  registerModel({
    name: `resnet${depth}-cifar`,
    description: `CIFAR-style ResNet-${depth} (3 stages of basic blocks, 16/32/64 channels)`,
    inputShape: [3, 32, 32],
    classifier: ['fc.'],
    create: (o) => new ResNetCifar({ depth, ...(o as ResNetCifarOptions) }),
  });
}
