import { formatShape } from '../onnx/signature.js';
import type { ConvertReport } from '../torch/convert.js';
import { checkTable } from './check.js';
import type { ReportDocument } from './document.js';
import { keyValues, table } from './format.js';

export function convertDocument(report: ConvertReport): ReportDocument<ConvertReport> {
  return { title: 'tdeploy convert', data: report, notes: [...report.notes, ...(report.check?.notes ?? [])], text: () => convertText(report) };
}

/** The human report of `convert`: the files written, the versions used, the tensors, and the check against torch. */
export function convertText(r: ConvertReport): string {
  const io = (kind: string, list: ConvertReport['inputs']) => list.map((t) => [kind, t.name, t.dtype, formatShape(t.shape)]);
  return [
    keyValues([
      ['model', r.output],
      ...(r.dataFile ? [['external data', r.dataFile] as [string, string]] : []),
      ['reference', r.reference],
      ['opset', r.opset],
      ['torch', `${r.torch} (${r.python})`],
      ['time', `${r.seconds.toFixed(1)} s`],
    ]),
    table(['', 'name', 'dtype', 'shape'], [...io('input', r.inputs), ...io('output', r.outputs)]),
    ...(r.check ? [`check against torch's outputs:\n${checkTable(r.check)}`] : []),
  ].join('\n');
}
