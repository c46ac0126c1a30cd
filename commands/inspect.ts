import { Command } from 'commander';
import { inspect } from '../src/onnx/inspect.js';
import { inspectDocument } from '../src/report/inspect.js';
import { action } from './action.js';
import { CATALOG } from './catalog.js';
import type { Context } from './context.js';

export const inspectCommand = new Command('inspect')
  .description(CATALOG.inspect.summary)
  .argument('<model>', 'ONNX model file')
  .addHelpText('after', '\nExamples:\n  tdeploy inspect model.onnx\n  tdeploy inspect model.onnx --json | jq .inputs')
  .action(action(async (model: string, _raw: Record<string, unknown>, ctx: Context) => {
    ctx.render(await inspect(model), inspectDocument);
  }));
