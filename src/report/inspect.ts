import type { InspectReport } from '../onnx/inspect.js';
import { formatShape } from '../onnx/signature.js';
import type { ReportDocument } from './document.js';
import { formatBytes, keyValues, table } from './format.js';

export function inspectDocument(report: InspectReport): ReportDocument<InspectReport> {
  return { title: 'tdeploy inspect', data: report, notes: report.notes, text: () => inspectText(report) };
}

/** The human report of `inspect`: what the model is, its tensors, its ops. */
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
      ['nodes', r.subgraphs > 0 ? `${r.nodes} (in the main graph and ${r.subgraphs} subgraphs)` : r.nodes],
      ['parameters', `${r.parameters.toLocaleString('en-US')} (${formatBytes(r.parameterBytes)})`],
      ['weights by dtype', Object.entries(r.dtypes).map(([d, b]) => `${d} ${formatBytes(b)}`).join(', ') || '-'],
    ]),
    table(['', 'name', 'dtype', 'shape'], [...io('input', r.inputs), ...io('output', r.outputs)]),
    table(['op', 'count'], Object.entries(r.ops), ['left', 'right']),
  ].join('\n');
}
