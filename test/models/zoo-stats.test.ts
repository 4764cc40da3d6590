import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { listModels, modelInfo } from '../../src/index.js';
import { formatZooStats, measureZooModel, readZooStats, ZOO_STATS_FILE, type ZooStats } from '../../src/models/zoo-stats.js';

const stats = readZooStats();
const regenerate = (names: string[]) => `regenerate with: npx tsx scripts/zoo-stats.ts ${names.join(' ')}`;

/**
 * Multiply-accumulates of the conv and linear layers and parameter counts of torchvision 0.14's
 * models at their published input sizes (forward hooks on Conv2d/Linear, batch 1). torchvision's
 * tables publish the same counts as "GFLOPS": resnet50 4.09, mobilenet_v2 0.30, efficientnet_b7 37.75.
 */
const TORCHVISION: Record<string, { size: number; macs: number; params: number }> = {
  resnet18: { size: 224, macs: 1_814_073_344, params: 11_689_512 },
  resnet34: { size: 224, macs: 3_663_761_408, params: 21_797_672 },
  resnet50: { size: 224, macs: 4_089_184_256, params: 25_557_032 },
  resnet101: { size: 224, macs: 7_801_405_440, params: 44_549_160 },
  resnet152: { size: 224, macs: 11_513_626_624, params: 60_192_808 },
  resnext50_32x4d: { size: 224, macs: 4_230_479_872, params: 25_028_904 },
  resnext101_32x8d: { size: 224, macs: 16_414_015_488, params: 88_791_336 },
  resnext101_64x4d: { size: 224, macs: 15_460_270_080, params: 83_455_272 },
  wide_resnet50_2: { size: 224, macs: 11_398_021_120, params: 68_883_240 },
  wide_resnet101_2: { size: 224, macs: 22_753_050_624, params: 126_886_696 },
  mobilenet_v2: { size: 224, macs: 300_774_272, params: 3_504_872 },
  mobilenet_v3_large: { size: 224, macs: 216_589_760, params: 5_483_032 },
  mobilenet_v3_small: { size: 224, macs: 56_510_400, params: 2_542_856 },
  shufflenet_v2_x0_5: { size: 224, macs: 40_476_448, params: 1_366_792 },
  shufflenet_v2_x1_0: { size: 224, macs: 144_907_992, params: 2_278_604 },
  shufflenet_v2_x1_5: { size: 224, macs: 295_759_392, params: 3_503_624 },
  shufflenet_v2_x2_0: { size: 224, macs: 583_253_464, params: 7_393_996 },
  regnet_x_400mf: { size: 224, macs: 413_812_608, params: 5_495_976 },
  regnet_x_800mf: { size: 224, macs: 799_699_712, params: 7_259_656 },
  regnet_x_1_6gf: { size: 224, macs: 1_602_849_792, params: 9_190_136 },
  regnet_x_3_2gf: { size: 224, macs: 3_176_621_952, params: 15_296_552 },
  regnet_x_8gf: { size: 224, macs: 7_995_132_416, params: 39_572_648 },
  regnet_x_16gf: { size: 224, macs: 15_940_755_456, params: 54_278_536 },
  regnet_x_32gf: { size: 224, macs: 31_735_929_792, params: 107_811_560 },
  regnet_y_400mf: { size: 224, macs: 401_842_848, params: 4_344_144 },
  regnet_y_800mf: { size: 224, macs: 833_856_256, params: 6_432_512 },
  regnet_y_1_6gf: { size: 224, macs: 1_612_076_160, params: 11_202_430 },
  regnet_y_3_2gf: { size: 224, macs: 3_176_482_752, params: 19_436_338 },
  regnet_y_8gf: { size: 224, macs: 8_473_070_592, params: 39_381_472 },
  regnet_y_16gf: { size: 224, macs: 15_911_510_272, params: 83_590_140 },
  regnet_y_32gf: { size: 224, macs: 32_279_552_832, params: 145_046_770 },
  convnext_tiny: { size: 224, macs: 4_455_531_264, params: 28_589_128 },
  convnext_small: { size: 224, macs: 8_683_712_256, params: 50_223_688 },
  convnext_base: { size: 224, macs: 15_354_729_472, params: 88_591_464 },
  convnext_large: { size: 224, macs: 34_361_433_600, params: 197_767_336 },
  efficientnet_b0: { size: 224, macs: 385_814_752, params: 5_288_548 },
  efficientnet_b1: { size: 240, macs: 686_802_832, params: 7_794_184 },
  efficientnet_b2: { size: 288, macs: 1_087_529_456, params: 9_109_994 },
  efficientnet_b3: { size: 300, macs: 1_827_141_392, params: 12_233_232 },
  efficientnet_b4: { size: 380, macs: 4_393_771_024, params: 19_341_616 },
  efficientnet_b5: { size: 456, macs: 10_266_384_752, params: 30_389_784 },
  efficientnet_b6: { size: 528, macs: 19_067_593_536, params: 43_040_704 },
  efficientnet_b7: { size: 600, macs: 37_745_884_192, params: 66_347_960 },
  efficientnet_v2_s: { size: 384, macs: 8_365_617_152, params: 21_458_488 },
  efficientnet_v2_m: { size: 480, macs: 24_582_460_384, params: 54_139_356 },
  efficientnet_v2_l: { size: 480, macs: 56_079_699_008, params: 118_515_272 },
};

/** Models cheap enough to rebuild here: CIFAR-sized inputs or under 0.1 GMACs. */
const small = listModels().filter((name) => {
  const [, h, w] = modelInfo(name).inputShape;
  return h * w <= 64 * 64 || (stats[name] !== undefined && stats[name].macs < 1e8 && stats[name].params < 5e6);
});

test('zoo-stats.json is up to date for the small models', () => {
  const missing = small.filter((name) => !stats[name]);
  assert.deepEqual(missing, [], `not in src/models/zoo-stats.json; ${regenerate(missing)}`);
  const stale = small.filter((name) => JSON.stringify(measureZooModel(name)) !== JSON.stringify(stats[name]));
  assert.deepEqual(stale, [], `src/models/zoo-stats.json is out of date; ${regenerate(stale)}`);
});

test('zoo-stats.json matches torchvision for every model in both', () => {
  const compared = Object.keys(TORCHVISION).filter((name) => stats[name]);
  for (const name of compared) {
    const ref = TORCHVISION[name];
    assert.deepEqual(stats[name], { input: [1, 3, ref.size, ref.size], params: ref.params, macs: ref.macs }, name);
  }
});

test('zoo-stats.json is in the generator\'s own format', () => {
  const text = readFileSync(ZOO_STATS_FILE, 'utf8');
  const { models } = JSON.parse(text) as { models: ZooStats };
  assert.equal(text, formatZooStats(models), 'hand-edited? regenerate with: npx tsx scripts/zoo-stats.ts');
});
