/**
 * fovea for browsers: the same API as the Node entry without the file-based data sets and the
 * trainer. Call `await initThreads()` (or `initWasm()`) once before the first operation; it
 * fetches the WebAssembly kernels (build/*.wasm next to this package) and, on
 * cross-origin-isolated pages, starts Web Workers over shared memory.
 *
 *   import { initThreads, createModel, tensor } from 'fovea';   // resolves here in bundlers
 */
export * from './core.js';
