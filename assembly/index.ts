// fovea's WebAssembly kernels (AssemblyScript, 128-bit SIMD). Conventions, so that the same
// module can run on several threads over one shared memory:
// - every buffer is passed as a byte address chosen by the JavaScript side; kernels never
//   allocate and the module has no static data (data segments would be re-applied by every
//   instance that shares the memory);
// - scratch space a kernel needs is passed in as an address too (one region per thread);
// - f32 only: float64 stays on the TypeScript reference kernels.
export * from './elementwise';
export * from './gemm';
export * from './conv';
export * from './depthwise';
export * from './pool';
export * from './norm';
export * from './activation';
