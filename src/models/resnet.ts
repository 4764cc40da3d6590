import type { Tensor } from '../tensor/tensor.js';
import { BatchNorm2d, Conv2d, Linear, ReLU, Sequential } from '../nn/layers.js';
import { convBnAct, release } from '../nn/fused.js';
import { Module } from '../nn/module.js';
import { kaimingNormal } from '../nn/init.js';
import * as ops from '../ops/index.js';
import { IMAGENET_MEAN, IMAGENET_STD, registerModel, type Preprocessing } from './registry.js';

/** Bias-free convolution with torchvision's ResNet initialisation (He normal, fan_out). */
function resnetConv(inC: number, outC: number, kernel: number, stride = 1, groups = 1): Conv2d {
  const c = new Conv2d(inC, outC, kernel, { stride, padding: (kernel - 1) / 2, groups, bias: false });
  c.weight.assign(kaimingNormal(c.weight.shape, { mode: 'fanOut' }));
  return c;
}

/** The projection shortcut (`downsample.0` conv 1x1, `downsample.1` batch norm). */
function projection(inC: number, outC: number, stride: number): Sequential {
  return new Sequential(resnetConv(inC, outC, 1, stride), new BatchNorm2d(outC));
}

/** The ReLU after each convolution (no parameters, so one instance serves every block). */
const RELU = new ReLU();

/** The projection shortcut applied to x: one fused conv + batch norm in inference. */
function shortcut(downsample: Sequential, x: Tensor): Tensor {
  const [conv, bn] = downsample.layers as [Conv2d, BatchNorm2d];
  return convBnAct(x, conv, bn, null);
}

interface BlockConfig {
  inChannels: number;
  planes: number;
  stride: number;
  groups: number;
  widthPerGroup: number;
}

/** torchvision's BasicBlock: two 3x3 convolutions; the first one strides. */
export class ResNetBasicBlock extends Module {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor({ inChannels, planes, stride }: BlockConfig) {
    super();
    this.conv1 = this.module('conv1', resnetConv(inChannels, planes, 3, stride));
    this.bn1 = this.module('bn1', new BatchNorm2d(planes));
    this.conv2 = this.module('conv2', resnetConv(planes, planes, 3));
    this.bn2 = this.module('bn2', new BatchNorm2d(planes));
    this.downsample = stride !== 1 || inChannels !== planes ? this.module('downsample', projection(inChannels, planes, stride)) : null;
  }

  forward(x: Tensor): Tensor {
    const out = convBnAct(x, this.conv1, this.bn1, RELU);
    const identity = this.downsample ? shortcut(this.downsample, x) : x;
    const y = convBnAct(out, this.conv2, this.bn2, RELU, identity);
    release(out, y);
    if (identity !== x) release(identity, y);
    return y;
  }
}

/**
 * torchvision's Bottleneck (ResNet V1.5): 1x1 reduce, grouped 3x3 carrying the stride, 1x1
 * expand to 4 x planes. The inner width is floor(planes x widthPerGroup / 64) x groups,
 * which gives ResNeXt (groups > 1) and Wide ResNet (widthPerGroup 128).
 */
export class ResNetBottleneck extends Module {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor({ inChannels, planes, stride, groups, widthPerGroup }: BlockConfig) {
    super();
    const width = Math.floor(planes * (widthPerGroup / 64)) * groups;
    const outC = planes * ResNetBottleneck.expansion;
    this.conv1 = this.module('conv1', resnetConv(inChannels, width, 1));
    this.bn1 = this.module('bn1', new BatchNorm2d(width));
    this.conv2 = this.module('conv2', resnetConv(width, width, 3, stride, groups));
    this.bn2 = this.module('bn2', new BatchNorm2d(width));
    this.conv3 = this.module('conv3', resnetConv(width, outC, 1));
    this.bn3 = this.module('bn3', new BatchNorm2d(outC));
    this.downsample = stride !== 1 || inChannels !== outC ? this.module('downsample', projection(inChannels, outC, stride)) : null;
  }

  forward(x: Tensor): Tensor {
    const a = convBnAct(x, this.conv1, this.bn1, RELU);
    const b = convBnAct(a, this.conv2, this.bn2, RELU);
    release(a, b);
    const identity = this.downsample ? shortcut(this.downsample, x) : x;
    const y = convBnAct(b, this.conv3, this.bn3, RELU, identity);
    release(b, y);
    if (identity !== x) release(identity, y);
    return y;
  }
}

export type ResNetBlockKind = 'basic' | 'bottleneck';

export interface ResNetOptions {
  block?: ResNetBlockKind;
  /** Blocks per stage, e.g. [3, 4, 6, 3] for ResNet-50. */
  layers?: number[];
  /** Planes of each stage (a bottleneck stage outputs 4x this); default [64, 128, 256, 512]. */
  widths?: number[];
  /** Output channels of the 7x7 stem convolution (default 64). */
  stemWidth?: number;
  groups?: number;
  widthPerGroup?: number;
  numClasses?: number;
  inChannels?: number;
}

const BLOCKS = { basic: ResNetBasicBlock, bottleneck: ResNetBottleneck } as const;

function positiveInteger(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}

function checkResNetOptions(opts: ResNetOptions, layers: number[], widths: number[]): void {
  const fail = (msg: string): never => { throw new Error(`ResNet: ${msg}`); };
  if (!(opts.block === undefined || opts.block in BLOCKS)) fail(`block must be 'basic' or 'bottleneck', got ${JSON.stringify(opts.block)}`);
  if (!layers.length || !layers.every(positiveInteger)) fail(`layers must be a non-empty list of positive block counts, got ${JSON.stringify(layers)}`);
  if (widths.length !== layers.length) fail(`widths (${widths.length} stages) and layers (${layers.length} stages) must have the same length`);
  if (!widths.every(positiveInteger)) fail(`widths must be positive integers, got ${JSON.stringify(widths)}`);
  for (const [name, value] of Object.entries({ stemWidth: opts.stemWidth, groups: opts.groups, widthPerGroup: opts.widthPerGroup, numClasses: opts.numClasses, inChannels: opts.inChannels })) {
    if (value !== undefined && !positiveInteger(value)) fail(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  if ((opts.block ?? 'basic') === 'basic' && ((opts.groups ?? 1) !== 1 || (opts.widthPerGroup ?? 64) !== 64)) {
    fail(`the basic block supports only groups=1 and widthPerGroup=64 (got ${opts.groups ?? 1} and ${opts.widthPerGroup ?? 64}); use block: 'bottleneck' for ResNeXt or Wide ResNet`);
  }
  if (opts.block === 'bottleneck') {
    const tooNarrow = widths.find((w) => Math.floor(w * ((opts.widthPerGroup ?? 64) / 64)) === 0);
    if (tooNarrow !== undefined) fail(`stage width ${tooNarrow} x widthPerGroup ${opts.widthPerGroup} / 64 leaves a bottleneck with no channels; raise widths or widthPerGroup`);
  }
}

/**
 * torchvision's ResNet: 7x7 stride-2 stem, 3x3 max pool, stages of residual blocks (the
 * first block of every stage after the first strides by 2), global average pooling and a
 * dense layer. State-dict keys match torchvision (`conv1`, `bn1`, `layer1.0.conv1`, `fc`).
 */
export class ResNet extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly stages: Sequential[];
  readonly fc: Linear;

  constructor(opts: ResNetOptions = {}) {
    super();
    const layers = opts.layers ?? [2, 2, 2, 2];
    const widths = opts.widths ?? [64, 128, 256, 512];
    checkResNetOptions(opts, layers, widths);
    const Block = BLOCKS[opts.block ?? 'basic'];
    const stemWidth = opts.stemWidth ?? 64;
    this.conv1 = this.module('conv1', resnetConv(opts.inChannels ?? 3, stemWidth, 7, 2));
    this.bn1 = this.module('bn1', new BatchNorm2d(stemWidth));
    let inChannels = stemWidth;
    this.stages = layers.map((count, stage) => {
      const blocks: Module[] = [];
      for (let i = 0; i < count; i++) {
        const stride = i === 0 && stage > 0 ? 2 : 1;
        blocks.push(new Block({ inChannels, planes: widths[stage], stride, groups: opts.groups ?? 1, widthPerGroup: opts.widthPerGroup ?? 64 }));
        inChannels = widths[stage] * Block.expansion;
      }
      return this.module(`layer${stage + 1}`, new Sequential(...blocks));
    });
    this.fc = this.module('fc', new Linear(inChannels, opts.numClasses ?? 1000));
  }

  forward(x: Tensor): Tensor {
    const stem = convBnAct(x, this.conv1, this.bn1, RELU);
    let y = ops.maxPool2d(stem, 3, { stride: 2, padding: 1 });
    release(stem, y);
    for (const stage of this.stages) {
      const next = stage.forward(y);
      release(y, next);
      y = next;
    }
    const pooled = ops.globalAvgPool2d(y);
    release(y, pooled);
    const flat = ops.flatten(pooled, 1);
    release(pooled, flat);
    const logits = this.fc.forward(flat);
    release(flat, logits);
    return logits;
  }
}

interface ResNetVariant {
  name: string;
  description: string;
  config: ResNetOptions;
  /** resize of the IMAGENET1K_V1 weights' transform (torchvision: 256, 232 for resnext101_64x4d). */
  resizeSize?: number;
}

const RESNET_VARIANTS: ResNetVariant[] = [
  { name: 'resnet18', description: 'ResNet-18', config: { block: 'basic', layers: [2, 2, 2, 2] } },
  { name: 'resnet34', description: 'ResNet-34', config: { block: 'basic', layers: [3, 4, 6, 3] } },
  { name: 'resnet50', description: 'ResNet-50 (V1.5)', config: { block: 'bottleneck', layers: [3, 4, 6, 3] } },
  { name: 'resnet101', description: 'ResNet-101 (V1.5)', config: { block: 'bottleneck', layers: [3, 4, 23, 3] } },
  { name: 'resnet152', description: 'ResNet-152 (V1.5)', config: { block: 'bottleneck', layers: [3, 8, 36, 3] } },
  { name: 'wide_resnet50_2', description: 'Wide ResNet-50-2', config: { block: 'bottleneck', layers: [3, 4, 6, 3], widthPerGroup: 128 } },
  { name: 'wide_resnet101_2', description: 'Wide ResNet-101-2', config: { block: 'bottleneck', layers: [3, 4, 23, 3], widthPerGroup: 128 } },
  { name: 'resnext50_32x4d', description: 'ResNeXt-50 32x4d', config: { block: 'bottleneck', layers: [3, 4, 6, 3], groups: 32, widthPerGroup: 4 } },
  { name: 'resnext101_32x8d', description: 'ResNeXt-101 32x8d', config: { block: 'bottleneck', layers: [3, 4, 23, 3], groups: 32, widthPerGroup: 8 } },
  { name: 'resnext101_64x4d', description: 'ResNeXt-101 64x4d', config: { block: 'bottleneck', layers: [3, 4, 23, 3], groups: 64, widthPerGroup: 4 }, resizeSize: 232 },
];

const RESNET_OPTION_NAMES = ['block', 'layers', 'widths', 'stemWidth', 'groups', 'widthPerGroup', 'numClasses', 'inChannels'];

function resnetOptions(model: string, opts: Record<string, unknown>): ResNetOptions {
  const unknown = Object.keys(opts).filter((k) => !RESNET_OPTION_NAMES.includes(k));
  if (unknown.length) throw new Error(`${model}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; ResNet options are ${RESNET_OPTION_NAMES.join(', ')}`);
  return opts as ResNetOptions;
}

for (const variant of RESNET_VARIANTS) {
  const preprocessing: Preprocessing = { resizeSize: variant.resizeSize ?? 256, cropSize: 224, interpolation: 'bilinear', mean: IMAGENET_MEAN, std: IMAGENET_STD };
  registerModel({
    name: variant.name,
    description: `${variant.description}, torchvision architecture and state-dict keys`,
    family: 'resnet',
    inputShape: [3, 224, 224],
    numClasses: 1000,
    preprocessing,
    classifier: ['fc.'],
    weightsSource: `torchvision.models.${variant.name} (IMAGENET1K_V1)`,
    create: (o) => new ResNet({ ...variant.config, ...resnetOptions(variant.name, o) }),
  });
}
