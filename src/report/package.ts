import type { PackageResult, TensorRow } from '../triton/package.js';
import type { VerifyReport } from '../triton/verify.js';
import type { ReportDocument } from './document.js';
import { keyValues, table } from './format.js';

const dims = (t: TensorRow) => `[${t.dims.join(', ')}]`;

export function packageDocument(report: PackageResult): ReportDocument<PackageResult> {
  return { title: 'tdeploy package', data: report, notes: report.notes, text: () => packageText(report) };
}

export function verifyDocument(report: VerifyReport): ReportDocument<VerifyReport> {
  return { title: 'tdeploy package: repository verification', data: report, notes: report.notes, text: () => verifyText(report) };
}

/** The human report of `package`: the repository, each model's tensors, the files written. */
export function packageText(r: PackageResult): string {
  const rows = r.models.flatMap((m) => [
    ...m.inputs.map((t) => [m.name, 'input', t.name, t.dataType, dims(t)]),
    ...m.outputs.map((t) => [m.name, 'output', t.name, t.dataType, dims(t)]),
  ]);
  return [
    keyValues([
      ['repository', r.repository],
      ['version', r.version],
      ...r.models.map((m): [string, string] => [m.name, `${m.role}, ${m.platform}, max_batch_size ${m.maxBatchSize}`]),
      ...(r.replaced.length ? [['replaced', r.replaced.join(', ')] as [string, string]] : []),
      ['triton', `${r.triton.release}${r.triton.byDefault ? ' (the newest known)' : ''}: onnxruntime ${r.triton.onnxruntime ?? 'not found'}, TensorRT ${r.triton.tensorrt ?? 'not found'}, Python ${r.triton.python ?? 'not found'}`],
      ['serve', r.triton.docker],
    ]),
    table(['model', '', 'tensor', 'data_type', 'dims'], rows),
    'files:',
    ...r.files.map((f) => `  ${f}`),
  ].join('\n');
}

/** The human report of verifying a repository: passed, or every problem by model, file and field. */
export function verifyText(r: VerifyReport): string {
  const problems = r.models.flatMap((m) => m.problems.map((p) => [m.name, p.file, p.field || '-', p.message]));
  const names = r.models.map((m) => m.name).join(', ');
  if (problems.length === 0) return `passed: ${r.models.length} model${r.models.length === 1 ? '' : 's'} (${names})`;
  return table(['model', 'file', 'field', 'problem'], problems);
}
