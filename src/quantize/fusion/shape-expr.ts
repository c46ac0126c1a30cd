import type { NodeProto } from '../../onnx/gen/onnx_pb.js';
import { tensorFromProto } from '../../onnx/tensor-proto.js';
import { dtypeFromOnnx, dtypeInfo } from '../../tensor/dtype.js';
import { numberAt } from '../../tensor/tensor.js';
import { constantTensor, intAttr, isOnnxOp } from '../graph.js';
import { type FusionGraph, smallValues } from './types.js';

/**
 * Exporters compute reshape targets and slice bounds at run time from `Shape` (torch writes
 * `Shape → Gather → Mul → Unsqueeze → Concat` for `x.view(seq, batch * heads, -1)`). A fusion may
 * only replace such a reshape when the target is exactly what the fused op does, whatever the
 * input sizes, so these expressions are evaluated symbolically: every element is a `Term`,
 * k × a product of symbolic sizes (`B` the batch, `S` the sequence), e.g. 4·B.
 */
export interface Term {
  k: number;
  /** symbolic sizes multiplied together, sorted */
  dims: string[];
}

export type Kind = 'int' | 'float' | 'bool';

/** A 0-D or 1-D value of a shape computation (rank is not tracked: the model already type-checks). */
export interface Value {
  terms: Term[];
  kind: Kind;
}

/** The symbolic shape of a value of the pattern being matched, for `Shape` nodes to read. */
export type ShapeOf = (name: string) => Term[] | undefined;

export const size = (name: string): Term => ({ k: 1, dims: [name] });
export const num = (k: number): Term => ({ k, dims: [] });
export const times = (a: Term, b: Term): Term => ({ k: a.k * b.k, dims: [...a.dims, ...b.dims].sort() });
export const sameTerm = (a: Term, b: Term): boolean => a.k === b.k && a.dims.join('·') === b.dims.join('·');
export const isNumber = (t: Term, k?: number): boolean => t.dims.length === 0 && (k === undefined || t.k === k);

type Rule = (node: NodeProto, arg: (i: number) => Value | undefined, shapeOf: ShapeOf) => Value | undefined;

const kinds: Partial<Record<string, Kind>> = { float: 'float', int: 'int', uint: 'int', bool: 'bool' };

/** int, float or bool: how shape arithmetic treats an ONNX element type (undefined for others). */
export function kindOf(onnxType: number): Kind | undefined {
  const dtype = dtypeFromOnnx(onnxType);
  return dtype ? kinds[dtypeInfo(dtype).kind] : undefined;
}

/** Elementwise on two values, the shorter (one element) broadcast. */
function elementwise(a: Value | undefined, b: Value | undefined, op: (x: Term, y: Term, kind: Kind) => Term | undefined, kind?: Kind): Value | undefined {
  if (!a || !b || (a.terms.length !== b.terms.length && a.terms.length !== 1 && b.terms.length !== 1)) return undefined;
  const n = Math.max(a.terms.length, b.terms.length);
  const terms: Term[] = [];
  for (let i = 0; i < n; i++) {
    const t = op(a.terms[a.terms.length === 1 ? 0 : i], b.terms[b.terms.length === 1 ? 0 : i], a.kind);
    if (!t) return undefined;
    terms.push(t);
  }
  return { terms, kind: kind ?? a.kind };
}

const add = (sign: 1 | -1) => (x: Term, y: Term): Term | undefined =>
  (x.dims.join('·') === y.dims.join('·') ? { k: x.k + sign * y.k, dims: x.dims } : undefined);

/** Integer division truncates (ONNX Div on integers); a symbolic size divides only when the factor does. */
function divide(x: Term, y: Term, kind: Kind): Term | undefined {
  if (!isNumber(y) || y.k === 0) return undefined;
  if (kind !== 'int') return { k: x.k / y.k, dims: x.dims };
  if (x.dims.length === 0) return num(Math.trunc(x.k / y.k));
  return x.k % y.k === 0 ? { k: x.k / y.k, dims: x.dims } : undefined;
}

/** Casting to an integer truncates, which a symbolic size survives only with an integer factor. */
function cast(x: Term, to: Kind): Term | undefined {
  if (to === 'float') return x;
  if (to === 'bool') return isNumber(x) ? num(x.k !== 0 ? 1 : 0) : undefined;
  return Number.isInteger(x.k) ? x : x.dims.length === 0 ? num(Math.trunc(x.k)) : undefined;
}

/** A symbolic size (k > 0 times sizes, which are never negative) is known to differ from a negative number. */
function equal(x: Term, y: Term): Term | undefined {
  if (isNumber(x) && isNumber(y)) return num(x.k === y.k ? 1 : 0);
  const [sized, other] = isNumber(x) ? [y, x] : [x, y];
  return isNumber(other) && other.k < 0 && sized.k > 0 ? num(0) : undefined;
}

function pick(data: Value | undefined, indices: Value | undefined): Value | undefined {
  if (!data || !indices) return undefined;
  const terms: Term[] = [];
  for (const index of indices.terms) {
    if (!isNumber(index)) return undefined;
    const i = index.k < 0 ? index.k + data.terms.length : index.k;
    if (i < 0 || i >= data.terms.length) return undefined;
    terms.push(data.terms[i]);
  }
  return { terms, kind: data.kind };
}

const rules: Record<string, Rule> = {
  Identity: (_, arg) => arg(0),
  Unsqueeze: (_, arg) => arg(0),
  Squeeze: (_, arg) => arg(0),
  Shape(node, _, shapeOf) {
    const shape = shapeOf(node.input[0]);
    if (!shape) return undefined;
    const start = intAttr(node, 'start', 0);
    const endAttr = node.attribute.find((a) => a.name === 'end');
    return { terms: shape.slice(start, endAttr ? Number(endAttr.i) : undefined), kind: 'int' };
  },
  Gather: (node, arg) => (intAttr(node, 'axis', 0) === 0 ? pick(arg(0), arg(1)) : undefined),
  Concat(node, arg) {
    if (intAttr(node, 'axis', 0) !== 0) return undefined;
    const parts = node.input.map((_, i) => arg(i));
    if (parts.some((p) => !p)) return undefined;
    return { terms: parts.flatMap((p) => p!.terms), kind: parts[0]!.kind };
  },
  Cast(node, arg) {
    const to = kindOf(intAttr(node, 'to', 0));
    const value = arg(0);
    if (!to || !value) return undefined;
    const terms = value.terms.map((t) => cast(t, to));
    return terms.every(Boolean) ? { terms: terms as Term[], kind: to } : undefined;
  },
  Add: (_, arg) => elementwise(arg(0), arg(1), add(1)),
  Sub: (_, arg) => elementwise(arg(0), arg(1), add(-1)),
  Mul: (_, arg) => elementwise(arg(0), arg(1), times),
  Div: (_, arg) => elementwise(arg(0), arg(1), divide),
  Equal: (_, arg) => elementwise(arg(0), arg(1), equal, 'bool'),
  // A shape vector reshaped to one dimension ([-1] or its length) keeps its values.
  Reshape(_, arg) {
    const [value, target] = [arg(0), arg(1)];
    const [t] = target?.terms ?? [];
    return value && target?.terms.length === 1 && (isNumber(t, -1) || isNumber(t, value.terms.length)) ? value : undefined;
  },
  Where(_, arg) {
    const [cond, a, b] = [arg(0), arg(1), arg(2)];
    if (!cond || !a || !b) return undefined;
    const n = Math.max(cond.terms.length, a.terms.length, b.terms.length);
    const at = (v: Value, i: number) => v.terms[v.terms.length === 1 ? 0 : i];
    if ([cond, a, b].some((v) => v.terms.length !== 1 && v.terms.length !== n)) return undefined;
    const terms: Term[] = [];
    for (let i = 0; i < n; i++) {
      const c = at(cond, i);
      if (!isNumber(c)) return undefined;
      terms.push(at(c.k !== 0 ? a : b, i));
    }
    return { terms, kind: a.kind };
  },
  ConstantOfShape(node, arg) {
    const shape = arg(0);
    if (!shape || !shape.terms.every((t) => isNumber(t) && t.k >= 0 && t.k <= 64)) return undefined;
    const n = shape.terms.reduce((p, t) => p * t.k, 1);
    const value = node.attribute.find((a) => a.name === 'value')?.t;
    // ONNX: without a value attribute the output is float32 zeros.
    const fill = value ? numberAt(tensorFromProto(value), 0) : 0;
    const kind = value ? kindOf(value.dataType) : 'float';
    return kind && shape.terms.length <= 1 ? { terms: Array.from({ length: n }, () => num(fill)), kind } : undefined;
  },
};

/**
 * The value of a shape computation, or undefined when any part of it is not a small constant,
 * a `Shape` of a value `shapeOf` knows, or one of the ops above.
 */
export function evaluate(g: FusionGraph, name: string, shapeOf: ShapeOf, depth = 0): Value | undefined {
  const tensor = constantTensor(g.view, name);
  if (tensor) {
    const values = smallValues(g, tensor);
    const kind = kindOf(tensor.dataType);
    if (!values || !kind || values.data.length > 64) return undefined;
    return { terms: Array.from({ length: values.data.length }, (_, i) => num(numberAt(values, i))), kind };
  }
  const node = g.view.producers.get(name);
  const rule = node && isOnnxOp(node) && Object.hasOwn(rules, node.opType) ? rules[node.opType] : undefined;
  if (!rule || depth > 32) return undefined;
  return rule(node!, (i) => (node!.input[i] ? evaluate(g, node!.input[i], shapeOf, depth + 1) : undefined), shapeOf);
}

const product = (terms: Term[]): Term => terms.reduce(times, num(1));

/**
 * Whether Reshape(x, target), x of shape `from`, gives exactly `expected`: every target entry is
 * the expected size, or 0 copying an equal input size (unless allowzero), or the one -1 that the
 * element count then fixes to the expected size.
 */
export function reshapesTo(target: Term[] | undefined, from: Term[], expected: Term[], allowZero: boolean): boolean {
  if (!target || target.length !== expected.length || !sameTerm(product(from), product(expected))) return false;
  let inferred = 0;
  return target.every((t, i) => sameTerm(t, expected[i])
    || (isNumber(t, 0) && !allowZero && i < from.length && sameTerm(from[i], expected[i]))
    || (isNumber(t, -1) && ++inferred === 1));
}
