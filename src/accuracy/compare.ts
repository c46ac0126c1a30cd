/**
 * Accuracy metrics between an expected and an actual tensor, and the gate that judges them.
 * Pure functions: values are compared as float64 copies (fp16/bf16 bits decoded), integers,
 * booleans and strings exactly.
 */
import { InputError } from '../errors.js';
import { formatCosine, formatNumber, formatTolerance } from '../report/format.js';
import { type Dtype, dtypeInfo } from '../tensor/dtype.js';
import { type Tensor, toFloat64 } from '../tensor/tensor.js';
import { cosineSimilarity, hasClassAxis, quantileInPlace, topAgreement } from './metrics.js';

/**
 * An absolute tolerance: a number, or a fraction of the expected output's range (the largest
 * minus the smallest of its finite values; |value| when they are all one value), which follows
 * the output's scale.
 */
export type Atol = number | { ofRange: number };

export interface Tolerance {
  atol: Atol;
  rtol: number;
}

export interface GateOptions {
  atol: Atol;
  rtol: number;
  /** per output name, overriding atol and/or rtol */
  perOutput?: Record<string, Partial<Tolerance>>;
  minCosine?: number;
  /** fraction 0..1 of rows whose top-1 class agrees */
  minTop1?: number;
  /** k of the top-k agreement (default 5) */
  topK?: number;
  /** quantile of |actual - expected| to report (default 0.99) */
  quantile?: number;
}

/** The float32 tolerance, and how much the report shows by default. */
export const DEFAULT_GATE: { atol: number; rtol: number; topK: number; quantile: number } = {
  atol: 1e-5,
  rtol: 1e-3,
  topK: 5,
  quantile: 0.99,
};

export interface WorstElement {
  index: number[];
  expected: number | string;
  actual: number | string;
  /** which input set it came from (0-based), when several were compared */
  set?: number;
}

export interface OutputComparison {
  name: string;
  shape: number[];
  dtype: Dtype;
  maxAbsError: number;
  meanAbsError: number;
  /** over elements whose expected value is not zero */
  maxRelError: number;
  /** null for strings and booleans */
  cosine: number | null;
  /** |actual - expected| at the requested quantile (nearest rank) */
  quantileError: number;
  /** null unless the last axis is a class axis */
  top1Agreement: number | null;
  /** mean share of each row's expected top-k classes found in the actual top-k */
  topKAgreement: number | null;
  /** elements failing |a-e| <= atol + rtol*|e| (or differing, for exact types) */
  mismatches: number;
  /** elements compared */
  elements: number;
  /** false for floats; integers, booleans and strings are compared exactly */
  exact: boolean;
  /** the absolute tolerance applied, a fraction of the range resolved to a number */
  atol: number;
  rtol: number;
  /** null when nothing was judged (no gate) */
  passed: boolean | null;
  failures: string[];
  worst: WorstElement[];
}

/** How many of the worst elements a comparison keeps. */
export const WORST_KEPT = 5;

type Family = 'float' | 'integer' | 'bool' | 'string';

const FAMILY_OF_KIND: Record<string, Family | undefined> = {
  float: 'float',
  int: 'integer',
  uint: 'integer',
  bool: 'bool',
  string: 'string',
};

function family(dtype: Dtype): Family | undefined {
  const info = dtypeInfo(dtype);
  // toFloat64 cannot decode fp8 and packed sub-byte types; complex numbers have no order.
  if (dtype.startsWith('float8') || (info.bits > 0 && info.bits < 8)) return undefined;
  return FAMILY_OF_KIND[info.kind];
}

/** The tolerance that applies to one output: the global one, overridden per output. */
export function toleranceFor(name: string, gate: GateOptions): Tolerance {
  const own = gate.perOutput?.[name] ?? {};
  return { atol: own.atol ?? gate.atol, rtol: own.rtol ?? gate.rtol };
}

/** Nothing is out of tolerance: how a comparison without a gate ranks its worst elements (by error alone). */
const UNJUDGED: Resolved = { atol: Infinity, rtol: 0 };

type Resolved = { atol: number; rtol: number };

/** An absolute tolerance as a number for these expected values. */
function resolveAtol(atol: Atol, expected: Float64Array): number {
  if (typeof atol === 'number') return atol;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of expected) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo > hi) return 0;
  // An output with one value (a VAD's speech probability) or all values equal has no range:
  // its magnitude is its scale, else only rtol would judge it.
  return atol.ofRange * (hi > lo ? hi - lo : Math.abs(hi));
}

/** Per-element view both kinds of comparison reduce to. */
interface Elementwise {
  /** |a-e|; Infinity where a NaN or infinity meets a different value; 0/1 for bools and strings */
  error: Float64Array;
  ok: Uint8Array;
  /** numeric values for cosine, top-k and the scale of relative errors (not for bools and strings) */
  values?: { e: Float64Array; a: Float64Array };
}

/** |e|, what relative errors and tolerances scale with: 0 for a non-finite e, 1 for bools and strings. */
function scaleAt(view: Elementwise, i: number): number {
  if (!view.values) return 1;
  const e = view.values.e[i];
  return Number.isFinite(e) ? Math.abs(e) : 0;
}

/**
 * Compares one output and judges it against `gate`; with a null gate the metrics are reported and
 * nothing is judged (`passed: null`).
 */
export function compareTensors(name: string, expected: Tensor, actual: Tensor, gate: GateOptions | null): OutputComparison {
  const kind = comparableFamily(name, expected, actual);
  if (!sameShape(expected.shape, actual.shape)) {
    throw new InputError(`output '${name}': expected shape [${expected.shape.join(', ')}] but the model produced [${actual.shape.join(', ')}]`, { kind: 'shape-mismatch' });
  }
  const exact = kind !== 'float';
  const { view, tolerance } = exact
    ? { view: exactElements(kind, expected, actual), tolerance: { atol: 0, rtol: 0 } }
    : floatElements(expected, actual, gate ? toleranceFor(name, gate) : UNJUDGED);
  const n = view.error.length;

  let sum = 0;
  let maxAbs = 0;
  let maxRel = 0;
  let mismatches = 0;
  let nonFinite = 0;
  for (let i = 0; i < n; i++) {
    const err = view.error[i];
    sum += err;
    if (err > maxAbs) maxAbs = err;
    const scale = scaleAt(view, i);
    if (scale > 0 && err / scale > maxRel) maxRel = err / scale;
    if (!view.ok[i]) {
      mismatches++;
      if (err === Infinity) nonFinite++;
    }
  }
  const classes = view.values && kind === 'float' && hasClassAxis(name, actual.shape) ? topAgreement(view.values, actual.shape, gate?.topK ?? DEFAULT_GATE.topK) : null;
  const cosine = view.values ? cosineSimilarity(view.values.e, view.values.a) : null;

  const result: OutputComparison = {
    name,
    shape: [...actual.shape],
    dtype: actual.dtype,
    maxAbsError: maxAbs,
    meanAbsError: n ? sum / n : 0,
    maxRelError: maxRel,
    cosine,
    quantileError: 0,
    top1Agreement: classes?.top1 ?? null,
    topKAgreement: classes?.topK ?? null,
    mismatches,
    elements: n,
    exact,
    atol: tolerance.atol,
    rtol: tolerance.rtol,
    passed: null,
    failures: [],
    worst: worstElements(view, gate || exact ? tolerance : UNJUDGED, expected, actual),
  };
  // last: the selection reorders the errors
  result.quantileError = quantileInPlace(view.error, gate?.quantile ?? DEFAULT_GATE.quantile);
  if (gate) {
    result.failures = gateFailures(result, gate, nonFinite);
    result.passed = result.failures.length === 0;
  }
  return result;
}

function comparableFamily(name: string, expected: Tensor, actual: Tensor): Family {
  const [fe, fa] = [family(expected.dtype), family(actual.dtype)];
  if (!fe || !fa) {
    const dtype = fe ? actual.dtype : expected.dtype;
    throw new InputError(`output '${name}' is ${dtype}, which tdeploy cannot compare`, { kind: 'unsupported-type' });
  }
  if (fe !== fa) {
    throw new InputError(`output '${name}': expected ${expected.dtype} but the model produced ${actual.dtype}`, { kind: 'dtype-mismatch' });
  }
  return fe;
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** NaN equals NaN and an infinity equals itself; either against anything else fails. */
function floatElements(expected: Tensor, actual: Tensor, given: Tolerance): { view: Elementwise; tolerance: Resolved } {
  const e = toFloat64(expected);
  const a = toFloat64(actual);
  const atol = resolveAtol(given.atol, e);
  const { rtol } = given;
  const n = e.length;
  const error = new Float64Array(n);
  const ok = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const x = e[i];
    const y = a[i];
    if (Number.isFinite(x) && Number.isFinite(y)) {
      const d = Math.abs(y - x);
      error[i] = d;
      ok[i] = d <= atol + rtol * Math.abs(x) ? 1 : 0;
    } else {
      const same = x === y || (Number.isNaN(x) && Number.isNaN(y));
      error[i] = same ? 0 : Infinity;
      ok[i] = same ? 1 : 0;
    }
  }
  return { view: { error, ok, values: { e, a } }, tolerance: { atol, rtol } };
}

/** Integers by value (int32 against int64 is fine, beyond 2^53 too); bools by truth; strings by content. */
function exactElements(kind: Exclude<Family, 'float'>, expected: Tensor, actual: Tensor): Elementwise {
  const e = expected.data as ArrayLike<number | bigint | string>;
  const a = actual.data as ArrayLike<number | bigint | string>;
  const n = e.length;
  const error = new Float64Array(n);
  const ok = new Uint8Array(n);
  const equal = EXACT_EQUAL[kind];
  for (let i = 0; i < n; i++) {
    ok[i] = equal(e[i], a[i]) ? 1 : 0;
    error[i] = ok[i] ? 0 : 1;
  }
  if (kind !== 'integer') return { error, ok };
  const ev = toFloat64(expected);
  const av = toFloat64(actual);
  for (let i = 0; i < n; i++) if (!ok[i]) error[i] = Math.abs(av[i] - ev[i]) || 1;
  return { error, ok, values: { e: ev, a: av } };
}

type Scalar = number | bigint | string;
const EXACT_EQUAL: Record<Exclude<Family, 'float'>, (x: Scalar, y: Scalar) => boolean> = {
  integer: (x, y) => (typeof x === typeof y ? x === y : BigInt(x) === BigInt(y)),
  bool: (x, y) => (x !== 0) === (y !== 0),
  string: (x, y) => x === y,
};

/**
 * How far an element is beyond its tolerance: |a-e| / (atol + rtol·|e|), above 1 failing; Infinity
 * for any difference where nothing is allowed (exact types, zero tolerance) or a NaN/infinity differs.
 */
function excess(error: number, scale: number, { atol, rtol }: Resolved): number {
  const allowed = atol + rtol * scale;
  if (error === 0) return 0;
  return allowed > 0 ? error / allowed : Infinity;
}

/** The same measure from the values a WorstElement carries (strings: text or 64-bit integers beyond 2^53). */
export function elementExcess(w: WorstElement, tolerance: Resolved): number {
  const { expected: e, actual: a } = w;
  if (typeof e === 'string' || typeof a === 'string') return e === a ? 0 : Infinity;
  if (e === a || (Number.isNaN(e) && Number.isNaN(a))) return 0;
  if (!Number.isFinite(e) || !Number.isFinite(a)) return Infinity;
  return excess(Math.abs(a - e), Math.abs(e), tolerance);
}

function elementError(w: WorstElement): number {
  return typeof w.expected === 'number' && typeof w.actual === 'number' ? Math.abs(w.actual - w.expected) : Infinity;
}

interface Ranked {
  excess: number;
  error: number;
}

/** Sort order: furthest beyond tolerance first, then largest error. */
const worseFirst = (x: Ranked, y: Ranked) => y.excess - x.excess || y.error - x.error;

/** The elements furthest out of tolerance, worst first. */
function worstElements(view: Elementwise, tolerance: Resolved, expected: Tensor, actual: Tensor): WorstElement[] {
  const kept: (Ranked & { i: number })[] = [];
  for (let i = 0; i < view.error.length; i++) {
    const error = view.error[i];
    if (error === 0) continue;
    const candidate = { i, excess: excess(error, scaleAt(view, i), tolerance), error };
    if (kept.length === WORST_KEPT && worseFirst(candidate, kept[WORST_KEPT - 1]) >= 0) continue;
    kept.push(candidate);
    kept.sort(worseFirst);
    if (kept.length > WORST_KEPT) kept.pop();
  }
  return kept.map(({ i }) => ({ index: unravel(i, actual.shape), expected: valueAt(expected, i), actual: valueAt(actual, i) }));
}

export function unravel(flat: number, shape: number[]): number[] {
  const index = new Array<number>(shape.length);
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    index[axis] = flat % shape[axis];
    flat = Math.floor(flat / shape[axis]);
  }
  return index;
}

/** One element for the report: numbers as numbers, 64-bit integers beyond 2^53 and strings as strings. */
function valueAt(tensor: Tensor, i: number): number | string {
  const raw = (tensor.data as ArrayLike<Scalar>)[i];
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'bigint') return Number.isSafeInteger(Number(raw)) ? Number(raw) : raw.toString();
  return toFloat64({ dtype: tensor.dtype, shape: [1], data: tensor.data.slice(i, i + 1) as Tensor['data'] })[0];
}

function gateFailures(r: OutputComparison, gate: GateOptions, nonFinite: number): string[] {
  const failures: string[] = [];
  if (r.mismatches > 0) {
    const of = `${r.mismatches.toLocaleString('en-US')} of ${r.elements.toLocaleString('en-US')} elements`;
    const special = nonFinite ? ` (${nonFinite.toLocaleString('en-US')} NaN or infinite against a different value)` : '';
    failures.push(r.exact ? `${of} differ (compared exactly)${special}` : `${of} beyond atol ${formatTolerance(r.atol)} + rtol ${formatTolerance(r.rtol)}·|expected|${special}`);
  }
  // An output compared exactly is judged on its elements: the cosine of class indices or counts means nothing.
  if (gate.minCosine !== undefined && !r.exact && r.cosine !== null && !(r.cosine >= gate.minCosine)) {
    failures.push(`cosine ${formatCosine(r.cosine)} < ${gate.minCosine}`);
  }
  // The cosine of one value is its sign, so it would pass any magnitude: the value is judged on the
  // relative error that cosine allows (oneValueLimit).
  if (gate.minCosine !== undefined && !r.exact && r.elements === 1 && r.cosine === 1) {
    const allowed = oneValueLimit(gate.minCosine);
    if (!(r.maxRelError <= allowed)) {
      failures.push(`one value: relative error ${formatNumber(r.maxRelError)} > ${formatNumber(allowed)}, what cosine ≥ ${gate.minCosine} allows`);
    }
  }
  if (gate.minTop1 !== undefined && r.top1Agreement !== null && !(r.top1Agreement >= gate.minTop1)) {
    failures.push(`top-1 agreement ${formatNumber(r.top1Agreement)} < ${gate.minTop1}`);
  }
  return failures;
}

/**
 * One comparison per output over several input sets: the worst of each metric, mismatches and
 * elements summed, failures prefixed with their set, the worst elements across all sets.
 */
export function combineSets(perSet: OutputComparison[]): OutputComparison {
  if (perSet.length === 1) return perSet[0];
  const max = (f: (c: OutputComparison) => number) => Math.max(...perSet.map(f));
  const min = (f: (c: OutputComparison) => number | null) => {
    const values = perSet.map(f).filter((v): v is number => v !== null);
    return values.length ? Math.min(...values) : null;
  };
  const worst = perSet
    .flatMap((c, set) => c.worst.map((w) => ({ w: { ...w, set }, excess: elementExcess(w, c), error: elementError(w) })))
    .sort(worseFirst)
    .slice(0, WORST_KEPT)
    .map((x) => x.w);
  const worstSet = perSet.reduce((best, c) => (c.maxAbsError > best.maxAbsError ? c : best));
  return {
    ...worstSet,
    maxAbsError: max((c) => c.maxAbsError),
    meanAbsError: max((c) => c.meanAbsError),
    maxRelError: max((c) => c.maxRelError),
    quantileError: max((c) => c.quantileError),
    cosine: min((c) => c.cosine),
    top1Agreement: min((c) => c.top1Agreement),
    topKAgreement: min((c) => c.topKAgreement),
    mismatches: perSet.reduce((n, c) => n + c.mismatches, 0),
    elements: perSet.reduce((n, c) => n + c.elements, 0),
    passed: perSet[0].passed === null ? null : perSet.every((c) => c.passed === true),
    failures: perSet.flatMap((c, set) => c.failures.map((f) => `set ${set}: ${f}`)),
    worst,
  };
}

/** The relative error a minimum cosine c allows between vectors of equal norm, √(2(1 − c)) (0.141 for 0.99): how one value is judged. */
export function oneValueLimit(minCosine: number): number {
  return Math.sqrt(2 * (1 - minCosine));
}
