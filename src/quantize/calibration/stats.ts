/**
 * Running statistics of one tensor over calibration batches, in fixed memory: exact min and max
 * of the finite values (a -inf mask fill is no range to quantize over, and float16 holds
 * infinities), a histogram of |x| with a fixed number of bins, and the count of values too
 * small for float16.
 * The histogram covers [0, top); when a batch holds a larger value, `top` doubles (merging
 * neighbouring bins) until it fits, so earlier batches never need to be seen again.
 */
export interface TensorStats {
  min: number;
  max: number;
  /** finite values seen */
  count: number;
  /** nonzero values below float16's smallest subnormal (they become zero in float16) */
  underflow: number;
  nonzero: number;
  /** |x| histogram, or undefined when only the range is wanted */
  bins?: Float64Array;
  top: number;
}

export const HISTOGRAM_BINS = 2048;
/** float16's smallest subnormal, 2^-24; anything smaller rounds to zero or to it */
export const FLOAT16_TINY = 2 ** -24;

export function emptyStats(histogram: boolean): TensorStats {
  return {
    min: Infinity, max: -Infinity, count: 0, underflow: 0, nonzero: 0,
    bins: histogram ? new Float64Array(HISTOGRAM_BINS) : undefined, top: 0,
  };
}

export function accumulate(stats: TensorStats, values: Float32Array): void {
  let min = stats.min;
  let max = stats.max;
  let finite = 0;
  let underflow = 0;
  let zeros = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v - v !== 0) continue;
    finite++;
    if (v < min) min = v;
    if (v > max) max = v;
    const a = v < 0 ? -v : v;
    if (a === 0) zeros++;
    else if (a < FLOAT16_TINY) underflow++;
  }
  stats.min = min;
  stats.max = max;
  stats.count += finite;
  stats.underflow += underflow;
  stats.nonzero += values.length - zeros;
  // With no finite value seen yet, min and max are still ±Infinity: no histogram range exists.
  if (stats.bins && finite > 0) addToHistogram(stats, values, Math.max(Math.abs(min), Math.abs(max)), finite);
}

function addToHistogram(stats: TensorStats, values: Float32Array, absMax: number, finite: number): void {
  const bins = stats.bins!;
  if (stats.top === 0) stats.top = absMax > 0 ? 2 ** Math.ceil(Math.log2(absMax * (1 + 1e-7))) : 0;
  while (absMax >= stats.top && stats.top > 0) {
    for (let i = 0; i < bins.length / 2; i++) bins[i] = bins[2 * i] + bins[2 * i + 1];
    bins.fill(0, bins.length / 2);
    stats.top *= 2;
  }
  if (stats.top === 0) {
    bins[0] += finite;
    return;
  }
  const scale = bins.length / stats.top;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v - v !== 0) continue;
    bins[Math.min(bins.length - 1, Math.floor((v < 0 ? -v : v) * scale))]++;
  }
}
