import type { Tensor } from '../tensor/tensor.js';
import { Conv2d, Linear, ReLU, Sigmoid } from '../nn/layers.js';
import { ConvNormActivation, SqueezeExcitation } from '../nn/blocks.js';
import { Module } from '../nn/module.js';
import { kaimingNormal } from '../nn/init.js';
import { randn, zeros } from '../ops/creation.js';
import * as ops from '../ops/index.js';
import { IMAGENET_MEAN, IMAGENET_STD, registerModel } from './registry.js';

/** The RegNet design-space parameters of Radosavovic et al. (2020), as torchvision names them. */
export interface RegNetDesign {
  depth: number;
  w0: number;
  wa: number;
  wm: number;
  groupWidth: number;
  bottleneckMultiplier?: number;
  /** Squeeze-excitation width as a fraction of the block's input width (RegNetY: 0.25). */
  seRatio?: number;
}

export interface RegNetStage {
  width: number;
  depth: number;
  groupWidth: number;
  bottleneckMultiplier: number;
}

/** Round half to even, as torch.round and Python's round do. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const f32 = Math.fround;

/** torchvision's _make_divisible: nearest multiple of `divisor`, never more than 10% below `v`. */
function makeDivisible(v: number, divisor: number): number {
  const rounded = Math.max(divisor, Math.floor(Math.floor(v + divisor / 2) / divisor) * divisor);
  return rounded < 0.9 * v ? rounded + divisor : rounded;
}

/**
 * Per-stage widths and depths from the design parameters (torchvision's
 * BlockParams.from_init_params). torchvision evaluates the quantised widths in float32
 * tensors, so every step is rounded to float32 here too: in float64 some configurations
 * land on the other side of a rounding boundary.
 */
export function regnetStages(design: RegNetDesign): RegNetStage[] {
  const { depth, w0, wa, wm, groupWidth } = design;
  const bottleneckMultiplier = design.bottleneckMultiplier ?? 1;
  if (!(Number.isInteger(depth) && depth > 0)) throw new Error(`RegNet: depth must be a positive integer, got ${depth}`);
  if (!(wa >= 0) || !(w0 > 0) || !(wm > 1) || w0 % 8 !== 0) {
    throw new Error(`RegNet: invalid design w0=${w0}, wa=${wa}, wm=${wm}; need wa >= 0, wm > 1 and w0 a positive multiple of 8`);
  }
  if (!(Number.isInteger(groupWidth) && groupWidth > 0)) throw new Error(`RegNet: groupWidth must be a positive integer, got ${groupWidth}`);
  if (!(bottleneckMultiplier > 0)) throw new Error(`RegNet: bottleneckMultiplier must be positive, got ${bottleneckMultiplier}`);
  const logWm = f32(Math.log(wm));
  const blockWidths: number[] = [];
  for (let i = 0; i < depth; i++) {
    const widthCont = f32(f32(i * f32(wa)) + w0);
    const capacity = roundHalfEven(f32(f32(Math.log(f32(widthCont / w0))) / logWm));
    const width = f32(w0 * f32(Math.pow(f32(wm), capacity)));
    blockWidths.push(roundHalfEven(f32(width / 8)) * 8);
  }
  const stages: RegNetStage[] = [];
  for (const width of blockWidths) {
    const last = stages[stages.length - 1];
    if (last && last.width === width) last.depth++;
    else stages.push({ width, depth: 1, groupWidth, bottleneckMultiplier });
  }
  // Make each stage's bottleneck width a multiple of its (possibly reduced) group width.
  return stages.map((s) => {
    const bottleneck = Math.trunc(s.width * bottleneckMultiplier);
    const group = Math.min(groupWidth, bottleneck);
    return { ...s, width: Math.trunc(makeDivisible(bottleneck, group) / bottleneckMultiplier), groupWidth: group };
  });
}

/** Convolutions initialised as torchvision's RegNet does: N(0, sqrt(2 / fan_out)). */
function initConvs(module: Module): void {
  for (const [, m] of module.namedModules()) {
    if (m instanceof Conv2d) m.weight.assign(kaimingNormal(m.weight.shape, { mode: 'fanOut' }));
  }
}

/** Runs registered children in order under the names given (torchvision's OrderedDict Sequentials). */
class NamedSequence extends Module {
  private readonly steps: Module[] = [];

  protected add<M extends Module>(name: string, m: M): M {
    this.steps.push(this.module(name, m));
    return m;
  }

  forward(x: Tensor): Tensor {
    let y = x;
    for (const step of this.steps) y = step.forward(y);
    return y;
  }
}

const relu = (): Module => new ReLU();
const sigmoid = (): Module => new Sigmoid();

/** 1x1 reduce `a`, grouped 3x3 `b` carrying the stride, optional squeeze-excitation `se`, 1x1 `c`. */
class BottleneckTransform extends NamedSequence {
  constructor(inC: number, outC: number, stride: number, stage: RegNetStage, seRatio: number | undefined) {
    super();
    const inner = roundHalfEven(outC * stage.bottleneckMultiplier);
    this.add('a', new ConvNormActivation(inC, inner, 1, { activation: relu }));
    this.add('b', new ConvNormActivation(inner, inner, 3, { stride, groups: Math.floor(inner / stage.groupWidth), activation: relu }));
    // The squeeze width is relative to the block's input, not to the bottleneck.
    if (seRatio) this.add('se', new SqueezeExcitation(inner, roundHalfEven(seRatio * inC), relu, sigmoid));
    this.add('c', new ConvNormActivation(inner, outC, 1, { activation: null }));
  }
}

/** torchvision's ResBottleneckBlock: relu(proj(x) + f(x)), with the projection only when the shape changes. */
export class RegNetBlock extends Module {
  readonly proj: ConvNormActivation | null;
  readonly f: BottleneckTransform;

  constructor(inC: number, outC: number, stride: number, stage: RegNetStage, seRatio: number | undefined) {
    super();
    this.proj = inC !== outC || stride !== 1 ? this.module('proj', new ConvNormActivation(inC, outC, 1, { stride, activation: null })) : null;
    this.f = this.module('f', new BottleneckTransform(inC, outC, stride, stage, seRatio));
  }

  forward(x: Tensor): Tensor {
    const shortcut = this.proj ? this.proj.forward(x) : x;
    return ops.relu(ops.add(shortcut, this.f.forward(x)));
  }
}

/** torchvision's AnyStage: blocks named `block<stage>-<i>`, the first one strides by 2. */
class RegNetStageModule extends NamedSequence {
  constructor(inC: number, stage: RegNetStage, index: number, seRatio: number | undefined) {
    super();
    for (let i = 0; i < stage.depth; i++) {
      this.add(`block${index}-${i}`, new RegNetBlock(i === 0 ? inC : stage.width, stage.width, i === 0 ? 2 : 1, stage, seRatio));
    }
  }
}

class RegNetTrunk extends NamedSequence {
  readonly outChannels: number;

  constructor(inC: number, stages: RegNetStage[], seRatio: number | undefined) {
    super();
    let channels = inC;
    stages.forEach((stage, i) => {
      this.add(`block${i + 1}`, new RegNetStageModule(channels, stage, i + 1, seRatio));
      channels = stage.width;
    });
    this.outChannels = channels;
  }
}

export interface RegNetOptions extends Partial<RegNetDesign> {
  /** Output channels of the 3x3 stride-2 stem (default 32). */
  stemWidth?: number;
  numClasses?: number;
  inChannels?: number;
}

/**
 * torchvision's RegNet: a 3x3 stride-2 stem (`stem.0`, `stem.1`), stages of residual
 * bottleneck blocks with group convolutions (`trunk_output.block1.block1-0.f.a.0`), optional
 * squeeze-excitation (RegNetY), global average pooling and `fc`.
 */
export class RegNet extends Module {
  readonly stem: ConvNormActivation;
  readonly trunk: RegNetTrunk;
  readonly fc: Linear;
  readonly stages: RegNetStage[];

  constructor(opts: RegNetOptions = {}) {
    super();
    const { depth, w0, wa, wm, groupWidth } = opts;
    if (depth === undefined || w0 === undefined || wa === undefined || wm === undefined || groupWidth === undefined) {
      throw new Error('RegNet: depth, w0, wa, wm and groupWidth are all required (or build a named model such as regnet_y_400mf)');
    }
    for (const [name, value] of Object.entries({ stemWidth: opts.stemWidth, numClasses: opts.numClasses, inChannels: opts.inChannels })) {
      if (value !== undefined && !(Number.isInteger(value) && value > 0)) throw new Error(`RegNet: ${name} must be a positive integer, got ${JSON.stringify(value)}`);
    }
    if (opts.seRatio !== undefined && !(opts.seRatio >= 0)) throw new Error(`RegNet: seRatio must be >= 0 (0 for no squeeze-excitation), got ${opts.seRatio}`);
    this.stages = regnetStages({ depth, w0, wa, wm, groupWidth, bottleneckMultiplier: opts.bottleneckMultiplier });
    const stemWidth = opts.stemWidth ?? 32;
    this.stem = this.module('stem', new ConvNormActivation(opts.inChannels ?? 3, stemWidth, 3, { stride: 2, activation: relu }));
    this.trunk = this.module('trunk_output', new RegNetTrunk(stemWidth, this.stages, opts.seRatio));
    this.fc = this.module('fc', new Linear(this.trunk.outChannels, opts.numClasses ?? 1000));
    initConvs(this);
    this.fc.weight.assign(randn(this.fc.weight.shape, { std: 0.01 }));
    this.fc.bias!.assign(zeros(this.fc.bias!.shape));
  }

  forward(x: Tensor): Tensor {
    const y = this.trunk.forward(this.stem.forward(x));
    return this.fc.forward(ops.flatten(ops.globalAvgPool2d(y), 1));
  }
}

const REGNET_DESIGNS: Record<string, RegNetDesign> = {
  regnet_y_400mf: { depth: 16, w0: 48, wa: 27.89, wm: 2.09, groupWidth: 8, seRatio: 0.25 },
  regnet_y_800mf: { depth: 14, w0: 56, wa: 38.84, wm: 2.4, groupWidth: 16, seRatio: 0.25 },
  regnet_y_1_6gf: { depth: 27, w0: 48, wa: 20.71, wm: 2.65, groupWidth: 24, seRatio: 0.25 },
  regnet_y_3_2gf: { depth: 21, w0: 80, wa: 42.63, wm: 2.66, groupWidth: 24, seRatio: 0.25 },
  regnet_y_8gf: { depth: 17, w0: 192, wa: 76.82, wm: 2.19, groupWidth: 56, seRatio: 0.25 },
  regnet_y_16gf: { depth: 18, w0: 200, wa: 106.23, wm: 2.48, groupWidth: 112, seRatio: 0.25 },
  regnet_y_32gf: { depth: 20, w0: 232, wa: 115.89, wm: 2.53, groupWidth: 232, seRatio: 0.25 },
  regnet_x_400mf: { depth: 22, w0: 24, wa: 24.48, wm: 2.54, groupWidth: 16 },
  regnet_x_800mf: { depth: 16, w0: 56, wa: 35.73, wm: 2.28, groupWidth: 16 },
  regnet_x_1_6gf: { depth: 18, w0: 80, wa: 34.01, wm: 2.25, groupWidth: 24 },
  regnet_x_3_2gf: { depth: 25, w0: 88, wa: 26.31, wm: 2.25, groupWidth: 48 },
  regnet_x_8gf: { depth: 23, w0: 80, wa: 49.56, wm: 2.88, groupWidth: 120 },
  regnet_x_16gf: { depth: 22, w0: 216, wa: 55.59, wm: 2.1, groupWidth: 128 },
  regnet_x_32gf: { depth: 23, w0: 320, wa: 69.86, wm: 2.0, groupWidth: 168 },
};

/** The design parameters of a registered RegNet, e.g. `regnetDesign('regnet_y_400mf')`. */
export function regnetDesign(name: string): RegNetDesign {
  const design = REGNET_DESIGNS[name];
  if (!design) throw new Error(`unknown RegNet '${name}'; available: ${Object.keys(REGNET_DESIGNS).join(', ')}`);
  return { ...design };
}

const REGNET_OPTION_NAMES = ['depth', 'w0', 'wa', 'wm', 'groupWidth', 'bottleneckMultiplier', 'seRatio', 'stemWidth', 'numClasses', 'inChannels'];

function regnetOptions(model: string, opts: Record<string, unknown>): RegNetOptions {
  const unknown = Object.keys(opts).filter((k) => !REGNET_OPTION_NAMES.includes(k));
  if (unknown.length) throw new Error(`${model}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; RegNet options are ${REGNET_OPTION_NAMES.join(', ')}`);
  return opts as RegNetOptions;
}

for (const [name, design] of Object.entries(REGNET_DESIGNS)) {
  const [, kind, size] = /^regnet_([xy])_(.*)$/.exec(name)!;
  registerModel({
    name,
    description: `RegNet${kind.toUpperCase()}-${size.replace('_', '.').toUpperCase()}${kind === 'y' ? ' (squeeze-excitation)' : ''}, torchvision architecture and state-dict keys`,
    family: 'regnet',
    inputShape: [3, 224, 224],
    numClasses: 1000,
    preprocessing: { resizeSize: 256, cropSize: 224, interpolation: 'bilinear', mean: IMAGENET_MEAN, std: IMAGENET_STD },
    classifier: ['fc.'],
    weightsSource: `torchvision.models.${name} (IMAGENET1K_V1)`,
    create: (o) => new RegNet({ ...design, ...regnetOptions(name, o) }),
  });
}
