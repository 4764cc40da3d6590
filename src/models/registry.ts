import type { Module } from '../nn/module.js';

export interface ModelOptions {
  numClasses?: number;
  inChannels?: number;
  [key: string]: unknown;
}

export interface ModelEntry {
  name: string;
  description: string;
  /** Default input [C, H, W] the model is described and summarised at. */
  inputShape: [number, number, number];
  create(opts: ModelOptions): Module;
}

const models = new Map<string, ModelEntry>();

export function registerModel(entry: ModelEntry): void {
  models.set(entry.name, entry);
}

/** Builds a model of the zoo by name: `createModel('canonical-cnn', { numClasses: 10, inChannels: 1 })`. */
export function createModel(name: string, opts: ModelOptions = {}): Module {
  const entry = models.get(name);
  if (!entry) throw new Error(`unknown model '${name}'; available: ${listModels().join(', ')}`);
  return entry.create(opts);
}

export function listModels(): string[] {
  return [...models.keys()].sort();
}

export function modelInfo(name: string): ModelEntry {
  const entry = models.get(name);
  if (!entry) throw new Error(`unknown model '${name}'; available: ${listModels().join(', ')}`);
  return entry;
}
