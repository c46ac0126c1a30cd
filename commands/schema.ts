import { Command } from 'commander';
import { configSchema } from '../src/pipeline/config.js';
import { action } from './action.js';
import type { Context } from './context.js';

export const schemaCommand = new Command('schema')
  .description('print the JSON Schema of tdeploy.config.json (for editors)')
  .addHelpText('after', '\nExample:\n  tdeploy schema > tdeploy.schema.json')
  .action(action(async (_raw: Record<string, unknown>, _ctx: Context) => {
    process.stdout.write(`${JSON.stringify(configSchema(), null, 2)}\n`);
  }));
