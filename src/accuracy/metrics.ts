/** Statistics on float64 values that compareTensors reports: cosine, error quantile, top-k agreement. */

const CLASS_OUTPUT_NAME = /logit|prob|score|class|pred|softmax/i;

/**
 * Cosine of the flattened tensors over the elements finite on both sides; 1 when both are all zero.
 * Each side is divided by its largest magnitude first: squares of float64 values beyond 1e154
 * overflow to Infinity (NaN for two equal tensors) and below 1e-154 underflow to 0 (1 for opposite ones).
 */
export function cosineSimilarity(e: Float64Array, a: Float64Array): number {
  let se = 0;
  let sa = 0;
  for (let i = 0; i < e.length; i++) {
    if (!Number.isFinite(e[i]) || !Number.isFinite(a[i])) continue;
    se = Math.max(se, Math.abs(e[i]));
    sa = Math.max(sa, Math.abs(a[i]));
  }
  if (se === 0 && sa === 0) return 1;
  if (se === 0 || sa === 0) return 0;
  let dot = 0;
  let ee = 0;
  let aa = 0;
  for (let i = 0; i < e.length; i++) {
    if (!Number.isFinite(e[i]) || !Number.isFinite(a[i])) continue;
    const x = e[i] / se;
    const y = a[i] / sa;
    dot += x * y;
    ee += x * x;
    aa += y * y;
  }
  return Math.max(-1, Math.min(1, dot / Math.sqrt(ee * aa)));
}

/** Nearest-rank quantile of the errors, which it reorders: a quickselect, as outputs can hold millions of elements. */
export function quantileInPlace(errors: Float64Array, q: number): number {
  if (errors.length === 0) return 0;
  const k = Math.min(errors.length - 1, Math.max(0, Math.ceil(q * errors.length) - 1));
  let lo = 0;
  let hi = errors.length - 1;
  while (lo < hi) {
    const pivot = medianOfThree(errors[lo], errors[(lo + hi) >>> 1], errors[hi]);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (errors[i] < pivot) i++;
      while (errors[j] > pivot) j--;
      if (i <= j) {
        const t = errors[i];
        errors[i++] = errors[j];
        errors[j--] = t;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return errors[k];
}

function medianOfThree(a: number, b: number, c: number): number {
  return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
}

/**
 * Outputs whose last axis holds classes: named like classifier outputs, or of rank 1-2 where the
 * last axis is the only non-batch one. Hidden states [batch, seq, features] are not.
 */
export function hasClassAxis(name: string, shape: number[]): boolean {
  const classes = shape[shape.length - 1];
  return shape.length >= 1 && classes >= 2 && (shape.length <= 2 || CLASS_OUTPUT_NAME.test(name));
}

/** Top-1 agreement and top-k overlap, row by row over the last axis. */
export function topAgreement(values: { e: Float64Array; a: Float64Array }, shape: number[], topK: number): { top1: number; topK: number } {
  const classes = shape[shape.length - 1];
  const rows = values.e.length / classes;
  if (rows === 0) return { top1: 1, topK: 1 };
  const k = Math.min(topK, classes);
  let top1 = 0;
  let overlap = 0;
  for (let r = 0; r < rows; r++) {
    const e = values.e.subarray(r * classes, (r + 1) * classes);
    const a = values.a.subarray(r * classes, (r + 1) * classes);
    const te = topIndices(e, k);
    const ta = topIndices(a, k);
    if (te[0] === ta[0]) top1++;
    overlap += te.filter((c) => ta.includes(c)).length / k;
  }
  return { top1: top1 / rows, topK: overlap / rows };
}

/** Indices of the k largest values, largest first (NaN ranks below everything); O(n·k) for small k. */
function topIndices(row: Float64Array, k: number): number[] {
  const best: number[] = [];
  const above = (i: number, j: number) => row[i] > row[j] || (Number.isNaN(row[j]) && !Number.isNaN(row[i]));
  for (let i = 0; i < row.length; i++) {
    if (best.length === k && !above(i, best[k - 1])) continue;
    let at = best.length;
    while (at > 0 && above(i, best[at - 1])) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}
