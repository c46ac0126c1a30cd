import { Command } from 'commander';
import { configSchema } from '../src/pipeline/config.js';
import { action } from './action.js';
import type { Context } from './context.js';

export const schemaCommand = new Command('schema')
  .description('print the JSON Schema of tdeploy.config.json (for editors)')
  .addHelpText('after', '\nExample:\n  tdeploy schema > tdeploy.schema.json')
  .action(action(async (_raw: Record<string, unknown>, ctx: Context) => {
    ctx.render(configSchema(), (schema) => JSON.stringify(schema, null, 2));
  }));
