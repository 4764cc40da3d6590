import type { Module, StateDict } from '../nn/module.js';
import { loadPretrained, readStateDict, reinitialise, type PretrainedReport } from './pretrained.js';
import { withoutRandomInit } from '../ops/creation.js';

/** How an image becomes the model's input, as torchvision's weight transforms do it. */
export interface Preprocessing {
  /** The shorter side is resized to this many pixels, then the centre is cropped. */
  resizeSize: number;
  cropSize: number;
  interpolation: 'bilinear' | 'bicubic' | 'nearest';
  mean: [number, number, number];
  std: [number, number, number];
}

export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

export interface ModelOptions {
  numClasses?: number;
  inChannels?: number;
  /**
   * Weights to load: a safetensors path (Node), safetensors bytes, or a state dict. When
   * `numClasses` differs from the file's head, everything but the classifier is loaded.
   */
  weights?: string | Uint8Array | StateDict;
  /** Where the head-replacement notice goes (default console.warn). */
  log?: (message: string) => void;
  [key: string]: unknown;
}

export interface ModelEntry {
  name: string;
  description: string;
  /** Family the model belongs to ('resnet', 'mobilenet', ...). */
  family?: string;
  /** Default input [C, H, W] the model is described and summarised at. */
  inputShape: [number, number, number];
  /** Classes of the default head (1000 for the ImageNet zoo). */
  numClasses?: number;
  /** The image transform of the reference weights, used by `fovea predict`. */
  preprocessing?: Preprocessing;
  /** State-dict key prefixes of the classification head, e.g. ['fc.'] or ['classifier.1.']. */
  classifier?: string[];
  /** Where weights with these exact key names come from, e.g. 'torchvision.models.resnet50'. */
  weightsSource?: string;
  create(opts: ModelOptions): Module;
}

const models = new Map<string, ModelEntry>();

export function registerModel(entry: ModelEntry): void {
  models.set(entry.name, entry);
}

/**
 * Builds a model of the zoo by name: `createModel('resnet50', { weights: 'resnet50.safetensors' })`
 * or `createModel('canonical-cnn', { numClasses: 10, inChannels: 1 })`.
 */
export function createModel(name: string, opts: ModelOptions = {}): Module {
  const entry = modelInfo(name);
  const { weights, log, ...rest } = opts;
  if (weights === undefined) return entry.create(rest);
  const state = readStateDict(weights);
  const ownState = !(weights instanceof Map);
  // Every parameter is overwritten by the weights (a replaced head is initialised afresh below).
  const model = withoutRandomInit(() => entry.create(rest));
  try {
    const report: PretrainedReport = loadPretrained(model, state, { classifier: entry.classifier ?? [], model: name, transfer: ownState });
    if (report.replacedHead.length) {
      reinitialise(model, report.replacedHead);
      (log ?? console.warn)(`${name}: classifier ${report.replacedHead.join(', ')} not loaded (${report.reason}); it keeps its fresh initialisation for ${opts.numClasses} classes`);
    }
  } finally {
    if (ownState) for (const t of state.values()) t.dispose();
  }
  return model;
}

export function listModels(): string[] {
  return [...models.keys()].sort();
}

export function modelInfo(name: string): ModelEntry {
  const entry = models.get(name);
  if (!entry) throw new Error(`unknown model '${name}'; available: ${listModels().join(', ')}`);
  return entry;
}
