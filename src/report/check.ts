import type { CheckReport } from '../accuracy/check.js';
import { type OutputComparison, type Tolerance, type WorstElement, elementExcess } from '../accuracy/compare.js';
import { type Cell, formatCosine, formatNumber, formatTolerance, keyValues, table } from './format.js';

/**
 * The one human rendering of a CheckReport: every output with its metrics and verdict, the worst
 * elements of each failing output, the notes, and a last line that says PASSED or FAILED.
 * convert, quantize and run print their drift reports with it too.
 */
export function checkTable(report: CheckReport): string {
  const q = `p${+(report.gate.quantile * 100).toPrecision(6)} abs`;
  const rows = report.outputs.map((o): Cell[] => [
    o.name,
    `[${o.shape.join(', ')}]`,
    o.dtype,
    o.maxAbsError,
    o.meanAbsError,
    o.maxRelError,
    o.cosine === null ? null : formatCosine(o.cosine),
    o.quantileError,
    o.top1Agreement,
    `${formatNumber(o.mismatches)} / ${formatNumber(o.elements)}`,
    o.passed ? 'pass' : 'FAIL',
  ]);
  const failing = report.outputs.filter((o) => !o.passed);
  const sets = `${report.sets} input set${report.sets === 1 ? '' : 's'}`;
  const verdict = failing.length
    ? `FAILED: ${failing.length} of ${report.outputs.length} outputs beyond tolerance (${failing.map((o) => o.name).join(', ')}) over ${sets}`
    : `PASSED: ${report.outputs.length} output${report.outputs.length === 1 ? '' : 's'} within tolerance over ${sets}`;
  return [
    keyValues([
      ['model', report.model],
      [report.against.kind === 'reference' ? 'reference' : 'against', report.against.path],
      ['provider', report.provider],
      ['tolerance', tolerances(report)],
    ]),
    table(
      ['output', 'shape', 'dtype', 'max abs', 'mean abs', 'max rel', 'cosine', q, 'top-1', 'mismatches', 'result'],
      rows,
      ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
    ),
    ...failing.map(failureText),
    ...report.notes.map((n) => `note: ${n}`),
    verdict,
  ].join('\n');
}

/** The tolerances in force: the gate's, the outputs with their own, the outputs compared exactly. */
function tolerances(report: CheckReport): string {
  const text = (t: Partial<Tolerance>) => {
    const atol = t.atol ?? report.gate.atol;
    // An infinite atol is a comparison that only reports element errors (quantize's drift).
    if (atol === Infinity) return 'none on elements';
    return `atol ${formatTolerance(atol)}, rtol ${formatTolerance(t.rtol ?? report.gate.rtol)}`;
  };
  const cosine = report.gate.minCosine === undefined ? [] : [`cosine >= ${report.gate.minCosine}`];
  const own = Object.entries(report.gate.perOutput ?? {}).map(([name, t]) => `${name}: ${text(t)}`);
  const exact = report.outputs.filter((o) => o.exact).map((o) => o.name);
  return [text({}), ...cosine, ...own, ...(exact.length ? [`exact: ${exact.join(', ')}`] : [])].join('; ');
}

function failureText(o: OutputComparison): string {
  const lines = [`${o.name}: ${o.failures.join('; ')}`];
  if (o.worst.length) {
    const withSet = o.worst.some((w) => w.set !== undefined);
    lines.push(table(
      [...(withSet ? ['set'] : []), 'index', 'expected', 'actual', '|a-e|', 'x allowed'],
      o.worst.map((w) => [...(withSet ? [w.set] : []), `[${w.index.join(', ')}]`, value(w.expected), value(w.actual), difference(w), allowed(w, o)]),
      [...(withSet ? ['right' as const] : []), 'left', 'right', 'right', 'right', 'right'],
    ));
  }
  return lines.join('\n');
}

/** Elements with float32's nine significant digits, so that expected and actual visibly differ. */
function value(v: number | string): string {
  return typeof v === 'number' ? (Number.isFinite(v) ? String(+v.toPrecision(9)) : String(v)) : JSON.stringify(v);
}

/** How many times its tolerance the element is off (above 1 fails); exact types have no tolerance to scale by. */
function allowed(w: WorstElement, o: OutputComparison): Cell {
  return o.exact ? 'differs' : `${formatNumber(elementExcess(w, o))}x`;
}

function difference(w: WorstElement): Cell {
  return typeof w.expected === 'number' && typeof w.actual === 'number' ? Math.abs(w.actual - w.expected) : '-';
}
