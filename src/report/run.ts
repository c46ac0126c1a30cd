import path from 'node:path';
import type { RunReport } from '../pipeline/run.js';
import { formatBytes, formatCosine, formatNumber, table } from './format.js';

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
      a.accuracy ? (a.accuracy.passed ? 'pass' : 'FAIL') : '-',
      a.accuracy?.minCosine == null ? '-' : formatCosine(a.accuracy.minCosine),
      a.accuracy ? formatNumber(a.accuracy.maxAbsError) : '-',
      a.p50Ms,
      a.speedup === null ? '-' : `${a.speedup.toFixed(2)}x`,
    ]),
  );
  const lines = [steps, artifacts];
  if (r.outputs.repository) lines.push(`Triton repository: ${rel(r.outputs.repository)}  (tdeploy package --verify ${rel(r.outputs.repository)})`);
  lines.push(r.passed ? 'pipeline passed' : `pipeline stopped: the ${r.failedStep} step failed`);
  return lines.join('\n');
}
