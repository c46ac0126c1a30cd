/**
 * The bench report as rows for the shared renderers. CSV columns are named like the JSON keys;
 * the human formats add a "vs baseline" column when a gate ran, where regressed rows say so.
 */
import { type Comparison, type Gate, compareToBaseline } from '../bench/baseline.js';
import type { BenchReport } from '../bench/result.js';
import type { LatencyStats } from '../bench/stats.js';
import { formatShapes } from '../bench/sweep.js';
import { type Column, type TabularDocument, records } from './document.js';
import { formatNumber } from './format.js';
import { recordsTable } from './render.js';

type Row = Comparison;

/** The order a narrow terminal leaves columns out in: the spread before the centre and the tail. */
const DROP: Partial<Record<string, number>> = { p90: 1, p95: 2, std: 3, min: 4, max: 5, samplesPerSec: 6, iterations: 7, mean: 8, provider: 9 };

const latency = (key: keyof LatencyStats): Column<Row> => ({
  key, header: `${key} ms`, value: (r) => r.result.latencyMs[key], align: 'right', drop: DROP[key],
});

const figure = (key: 'averageBatch' | 'queueMs' | 'computeMs', header: string): Column<Row> => ({
  key, header, value: (r) => r.result.server?.[key] ?? null, align: 'right',
});

/** A served model's rows: the load level, the requests counted, and what the server's metrics say. */
const servedColumns = (rates: boolean): Column<Row>[] => [
  rates
    ? { key: 'requestRate', header: 'requests/s asked', value: (r) => r.result.requestRate ?? null, align: 'right' }
    : { key: 'concurrency', header: 'concurrency', value: (r) => r.result.concurrency ?? null, align: 'right' },
  { key: 'requests', header: 'requests', value: (r) => r.result.requests ?? null, align: 'right' },
  { key: 'errors', header: 'errors', value: (r) => r.result.errors ?? null, align: 'right' },
  figure('averageBatch', 'server batch'),
  figure('queueMs', 'queue ms'),
  figure('computeMs', 'compute ms'),
];

/**
 * `speed-up` is shown to people only beside other models; `vs baseline` only when gated, `stable` only
 * with a criterion. CSV has a fixed header for model files, and the served columns after it for a served model.
 */
const columns = (sideBySide: boolean, gated: boolean, criterion: boolean, served: Column<Row>[]): Column<Row>[] => [
  { key: 'model', header: 'path', value: (r) => r.result.model, only: 'csv' },
  { key: 'label', header: 'model', value: (r) => r.result.label },
  { key: 'provider', header: 'provider', value: (r) => r.result.provider, drop: DROP.provider },
  { key: 'batch', header: 'batch', value: (r) => r.result.batch, align: 'right' },
  { key: 'shapes', header: 'shapes', value: (r) => formatShapes(r.result.shapes) },
  ...served.slice(0, 1),
  { key: 'iterations', header: served.length ? 'answered' : 'runs', value: (r) => r.result.iterations, align: 'right', drop: DROP.iterations },
  ...(['mean', 'std', 'min', 'p50', 'p90', 'p95', 'p99', 'max'] as const).map(latency),
  { key: 'inferencesPerSec', header: 'inferences/s', value: (r) => r.result.throughput.inferencesPerSec, align: 'right' },
  { key: 'samplesPerSec', header: 'samples/s', value: (r) => r.result.throughput.samplesPerSec, align: 'right', drop: DROP.samplesPerSec },
  {
    key: 'speedup', header: 'speed-up', value: (r) => r.result.speedup, text: (r) => `${r.result.speedup.toFixed(2)}×`, align: 'right',
    ...(sideBySide ? {} : { only: 'csv' as const }),
  },
  ...served.slice(1),
  { key: 'stable', header: 'stable', value: (r) => r.result.stable, text: (r) => (r.result.stable ? 'yes' : 'NO'), ...(criterion ? {} : { only: 'csv' as const }) },
  ...(gated ? [{ key: 'vsBaseline', header: 'vs baseline', value: () => null, text: vsBaseline, only: 'human' as const }] : []),
];

/** The metric's change from the baseline as people say it: `p50 +3.1%`, `throughput -12.0%`. */
function vsBaseline({ regression, regressed }: Row): string {
  if (!regression) return 'no baseline';
  const change = (regression.current / regression.baseline - 1) * 100;
  const text = `${regression.metric} ${change >= 0 ? '+' : ''}${change.toFixed(1)}%`;
  return regressed ? `REGRESSED ${text}` : text;
}

/** The document every format renders; with the run's gate, each row is set beside its baseline. */
export function benchDocument(report: BenchReport, gate?: Gate): TabularDocument<BenchReport> {
  const compared = gate ? compareToBaseline(report.results, gate) : report.results.map((result) => ({ result, regressed: false }));
  const env = report.environment;
  const sideBySide = new Set(report.results.map((r) => r.label)).size > 1;
  const served = report.results.some((r) => r.concurrency !== undefined || r.requestRate !== undefined)
    ? servedColumns(report.results.some((r) => r.requestRate !== undefined)) : [];
  const criterion = report.results.some((r) => r.stable !== null);
  const table = records(columns(sideBySide, gate !== undefined, criterion, served), compared, {
    headline: [
      ...(gate ? [verdict(report, compared, gate)] : []),
      ...(criterion ? [stability(report)] : []),
      ...(report.baselineEnvironment.length ? [`the baseline was measured elsewhere: ${report.baselineEnvironment.join('; ')}`] : []),
    ],
    footer: [
      served.length
        ? 'latency in ms of every answered request, sent to answer read; server batch = inferences / executions, queue and compute ms per request, from the server\'s metrics'
        : `latency in ms over every timed run; percentiles interpolate between ranks (numpy's default)${sideBySide ? `; speed-up = p50 of ${report.results[0].label} / p50` : ''}`,
      `${report.tool.name} ${report.tool.version}, onnxruntime ${env.onnxruntime}, Node ${env.node}, ${env.cpu} (${env.cores} cores), ${env.os}`,
    ],
  });
  return { title: 'tdeploy bench', data: report, notes: report.notes, text: () => recordsTable(table), records: table };
}

function stability(report: BenchReport): string {
  const unstable = report.results.filter((r) => r.stable === false);
  const n = report.results.length;
  return unstable.length
    ? `UNSTABLE: ${unstable.length} of ${n} result${n === 1 ? '' : 's'} never had 3 consecutive windows agree (${unstable.map((r) => `${r.label} ${formatShapes(r.shapes)}`).join(', ')})`
    : `stable: every result had 3 consecutive windows agree`;
}

function verdict(report: BenchReport, rows: Row[], gate: Gate): string {
  const compared = rows.filter((r) => r.regression).length;
  const rule = `more than ${formatNumber(gate.maxPercent)}% worse ${gate.metric} than the baseline`;
  const n = report.regressions.length;
  return n
    ? `REGRESSION: ${n} of ${compared} compared result${compared === 1 ? '' : 's'} ${n === 1 ? 'is' : 'are'} ${rule}`
    : `no regression: none of ${compared} compared result${compared === 1 ? '' : 's'} is ${rule}`;
}
