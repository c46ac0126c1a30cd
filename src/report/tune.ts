/**
 * The tune report: one row per candidate and load level, the chosen one marked, for every
 * renderer; the JSON document is the TuneReport itself.
 */
import type { BenchResult } from '../bench/result.js';
import type { Candidate, TuneReport } from '../serve/tune.js';
import { type Column, type TabularDocument, records } from './document.js';
import { recordsTable } from './render.js';

interface Row {
  index: number;
  candidate: Candidate;
  level?: BenchResult;
  error?: string;
  chosen: boolean;
  withinBudget: boolean;
}

const columns: Column<Row>[] = [
  { key: 'chosen', header: '', value: (r) => r.chosen, text: (r) => (r.chosen ? '*' : '') },
  { key: 'candidate', header: 'candidate', value: (r) => r.index + 1, align: 'right' },
  { key: 'instances', header: 'instances', value: (r) => r.candidate.instances, align: 'right' },
  { key: 'maxBatchSize', header: 'max batch', value: (r) => r.candidate.maxBatchSize, align: 'right' },
  { key: 'maxQueueDelayUs', header: 'queue delay µs', value: (r) => r.candidate.maxQueueDelayUs, align: 'right' },
  { key: 'preferredBatchSize', header: 'preferred', value: (r) => r.candidate.preferredBatchSize.join('+'), text: (r) => r.candidate.preferredBatchSize.join('+') || '-' },
  { key: 'concurrency', header: 'concurrency', value: (r) => r.level?.concurrency ?? null, align: 'right' },
  { key: 'p50', header: 'p50 ms', value: (r) => r.level?.latencyMs.p50 ?? null, align: 'right' },
  { key: 'p95', header: 'p95 ms', value: (r) => r.level?.latencyMs.p95 ?? null, align: 'right' },
  { key: 'inferencesPerSec', header: 'inferences/s', value: (r) => r.level?.throughput.inferencesPerSec ?? null, align: 'right' },
  { key: 'averageBatch', header: 'server batch', value: (r) => r.level?.server?.averageBatch ?? null, align: 'right' },
  { key: 'errors', header: 'errors', value: (r) => r.level?.errors ?? null, align: 'right' },
  { key: 'withinBudget', header: 'p95 within', value: (r) => r.withinBudget, text: (r) => (r.error ? `not loaded: ${r.error}` : r.withinBudget ? 'yes' : 'no') },
];

export function tuneDocument(report: TuneReport): TabularDocument<TuneReport> {
  const rows: Row[] = report.tried.flatMap((t, index): Row[] => {
    const chosen = index === report.chosen;
    if (!t.levels.length) return [{ index, candidate: t.candidate, error: t.error, chosen, withinBudget: false }];
    return t.levels.map((level) => ({
      index, candidate: t.candidate, level, withinBudget: level.latencyMs.p95 <= report.p95Ms && !level.errors,
      chosen: chosen && level.concurrency === t.bestConcurrency,
    }));
  });
  const winner = report.chosen === null ? undefined : report.tried[report.chosen];
  const table = records(columns, rows, {
    headline: [winner
      ? `best within p95 <= ${report.p95Ms} ms: candidate ${report.chosen! + 1} (*), ${winner.bestInferencesPerSec} inferences/s at concurrency ${winner.bestConcurrency}; written to ${report.written}`
      : `no candidate met p95 <= ${report.p95Ms} ms; nothing was written`],
    footer: [`${report.tried.length} candidates of model '${report.model}' at ${report.server}, each loaded through the repository API; near-ties (within 3%) go to fewer instances, then smaller batches and delays`],
  });
  return { title: 'tdeploy tune', data: report, notes: report.notes, text: () => recordsTable(table), records: table };
}
