/**
 * The numbers of a trtexec run: the performance summary (8.0 to 11.x, and 7.x's older report)
 * and the per-layer profile table of --dumpProfile. Each function reads one log message (the
 * text after `[ts] [I] `) and says whether it was one of its lines.
 */

/** Statistics of one measure, keyed as trtexec prints them: min, max, mean, median, then p90, p95, p99 ... (only those the log has). */
export type Stats = Record<string, number>;

export interface PerformanceSummary {
  throughputQps: number | null;
  latencyMs: Stats | null;
  gpuComputeMs: Stats | null;
  enqueueMs: Stats | null;
  h2dMs: Stats | null;
  d2hMs: Stats | null;
  totalHostWalltimeS: number | null;
  totalGpuComputeS: number | null;
}

export type StatsKey = 'latencyMs' | 'gpuComputeMs' | 'enqueueMs' | 'h2dMs' | 'd2hMs';

export const emptySummary = (): PerformanceSummary => ({
  throughputQps: null, latencyMs: null, gpuComputeMs: null, enqueueMs: null, h2dMs: null, d2hMs: null,
  totalHostWalltimeS: null, totalGpuComputeS: null,
});

/** trtexec prints floats with default ostream formatting: `0.0065918`, `130.298`, `1.2e-05`. */
export const NUM = '[-+]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][-+]?\\d+)?';

/** Stat lines of the 8.0+ summary. 8.0/8.2 also print End-to-End Host Latency, which tdeploy does not report. */
const STAT_LINES: Record<string, StatsKey> = {
  'Latency': 'latencyMs',
  'Enqueue Time': 'enqueueMs',
  'H2D Latency': 'h2dMs',
  'GPU Compute Time': 'gpuComputeMs',
  'D2H Latency': 'd2hMs',
};

type ScalarKey = 'throughputQps' | 'totalHostWalltimeS' | 'totalGpuComputeS';

const SCALAR_LINES: [RegExp, ScalarKey][] = [
  [new RegExp(`^Throughput: (${NUM}) qps$`), 'throughputQps'],
  [new RegExp(`^Total Host Walltime: (${NUM}) s$`), 'totalHostWalltimeS'],
  [new RegExp(`^Total GPU Compute Time: (${NUM}) s$`), 'totalGpuComputeS'],
];

const STAT_ITEM = new RegExp(`^(min|max|mean|median|percentile\\((${NUM})%\\)) = (${NUM}) ms$`);

/** `min = a ms, max = b ms, mean = c ms, median = d ms, percentile(90%) = e ms, ...` */
export function parseStats(text: string): Stats | undefined {
  const stats: Stats = {};
  for (const item of text.split(', ')) {
    const m = STAT_ITEM.exec(item.trim());
    if (!m) return undefined;
    stats[m[2] === undefined ? m[1] : `p${m[2]}`] = Number(m[3]);
  }
  return stats;
}

function scalarLine(summary: PerformanceSummary, lines: [RegExp, ScalarKey][], text: string): boolean {
  for (const [pattern, key] of lines) {
    const m = pattern.exec(text);
    if (m) {
      summary[key] = Number(m[1]);
      return true;
    }
  }
  return false;
}

/** One line of the `=== Performance summary ===` block (8.0 to 11.x). */
export function summaryLine(summary: PerformanceSummary, text: string): boolean {
  if (scalarLine(summary, SCALAR_LINES, text)) return true;
  const colon = text.indexOf(': ');
  const key = STAT_LINES[text.slice(0, colon)];
  const stats = key && parseStats(text.slice(colon + 2));
  if (!stats) return false;
  summary[key] = stats;
  return true;
}

/** 7.x report sections: a title line, then `min: X ms (end to end Y ms)` ... lines. */
export const LEGACY_SECTIONS: Record<string, StatsKey> = {
  'Host Latency': 'latencyMs',
  'Host latency': 'latencyMs',
  'Enqueue Time': 'enqueueMs',
  'GPU Compute': 'gpuComputeMs',
};

const LEGACY_STAT = new RegExp(`^(min|max|mean|median): (${NUM}) ms(?: \\(end to end ${NUM} ms\\))?$`);
const LEGACY_PERCENTILE = new RegExp(`^percentile: (${NUM}) ms at (${NUM})%`);
const LEGACY_SCALARS: [RegExp, ScalarKey][] = [
  [new RegExp(`^throughput: (${NUM}) qps$`), 'throughputQps'],
  [new RegExp(`^walltime: (${NUM}) s$`), 'totalHostWalltimeS'],
  [new RegExp(`^total compute time: (${NUM}) s$`), 'totalGpuComputeS'],
];

/** One line inside a 7.x report section; false ends the section. */
export function legacyLine(summary: PerformanceSummary, section: StatsKey, text: string): boolean {
  const stats = (summary[section] ??= {});
  const stat = LEGACY_STAT.exec(text);
  if (stat) {
    stats[stat[1]] = Number(stat[2]);
    return true;
  }
  const percentile = LEGACY_PERCENTILE.exec(text);
  if (percentile) {
    stats[`p${percentile[2]}`] = Number(percentile[1]);
    return true;
  }
  return scalarLine(summary, LEGACY_SCALARS, text);
}

/** One layer's row of a profile (--dumpProfile table or --exportProfile JSON). */
export interface LayerTime {
  name: string;
  /** total over all profiled iterations */
  timeMs: number;
  averageMs: number;
  /** from 8.4 */
  medianMs?: number;
  percentage: number;
}

export interface LayerProfile {
  iterations: number | null;
  layers: LayerTime[];
  /** the table's `Total` row (the JSON export has none) */
  total: LayerTime | null;
}

type Column = keyof LayerTime;

/** Column titles of the profile table: 8.6+ puts the numbers first, 7.x-8.5 the layer name. */
const PROFILE_COLUMNS: Record<string, Column> = {
  'Time(ms)': 'timeMs', 'Avg.(ms)': 'averageMs', 'Median(ms)': 'medianMs', 'Time(%)': 'percentage', 'Layer': 'name',
  'Time (ms)': 'timeMs', 'Avg. Time (ms)': 'averageMs', 'Median Time (ms)': 'medianMs', 'Time %': 'percentage',
};

/** A profile table's columns, and the pattern of its rows (the groups come in column order). */
export interface ProfileLayout {
  columns: Column[];
  row: RegExp;
}

/** The layout a profile table header line announces, or undefined when the line is not one. */
export function profileLayout(text: string): ProfileLayout | undefined {
  const columns = text.trim().split(/\s{2,}/).map((t) => PROFILE_COLUMNS[t]);
  if (columns.some((c) => c === undefined) || !columns.includes('name') || !columns.includes('timeMs')) return undefined;
  const numbers = columns.length - 1;
  const row = columns[0] === 'name'
    ? `^\\s*(.+?)${`\\s+(${NUM})`.repeat(numbers)}\\s*$`
    : `^\\s*${Array(numbers).fill(`(${NUM})`).join('\\s+')}\\s+(.+?)\\s*$`;
  return { columns, row: new RegExp(row) };
}

/** One row under a profile header; undefined ends the table. */
export function profileRow(layout: ProfileLayout, text: string): LayerTime | undefined {
  const m = layout.row.exec(text);
  if (!m) return undefined;
  const row: Record<string, string | number> = {};
  layout.columns.forEach((column, i) => {
    row[column] = column === 'name' ? m[i + 1] : Number(m[i + 1]);
  });
  return row as unknown as LayerTime;
}
