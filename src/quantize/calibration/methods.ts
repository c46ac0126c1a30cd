import type { TensorStats } from './stats.js';

export const CALIBRATION_METHODS = ['minmax', 'percentile', 'entropy'] as const;
export type CalibrationMethod = (typeof CALIBRATION_METHODS)[number];

export interface MethodOptions {
  /** percentile of |x| kept by `percentile`, e.g. 99.99 */
  percentile: number;
}

export interface Range {
  min: number;
  max: number;
}

interface Method {
  /** whether the method reads the |x| histogram */
  histogram: boolean;
  /** the clipping threshold on |x|, or undefined to keep the full range */
  threshold(stats: TensorStats, options: MethodOptions): number | undefined;
}

/** How each calibration method turns a tensor's statistics into the range it is quantized over. */
export const methods: Record<CalibrationMethod, Method> = {
  minmax: { histogram: false, threshold: () => undefined },
  percentile: { histogram: true, threshold: (stats, options) => percentileOf(stats, options.percentile) },
  entropy: { histogram: true, threshold: (stats) => entropyThreshold(stats) },
};

/** The range to quantize a tensor over: the observed range, clipped to ±threshold when the method sets one. */
export function calibratedRange(stats: TensorStats, method: CalibrationMethod, options: MethodOptions): Range {
  if (stats.count === 0) return { min: 0, max: 0 };
  const threshold = methods[method].threshold(stats, options);
  if (threshold === undefined) return { min: stats.min, max: stats.max };
  return { min: Math.max(stats.min, -threshold), max: Math.min(stats.max, threshold) };
}

/** |x| below which `p` percent of the values lie, interpolated within the histogram bin. */
function percentileOf(stats: TensorStats, p: number): number {
  const bins = stats.bins!;
  const width = stats.top / bins.length;
  const total = bins.reduce((a, b) => a + b, 0);
  const target = (total * p) / 100;
  let seen = 0;
  for (let i = 0; i < bins.length; i++) {
    if (seen + bins[i] >= target) return (i + (bins[i] > 0 ? (target - seen) / bins[i] : 1)) * width;
    seen += bins[i];
  }
  return stats.top;
}

/** int8 has 128 magnitudes on each side of zero. */
const QUANT_LEVELS = 128;
const STRIDE = 8;

/**
 * The threshold whose 128-level quantization loses the least information (KL divergence between
 * the clipped histogram and its quantized version), as TensorRT's entropy calibrator chooses it.
 */
function entropyThreshold(stats: TensorStats): number {
  const bins = stats.bins!;
  const width = stats.top / bins.length;
  let last = bins.length;
  while (last > 0 && bins[last - 1] === 0) last--;
  if (last <= QUANT_LEVELS) return last * width;
  let best = last;
  let bestDivergence = Infinity;
  const p = new Float64Array(bins.length);
  const q = new Float64Array(bins.length);
  const candidates: number[] = [];
  for (let i = QUANT_LEVELS; i < last; i += STRIDE) candidates.push(i);
  candidates.push(last);
  for (const i of candidates) {
    const divergence = klDivergence(bins, i, p, q);
    if (divergence < bestDivergence) {
      bestDivergence = divergence;
      best = i;
    }
  }
  return best * width;
}

/** The small mass smoothing gives empty bins, so that a divergence stays finite (TensorRT's 1e-4). */
const SMOOTHING = 1e-4;

/**
 * KL(P‖Q) at threshold bin `edge`, as TensorRT computes it: P is the histogram clipped at the
 * edge with the outliers added to its last bin; Q merges the unclipped bins into 128 levels of
 * ⌊edge/128⌋ bins (the last level takes the rest) and spreads each level over the bins where P
 * is nonzero. Both are smoothed: where Q has nothing for P's mass (an empty edge bin holding
 * only outliers), the divergence is large, not infinite, so thresholds in a sparse tail stay
 * candidates.
 */
function klDivergence(bins: Float64Array, edge: number, p: Float64Array, q: Float64Array): number {
  let outliers = 0;
  for (let j = edge; j < bins.length; j++) outliers += bins[j];
  for (let j = 0; j < edge; j++) p[j] = bins[j];
  p[edge - 1] += outliers;
  const perLevel = Math.floor(edge / QUANT_LEVELS);
  for (let level = 0; level < QUANT_LEVELS; level++) {
    const from = level * perLevel;
    const to = level === QUANT_LEVELS - 1 ? edge : from + perLevel;
    let sum = 0;
    let nonzero = 0;
    for (let j = from; j < to; j++) {
      sum += bins[j];
      if (p[j] !== 0) nonzero++;
    }
    for (let j = from; j < to; j++) q[j] = p[j] !== 0 ? sum / nonzero : 0;
  }
  const smoothP = smoothing(p, edge);
  const smoothQ = smoothing(q, edge);
  if (!smoothP || !smoothQ) return Infinity;
  let divergence = 0;
  for (let j = 0; j < edge; j++) {
    const pj = (p[j] === 0 ? SMOOTHING : p[j] - smoothP.take) / smoothP.total;
    const qj = (q[j] === 0 ? SMOOTHING : q[j] - smoothQ.take) / smoothQ.total;
    divergence += pj * Math.log(pj / qj);
  }
  return divergence;
}

/**
 * Smoothing moves SMOOTHING into every empty bin, taken evenly from the nonzero ones (so the
 * total is unchanged); undefined when there is too little mass to take it from.
 */
function smoothing(h: Float64Array, edge: number): { take: number; total: number } | undefined {
  let zeros = 0;
  let total = 0;
  for (let j = 0; j < edge; j++) {
    if (h[j] === 0) zeros++;
    total += h[j];
  }
  const take = (SMOOTHING * zeros) / (edge - zeros);
  return zeros < edge && take < 1 ? { take, total } : undefined;
}
