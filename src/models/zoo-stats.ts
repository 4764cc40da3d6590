import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createModel, listModels, modelInfo } from './registry.js';
import { summarize } from './summary.js';

/** Size and cost of one zoo model with its default options, at batch 1 and its default input. */
export interface ZooStatsEntry {
  input: number[];
  params: number;
  macs: number;
}

export type ZooStats = Record<string, ZooStatsEntry>;

/**
 * This module's own path (the bundle's, once bundled), or null where neither ESM nor CJS says:
 * a CommonJS bundle has an empty import.meta (esbuild makes it `{}`) but has __filename.
 */
function ownFile(): string | null {
  let meta: URL | null = null;
  try {
    meta = new URL(import.meta.url);
  } catch {
    // empty import.meta.url
  }
  if (meta?.protocol === 'file:') return fileURLToPath(meta);
  return typeof __filename === 'string' ? __filename : null;
}

const NAME = 'zoo-stats.json';

/**
 * Where `scripts/zoo-stats.ts` writes the table. Resolved through src/ from both src/models and
 * dist/models: tsc does not copy JSON into dist, and the package ships src/. Plain path
 * arithmetic on this module's file, so that loading never throws; inside a bundle it names no
 * real file, and readZooStats() looks further (zooStatsSearchPaths).
 */
export const ZOO_STATS_FILE = join(dirname(ownFile() ?? join(process.cwd(), 'src', 'models', 'noop.js')), '..', '..', 'src', 'models', NAME);

/** The root of the `fovea` package that Node resolves from `from` (a file path), or null. */
function installedPackage(from: string): string | null {
  let dir: string;
  try {
    dir = dirname(createRequire(from).resolve('fovea'));
  } catch {
    return null; // not installed there (or no built entry point)
  }
  for (let up = 0; up < 4; up++, dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (!existsSync(pkg)) continue;
    try {
      return (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'fovea' ? dir : null;
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * Where readZooStats() looks for the table, in order: beside the sources (ZOO_STATS_FILE), next
 * to this file (next to the bundle, once bundled), and src/models/ of the `fovea` package that
 * Node resolves from this file and then from the working directory. Each entry is [path, where
 * it came from]. Computed when the table is read, not when this module loads.
 */
export function zooStatsSearchPaths(): [string, string][] {
  const out: [string, string][] = [];
  const add = (p: string, why: string): void => {
    if (!out.some(([q]) => q === p)) out.push([p, why]);
  };
  add(ZOO_STATS_FILE, 'beside the sources');
  const own = ownFile();
  if (own) add(join(dirname(own), NAME), 'next to the bundle');
  for (const from of [own, join(process.cwd(), 'noop.js')]) {
    const pkg = from ? installedPackage(from) : null;
    if (pkg) add(join(pkg, 'src', 'models', NAME), 'installed fovea package');
  }
  return out;
}

/**
 * The table's file: the first of zooStatsSearchPaths() that exists; ZOO_STATS_FILE when none
 * does but this module runs from fovea's own sources (an unbuilt checkout, where the table is
 * yet to be generated); otherwise (a bundle without it) an error naming every path tried and
 * what to do.
 */
export function zooStatsFile(): string {
  const tried = zooStatsSearchPaths();
  const found = tried.find(([p]) => existsSync(p));
  if (found) return found[0];
  if (existsSync(join(dirname(ZOO_STATS_FILE), 'zoo-stats.ts'))) return ZOO_STATS_FILE;
  const list = tried.map(([p, why]) => `\n  ${p} (${why})`).join('');
  throw new Error(
    `fovea: the model zoo table ${NAME} was not found; looked in:${list}\n` +
      `To fix: copy node_modules/fovea/src/models/${NAME} (or src/models/${NAME} of a fovea checkout) next to your bundle, ` +
      "or install fovea in node_modules of the bundle's folder or of the working directory.",
  );
}

/** Builds `name` once and measures it with `summarize` (one real forward; seconds for the large models). */
export function measureZooModel(name: string): ZooStatsEntry {
  const input = [1, ...modelInfo(name).inputShape];
  const model = createModel(name);
  try {
    const { totals } = summarize(model, input);
    return { input, params: totals.params, macs: totals.macs };
  } finally {
    model.dispose();
  }
}

/**
 * The generated table (from `file`, else from zooStatsFile(), which throws when a bundle has
 * none in reach), or {} when it is missing (an unbuilt checkout). Entries measured at a
 * different input than the model's current default are dropped as stale.
 */
export function readZooStats(file = zooStatsFile()): ZooStats {
  if (!existsSync(file)) return {};
  const { models } = JSON.parse(readFileSync(file, 'utf8')) as { models?: ZooStats };
  const registered = new Set(listModels());
  const fresh: ZooStats = {};
  for (const [name, entry] of Object.entries(models ?? {})) {
    if (!registered.has(name)) continue;
    if (entry.input.join('x') === [1, ...modelInfo(name).inputShape].join('x')) fresh[name] = entry;
  }
  return fresh;
}

/** The file's text: one line per model so that regenerating gives small diffs. */
export function formatZooStats(stats: ZooStats): string {
  const lines = Object.keys(stats)
    .sort()
    .map((name) => `    ${JSON.stringify(name)}: ${JSON.stringify(stats[name])}`);
  const note = 'Generated by `npx tsx scripts/zoo-stats.ts`: parameters and multiply-accumulates of each registered model with its default options at batch 1 and its default input. Do not edit by hand.';
  return `{\n  "note": ${JSON.stringify(note)},\n  "models": {\n${lines.join(',\n')}\n  }\n}\n`;
}
