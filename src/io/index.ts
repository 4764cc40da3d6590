export * from './safetensors.js';
export * from './atomic-file.js';
export * from './state-dict.js';
export * from './npy.js';
