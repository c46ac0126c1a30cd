import type { CheckReport } from '../accuracy/check.js';
import { type OutputComparison, type Tolerance, type WorstElement, DEFAULT_GATE, elementExcess } from '../accuracy/compare.js';
import { formatAtol } from '../accuracy/gates.js';
import type { ReportDocument } from './document.js';
import { layerwiseText } from './layerwise.js';
import { type Cell, formatCosine, formatNumber, formatTolerance, keyValues, table } from './format.js';

export function checkDocument(report: CheckReport): ReportDocument<CheckReport> {
  return { title: 'tdeploy check', data: report, notes: report.notes, text: () => checkTable(report), brief: () => checkVerdict(report) };
}

/**
 * The one human rendering of a CheckReport: every output with its metrics and verdict, the worst
 * elements of each failing output, and a last line that says PASSED, FAILED, or that nothing was
 * judged. convert and quantize print their comparisons with it too.
 */
export function checkTable(report: CheckReport): string {
  const q = `p${+((report.gate?.quantile ?? DEFAULT_GATE.quantile) * 100).toPrecision(6)} abs`;
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
    o.passed === null ? '-' : o.passed ? 'pass' : 'FAIL',
  ]);
  const failing = report.outputs.filter((o) => o.passed === false);
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
    ...(report.layers && report.layerwise ? [layerwiseText({ ...report.layerwise, layers: report.layers, firstDivergent: report.firstDivergent ?? null })] : []),
    checkVerdict(report),
  ].join('\n');
}

/** The last line of the report: PASSED, FAILED, or that nothing was judged. */
export function checkVerdict(report: CheckReport): string {
  const failing = report.outputs.filter((o) => o.passed === false);
  const sets = `${report.sets} input set${report.sets === 1 ? '' : 's'}`;
  const outputs = `${report.outputs.length} output${report.outputs.length === 1 ? '' : 's'}`;
  if (report.passed === null) return `NOT JUDGED: ${outputs} compared over ${sets}, without a gate`;
  return failing.length
    ? `FAILED: ${failing.length} of ${report.outputs.length} outputs beyond tolerance (${failing.map((o) => o.name).join(', ')}) over ${sets}`
    : `PASSED: ${outputs} within tolerance over ${sets}`;
}

/** The tolerances in force: the gate's, the outputs with their own, the outputs compared exactly. */
function tolerances(report: CheckReport): string {
  const { gate } = report;
  if (!gate) return 'none: the errors are reported, not judged';
  const text = (t: Partial<Tolerance>) => {
    const atol = t.atol ?? gate.atol;
    // An infinite atol judges outputs as a whole (cosine), not element by element.
    if (atol === Infinity) return 'none on elements';
    return `atol ${formatAtol(atol)}, rtol ${formatTolerance(t.rtol ?? gate.rtol)}`;
  };
  const cosine = gate.minCosine === undefined ? [] : [`cosine >= ${gate.minCosine}`];
  const own = Object.entries(gate.perOutput ?? {}).map(([name, t]) => `${name}: ${text(t)}`);
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

/** How many times its tolerance the element is off (above 1 fails); exact types and outputs judged as a whole have no tolerance to scale by. */
function allowed(w: WorstElement, o: OutputComparison): Cell {
  if (o.exact) return 'differs';
  return o.atol === Infinity ? '-' : `${formatNumber(elementExcess(w, o))}x`;
}

function difference(w: WorstElement): Cell {
  return typeof w.expected === 'number' && typeof w.actual === 'number' ? Math.abs(w.actual - w.expected) : '-';
}
