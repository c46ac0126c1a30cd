import { Command } from 'commander';
import { type InspectReport, inspect } from '../src/onnx/inspect.js';
import { formatShape } from '../src/onnx/signature.js';
import { formatBytes, keyValues, table } from '../src/report/format.js';
import { action } from './action.js';
import type { Context } from './context.js';

export const inspectCommand = new Command('inspect')
  .description('show what an ONNX model is: I/O, opsets, ops, parameters, external data')
  .argument('<model>', 'ONNX model file')
  .addHelpText('after', '\nExamples:\n  tdeploy inspect model.onnx\n  tdeploy inspect model.onnx --json | jq .inputs')
  .action(action(async (model: string, _raw: Record<string, unknown>, ctx: Context) => {
    ctx.render(await inspect(model), inspectText);
  }));

function inspectText(r: InspectReport): string {
  const io = (kind: string, list: InspectReport['inputs']) =>
    list.map((t) => [kind, t.name, t.container ? `${t.container}<${t.dtype}>` : t.dtype, formatShape(t.shape)]);
  return [
    keyValues([
      ['model', r.path],
      ['size', `${formatBytes(r.sizeBytes)}${r.externalData ? ' (with external data)' : ''}`],
      ['IR version', r.irVersion],
      ['producer', `${r.producer.name} ${r.producer.version}`.trim() || '-'],
      ['opsets', Object.entries(r.opsets).map(([d, v]) => `${d} ${v}`).join(', ')],
      ['nodes', r.nodes],
      ['parameters', `${r.parameters.toLocaleString('en-US')} (${formatBytes(r.parameterBytes)})`],
      ['weights by dtype', Object.entries(r.dtypes).map(([d, b]) => `${d} ${formatBytes(b)}`).join(', ') || '-'],
    ]),
    table(['', 'name', 'dtype', 'shape'], [...io('input', r.inputs), ...io('output', r.outputs)]),
    table(['op', 'count'], Object.entries(r.ops), ['left', 'right']),
  ].join('\n');
}
