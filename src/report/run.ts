import path from 'node:path';
import type { RunReport } from '../pipeline/run.js';
import type { ReportDocument } from './document.js';
import { formatBytes, formatCosine, formatNumber, table } from './format.js';

export function runDocument(report: RunReport): ReportDocument<RunReport> {
  return { title: 'tdeploy run', data: report, notes: report.notes, text: () => runTable(report), brief: () => runVerdict(report) };
}

/** The human summary of `tdeploy run`: each step, then each artifact with size, accuracy and speed. */
export function runTable(r: RunReport): string {
  const rel = (file: string) => path.relative(process.cwd(), file) || '.';
  const steps = table(['step', 'status', 'seconds', 'note'], r.steps.map((s) => [s.name, s.status, s.seconds, s.reason ?? '']));
  const artifacts = table(
    ['artifact', 'file', 'size', 'vs reference', 'min cosine', 'max abs error', 'p50 ms', 'speed-up'],
    r.artifacts.map((a) => [
      a.name,
      rel(a.path),
      formatBytes(a.sizeBytes),
      verdict(a.accuracy?.passed),
      a.accuracy?.minCosine == null ? '-' : formatCosine(a.accuracy.minCosine),
      a.accuracy ? formatNumber(a.accuracy.maxAbsError) : '-',
      a.p50Ms,
      a.speedup === null ? '-' : `${a.speedup.toFixed(2)}x`,
    ]),
  );
  const lines = [steps, artifacts];
  if (r.outputs.repository) lines.push(`Triton repository: ${rel(r.outputs.repository)} (verified)`);
  lines.push(runVerdict(r));
  return lines.join('\n');
}

const runVerdict = (r: RunReport) => (r.passed ? 'pipeline passed' : `pipeline stopped: the ${r.failedStep} step failed`);

function verdict(passed: boolean | null | undefined): string {
  if (passed === undefined) return '-';
  return passed === null ? 'not judged' : passed ? 'pass' : 'FAIL';
}
