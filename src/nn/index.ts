export * from './module.js';
export * from './layers.js';
export * from './blocks.js';
export { convBnAct } from './fused.js';
export * as init from './init.js';
