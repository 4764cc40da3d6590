/** What initWebGPU() reports, in types free of the WebGPU declarations (public API). */

/** Optional adapter features fovea asks for when the adapter has them. */
export interface WebGPUFeatures {
  shaderF16: boolean;
  subgroups: boolean;
  timestampQuery: boolean;
}

/** What initWebGPU() found: the adapter's description and the optional features in use. */
export interface WebGPUInfo {
  adapter: string;
  features: WebGPUFeatures;
}
