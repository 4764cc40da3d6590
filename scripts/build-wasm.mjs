// Compiles the AssemblyScript kernels (assembly/) into the four WebAssembly modules the cpu
// backend chooses from at run time (src/backends/cpu/wasm/module.ts):
//   fovea-kernels.wasm                shared memory (worker threads), plain SIMD
//   fovea-kernels-relaxed.wasm        shared memory, relaxed SIMD (fused multiply-add)
//   fovea-kernels-single.wasm         unshared memory (browsers without cross-origin isolation)
//   fovea-kernels-single-relaxed.wasm unshared memory, relaxed SIMD
// Skips the work when every module is newer than every source file (`--force` rebuilds).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import asc from 'assemblyscript/asc';

const config = JSON.parse(readFileSync('assembly/asconfig.json', 'utf8'));
const targets = Object.keys(config.targets);
const outputs = targets.map((t) => join('assembly', config.targets[t].outFile));
const sources = readdirSync('assembly').map((f) => join('assembly', f));
const newestSource = Math.max(...sources.map((f) => statSync(f).mtimeMs));
const mtime = (f) => {
  try {
    return statSync(f).mtimeMs;
  } catch {
    return -Infinity;
  }
};

if (!process.argv.includes('--force') && outputs.every((f) => mtime(f) > newestSource)) {
  console.log('build:wasm: kernels are up to date');
  process.exit(0);
}
for (const target of targets) {
  const t0 = Date.now();
  const { error, stderr } = await asc.main(['assembly/index.ts', '--config', 'assembly/asconfig.json', '--target', target]);
  if (error) {
    console.error(stderr.toString());
    console.error(`build:wasm: target ${target} failed: ${error.message}`);
    process.exit(1);
  }
  console.log(`build:wasm: ${config.targets[target].outFile.replace('../', '')} (${target}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
