import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildProgram } from '../../src/cli/main.js';
import { nn, registerModel } from '../../src/index.js';

async function run(args: string[]): Promise<string> {
  let out = '';
  await buildProgram({ exitOverride: true, writeOut: (s) => (out += s), writeErr: () => {} }).parseAsync(['node', 'fovea', ...args]);
  return out;
}

// Registered in this test process only: a model that zoo-stats.json has never seen.
registerModel({ name: 'zz-unmeasured', description: 'not in zoo-stats.json', inputShape: [3, 8, 8], create: () => new nn.Linear(3, 2) });

test('fovea models lists name, family, params, GMACs, input and description from zoo-stats.json', async () => {
  const out = await run(['models']);
  const [header, ...lines] = out.split('\n');
  assert.match(header, /^model +family +params +GMACs +input +description$/);
  assert.ok(lines.some((l) => /^canonical-cnn +- +289 k +0\.0386 +3x32x32 +conv-BN-ReLU/.test(l)), out);
  assert.ok(lines.some((l) => /^resnet20-cifar +- +272 k +0\.0408 +3x32x32 +CIFAR-style ResNet-20/.test(l)), out);
});

test('a model missing from zoo-stats.json still lists, with params counted and MACs unknown', async () => {
  const out = await run(['models']);
  assert.match(out, /\nzz-unmeasured +- +8 +\? +3x8x8 +not in zoo-stats\.json\n/);
  assert.match(out, /GMACs \? : not in src\/models\/zoo-stats\.json yet; regenerate it with `npx tsx scripts\/zoo-stats\.ts`/);
  const rows = (await run(['models', '--json'])).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rows.find((r) => r.name === 'zz-unmeasured'), { name: 'zz-unmeasured', family: null, params: 8, macs: null, input: [1, 3, 8, 8], description: 'not in zoo-stats.json' });
  assert.deepEqual(rows.find((r) => r.name === 'resnet8-cifar'), { name: 'resnet8-cifar', family: null, params: 78_042, macs: 12_501_632, input: [1, 3, 32, 32], description: 'CIFAR-style ResNet-8 (3 stages of basic blocks, 16/32/64 channels)' });
});
