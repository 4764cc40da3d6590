export * from './registry.js';
export * from './canonical-cnn.js';
export * from './resnet-cifar.js';
export * from './efficientnet.js';
export * from './resnet.js';
export * from './regnet.js';
