import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProgram } from '../../src/cli/main.js';
import { createModel, IMAGENET_MEAN, IMAGENET_STD, registerModel, type Preprocessing } from '../../src/models/index.js';
import { IMAGENET_CLASSES } from '../../src/models/imagenet-classes.js';
import { manualSeed, noGrad } from '../../src/tensor/engine.js';
import { autocast } from '../../src/tensor/autocast.js';
import { tensor } from '../../src/ops/creation.js';
import { softmax } from '../../src/ops/softmax.js';
import { saveSafetensors } from '../../src/io/state-dict.js';
import { parseSafetensors, readSafetensors, toFloat32, writeSafetensors } from '../../src/io/safetensors.js';
import { readNpy, writeNpy } from '../../src/io/npy.js';
import { decodeImage, preprocessImage } from '../../src/image/index.js';
import { readFileSync } from 'node:fs';

const IMAGES = fileURLToPath(new URL('../fixtures/images/', import.meta.url));
const CAT_JPG = join(IMAGES, 'cat.jpg');
const CAT_PNG = join(IMAGES, 'cat.png');

// A stand-in for the ImageNet zoo: a small CNN with a 1000-class head and a zoo-style transform.
const PREPROCESSING: Preprocessing = { resizeSize: 36, cropSize: 32, interpolation: 'bicubic', mean: IMAGENET_MEAN, std: IMAGENET_STD };
registerModel({
  name: 'test-predict-imagenet',
  description: 'canonical-cnn 4-8 with 1000 classes (predict tests)',
  inputShape: [3, 32, 32],
  numClasses: 1000,
  preprocessing: PREPROCESSING,
  classifier: ['classifier.'],
  create: (o) => createModel('canonical-cnn', { widths: [4, 8], numClasses: 1000, ...o }),
});

let dir = '';
let zooWeights = '';
let checkpointWeights = '';

async function run(args: string[]): Promise<{ out: string; err: string }> {
  let out = '';
  let err = '';
  await buildProgram({ exitOverride: true, writeOut: (s) => (out += s), writeErr: (s) => (err += s) }).parseAsync(['node', 'fovea', 'predict', ...args]);
  return { out, err };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fovea-predict-'));
  manualSeed(7);
  zooWeights = join(dir, 'zoo.safetensors');
  await saveSafetensors(zooWeights, createModel('test-predict-imagenet').stateDict());
  // A `fovea train` checkpoint: the options it was built with travel in the metadata.
  const options = { widths: [4, 8], numClasses: 10, inChannels: 3 };
  checkpointWeights = join(dir, 'model.safetensors');
  await saveSafetensors(checkpointWeights, createModel('canonical-cnn', options).stateDict(), {
    metadata: { 'fovea.config': JSON.stringify({ format: 'fovea-checkpoint', model: 'canonical-cnn', modelOptions: options }) },
  });
});
after(() => rm(dir, { recursive: true, force: true }));

test('classifies images with the model\'s own preprocessing and ImageNet labels (--json)', async () => {
  const { out } = await run(['--model', 'test-predict-imagenet', '--weights', zooWeights, '--top', '3', '--json', CAT_JPG, CAT_PNG]);
  const r = JSON.parse(out);
  assert.deepEqual(r.preprocessing, PREPROCESSING);
  assert.deepEqual(r.results.map((x: { image: string }) => x.image), [CAT_JPG, CAT_PNG]);
  const [jpg, png] = r.results;
  assert.equal(jpg.top.length, 3);
  // cat.png holds exactly the pixels cat.jpg decodes to, so the two predictions agree.
  assert.deepEqual(jpg.top, png.top);
  // The same computation done by hand.
  const model = createModel('test-predict-imagenet', { weights: zooWeights }).eval();
  const x = preprocessImage(await decodeImage(readFileSync(CAT_JPG)), PREPROCESSING);
  const p = noGrad(() => softmax(model.call(x), -1)).dataSync() as Float32Array;
  const expected = [...p.keys()].sort((a, b) => p[b] - p[a]).slice(0, 3);
  assert.deepEqual(jpg.top.map((t: { index: number }) => t.index), expected);
  for (const t of jpg.top) {
    assert.equal(t.label, IMAGENET_CLASSES[t.index]);
    assert.equal(t.probability, p[t.index]);
  }
});

test('text output lists rank, probability, label and index per image', async () => {
  const { out } = await run(['--model', 'test-predict-imagenet', '--weights', zooWeights, CAT_JPG]);
  const lines = out.trimEnd().split('\n');
  assert.equal(lines[0], CAT_JPG);
  assert.equal(lines.length, 6);
  assert.match(lines[1], /^ {2}1\. +\d+\.\d\d% {2}\S.* \(\d+\)$/);
});

test('a model without preprocessing takes --size/--mean/--std; labels come from --labels or are indices', async () => {
  const base = ['--model', 'canonical-cnn', '--weights', checkpointWeights];
  await assert.rejects(run([...base, CAT_JPG]), /model 'canonical-cnn' has no image preprocessing of its own: pass --size N \(the crop\), --mean r,g,b and --std r,g,b .* or choose a zoo model \(.*test-predict-imagenet/);
  const flags = [...base, '--size', '32', '--mean', '0.5,0.5,0.5', '--std', '0.25,0.25,0.25', '--top', '10', '--json'];
  const indices = JSON.parse((await run([...flags, CAT_JPG])).out);
  assert.deepEqual(indices.preprocessing, { resizeSize: 32, cropSize: 32, interpolation: 'bilinear', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
  const top = indices.results[0].top;
  assert.deepEqual(top.map((t: { label: string }) => t.label).sort(), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  assert.ok(Math.abs(top.reduce((s: number, t: { probability: number }) => s + t.probability, 0) - 1) < 1e-5);
  const labels = join(dir, 'labels.txt');
  await writeFile(labels, 'zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n');
  const named = JSON.parse((await run([...flags, '--labels', labels, CAT_JPG])).out);
  assert.equal(named.results[0].top[0].label, ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'][top[0].index]);
  await writeFile(labels, 'cat\ndog\n');
  await assert.rejects(run([...flags, '--labels', labels, CAT_JPG]), /labels\.txt has 2 labels but the model has 10 outputs/);
});

test('missing and undecodable images are named', async () => {
  const base = ['--model', 'test-predict-imagenet', '--weights', zooWeights];
  await assert.rejects(run([...base, join(dir, 'nope.jpg')]), /image file not found: .*nope\.jpg/);
  const text = join(dir, 'notes.jpg');
  await writeFile(text, 'not a picture');
  await assert.rejects(run([...base, text]), /notes\.jpg: not a JPEG or PNG file/);
  await assert.rejects(run(base), /no images given/);
  await assert.rejects(run(['--model', 'test-predict-imagenet', '--weights', join(dir, 'missing.safetensors'), CAT_JPG]), /weights file not found: .*missing\.safetensors/);
  await assert.rejects(run(['--model', 'resnet9000', '--weights', zooWeights, CAT_JPG]), /unknown model 'resnet9000'/);
});

test('--input/--output run a raw tensor (.npy and .safetensors) and check its shape', async () => {
  manualSeed(3);
  const shape = [2, 3, 32, 32];
  const data = Float32Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => Math.sin(i));
  const model = createModel('test-predict-imagenet', { weights: zooWeights }).eval();
  const expected = noGrad(() => model.call(tensor(data, shape))).dataSync();

  const npyIn = join(dir, 'x.npy');
  const npyOut = join(dir, 'y.npy');
  await writeNpy(npyIn, data, shape);
  const { out } = await run(['--model', 'test-predict-imagenet', '--weights', zooWeights, '--input', npyIn, '--output', npyOut]);
  assert.match(out, /y\.npy: output \[2, 1000\] from input \[2, 3, 32, 32\]/);
  const y = await readNpy(npyOut);
  assert.deepEqual(y.shape, [2, 1000]);
  assert.deepEqual(y.data, expected);

  // --precision float16: the same forward under autocast (float16-rounded operands).
  await run(['--model', 'test-predict-imagenet', '--weights', zooWeights, '--input', npyIn, '--output', npyOut, '--precision', 'float16']);
  const half = noGrad(() => autocast(() => model.call(tensor(data, shape)))).dataSync();
  assert.deepEqual((await readNpy(npyOut)).data, half);
  assert.notDeepEqual(half, expected);

  const stIn = join(dir, 'x.safetensors');
  const stOut = join(dir, 'y.safetensors');
  await writeSafetensors(stIn, { input: { dtype: 'F32', shape, data } });
  await run(['--model', 'test-predict-imagenet', '--weights', zooWeights, '--input', stIn, '--output', stOut]);
  const ys = (await readSafetensors(stOut)).tensors.get('output')!;
  assert.deepEqual(ys.shape, [2, 1000]);
  assert.deepEqual(toFloat32(ys), expected);

  await writeNpy(npyIn, data.subarray(0, 3 * 32 * 32), [3, 32, 32]);
  await assert.rejects(run(['--model', 'test-predict-imagenet', '--weights', zooWeights, '--input', npyIn, '--output', npyOut]), /x\.npy holds a tensor of shape \[3, 32, 32\]; test-predict-imagenet takes \[N, 3, H, W\] \(e\.g\. \[1, 3, 32, 32\]\)/);
  await writeSafetensors(stIn, { x: { dtype: 'F32', shape, data } });
  await assert.rejects(run(['--model', 'test-predict-imagenet', '--weights', zooWeights, '--input', stIn, '--output', stOut]), /has no tensor named 'input' \(it has: x\)/);
  await assert.rejects(run(['--model', 'test-predict-imagenet', '--weights', zooWeights, '--input', stIn]), /--input and --output go together/);
  assert.ok(parseSafetensors(readFileSync(stOut)).tensors.has('output'));
});
