import type { DoctorReport } from '../doctor/doctor.js';
import type { ReportDocument } from './document.js';
import { keyValues, table } from './format.js';

export function doctorDocument(report: DoctorReport): ReportDocument<DoctorReport> {
  return { title: 'tdeploy doctor', data: report, notes: report.notes, text: () => doctorText(report), brief: () => doctorVerdict(report) };
}

const yes = (ok: boolean) => (ok ? 'yes' : 'NO');

export function doctorText(r: DoctorReport): string {
  const { python, trtexec, cpu } = r;
  const features = Object.entries(cpu.features).filter(([, on]) => on).map(([name]) => name);
  const parts = [keyValues([
    ['node', `${r.node.version}${r.node.meets ? '' : ` (tdeploy needs ${r.node.required})`}`],
    ['tdeploy', r.tdeploy.version],
    ['onnxruntime', r.onnxruntime.version],
    ['cpu', `${cpu.model}, ${cpu.arch}, ${cpu.cores} cores${features.length ? `, ${features.join(' ')}` : ''}`],
    ['int8', cpu.int8],
    ['python', `${python.command} (${python.chosenBy}): ${python.version ? `Python ${python.version}` : 'cannot be run'}`],
    ['torch', python.torch ?? `not found${python.othersWithTorch.length ? ` (${python.othersWithTorch.join(', ')} has it)` : ''}`],
    ['onnx', python.onnx ?? 'not found (convert does not need it)'],
    ['trtexec', trtexec.path ? `${trtexec.path} (${trtexec.source}), TensorRT ${trtexec.tensorrt ?? `unknown: ${trtexec.problem}`}` : 'not found: engines need a machine with TensorRT'],
  ])];
  parts.push(table(['provider', 'loads here', 'why not'], r.providers.map((p) => [p.name, yes(p.available), p.reason ?? ''])));
  if (r.config) {
    parts.push(`needs of ${r.config.file}:`);
    parts.push(table(['needs', 'here', 'found'], r.config.needs.map((n) => [n.what, yes(n.met), n.detail])));
  }
  parts.push(doctorVerdict(r));
  return parts.join('\n');
}

function doctorVerdict(r: DoctorReport): string {
  if (r.passed) return r.config ? `passed: everything ${r.config.file} needs is here` : 'passed: tdeploy runs here';
  return 'FAILED: something needed is missing (see above)';
}
