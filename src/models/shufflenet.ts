import type { Tensor } from '../tensor/tensor.js';
import { BatchNorm2d, Conv2d, Linear, MaxPool2d, ReLU, Sequential } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import * as ops from '../ops/index.js';
import { IMAGENET_MEAN, IMAGENET_STD, registerModel } from './registry.js';

/**
 * Interleaves the channels of `groups` groups ([g0c0, g0c1, ..., g1c0, ...] becomes
 * [g0c0, g1c0, ..., g0c1, ...]) so information crosses the two branches of the next unit.
 */
export function channelShuffle(x: Tensor, groups: number): Tensor {
  const [n, c, h, w] = x.shape;
  if (c % groups) throw new Error(`channelShuffle: ${c} channels do not split into ${groups} groups`);
  const grouped = ops.reshape(x, [n, groups, c / groups, h, w]);
  return ops.reshape(ops.transpose(grouped, 1, 2), [n, c, h, w]);
}

function depthwise(channels: number, stride: number): Conv2d {
  return new Conv2d(channels, channels, 3, { stride, padding: 1, groups: channels, bias: false });
}

function pointwise(inC: number, outC: number): Conv2d {
  return new Conv2d(inC, outC, 1, { bias: false });
}

/**
 * ShuffleNetV2's unit. Stride 1: half the channels pass through, the other half go through
 * `branch2` (1x1, depthwise 3x3, 1x1). Stride 2: both `branch1` (depthwise 3x3, 1x1) and
 * `branch2` see the whole input, doubling the channels. The halves are then shuffled.
 */
export class ShuffleUnit extends Module {
  readonly branch1: Sequential | null;
  readonly branch2: Sequential;

  constructor(readonly inC: number, readonly outC: number, readonly stride: number) {
    super();
    const half = Math.floor(outC / 2);
    if (stride === 1 && inC !== 2 * half) throw new Error(`ShuffleUnit: a stride-1 unit keeps its width, so inC (${inC}) must equal outC (${outC}) and be even`);
    this.branch1 = stride > 1
      ? this.module('branch1', new Sequential(depthwise(inC, stride), new BatchNorm2d(inC), pointwise(inC, half), new BatchNorm2d(half), new ReLU()))
      : null;
    this.branch2 = this.module(
      'branch2',
      new Sequential(
        pointwise(stride > 1 ? inC : half, half),
        new BatchNorm2d(half),
        new ReLU(),
        depthwise(half, stride),
        new BatchNorm2d(half),
        pointwise(half, half),
        new BatchNorm2d(half),
        new ReLU(),
      ),
    );
  }

  forward(x: Tensor): Tensor {
    let out: Tensor;
    if (this.branch1) {
      out = ops.concat([this.branch1.forward(x), this.branch2.forward(x)], 1);
    } else {
      const half = x.shape[1] / 2;
      const [kept, processed] = ops.split(x, [half, half], 1);
      out = ops.concat([kept, this.branch2.forward(processed)], 1);
    }
    return channelShuffle(out, 2);
  }
}

export interface ShuffleNetV2Options {
  numClasses?: number;
  inChannels?: number;
  /** Units in stage2, stage3 and stage4 (the first of each has stride 2). */
  stagesRepeats?: [number, number, number];
  /** Widths of conv1, stage2, stage3, stage4 and conv5. */
  stagesOutChannels?: [number, number, number, number, number];
}

/**
 * ShuffleNetV2 (Ma et al. 2018) with torchvision's layout and keys (`conv1`, `stage2.0.branch1`,
 * `conv5`, `fc`). Initialisation is PyTorch's per-layer default, as in torchvision.
 */
export class ShuffleNetV2 extends Module {
  readonly conv1: Sequential;
  readonly maxpool: MaxPool2d;
  readonly stages: Sequential[];
  readonly conv5: Sequential;
  readonly fc: Linear;

  constructor(opts: ShuffleNetV2Options = {}) {
    super();
    const repeats = opts.stagesRepeats ?? [4, 8, 4];
    const widths = opts.stagesOutChannels ?? [24, 116, 232, 464, 1024];
    const positiveInts = (v: unknown, n: number): boolean => Array.isArray(v) && v.length === n && v.every((x) => Number.isInteger(x) && x > 0);
    if (!positiveInts(repeats, 3)) throw new Error(`ShuffleNetV2: stagesRepeats must be 3 positive integers (units in stage2..stage4), got ${JSON.stringify(repeats)}`);
    if (!positiveInts(widths, 5)) throw new Error(`ShuffleNetV2: stagesOutChannels must be 5 positive integers (conv1, stage2..stage4, conv5), got ${JSON.stringify(widths)}`);
    if (widths.slice(1, 4).some((w) => w % 2)) throw new Error(`ShuffleNetV2: the stage widths in stagesOutChannels must be even (each unit joins two halves), got ${JSON.stringify(widths)}`);
    const numClasses = opts.numClasses ?? 1000;
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`ShuffleNetV2: numClasses must be a positive integer, got ${numClasses}`);

    this.conv1 = this.module('conv1', new Sequential(new Conv2d(opts.inChannels ?? 3, widths[0], 3, { stride: 2, padding: 1, bias: false }), new BatchNorm2d(widths[0]), new ReLU()));
    this.maxpool = this.module('maxpool', new MaxPool2d(3, { stride: 2, padding: 1 }));
    let channels = widths[0];
    this.stages = repeats.map((n, i) => {
      const outC = widths[i + 1];
      const units = [new ShuffleUnit(channels, outC, 2)];
      for (let j = 1; j < n; j++) units.push(new ShuffleUnit(outC, outC, 1));
      channels = outC;
      return this.module(`stage${i + 2}`, new Sequential(...units));
    });
    this.conv5 = this.module('conv5', new Sequential(pointwise(channels, widths[4]), new BatchNorm2d(widths[4]), new ReLU()));
    this.fc = this.module('fc', new Linear(widths[4], numClasses));
  }

  forward(x: Tensor): Tensor {
    let y = this.maxpool.forward(this.conv1.forward(x));
    for (const stage of this.stages) y = stage.forward(y);
    return this.fc.forward(ops.flatten(ops.globalAvgPool2d(this.conv5.forward(y)), 1));
  }
}

const SHUFFLENET_V2_WIDTHS: Record<string, { widths: [number, number, number, number, number]; resizeSize: number }> = {
  x0_5: { widths: [24, 48, 96, 192, 1024], resizeSize: 256 },
  x1_0: { widths: [24, 116, 232, 464, 1024], resizeSize: 256 },
  x1_5: { widths: [24, 176, 352, 704, 1024], resizeSize: 232 },
  x2_0: { widths: [24, 244, 488, 976, 2048], resizeSize: 232 },
};

const OPTION_NAMES = ['numClasses', 'inChannels', 'stagesRepeats', 'stagesOutChannels'];

function shuffleNetOptions(model: string, opts: Record<string, unknown>): ShuffleNetV2Options {
  const unknown = Object.keys(opts).filter((k) => !OPTION_NAMES.includes(k));
  if (unknown.length) throw new Error(`${model}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; ShuffleNetV2 options are ${OPTION_NAMES.join(', ')}`);
  return opts as ShuffleNetV2Options;
}

for (const [size, { widths, resizeSize }] of Object.entries(SHUFFLENET_V2_WIDTHS)) {
  registerModel({
    name: `shufflenet_v2_${size}`,
    description: `ShuffleNetV2 ${size.replace('_', '.').slice(1)}x (channel split and shuffle, stages ${widths.slice(1, 4).join('/')}), torchvision layout`,
    family: 'shufflenet',
    inputShape: [3, 224, 224],
    numClasses: 1000,
    preprocessing: { resizeSize, cropSize: 224, interpolation: 'bilinear', mean: IMAGENET_MEAN, std: IMAGENET_STD },
    classifier: ['fc.'],
    weightsSource: `torchvision.models.shufflenet_v2_${size} (IMAGENET1K_V1)`,
    create: (o) => {
      const opts = shuffleNetOptions(`shufflenet_v2_${size}`, o);
      return new ShuffleNetV2({ ...opts, stagesRepeats: opts.stagesRepeats ?? [4, 8, 4], stagesOutChannels: opts.stagesOutChannels ?? widths });
    },
  });
}
