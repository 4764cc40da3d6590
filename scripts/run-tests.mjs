// Runs every test/**/*.test.ts with node's built-in test runner through tsx.
// Node 20's --test does not expand globs or pick up .ts files itself.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const filter = process.argv.slice(2);
const files = collect('test', []).filter((f) => filter.length === 0 || filter.some((p) => f.includes(p)));
// FOVEA_WEBGPU_CHECK_KEYS: every keyed WebGPU program is checked against its full source.
const env = { ...process.env, FOVEA_WEBGPU_CHECK_KEYS: process.env.FOVEA_WEBGPU_CHECK_KEYS ?? '1' };
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
