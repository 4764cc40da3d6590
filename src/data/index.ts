export * from './dataset.js';
export * from './idx.js';
export * from './fashion-mnist.js';
export * from './synthetic.js';

import type { Split } from './dataset.js';
import { loadFashionMnist } from './fashion-mnist.js';
import { makeShapesDataset } from './synthetic.js';

/** The data sets `loadDataset` knows. */
export const DATASETS = ['fashion-mnist', 'shapes'] as const;
export type DatasetName = (typeof DATASETS)[number];

export function isDatasetName(name: string): name is DatasetName {
  return (DATASETS as readonly string[]).includes(name);
}

export interface LoadDatasetOptions {
  /** Directory with the data files (fashion-mnist). */
  dir?: string;
  /** Generation seed (shapes). */
  seed?: number;
}

/** Loads a data set by name; an unknown name is an error listing the known ones. */
export async function loadDataset(name: DatasetName, opts: LoadDatasetOptions = {}): Promise<Split> {
  switch (name) {
    case 'fashion-mnist':
      return loadFashionMnist({ dir: opts.dir });
    case 'shapes':
      return makeShapesDataset({ seed: opts.seed });
    default:
      throw new Error(`Unknown data set "${String(name)}"; known data sets: ${DATASETS.join(', ')}`);
  }
}
