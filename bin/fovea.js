#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

main(process.argv).catch((error) => {
  process.stderr.write(`fovea: ${error instanceof Error ? error.message : String(error)}\n`);
  if (process.env.FOVEA_DEBUG) console.error(error);
  process.exit(1);
});
