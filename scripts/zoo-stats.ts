/**
 * Writes src/models/zoo-stats.json: parameters and MACs of every registered model (default
 * options, batch 1, default input), which `fovea models` lists without building the models.
 *
 *   npx tsx scripts/zoo-stats.ts                 # every model (minutes: each runs one forward)
 *   npx tsx scripts/zoo-stats.ts resnet50 ...    # only these, keeping the other entries
 */
import { writeFileSync } from 'node:fs';
import { listModels } from '../src/index.js';
import { formatZooStats, measureZooModel, readZooStats, ZOO_STATS_FILE, type ZooStats } from '../src/models/zoo-stats.js';

const requested = process.argv.slice(2);
const unknown = requested.filter((name) => !listModels().includes(name));
if (unknown.length) {
  process.stderr.write(`zoo-stats: unknown model(s) ${unknown.join(', ')}; registered: ${listModels().join(', ')}\n`);
  process.exit(1);
}

// Starts from the current file (stale and unregistered entries dropped) so that an interrupted
// run keeps what is there.
const stats: ZooStats = readZooStats();
for (const name of requested.length ? requested : listModels()) {
  const t0 = performance.now();
  stats[name] = measureZooModel(name);
  const { params, macs } = stats[name];
  process.stderr.write(`${name.padEnd(22)} ${(params / 1e6).toFixed(2).padStart(7)} M params ${(macs / 1e9).toFixed(3).padStart(8)} GMACs  ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  writeFileSync(ZOO_STATS_FILE, formatZooStats(stats));
}
