import type { FallbackReport, QuantizeReport } from '../quantize/result.js';
import { formatMs, formatSpeedup } from '../quantize/speed.js';
import { checkTable } from './check.js';
import type { ReportDocument } from './document.js';
import { formatBytes, formatCosine, keyValues, table } from './format.js';

export function quantizeDocument(report: QuantizeReport): ReportDocument<QuantizeReport> {
  return { title: 'tdeploy quantize', data: report, notes: [...report.notes, ...report.drift.notes], text: () => quantizeText(report) };
}

/** The human report of `quantize`: what was written, how much smaller, what stayed float32 and why, and the drift. */
export function quantizeText(r: QuantizeReport): string {
  const ratio = r.sizeBefore > 0 ? ` (${((100 * r.sizeAfter) / r.sizeBefore).toFixed(1)} %)` : '';
  const parts = [
    keyValues([
      ['output', r.output],
      ['precision', r.mode ? `${r.to} ${r.mode}` : r.to],
      ['size', `${formatBytes(r.sizeBefore)} → ${formatBytes(r.sizeAfter)}${ratio}`],
      ['nodes converted', r.nodesConverted],
      ['weights converted', `${r.weights.converted.toLocaleString('en-US')} of ${r.weights.float32.toLocaleString('en-US')} float32 elements`],
      ['nodes kept float32', r.blockedNodes.length],
      ['speed-up', `${formatSpeedup(r.speed.speedup)} (${formatMs(r.speed.quantizedMs)} against ${formatMs(r.speed.originalMs)}, ${r.speed.provider})${r.speed.slower ? ' slower' : ''}`],
      ...(r.to === 'fp16' ? [['values clamped', r.clamped] as [string, number]] : []),
    ]),
  ];
  if (r.blockedNodes.length > 0) {
    const groups = new Map<string, { op: string; reason: string; nodes: string[] }>();
    for (const b of r.blockedNodes) {
      const key = `${b.op}\u0000${b.reason}`;
      const group = groups.get(key) ?? { op: b.op, reason: b.reason, nodes: [] };
      group.nodes.push(b.node);
      groups.set(key, group);
    }
    parts.push(table(['kept float32', 'nodes', 'why'], [...groups.values()].map((g) => [
      g.op, g.nodes.length === 1 ? g.nodes[0] : `${g.nodes.length} (${g.nodes[0]}, …)`, g.reason,
    ])));
  }
  if (r.fallback) parts.push(fallbackText(r.fallback));
  parts.push('', 'drift against the original model:', checkTable(r.drift));
  return parts.join('\n');
}

function fallbackText(f: FallbackReport): string {
  const head = `fallback: ${f.met ? 'meets' : 'misses'} the gate with ${f.kept.length} node(s) kept float32 (at most ${f.max}), ${f.attempts} models measured in ${f.seconds.toFixed(1)} s`;
  if (f.kept.length === 0) return head;
  return [head, table(['kept float32', 'op', 'worst output cosine with it'], f.kept.map((k) => [k.node, k.op, formatCosine(k.cosine)]), ['left', 'left', 'right'])].join('\n');
}
