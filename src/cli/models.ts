import type { Command } from 'commander';
import { createModel, listModels, modelInfo } from '../models/registry.js';
import { readZooStats } from '../models/zoo-stats.js';
import { formatCompact, formatShape, formatTable } from './table.js';

/** Where the command writes; main.ts's io object fits. */
export interface ModelsOutput {
  out(text: string): void;
}

interface ZooRow {
  name: string;
  family: string | null;
  params: number;
  /** null when the model is not in src/models/zoo-stats.json yet. */
  macs: number | null;
  input: number[];
  description: string;
}

/**
 * One row per registered model. Params and MACs come from the generated zoo-stats.json; a model
 * missing there is built to count its parameters (its MACs stay unknown until regenerated).
 */
function zooRows(): ZooRow[] {
  const stats = readZooStats();
  return listModels().map((name) => {
    const info = modelInfo(name);
    const input = [1, ...info.inputShape];
    let params = stats[name]?.params;
    if (params === undefined) {
      const model = createModel(name);
      params = model.numParameters();
      model.dispose();
    }
    return { name, family: info.family ?? null, params, macs: stats[name]?.macs ?? null, input, description: info.description };
  });
}

/** 3 significant digits, as the published tables: 4.09, 0.301, 34.4. */
function gmacs(macs: number | null): string {
  return macs === null ? '?' : Number((macs / 1e9).toPrecision(3)).toString();
}

/** Adds `fovea models`: the zoo with parameter counts and MACs at each model's default input. */
export function registerModelsCommand(program: Command, io: ModelsOutput): void {
  program
    .command('models')
    .description('list the model zoo: family, parameters, GMACs at the default input (`fovea summary` explains MACs)')
    .option('--json', 'print one JSON object per line instead of the table', false)
    .action((flags: { json: boolean }) => {
      const rows = zooRows();
      if (flags.json) {
        for (const r of rows) io.out(`${JSON.stringify(r)}\n`);
        return;
      }
      const cells = rows.map((r) => [r.name, r.family ?? '-', formatCompact(r.params), gmacs(r.macs), formatShape(r.input.slice(1)), r.description]);
      io.out(formatTable(['model', 'family', 'params', 'GMACs', 'input', 'description'], cells, ['left', 'left', 'right', 'right', 'left', 'left']));
      if (rows.some((r) => r.macs === null)) io.out('\nGMACs ? : not in src/models/zoo-stats.json yet; regenerate it with `npx tsx scripts/zoo-stats.ts`.\n');
    });
}
