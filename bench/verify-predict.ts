/**
 * `fovea predict` against PyTorch on a real JPEG: the same full-size model with the same
 * seeded random weights (written by PyTorch, bench/peers/torch_predict.py), each side with its
 * own decoder and preprocessing (PIL + torchvision's weight transform vs fovea's), and prints
 * both top-5 lists, the largest probability difference and MATCH / MISMATCH (exit 1).
 *
 *   npx tsx bench/verify-predict.ts [--model resnet50] [--image test/fixtures/images/cat.jpg] [--seed 0] [--top 5]
 *
 * Needs Debian's python3-torch and python3-torchvision (run by /usr/bin/python3). The weights
 * (~100 MB for resnet50) are cached in .bench-cache/verify-predict/.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { buildProgram } from '../src/cli/main.js';
import { IMAGENET_CLASSES } from '../src/models/imagenet-classes.js';

const { values: opts } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet50' },
    image: { type: 'string', default: 'test/fixtures/images/cat.jpg' },
    seed: { type: 'string', default: '0' },
    top: { type: 'string', default: '5' },
  },
});
const model = opts.model!;
const top = Number(opts.top);
const weights = `.bench-cache/verify-predict/${model}-seed${opts.seed}.safetensors`;

interface Entry {
  index: number;
  probability: number;
}

const torchRun = spawnSync('/usr/bin/python3', ['bench/peers/torch_predict.py', '--model', model, '--image', opts.image!, '--weights', weights, '--seed', opts.seed!, '--top', String(top)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
if (torchRun.status !== 0) {
  console.error(`PyTorch side failed (exit ${torchRun.status}); it needs /usr/bin/python3 with python3-torch and python3-torchvision`);
  process.exit(2);
}
const torch = JSON.parse(torchRun.stdout) as { torch: string; torchvision: string; transform: string; top: Entry[] };

let out = '';
const t0 = performance.now();
await buildProgram({ exitOverride: true, writeOut: (s) => (out += s), writeErr: (s) => process.stderr.write(s) })
  .parseAsync(['node', 'fovea', 'predict', '--model', model, '--weights', weights, '--top', String(top), '--json', opts.image!]);
const seconds = (performance.now() - t0) / 1000;
const fovea = JSON.parse(out) as { preprocessing: unknown; results: { top: Entry[] }[] };
const ours = fovea.results[0].top;

const row = (e: Entry) => `${String(e.index).padStart(4)}  ${(100 * e.probability).toFixed(3).padStart(7)}%  ${IMAGENET_CLASSES[e.index] ?? ''}`;
console.log(`${model}, seeded random weights (seed ${opts.seed}), ${opts.image}`);
console.log(`PyTorch ${torch.torch}, torchvision ${torch.torchvision}: PIL decode + ${torch.transform.replace(/\s+/g, ' ')}`);
console.log(`fovea predict (${seconds.toFixed(1)} s incl. weight load): ${JSON.stringify(fovea.preprocessing)}\n`);
console.log(`rank  ${'PyTorch'.padEnd(40)}  fovea`);
for (let i = 0; i < top; i++) console.log(`${String(i + 1).padStart(4)}  ${row(torch.top[i]).padEnd(40)}  ${row(ours[i])}`);
const sameOrder = torch.top.every((e, i) => e.index === ours[i]?.index);
const maxDiff = Math.max(...torch.top.map((e, i) => Math.abs(e.probability - (ours[i]?.probability ?? 0))));
console.log(`\nlargest probability difference ${maxDiff.toExponential(2)}; top-${top} ${sameOrder ? 'MATCH' : 'MISMATCH'}`);
process.exit(sameOrder ? 0 : 1);
