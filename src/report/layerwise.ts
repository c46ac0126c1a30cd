import type { LayerComparison, LayerwiseResult } from '../accuracy/layerwise.js';
import { type Cell, formatCosine, formatNumber, table } from './format.js';

/** How many of the largest error jumps the table shows. */
export const JUMPS_SHOWN = 10;

type Layers = Pick<LayerwiseResult, 'layers' | 'firstDivergent' | 'minCosine' | 'unmatched'>;

/**
 * Where the drift starts: the first layer below the layer gate, and the layers whose error grows
 * most over the error of what they read (where error is made rather than carried), largest first.
 */
export function layerwiseText(r: Layers): string {
  const position = new Map(r.layers.map((l, i) => [l.tensor, i + 1]));
  const first = r.firstDivergent;
  const head = `layer by layer: ${formatNumber(r.layers.length)} tensors compared in the baseline's order, each judged on cosine >= ${r.minCosine}${r.unmatched ? ` (${formatNumber(r.unmatched)} not computed by the candidate)` : ''}`;
  const verdict = first
    ? `first divergent layer: #${position.get(first.tensor)} ${first.tensor} (${first.op} node ${first.node}), cosine ${first.cosine === null ? '-' : formatCosine(first.cosine)}`
    : `no layer below cosine ${r.minCosine}`;
  const jumps = [...r.layers].filter((l) => l.jump > 0).sort((a, b) => b.jump - a.jump).slice(0, JUMPS_SHOWN);
  const parts = [head, verdict];
  if (jumps.length) {
    parts.push(`largest error jumps (error = 1 - cosine; jump = error minus the largest error of the layers it reads):`);
    parts.push(table(
      ['#', 'tensor', 'op', 'node', 'cosine', 'error', 'jump', 'result'],
      jumps.map((l): Cell[] => [position.get(l.tensor), l.tensor, l.op, l.node, cosine(l), l.error, l.jump, l.passed ? 'pass' : 'FAIL']),
      ['right', 'left', 'left', 'left', 'right', 'right', 'right', 'left'],
    ));
  }
  return parts.join('\n');
}

function cosine(l: LayerComparison): Cell {
  return l.cosine === null ? '-' : formatCosine(l.cosine);
}
