import type { Tensor } from '../tensor/tensor.js';
import { BatchNorm2d, Conv2d, Dropout, Hardsigmoid, Hardswish, Linear, ReLU, ReLU6, Sequential } from '../nn/layers.js';
import { ConvNormActivation, SqueezeExcitation, type ActivationFactory } from '../nn/blocks.js';
import { Module } from '../nn/module.js';
import { kaimingNormal } from '../nn/init.js';
import { randn, zeros } from '../ops/creation.js';
import * as ops from '../ops/index.js';
import { IMAGENET_MEAN, IMAGENET_STD, registerModel, type Preprocessing } from './registry.js';

/**
 * Rounds `value` to the nearest multiple of `divisor` (at least `minValue`), going one step up
 * when rounding would lose more than 10%: the channel rule of the TensorFlow MobileNets that
 * torchvision's `_make_divisible` reproduces, so scaled widths match the reference weights.
 */
function makeDivisible(value: number, divisor: number, minValue = divisor): number {
  const rounded = Math.max(minValue, Math.floor((value + divisor / 2) / divisor) * divisor);
  return rounded < 0.9 * value ? rounded + divisor : rounded;
}

function checkPositiveInt(model: string, option: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${model}: ${option} must be a positive integer, got ${value}`);
}

function checkCommon(model: string, opts: { numClasses?: number; inChannels?: number; widthMult?: number; dropout?: number }): void {
  if (opts.numClasses !== undefined) checkPositiveInt(model, 'numClasses', opts.numClasses);
  if (opts.inChannels !== undefined) checkPositiveInt(model, 'inChannels', opts.inChannels);
  if (opts.widthMult !== undefined && !(opts.widthMult > 0 && Number.isFinite(opts.widthMult))) {
    throw new Error(`${model}: widthMult must be a positive number (1 = the published width), got ${opts.widthMult}`);
  }
  if (opts.dropout !== undefined && !(opts.dropout >= 0 && opts.dropout < 1)) throw new Error(`${model}: dropout must be in [0, 1), got ${opts.dropout}`);
}

/** torchvision's MobileNet initialisation: He-normal (fan out) convolutions, N(0, 0.01) dense layers, zero biases. */
function initMobileNet(model: Module): void {
  for (const [, m] of model.namedModules()) {
    if (m instanceof Conv2d) {
      m.weight.assign(kaimingNormal(m.weight.shape, { mode: 'fanOut' }));
      m.bias?.assign(zeros(m.bias.shape));
    } else if (m instanceof Linear) {
      m.weight.assign(randn(m.weight.shape, { std: 0.01 }));
      m.bias?.assign(zeros(m.bias.shape));
    }
  }
}

const relu6: ActivationFactory = () => new ReLU6();

// ---------------------------------------------------------------------------------------------
// MobileNetV2

/** One row of MobileNetV2's table: expansion t, output channels c, repeats n, first stride s. */
export type MobileNetV2Stage = [t: number, c: number, n: number, s: number];

const MOBILENET_V2_STAGES: MobileNetV2Stage[] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

/**
 * MobileNetV2's bottleneck: 1x1 expansion (skipped when t = 1), 3x3 depthwise, linear 1x1
 * projection, with a residual when the shape is kept. Keys `conv.0.0.weight`, ... as torchvision.
 */
export class MobileNetV2Block extends Module {
  readonly conv: Sequential;
  readonly residual: boolean;

  constructor(inC: number, outC: number, stride: number, expandRatio: number) {
    super();
    const hidden = Math.round(inC * expandRatio);
    const layers: Module[] = [];
    if (expandRatio !== 1) layers.push(new ConvNormActivation(inC, hidden, 1, { activation: relu6 }));
    layers.push(
      new ConvNormActivation(hidden, hidden, 3, { stride, groups: hidden, activation: relu6 }),
      new Conv2d(hidden, outC, 1, { bias: false }),
      new BatchNorm2d(outC),
    );
    this.conv = this.module('conv', new Sequential(...layers));
    this.residual = stride === 1 && inC === outC;
  }

  forward(x: Tensor): Tensor {
    const y = this.conv.forward(x);
    return this.residual ? ops.add(x, y) : y;
  }
}

export interface MobileNetV2Options {
  numClasses?: number;
  inChannels?: number;
  /** Scales every width (then rounded to `roundNearest`); the last conv never shrinks below 1280. */
  widthMult?: number;
  roundNearest?: number;
  /** Rows [t, c, n, s]; defaults to the paper's seven stages. */
  invertedResidualSetting?: MobileNetV2Stage[];
  dropout?: number;
}

/** MobileNetV2 (Sandler et al. 2018) with torchvision's layout and state-dict keys. */
export class MobileNetV2 extends Module {
  readonly features: Sequential;
  readonly classifier: Sequential;

  constructor(opts: MobileNetV2Options = {}) {
    super();
    const name = 'mobilenet_v2';
    checkCommon(name, opts);
    const widthMult = opts.widthMult ?? 1;
    const roundNearest = opts.roundNearest ?? 8;
    checkPositiveInt(name, 'roundNearest', roundNearest);
    const stages = opts.invertedResidualSetting ?? MOBILENET_V2_STAGES;
    if (!Array.isArray(stages) || stages.length === 0 || stages.some((row) => !Array.isArray(row) || row.length !== 4 || row.some((v) => !(v > 0)))) {
      throw new Error(`${name}: invertedResidualSetting must be a non-empty list of [t, c, n, s] rows of positive numbers, got ${JSON.stringify(stages)}`);
    }
    let channels = makeDivisible(32 * widthMult, roundNearest);
    const lastChannels = makeDivisible(1280 * Math.max(1, widthMult), roundNearest);
    const layers: Module[] = [new ConvNormActivation(opts.inChannels ?? 3, channels, 3, { stride: 2, activation: relu6 })];
    for (const [t, c, n, s] of stages) {
      const outC = makeDivisible(c * widthMult, roundNearest);
      for (let i = 0; i < n; i++) {
        layers.push(new MobileNetV2Block(channels, outC, i === 0 ? s : 1, t));
        channels = outC;
      }
    }
    layers.push(new ConvNormActivation(channels, lastChannels, 1, { activation: relu6 }));
    this.features = this.module('features', new Sequential(...layers));
    this.classifier = this.module('classifier', new Sequential(new Dropout(opts.dropout ?? 0.2), new Linear(lastChannels, opts.numClasses ?? 1000)));
    initMobileNet(this);
  }

  forward(x: Tensor): Tensor {
    return this.classifier.forward(ops.flatten(ops.globalAvgPool2d(this.features.forward(x)), 1));
  }
}

// ---------------------------------------------------------------------------------------------
// MobileNetV3

/** One bottleneck row of the MobileNetV3 paper's tables 1 and 2, widths already scaled. */
export interface MobileNetV3BlockConfig {
  inChannels: number;
  kernel: number;
  expandedChannels: number;
  outChannels: number;
  squeezeExcite: boolean;
  activation: 'relu' | 'hardswish';
  stride: number;
  dilation: number;
}

/**
 * MobileNetV3's bottleneck: optional 1x1 expansion, depthwise conv (dilated instead of strided
 * when dilation > 1), optional squeeze-excitation, linear 1x1 projection, residual when the
 * shape is kept. Keys `block.0.0.weight`, `block.2.fc1.weight`, ... as torchvision.
 */
export class MobileNetV3Block extends Module {
  readonly block: Sequential;
  readonly residual: boolean;

  constructor(cfg: MobileNetV3BlockConfig, norm: (channels: number) => Module) {
    super();
    const activation: ActivationFactory = cfg.activation === 'hardswish' ? () => new Hardswish() : () => new ReLU();
    const layers: Module[] = [];
    if (cfg.expandedChannels !== cfg.inChannels) layers.push(new ConvNormActivation(cfg.inChannels, cfg.expandedChannels, 1, { norm, activation }));
    layers.push(
      new ConvNormActivation(cfg.expandedChannels, cfg.expandedChannels, cfg.kernel, {
        stride: cfg.dilation > 1 ? 1 : cfg.stride,
        dilation: cfg.dilation,
        groups: cfg.expandedChannels,
        norm,
        activation,
      }),
    );
    if (cfg.squeezeExcite) {
      const squeeze = makeDivisible(Math.floor(cfg.expandedChannels / 4), 8);
      layers.push(new SqueezeExcitation(cfg.expandedChannels, squeeze, () => new ReLU(), () => new Hardsigmoid()));
    }
    layers.push(new ConvNormActivation(cfg.expandedChannels, cfg.outChannels, 1, { norm, activation: null }));
    this.block = this.module('block', new Sequential(...layers));
    this.residual = cfg.stride === 1 && cfg.inChannels === cfg.outChannels;
  }

  forward(x: Tensor): Tensor {
    const y = this.block.forward(x);
    return this.residual ? ops.add(y, x) : y;
  }
}

export type MobileNetV3Arch = 'small' | 'large';

export interface MobileNetV3Options {
  numClasses?: number;
  inChannels?: number;
  widthMult?: number;
  /** Halves the channels of the last stage (torchvision's reduced_tail, for detection backbones). */
  reducedTail?: boolean;
  /** Dilates the last stage instead of striding it (torchvision's dilated, for segmentation). */
  dilated?: boolean;
  dropout?: number;
}

type Row = [inC: number, kernel: number, expanded: number, outC: number, se: boolean, act: 'RE' | 'HS', stride: number];

// The paper's tables; the last stage (rows from `tailFrom` on) is what reducedTail and dilated change.
const V3_LARGE: { rows: Row[]; tailFrom: number; lastChannel: number } = {
  rows: [
    [16, 3, 16, 16, false, 'RE', 1],
    [16, 3, 64, 24, false, 'RE', 2],
    [24, 3, 72, 24, false, 'RE', 1],
    [24, 5, 72, 40, true, 'RE', 2],
    [40, 5, 120, 40, true, 'RE', 1],
    [40, 5, 120, 40, true, 'RE', 1],
    [40, 3, 240, 80, false, 'HS', 2],
    [80, 3, 200, 80, false, 'HS', 1],
    [80, 3, 184, 80, false, 'HS', 1],
    [80, 3, 184, 80, false, 'HS', 1],
    [80, 3, 480, 112, true, 'HS', 1],
    [112, 3, 672, 112, true, 'HS', 1],
    [112, 5, 672, 160, true, 'HS', 2],
    [160, 5, 960, 160, true, 'HS', 1],
    [160, 5, 960, 160, true, 'HS', 1],
  ],
  tailFrom: 12,
  lastChannel: 1280,
};

const V3_SMALL: typeof V3_LARGE = {
  rows: [
    [16, 3, 16, 16, true, 'RE', 2],
    [16, 3, 72, 24, false, 'RE', 2],
    [24, 3, 88, 24, false, 'RE', 1],
    [24, 5, 96, 40, true, 'HS', 2],
    [40, 5, 240, 40, true, 'HS', 1],
    [40, 5, 240, 40, true, 'HS', 1],
    [40, 5, 120, 48, true, 'HS', 1],
    [48, 5, 144, 48, true, 'HS', 1],
    [48, 5, 288, 96, true, 'HS', 2],
    [96, 5, 576, 96, true, 'HS', 1],
    [96, 5, 576, 96, true, 'HS', 1],
  ],
  tailFrom: 8,
  lastChannel: 1024,
};

/** The bottleneck configurations and penultimate width of MobileNetV3-Small or -Large. */
export function mobileNetV3Config(arch: MobileNetV3Arch, opts: MobileNetV3Options = {}): { blocks: MobileNetV3BlockConfig[]; lastChannel: number } {
  const table = arch === 'large' ? V3_LARGE : V3_SMALL;
  const widthMult = opts.widthMult ?? 1;
  const divider = opts.reducedTail ? 2 : 1;
  const scale = (c: number): number => makeDivisible(c * widthMult, 8);
  const blocks = table.rows.map(([inC, kernel, expanded, outC, se, act, stride], i): MobileNetV3BlockConfig => {
    // The reduced tail shrinks the last stage's own widths, but not the input of its first block.
    const tail = (c: number, inTail: boolean): number => scale(inTail ? Math.floor(c / divider) : c);
    return {
      inChannels: tail(inC, i > table.tailFrom),
      kernel,
      expandedChannels: tail(expanded, i > table.tailFrom),
      outChannels: tail(outC, i >= table.tailFrom),
      squeezeExcite: se,
      activation: act === 'HS' ? 'hardswish' : 'relu',
      stride,
      dilation: i >= table.tailFrom && opts.dilated ? 2 : 1,
    };
  });
  return { blocks, lastChannel: scale(Math.floor(table.lastChannel / divider)) };
}

/** MobileNetV3 (Howard et al. 2019), Small or Large, with torchvision's layout and state-dict keys. */
export class MobileNetV3 extends Module {
  readonly features: Sequential;
  readonly classifier: Sequential;

  constructor(readonly arch: MobileNetV3Arch, opts: MobileNetV3Options = {}) {
    super();
    const name = `mobilenet_v3_${arch}`;
    if (arch !== 'small' && arch !== 'large') throw new Error(`MobileNetV3: arch must be 'small' or 'large', got '${arch}'`);
    checkCommon(name, opts);
    const { blocks, lastChannel } = mobileNetV3Config(arch, opts);
    // torchvision trains MobileNetV3 with these batch-norm settings; eps matters for parity.
    const norm = (c: number): Module => new BatchNorm2d(c, { eps: 0.001, momentum: 0.01 });
    const hardswish: ActivationFactory = () => new Hardswish();
    const lastConvIn = blocks[blocks.length - 1].outChannels;
    const lastConvOut = 6 * lastConvIn;
    this.features = this.module(
      'features',
      new Sequential(
        new ConvNormActivation(opts.inChannels ?? 3, blocks[0].inChannels, 3, { stride: 2, norm, activation: hardswish }),
        ...blocks.map((cfg) => new MobileNetV3Block(cfg, norm)),
        new ConvNormActivation(lastConvIn, lastConvOut, 1, { norm, activation: hardswish }),
      ),
    );
    this.classifier = this.module(
      'classifier',
      new Sequential(new Linear(lastConvOut, lastChannel), new Hardswish(), new Dropout(opts.dropout ?? 0.2), new Linear(lastChannel, opts.numClasses ?? 1000)),
    );
    initMobileNet(this);
  }

  forward(x: Tensor): Tensor {
    return this.classifier.forward(ops.flatten(ops.globalAvgPool2d(this.features.forward(x)), 1));
  }
}

// ---------------------------------------------------------------------------------------------
// Zoo entries (IMAGENET1K_V1 weights: resize 256, centre crop 224, bilinear)

function knownOptions<T>(model: string, opts: Record<string, unknown>, names: string[]): T {
  const unknown = Object.keys(opts).filter((k) => !names.includes(k));
  if (unknown.length) throw new Error(`${model}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; its options are ${names.join(', ')}`);
  return opts as T;
}

const V2_OPTIONS = ['numClasses', 'inChannels', 'widthMult', 'roundNearest', 'invertedResidualSetting', 'dropout'];
const V3_OPTIONS = ['numClasses', 'inChannels', 'widthMult', 'reducedTail', 'dilated', 'dropout'];

const preprocessing: Preprocessing = { resizeSize: 256, cropSize: 224, interpolation: 'bilinear', mean: IMAGENET_MEAN, std: IMAGENET_STD };

registerModel({
  name: 'mobilenet_v2',
  description: 'MobileNetV2 (inverted residuals with linear bottlenecks, ReLU6), torchvision layout',
  family: 'mobilenet',
  inputShape: [3, 224, 224],
  numClasses: 1000,
  preprocessing,
  classifier: ['classifier.1.'],
  weightsSource: 'torchvision.models.mobilenet_v2 (IMAGENET1K_V1)',
  create: (o) => new MobileNetV2(knownOptions<MobileNetV2Options>('mobilenet_v2', o, V2_OPTIONS)),
});

for (const arch of ['small', 'large'] as const) {
  registerModel({
    name: `mobilenet_v3_${arch}`,
    description: `MobileNetV3-${arch === 'small' ? 'Small' : 'Large'} (squeeze-excitation, hard-swish), torchvision layout`,
    family: 'mobilenet',
    inputShape: [3, 224, 224],
    numClasses: 1000,
    preprocessing,
    classifier: ['classifier.3.'],
    weightsSource: `torchvision.models.mobilenet_v3_${arch} (IMAGENET1K_V1)`,
    create: (o) => new MobileNetV3(arch, knownOptions<MobileNetV3Options>(`mobilenet_v3_${arch}`, o, V3_OPTIONS)),
  });
}
