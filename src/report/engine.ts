import type { EngineReport } from '../trt/engine.js';
import { formatDims } from '../trt/profiles.js';
import type { StatsKey } from '../trt/summary.js';
import type { ReportDocument } from './document.js';
import { formatNumber, keyValues, table } from './format.js';

const MEASURES: [StatsKey, string][] = [
  ['latencyMs', 'latency'], ['gpuComputeMs', 'GPU compute'], ['enqueueMs', 'enqueue'], ['h2dMs', 'H2D'], ['d2hMs', 'D2H'],
];
const MAX_WARNINGS = 10;

export function engineDocument(report: EngineReport): ReportDocument<EngineReport> {
  return { title: 'tdeploy engine', data: report, notes: report.notes, text: () => engineText(report) };
}

/** The human report of `engine`: the build, its optimization profiles, the timings, warnings and any failure. */
export function engineText(r: EngineReport): string {
  const parts = [keyValues([
    ['engine', r.engine],
    ['TensorRT', r.trtVersion],
    ['result', r.passed ? 'passed' : r.outcome],
    ['precision', r.precision.join('+') || null],
    ['build time', r.buildSeconds === null ? null : `${formatNumber(r.buildSeconds)} s`],
    ['throughput', r.summary?.throughputQps == null ? null : `${r.summary.throughputQps.toLocaleString('en-US', { maximumFractionDigits: 1 })} qps`],
    ['log', r.log],
  ])];
  const profiles = Object.entries(r.shapes);
  if (profiles.length) parts.push(table(['input', 'min', 'opt', 'max'], profiles.map(([name, p]) => [name, formatDims(p.min), formatDims(p.opt), formatDims(p.max)])));
  const measured = MEASURES.filter(([key]) => r.summary?.[key]);
  if (measured.length) {
    const columns = [...new Set(measured.flatMap(([key]) => Object.keys(r.summary![key]!)))];
    parts.push(table(['ms', ...columns], measured.map(([key, label]) => [label, ...columns.map((c) => r.summary![key]![c])]), ['left', ...columns.map(() => 'right' as const)]));
  }
  if (r.warnings.length) {
    const more = r.warnings.length > MAX_WARNINGS ? [`... and ${r.warnings.length - MAX_WARNINGS} more (all in the JSON report and the log)`] : [];
    parts.push(['warnings:', ...r.warnings.slice(0, MAX_WARNINGS).map((w) => `  ${w}`), ...more].join('\n'));
  }
  if (r.failure) parts.push([`failure (${r.failure.kind}):`, ...r.failure.message.split('\n').map((l) => `  ${l}`), `hint: ${r.failure.hint}`].join('\n'));
  return parts.join('\n');
}
