/**
 * fovea: convolutional neural networks in TypeScript (Node entry: everything, including the
 * file-based data sets and the trainer).
 *
 *   import { tensor, nn, optim, tidy } from 'fovea';
 */
export * from './core.js';
export * as data from './data/index.js';
export * as train from './train/index.js';
