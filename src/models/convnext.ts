import type { Tensor } from '../tensor/tensor.js';
import { Conv2d, Flatten, GELU, LayerNorm, LayerNorm2d, Linear, Permute, Sequential, StochasticDepth } from '../nn/layers.js';
import { ConvNormActivation } from '../nn/blocks.js';
import { Module } from '../nn/module.js';
import { full, randn, zeros } from '../ops/creation.js';
import * as ops from '../ops/index.js';
import { IMAGENET_MEAN, IMAGENET_STD, registerModel } from './registry.js';

/** ConvNeXt normalises with eps 1e-6 everywhere (PyTorch's LayerNorm default is 1e-5). */
const EPS = 1e-6;

/**
 * ConvNeXt's block: 7x7 depthwise conv, then, channels last, LayerNorm and an MLP (4x, GELU),
 * scaled per channel by `layer_scale`, dropped per sample by stochastic depth in training,
 * and added to the input. Keys `block.0.weight`, `block.2.weight`, `block.3.weight`, `layer_scale`.
 */
export class CNBlock extends Module {
  readonly block: Sequential;
  readonly layerScale: Tensor;
  readonly stochasticDepth: StochasticDepth;

  constructor(dim: number, layerScale: number, stochasticDepthProb: number) {
    super();
    this.block = this.module(
      'block',
      new Sequential(
        new Conv2d(dim, dim, 7, { padding: 3, groups: dim }),
        new Permute([0, 2, 3, 1]),
        new LayerNorm(dim, { eps: EPS }),
        new Linear(dim, 4 * dim),
        new GELU(),
        new Linear(4 * dim, dim),
        new Permute([0, 3, 1, 2]),
      ),
    );
    this.layerScale = this.param('layer_scale', full([dim, 1, 1], layerScale));
    this.stochasticDepth = this.module('stochastic_depth', new StochasticDepth(stochasticDepthProb, 'row'));
  }

  forward(x: Tensor): Tensor {
    const branch = this.stochasticDepth.forward(ops.mul(this.layerScale, this.block.forward(x)));
    return ops.add(branch, x);
  }
}

/** One stage: `numLayers` blocks at `inChannels`, then a downsampling to `outChannels` (none when null). */
export interface ConvNeXtStage {
  inChannels: number;
  outChannels: number | null;
  numLayers: number;
}

export interface ConvNeXtOptions {
  numClasses?: number;
  inChannels?: number;
  blockSetting?: ConvNeXtStage[];
  /** Drop probability of the last block; earlier blocks get linearly less, the first none. */
  stochasticDepthProb?: number;
  /** Initial value of every layer scale. */
  layerScale?: number;
}

function stageSetting(channels: [number, number, number, number], depths: [number, number, number, number]): ConvNeXtStage[] {
  return channels.map((c, i) => ({ inChannels: c, outChannels: channels[i + 1] ?? null, numLayers: depths[i] }));
}

function checkOptions(model: string, opts: ConvNeXtOptions, setting: ConvNeXtStage[]): void {
  if (!Array.isArray(setting) || setting.length === 0) throw new Error(`${model}: blockSetting must be a non-empty list of { inChannels, outChannels, numLayers } stages`);
  const int = (v: unknown, min: number): boolean => Number.isInteger(v) && (v as number) >= min;
  setting.forEach((s, i) => {
    if (!s || !int(s.inChannels, 1) || !int(s.numLayers, 1) || !(s.outChannels === null || int(s.outChannels, 1))) {
      throw new Error(`${model}: blockSetting[${i}] must have positive integer inChannels and numLayers and outChannels a positive integer or null, got ${JSON.stringify(s)}`);
    }
    const next = setting[i + 1];
    if (next && s.outChannels !== next.inChannels) {
      throw new Error(`${model}: blockSetting[${i}].outChannels (${s.outChannels}) must equal blockSetting[${i + 1}].inChannels (${next.inChannels}); only the last stage may have outChannels null`);
    }
  });
  const p = opts.stochasticDepthProb;
  if (p !== undefined && !(p >= 0 && p <= 1)) throw new Error(`${model}: stochasticDepthProb must be in [0, 1], got ${p}`);
  if (opts.layerScale !== undefined && !Number.isFinite(opts.layerScale)) throw new Error(`${model}: layerScale must be a finite number, got ${opts.layerScale}`);
  if (opts.numClasses !== undefined && !int(opts.numClasses, 1)) throw new Error(`${model}: numClasses must be a positive integer, got ${opts.numClasses}`);
}

/**
 * ConvNeXt (Liu et al. 2022) with torchvision's layout and keys: `features.0` the 4x4/4 stem
 * with LayerNorm2d, then alternately a stage of CNBlocks and a LayerNorm2d + 2x2/2 conv
 * downsampling, and `classifier` = LayerNorm2d, Flatten, Linear after global pooling.
 */
export class ConvNeXt extends Module {
  readonly features: Sequential;
  readonly classifier: Sequential;

  constructor(opts: ConvNeXtOptions = {}, name = 'ConvNeXt') {
    super();
    const setting = opts.blockSetting ?? stageSetting([96, 192, 384, 768], [3, 3, 9, 3]);
    checkOptions(name, opts, setting);
    const norm = (c: number): Module => new LayerNorm2d(c, { eps: EPS });
    const layers: Module[] = [new ConvNormActivation(opts.inChannels ?? 3, setting[0].inChannels, 4, { stride: 4, padding: 0, norm, activation: null, bias: true })];
    const totalBlocks = setting.reduce((n, s) => n + s.numLayers, 0);
    const maxProb = opts.stochasticDepthProb ?? 0;
    let blockIndex = 0;
    for (const stage of setting) {
      const blocks: Module[] = [];
      for (let i = 0; i < stage.numLayers; i++, blockIndex++) {
        // torchvision divides by (total - 1): a single-block network would get NaN; it gets 0 here.
        const prob = totalBlocks > 1 ? (maxProb * blockIndex) / (totalBlocks - 1) : 0;
        blocks.push(new CNBlock(stage.inChannels, opts.layerScale ?? 1e-6, prob));
      }
      layers.push(new Sequential(...blocks));
      if (stage.outChannels !== null) layers.push(new Sequential(norm(stage.inChannels), new Conv2d(stage.inChannels, stage.outChannels, 2, { stride: 2 })));
    }
    this.features = this.module('features', new Sequential(...layers));
    const last = setting[setting.length - 1];
    const width = last.outChannels ?? last.inChannels;
    this.classifier = this.module('classifier', new Sequential(norm(width), new Flatten(1), new Linear(width, opts.numClasses ?? 1000)));
    initConvNeXt(this);
  }

  forward(x: Tensor): Tensor {
    return this.classifier.forward(ops.globalAvgPool2d(this.features.forward(x)));
  }
}

/**
 * torchvision's initialisation: weights of convs and dense layers from a normal of std 0.02
 * truncated to [-2, 2] (absolute, so at this std the truncation never bites), zero biases.
 */
function initConvNeXt(model: Module): void {
  for (const [, m] of model.namedModules()) {
    if (m instanceof Conv2d || m instanceof Linear) {
      m.weight.assign(randn(m.weight.shape, { std: 0.02 }));
      m.bias?.assign(zeros(m.bias.shape));
    }
  }
}

const VARIANTS: { size: string; channels: [number, number, number, number]; depths: [number, number, number, number]; stochasticDepthProb: number; resizeSize: number }[] = [
  { size: 'tiny', channels: [96, 192, 384, 768], depths: [3, 3, 9, 3], stochasticDepthProb: 0.1, resizeSize: 236 },
  { size: 'small', channels: [96, 192, 384, 768], depths: [3, 3, 27, 3], stochasticDepthProb: 0.4, resizeSize: 230 },
  { size: 'base', channels: [128, 256, 512, 1024], depths: [3, 3, 27, 3], stochasticDepthProb: 0.5, resizeSize: 232 },
  { size: 'large', channels: [192, 384, 768, 1536], depths: [3, 3, 27, 3], stochasticDepthProb: 0.5, resizeSize: 232 },
];

const OPTION_NAMES = ['numClasses', 'inChannels', 'blockSetting', 'stochasticDepthProb', 'layerScale'];

function convNeXtOptions(model: string, opts: Record<string, unknown>): ConvNeXtOptions {
  const unknown = Object.keys(opts).filter((k) => !OPTION_NAMES.includes(k));
  if (unknown.length) throw new Error(`${model}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; ConvNeXt options are ${OPTION_NAMES.join(', ')}`);
  return opts as ConvNeXtOptions;
}

for (const v of VARIANTS) {
  const name = `convnext_${v.size}`;
  registerModel({
    name,
    description: `ConvNeXt-${v.size[0].toUpperCase()}${v.size.slice(1)} (depths ${v.depths.join('/')}, widths ${v.channels.join('/')}), torchvision layout`,
    family: 'convnext',
    inputShape: [3, 224, 224],
    numClasses: 1000,
    preprocessing: { resizeSize: v.resizeSize, cropSize: 224, interpolation: 'bilinear', mean: IMAGENET_MEAN, std: IMAGENET_STD },
    classifier: ['classifier.2.'],
    weightsSource: `torchvision.models.${name} (IMAGENET1K_V1)`,
    create: (o) => {
      const opts = convNeXtOptions(name, o);
      return new ConvNeXt({ ...opts, blockSetting: opts.blockSetting ?? stageSetting(v.channels, v.depths), stochasticDepthProb: opts.stochasticDepthProb ?? v.stochasticDepthProb }, name);
    },
  });
}
