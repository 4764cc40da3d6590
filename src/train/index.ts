export * from './trainer.js';
export * from './evaluate.js';
export * from './checkpoint.js';
export * from './progress.js';
