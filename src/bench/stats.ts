/**
 * Latency statistics over every recorded sample (milliseconds).
 *
 * Percentiles use linear interpolation between the two closest ranks, the definition of
 * NumPy's default `numpy.percentile(x, p)` (Hyndman & Fan type 7): with the n samples sorted
 * ascending as x[0..n-1], h = (n - 1) · p / 100 and P(p) = x[⌊h⌋] + (h - ⌊h⌋) · (x[⌊h⌋+1] - x[⌊h⌋]).
 * So p50 of an even count is the mean of the two middle samples, P(0) is the minimum and
 * P(100) the maximum, and anyone can check a report with NumPy on the same samples.
 * `std` is the sample standard deviation (divisor n - 1, like Python's `statistics.stdev`), 0 for
 * a single sample.
 */

export interface LatencyStats {
  mean: number;
  std: number;
  min: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

/** The percentile `p` (0..100) of samples already sorted ascending. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of no samples');
  const h = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** The 50th percentile of samples in any order: the mean of the two middle ones for an even count. */
export function median(samples: ArrayLike<number>): number {
  return percentile(Float64Array.from(samples).sort(), 50);
}

export function summarize(samples: ArrayLike<number>): LatencyStats {
  const n = samples.length;
  if (n === 0) throw new RangeError('statistics of no samples');
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const x of sorted) sum += x;
  const mean = sum / n;
  let squares = 0;
  for (const x of sorted) squares += (x - mean) ** 2;
  return {
    mean,
    std: n > 1 ? Math.sqrt(squares / (n - 1)) : 0,
    min: sorted[0],
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[n - 1],
  };
}
