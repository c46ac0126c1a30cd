/**
 * The CI gate: results are matched to a baseline report by label and shapes, and a result
 * regressed when its metric got worse by more than `maxPercent`: latency relative to the
 * baseline's (new / old - 1), throughput by its drop (1 - new / old).
 */
import { InputError } from '../errors.js';
import { type BenchReport, type BenchResult, BenchReportSchema, type Regression, type RegressionMetric } from './result.js';
import { formatShapes } from './sweep.js';
import { readJson } from '../io/read.js';
import { opt } from '../option-ref.js';

export interface Gate {
  baseline: BenchReport;
  maxPercent: number;
  metric: RegressionMetric;
}

export interface Comparison {
  result: BenchResult;
  /** undefined when the baseline has no result with this label and these shapes */
  regression?: Regression;
  regressed: boolean;
}

interface MetricRule {
  value: (r: BenchResult) => number;
  worsePercent: (current: number, baseline: number) => number;
}

const metrics: Record<RegressionMetric, MetricRule> = {
  p50: { value: (r) => r.latencyMs.p50, worsePercent: (c, b) => (c / b - 1) * 100 },
  p99: { value: (r) => r.latencyMs.p99, worsePercent: (c, b) => (c / b - 1) * 100 },
  throughput: { value: (r) => r.throughput.inferencesPerSec, worsePercent: (c, b) => (1 - c / b) * 100 },
};

/** A result's identity: label and shapes, and for a served model its load level. */
export function resultKey(r: Pick<BenchResult, 'label' | 'shapes' | 'concurrency' | 'requestRate'>): string {
  return `${r.label}\u0000${formatShapes(r.shapes)}\u0000${r.concurrency ?? ''}\u0000${r.requestRate ?? ''}`;
}

/** Reads and validates a bench report written as JSON. */
export async function readBaseline(file: string): Promise<BenchReport> {
  const notReport = (why: string) => new InputError(`baseline ${file} is not a tdeploy bench report: ${why}`, {
    kind: 'baseline', hint: `write one with tdeploy bench <model> ${opt('format', 'json')} ${opt('output', '<file>')}`,
  });
  const json = await readJson(file, 'baseline').catch((error: Error) => {
    throw error instanceof InputError && (error.kind === 'json') ? notReport(`not JSON (${error.message})`) : error;
  });
  const parsed = BenchReportSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw notReport(`${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
  }
  return parsed.data;
}

/** Each result beside its baseline result, if the baseline has one. */
export function compareToBaseline(results: BenchResult[], gate: Gate): Comparison[] {
  const rule = metrics[gate.metric];
  const old = new Map(gate.baseline.results.map((r) => [resultKey(r), r]));
  return results.map((result) => {
    const before = old.get(resultKey(result));
    if (!before) return { result, regressed: false };
    const baseline = rule.value(before);
    const current = rule.value(result);
    const worsePercent = rule.worsePercent(current, baseline);
    return {
      result,
      regression: {
        label: result.label, shapes: result.shapes,
        ...(result.concurrency !== undefined ? { concurrency: result.concurrency } : {}),
        ...(result.requestRate !== undefined ? { requestRate: result.requestRate } : {}),
        metric: gate.metric, baseline, current, worsePercent, maxPercent: gate.maxPercent },
      regressed: worsePercent > gate.maxPercent,
    };
  });
}

/** The regressions beyond the threshold, as the report lists them. */
export function regressions(comparisons: Comparison[]): Regression[] {
  return comparisons.flatMap((c) => (c.regressed && c.regression ? [c.regression] : []));
}
