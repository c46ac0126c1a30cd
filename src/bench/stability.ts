import type { Window } from './harness.js';
import { median } from './stats.js';

/**
 * perf_analyzer's stability criterion: measure windows until the last three agree, i.e. for
 * both p50 latency and throughput the largest of the three is within `percent` % of the
 * smallest, or until `maxWindows` windows were measured. The report then uses the samples of
 * those last three windows together.
 */
export interface StabilityCriterion {
  percent: number;
  maxWindows: number;
}

export const STABLE_WINDOWS = 3;

export interface Measured<W extends Window = Window> {
  /** the windows the result is made of: the last three with a criterion, else the only one */
  windows: W[];
  /** windows measured in all */
  measured: number;
  /** false when `maxWindows` ran out before three consecutive windows agreed */
  stable: boolean;
}

const windowMetrics: ((w: Window) => number)[] = [
  (w) => median(w.samplesMs),
  (w) => w.samplesMs.length / w.seconds,
];

/** Whether the last three windows agree within `percent` on every metric. */
export function isStable(windows: Window[], percent: number): boolean {
  if (windows.length < STABLE_WINDOWS) return false;
  const last = windows.slice(-STABLE_WINDOWS);
  return windowMetrics.every((metric) => {
    const values = last.map(metric);
    return Math.max(...values) <= Math.min(...values) * (1 + percent / 100);
  });
}

/** Measures one window, or windows until stable when a criterion is given. */
export async function measureWindows<W extends Window>(window: (index: number) => Promise<W>, criterion?: StabilityCriterion): Promise<Measured<W>> {
  if (!criterion) return { windows: [await window(0)], measured: 1, stable: true };
  const windows: W[] = [];
  while (windows.length < criterion.maxWindows) {
    windows.push(await window(windows.length));
    if (isStable(windows, criterion.percent)) return { windows: windows.slice(-STABLE_WINDOWS), measured: windows.length, stable: true };
  }
  return { windows: windows.slice(-STABLE_WINDOWS), measured: windows.length, stable: false };
}
