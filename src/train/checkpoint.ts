import { mkdir, readFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Module } from '../nn/module.js';
import type { Optimizer } from '../optim/optimizer.js';
import { loadSafetensors, saveSafetensors } from '../io/state-dict.js';
import { writeJsonAtomic } from '../io/atomic-file.js';
import type { ModelOptions } from '../models/registry.js';

/** What config.json records: enough to rebuild the model and continue training. */
export interface CheckpointConfig {
  format: 'fovea-checkpoint';
  version: 1;
  model: string;
  modelOptions: ModelOptions;
  dataset: string;
  /** Epochs completed. */
  epoch: number;
  /** Optimiser steps completed. */
  step: number;
  train: Record<string, unknown>;
  metrics: Record<string, number>;
  createdAt: string;
}

export const MODEL_FILE = 'model.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const CONFIG_FILE = 'config.json';

/**
 * Writes model weights, optimiser state and config.json into `dir`, each file replaced
 * atomically (temp file + fsync + rename). model.safetensors carries the whole config in its
 * metadata and is the source of truth: a crash between files leaves a complete model file of
 * one epoch or the other, never a torn one; config.json is a readable mirror written last.
 */
export async function saveCheckpoint(dir: string, model: Module, optimizer: Optimizer | null, config: CheckpointConfig): Promise<void> {
  await mkdir(dir, { recursive: true });
  await saveSafetensors(join(dir, MODEL_FILE), model.stateDict(), { metadata: { format: 'pt', producer: 'fovea', [CONFIG_METADATA_KEY]: JSON.stringify(config) } });
  if (optimizer) {
    const sd = optimizer.stateDict();
    await saveSafetensors(join(dir, OPTIMIZER_FILE), sd.tensors, { metadata: { stepCount: String(sd.stepCount), lr: String(sd.lr), epoch: String(config.epoch) } });
  }
  await writeJsonAtomic(join(dir, CONFIG_FILE), config);
}

const CONFIG_METADATA_KEY = 'fovea.config';

export async function checkpointExists(dir: string): Promise<boolean> {
  try {
    await access(join(dir, MODEL_FILE));
    return true;
  } catch {
    return false;
  }
}

function parseConfig(text: string, where: string): CheckpointConfig {
  let config: CheckpointConfig;
  try {
    config = JSON.parse(text) as CheckpointConfig;
  } catch (e) {
    throw new Error(`${where} is not valid JSON: ${(e as Error).message}`);
  }
  if (config?.format !== 'fovea-checkpoint') throw new Error(`${where} is not a fovea checkpoint config (format '${String(config?.format)}')`);
  return config;
}

export async function readCheckpointConfig(dir: string): Promise<CheckpointConfig> {
  const path = join(dir, CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new Error(`no checkpoint in ${dir}: ${CONFIG_FILE} is missing (train with --out ${dir} first)`);
  }
  return parseConfig(text, path);
}

/**
 * Loads weights (strict) and, when given, optimiser state from a checkpoint directory.
 * Returns the config stored with the weights. An optimiser file from another epoch (a save
 * interrupted between files) is skipped with a warning: momentum restarts, nothing is lost.
 */
export async function loadCheckpointInto(dir: string, model: Module, optimizer?: Optimizer | null, warn: (m: string) => void = console.warn): Promise<CheckpointConfig> {
  const modelPath = join(dir, MODEL_FILE);
  try {
    await access(modelPath);
  } catch {
    throw new Error(`no checkpoint in ${dir}: ${MODEL_FILE} is missing (train with --out ${dir} first)`);
  }
  const weights = await loadSafetensors(modelPath);
  const embedded = weights.metadata[CONFIG_METADATA_KEY];
  const config = embedded ? parseConfig(embedded, `${modelPath} metadata`) : await readCheckpointConfig(dir);
  model.loadStateDict(weights.tensors);
  for (const t of weights.tensors.values()) t.dispose();
  if (optimizer) {
    const optPath = join(dir, OPTIMIZER_FILE);
    const opt = await loadSafetensors(optPath).catch(() => null);
    if (!opt) warn(`${optPath} is missing: the optimiser state starts fresh`);
    else if (Number(opt.metadata.epoch) !== config.epoch) {
      warn(`${optPath} is from epoch ${opt.metadata.epoch} but the weights are from epoch ${config.epoch} (an interrupted save): the optimiser state starts fresh`);
    } else {
      optimizer.loadStateDict({ tensors: opt.tensors, stepCount: Number(opt.metadata.stepCount ?? config.step), lr: Number(opt.metadata.lr ?? optimizer.lr) });
    }
    for (const t of opt?.tensors.values() ?? []) t.dispose();
  }
  return config;
}
