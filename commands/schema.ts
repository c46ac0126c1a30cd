import { Command } from 'commander';
import { configSchema } from '../src/pipeline/config.js';
import { action } from './action.js';
import { CATALOG } from './catalog.js';
import type { Context } from './context.js';

export const schemaCommand = new Command('schema')
  .description(CATALOG.schema.summary)
  .addHelpText('after', '\nExample:\n  tdeploy schema > tdeploy.schema.json')
  .action(action(async (_raw: Record<string, unknown>, ctx: Context) => {
    // The document is the schema itself, so that `tdeploy schema > tdeploy.schema.json` writes a schema file.
    ctx.render(configSchema(), (schema) => ({ title: 'tdeploy schema', data: schema, notes: [], text: () => JSON.stringify(schema, null, 2) }));
  }));
