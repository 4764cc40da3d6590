import type { Tensor } from '../tensor/tensor.js';
import { BatchNorm2d, Conv2d, Dropout, Linear, Sequential, Sigmoid, SiLU, StochasticDepth } from '../nn/layers.js';
import { ConvNormActivation, SqueezeExcitation } from '../nn/blocks.js';
import { Module } from '../nn/module.js';
import { kaimingNormal } from '../nn/init.js';
import { rand, zeros } from '../ops/creation.js';
import * as ops from '../ops/index.js';
import { IMAGENET_MEAN, IMAGENET_STD, registerModel, type Preprocessing } from './registry.js';

/**
 * One stage of the network: `layers` blocks of one kind, the first going from `inChannels`
 * to `outChannels` at `stride`, the rest keeping `outChannels` at stride 1. A row of
 * torchvision's `inverted_residual_setting` (EfficientNet Table 1, EfficientNetV2 Table 4).
 */
export interface EfficientNetStage {
  /** 'mbconv': expand 1x1, depthwise kxk, squeeze-excitation, project 1x1. 'fused': one full kxk conv in place of expand + depthwise, no squeeze-excitation (V2). */
  block: 'mbconv' | 'fused';
  expandRatio: number;
  kernel: number;
  stride: number;
  inChannels: number;
  outChannels: number;
  layers: number;
}

export interface EfficientNetOptions {
  numClasses?: number;
  inChannels?: number;
  /** The stages before width/depth scaling; defaults to the variant's. */
  blocks?: EfficientNetStage[];
  /** Channel multiplier of the 'mbconv' stages (rounded to multiples of 8), as torchvision's MBConvConfig. */
  widthMult?: number;
  /** Layer multiplier of the 'mbconv' stages (rounded up). */
  depthMult?: number;
  /** Drop rate of the last block; block i of n drops with stochasticDepthProb * i / n. */
  stochasticDepthProb?: number;
  /** Dropout before the classifier's Linear. */
  dropout?: number;
  /** Channels of the final 1x1 conv; 4 x the last stage's channels when absent (EfficientNet B). */
  lastChannel?: number;
}

export interface NormConfig {
  eps: number;
  momentum: number;
}

/** torchvision's _make_divisible: nearest multiple of `divisor`, at least `divisor`, never more than 10% below `value`. */
function makeDivisible(value: number, divisor = 8): number {
  const rounded = Math.max(divisor, Math.floor(Math.trunc(value + divisor / 2) / divisor) * divisor);
  return rounded < 0.9 * value ? rounded + divisor : rounded;
}

function scaleStage(stage: EfficientNetStage, widthMult: number, depthMult: number): EfficientNetStage {
  // torchvision scales only MBConvConfig rows; FusedMBConvConfig takes its numbers as given.
  if (stage.block === 'fused') return stage;
  return {
    ...stage,
    inChannels: makeDivisible(stage.inChannels * widthMult),
    outChannels: makeDivisible(stage.outChannels * widthMult),
    layers: Math.ceil(stage.layers * depthMult),
  };
}

/** What one block is built from: its channels, expansion, kernel and stride. */
export interface BlockShape {
  inChannels: number;
  outChannels: number;
  expandRatio: number;
  kernel: number;
  stride: number;
}

/**
 * The part both block kinds share: a branch `block` (a Sequential, keys `block.0...`) and,
 * when the shape is kept (stride 1, same channels), a residual whose branch stochastic
 * depth drops per sample in training.
 */
export abstract class InvertedResidual extends Module {
  readonly block: Sequential;
  readonly stochasticDepth: StochasticDepth;
  readonly residual: boolean;

  protected constructor(shape: BlockShape, layers: Module[], dropProb: number) {
    super();
    this.residual = shape.stride === 1 && shape.inChannels === shape.outChannels;
    this.block = this.module('block', new Sequential(...layers));
    this.stochasticDepth = this.module('stochastic_depth', new StochasticDepth(dropProb, 'row'));
  }

  forward(x: Tensor): Tensor {
    const branch = this.block.forward(x);
    return this.residual ? ops.add(this.stochasticDepth.forward(branch), x) : branch;
  }
}

const silu = (): Module => new SiLU();
const sigmoid = (): Module => new Sigmoid();

/** Expanded width of a block: the input channels times the expand ratio, rounded to a multiple of 8. */
function expandedChannels(shape: BlockShape): number {
  return makeDivisible(shape.inChannels * shape.expandRatio);
}

/** EfficientNet's MBConv: [expand 1x1 conv-BN-SiLU], depthwise conv-BN-SiLU, squeeze-excitation, project 1x1 conv-BN. */
export class MBConv extends InvertedResidual {
  constructor(shape: BlockShape, dropProb: number, norm: (channels: number) => Module) {
    const inC = shape.inChannels;
    const hidden = expandedChannels(shape);
    const layers: Module[] = [];
    if (hidden !== inC) layers.push(new ConvNormActivation(inC, hidden, 1, { norm, activation: silu }));
    layers.push(
      new ConvNormActivation(hidden, hidden, shape.kernel, { stride: shape.stride, groups: hidden, norm, activation: silu }),
      // The squeeze width follows the block's input, not its expanded width.
      new SqueezeExcitation(hidden, Math.max(1, Math.floor(inC / 4)), silu, sigmoid),
      new ConvNormActivation(hidden, shape.outChannels, 1, { norm, activation: null }),
    );
    super(shape, layers, dropProb);
  }
}

/** EfficientNetV2's FusedMBConv: kxk conv-BN-SiLU (expanding), then project 1x1 conv-BN; a single kxk conv-BN-SiLU without expansion. */
export class FusedMBConv extends InvertedResidual {
  constructor(shape: BlockShape, dropProb: number, norm: (channels: number) => Module) {
    const inC = shape.inChannels;
    const hidden = expandedChannels(shape);
    const layers: Module[] = hidden === inC
      ? [new ConvNormActivation(inC, shape.outChannels, shape.kernel, { stride: shape.stride, norm, activation: silu })]
      : [
        new ConvNormActivation(inC, hidden, shape.kernel, { stride: shape.stride, norm, activation: silu }),
        new ConvNormActivation(hidden, shape.outChannels, 1, { norm, activation: null }),
      ];
    super(shape, layers, dropProb);
  }
}

/** What the network is built from once the variant's defaults and the options are merged. */
export interface EfficientNetConfig {
  stages: EfficientNetStage[];
  widthMult: number;
  depthMult: number;
  stochasticDepthProb: number;
  dropout: number;
  lastChannel?: number;
  numClasses: number;
  inChannels: number;
  norm: NormConfig;
}

/**
 * EfficientNet (Tan & Le 2019) and EfficientNetV2 (Tan & Le 2021) as torchvision builds them:
 * `features` = stem 3x3/2 conv-BN-SiLU, one Sequential of blocks per stage, 1x1 conv-BN-SiLU
 * head; then global average pooling and `classifier` = Dropout, Linear. State-dict keys are
 * torchvision's (`features.1.0.block.1.fc1.weight`, `classifier.1.weight`).
 */
export class EfficientNet extends Module {
  readonly features: Sequential;
  readonly classifier: Sequential;

  constructor(name: string, config: EfficientNetConfig) {
    super();
    const stages = scaleStages(name, config);
    const norm = (channels: number): Module => new BatchNorm2d(channels, { eps: config.norm.eps, momentum: config.norm.momentum });
    const layers: Module[] = [new ConvNormActivation(config.inChannels, stages[0].inChannels, 3, { stride: 2, norm, activation: silu })];
    const totalBlocks = stages.reduce((n, s) => n + s.layers, 0);
    let blockIndex = 0;
    for (const stage of stages) {
      const blocks: Module[] = [];
      for (let i = 0; i < stage.layers; i++) {
        const shape: BlockShape = { ...stage, inChannels: i === 0 ? stage.inChannels : stage.outChannels, stride: i === 0 ? stage.stride : 1 };
        const dropProb = (config.stochasticDepthProb * blockIndex++) / totalBlocks;
        blocks.push(stage.block === 'fused' ? new FusedMBConv(shape, dropProb, norm) : new MBConv(shape, dropProb, norm));
      }
      layers.push(new Sequential(...blocks));
    }
    const lastIn = stages[stages.length - 1].outChannels;
    const lastOut = config.lastChannel ?? 4 * lastIn;
    layers.push(new ConvNormActivation(lastIn, lastOut, 1, { norm, activation: silu }));
    this.features = this.module('features', new Sequential(...layers));
    this.classifier = this.module('classifier', new Sequential(new Dropout(config.dropout), new Linear(lastOut, config.numClasses)));
    initialiseLikeTorchvision(this);
  }

  forward(x: Tensor): Tensor {
    return this.classifier.forward(ops.flatten(ops.globalAvgPool2d(this.features.forward(x)), 1));
  }
}

/** Applies the multipliers and checks that each stage starts where the previous one ended. */
function scaleStages(name: string, config: EfficientNetConfig): EfficientNetStage[] {
  if (config.stages.some((s) => s.block === 'fused') && (config.widthMult !== 1 || config.depthMult !== 1)) {
    throw new Error(`${name}: widthMult and depthMult scale only 'mbconv' stages (as torchvision's MBConvConfig), so they cannot be combined with 'fused' stages; give the scaled channels and layers in blocks instead`);
  }
  const stages = config.stages.map((s) => scaleStage(s, config.widthMult, config.depthMult));
  for (let i = 1; i < stages.length; i++) {
    if (stages[i].inChannels !== stages[i - 1].outChannels) {
      throw new Error(`${name}: blocks[${i}] starts at ${stages[i].inChannels} channels but blocks[${i - 1}] ends at ${stages[i - 1].outChannels} (after width scaling); make inChannels of each stage equal outChannels of the one before`);
    }
  }
  return stages;
}

/** torchvision's EfficientNet init: He-normal (fan_out) convs with zero bias, U(±1/sqrt(out)) Linear with zero bias. */
function initialiseLikeTorchvision(model: Module): void {
  for (const [, m] of model.namedModules()) {
    if (m instanceof Conv2d) {
      m.weight.assign(kaimingNormal(m.weight.shape, { mode: 'fanOut' }));
      m.bias?.assign(zeros(m.bias.shape));
    } else if (m instanceof Linear) {
      const range = 1 / Math.sqrt(m.outFeatures);
      m.weight.assign(rand(m.weight.shape, { low: -range, high: range }));
      m.bias?.assign(zeros(m.bias.shape));
    }
  }
}

// ---------------------------------------------------------------------------------------
// Options: merging a variant's defaults with createModel's options, with clear errors.

const OPTION_NAMES = ['numClasses', 'inChannels', 'blocks', 'widthMult', 'depthMult', 'stochasticDepthProb', 'dropout', 'lastChannel'];

function checkNumber(name: string, option: string, value: unknown, ok: (v: number) => boolean, expected: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) throw new Error(`${name}: option ${option} must be ${expected}, got ${JSON.stringify(value)}`);
  return value;
}

const isPositiveInt = (v: number): boolean => Number.isInteger(v) && v >= 1;

function checkStage(name: string, stage: unknown, i: number): EfficientNetStage {
  const where = `blocks[${i}]`;
  if (typeof stage !== 'object' || stage === null) throw new Error(`${name}: option ${where} must be an object { block, expandRatio, kernel, stride, inChannels, outChannels, layers }`);
  const s = stage as Record<string, unknown>;
  if (s.block !== 'mbconv' && s.block !== 'fused') throw new Error(`${name}: option ${where}.block must be 'mbconv' or 'fused', got ${JSON.stringify(s.block)}`);
  return {
    block: s.block,
    expandRatio: checkNumber(name, `${where}.expandRatio`, s.expandRatio, (v) => v > 0, 'a positive number'),
    kernel: checkNumber(name, `${where}.kernel`, s.kernel, (v) => isPositiveInt(v) && v % 2 === 1, 'an odd positive integer'),
    stride: checkNumber(name, `${where}.stride`, s.stride, (v) => v === 1 || v === 2, '1 or 2'),
    inChannels: checkNumber(name, `${where}.inChannels`, s.inChannels, isPositiveInt, 'a positive integer'),
    outChannels: checkNumber(name, `${where}.outChannels`, s.outChannels, isPositiveInt, 'a positive integer'),
    layers: checkNumber(name, `${where}.layers`, s.layers, isPositiveInt, 'a positive integer'),
  };
}

interface Variant {
  name: string;
  stages: EfficientNetStage[];
  widthMult: number;
  depthMult: number;
  dropout: number;
  lastChannel?: number;
  norm: NormConfig;
  preprocessing: Preprocessing;
}

function resolveConfig(variant: Variant, opts: EfficientNetOptions): EfficientNetConfig {
  const name = variant.name;
  const unknown = Object.keys(opts).filter((k) => !OPTION_NAMES.includes(k) && opts[k as keyof EfficientNetOptions] !== undefined);
  if (unknown.length) throw new Error(`${name}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; EfficientNet takes ${OPTION_NAMES.join(', ')}`);
  let stages = variant.stages;
  if (opts.blocks !== undefined) {
    if (!Array.isArray(opts.blocks) || opts.blocks.length === 0) throw new Error(`${name}: option blocks must be a non-empty array of stages`);
    stages = opts.blocks.map((s, i) => checkStage(name, s, i));
  }
  const num = (option: keyof EfficientNetOptions, fallback: number, ok: (v: number) => boolean, expected: string): number =>
    opts[option] === undefined ? fallback : checkNumber(name, option, opts[option], ok, expected);
  return {
    stages,
    widthMult: num('widthMult', variant.widthMult, (v) => v > 0, 'a positive number'),
    depthMult: num('depthMult', variant.depthMult, (v) => v > 0, 'a positive number'),
    stochasticDepthProb: num('stochasticDepthProb', 0.2, (v) => v >= 0 && v <= 1, 'in [0, 1]'),
    dropout: num('dropout', variant.dropout, (v) => v >= 0 && v < 1, 'in [0, 1)'),
    lastChannel: opts.lastChannel === undefined ? variant.lastChannel : checkNumber(name, 'lastChannel', opts.lastChannel, isPositiveInt, 'a positive integer'),
    numClasses: num('numClasses', 1000, isPositiveInt, 'a positive integer'),
    inChannels: num('inChannels', 3, isPositiveInt, 'a positive integer'),
    norm: variant.norm,
  };
}

// ---------------------------------------------------------------------------------------
// The variants: torchvision 0.14's settings and the transforms of its IMAGENET1K_V1 weights.

const stage = (block: 'mbconv' | 'fused', expandRatio: number, kernel: number, stride: number, inChannels: number, outChannels: number, layers: number): EfficientNetStage =>
  ({ block, expandRatio, kernel, stride, inChannels, outChannels, layers });

const B_STAGES = [
  stage('mbconv', 1, 3, 1, 32, 16, 1),
  stage('mbconv', 6, 3, 2, 16, 24, 2),
  stage('mbconv', 6, 5, 2, 24, 40, 2),
  stage('mbconv', 6, 3, 2, 40, 80, 3),
  stage('mbconv', 6, 5, 1, 80, 112, 3),
  stage('mbconv', 6, 5, 2, 112, 192, 4),
  stage('mbconv', 6, 3, 1, 192, 320, 1),
];

const V2_STAGES: Record<'s' | 'm' | 'l', EfficientNetStage[]> = {
  s: [
    stage('fused', 1, 3, 1, 24, 24, 2),
    stage('fused', 4, 3, 2, 24, 48, 4),
    stage('fused', 4, 3, 2, 48, 64, 4),
    stage('mbconv', 4, 3, 2, 64, 128, 6),
    stage('mbconv', 6, 3, 1, 128, 160, 9),
    stage('mbconv', 6, 3, 2, 160, 256, 15),
  ],
  m: [
    stage('fused', 1, 3, 1, 24, 24, 3),
    stage('fused', 4, 3, 2, 24, 48, 5),
    stage('fused', 4, 3, 2, 48, 80, 5),
    stage('mbconv', 4, 3, 2, 80, 160, 7),
    stage('mbconv', 6, 3, 1, 160, 176, 14),
    stage('mbconv', 6, 3, 2, 176, 304, 18),
    stage('mbconv', 6, 3, 1, 304, 512, 5),
  ],
  l: [
    stage('fused', 1, 3, 1, 32, 32, 4),
    stage('fused', 4, 3, 2, 32, 64, 7),
    stage('fused', 4, 3, 2, 64, 96, 7),
    stage('mbconv', 4, 3, 2, 96, 192, 10),
    stage('mbconv', 6, 3, 1, 192, 224, 19),
    stage('mbconv', 6, 3, 2, 224, 384, 25),
    stage('mbconv', 6, 3, 1, 384, 640, 7),
  ],
};

const TORCH_NORM: NormConfig = { eps: 1e-5, momentum: 0.1 };

// [widthMult, depthMult, dropout, resizeSize, cropSize]; B5-B7 were ported with TF's batch-norm settings.
const B_VARIANTS: [number, number, number, number, number][] = [
  [1.0, 1.0, 0.2, 256, 224],
  [1.0, 1.1, 0.2, 256, 240],
  [1.1, 1.2, 0.3, 288, 288],
  [1.2, 1.4, 0.3, 320, 300],
  [1.4, 1.8, 0.4, 384, 380],
  [1.6, 2.2, 0.4, 456, 456],
  [1.8, 2.6, 0.5, 528, 528],
  [2.0, 3.1, 0.5, 600, 600],
];

const VARIANTS: Variant[] = [
  ...B_VARIANTS.map(([widthMult, depthMult, dropout, resizeSize, cropSize], b): Variant => ({
    name: `efficientnet_b${b}`,
    stages: B_STAGES,
    widthMult,
    depthMult,
    dropout,
    norm: b >= 5 ? { eps: 1e-3, momentum: 0.01 } : TORCH_NORM,
    preprocessing: { resizeSize, cropSize, interpolation: 'bicubic', mean: IMAGENET_MEAN, std: IMAGENET_STD },
  })),
  ...([['s', 0.2, 384, 'bilinear'], ['m', 0.3, 480, 'bilinear'], ['l', 0.4, 480, 'bicubic']] as const).map(([size, dropout, crop, interpolation]): Variant => ({
    name: `efficientnet_v2_${size}`,
    stages: V2_STAGES[size],
    widthMult: 1,
    depthMult: 1,
    dropout,
    lastChannel: 1280,
    norm: { eps: 1e-3, momentum: 0.1 },
    // V2-L's weights were ported from TF and expect inputs scaled to [-1, 1].
    preprocessing: size === 'l'
      ? { resizeSize: crop, cropSize: crop, interpolation, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }
      : { resizeSize: crop, cropSize: crop, interpolation, mean: IMAGENET_MEAN, std: IMAGENET_STD },
  })),
];

for (const variant of VARIANTS) {
  const crop = variant.preprocessing.cropSize;
  registerModel({
    name: variant.name,
    description: variant.name.startsWith('efficientnet_b')
      ? `EfficientNet-${variant.name.slice(-2).toUpperCase()} (MBConv stages, width x${variant.widthMult}, depth x${variant.depthMult})`
      : `EfficientNetV2-${variant.name.slice(-1).toUpperCase()} (FusedMBConv then MBConv stages)`,
    family: 'efficientnet',
    inputShape: [3, crop, crop],
    numClasses: 1000,
    preprocessing: variant.preprocessing,
    classifier: ['classifier.1.'],
    weightsSource: `torchvision.models.${variant.name} (IMAGENET1K_V1)`,
    create: (o) => new EfficientNet(variant.name, resolveConfig(variant, o as EfficientNetOptions)),
  });
}
