/**
 * The WebAssembly kernels for a bench entry point bundled with esbuild (bench/gpu/run-h100.sh).
 *
 * src/backends/cpu/wasm/module.ts finds build/*.wasm with `new URL('../../../../build/…',
 * import.meta.url)`, four folders above src/backends/cpu/wasm/. esbuild leaves that expression
 * alone, so inside a bundle at .dev/bench/x.mjs it points outside the repository and the cpu
 * backend would fall back to its TypeScript reference kernels. run-h100.sh copies the builds
 * to .dev/bench/wasm/; this module reads the one this runtime would pick (preferredVariant:
 * shared memory where threads can share it, relaxed SIMD where the engine validates it) from
 * $FOVEA_WASM_DIR, else from `wasm/` beside the bundle, and hands it to initWasm({ bytes }).
 * Under tsx (no such folder) it does nothing and the normal lookup applies.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { initWasm, preferredVariant } from '../../src/backends/cpu/wasm/module.js';

/** Loads the bundled kernel build if there is one; returns a line for the log. */
export async function loadBundledWasm(): Promise<string> {
  const dir = process.env.FOVEA_WASM_DIR ?? fileURLToPath(new URL('./wasm/', import.meta.url));
  if (!existsSync(dir)) return 'wasm kernels: default lookup (build/)';
  const variant = preferredVariant();
  const file = join(dir, `fovea-kernels${variant.shared ? '' : '-single'}${variant.relaxed ? '-relaxed' : ''}.wasm`);
  if (!existsSync(file)) return `wasm kernels: ${file} missing, default lookup (build/)`;
  const k = await initWasm({ bytes: new Uint8Array(readFileSync(file)), variant });
  return k ? `wasm kernels: ${file}` : `wasm kernels: ${file} did not load, reference kernels`;
}
