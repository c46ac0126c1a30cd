import type { NodeProto } from '../../onnx/gen/onnx_pb.js';
import { tensorInfo } from '../../onnx/signature.js';
import { type Dtype, onnxFromDtype } from '../../tensor/dtype.js';
import { numberAt } from '../../tensor/tensor.js';
import { constantTensor, intAttr, intsAttr, isOnnxOp } from '../graph.js';
import {
  type Bias, type Positions, type Uniform, type Value, atomSize, broadcast, broadcastTerms, convert, isBias, isPositions, isUniform,
  product, regroup, shapeOfValue,
} from './mask-values.js';
import { type Kind, type ShapeOf, type Term, evaluate, isNumber, kindOf, num, sameTerm, times } from './shape-expr.js';
import { type Bail, type FusionGraph, bail, isBail, smallValues } from './types.js';

/** An attention mask as com.microsoft Attention takes it: a [B, S] tensor, 1 keeps a token, 0 drops it. */
export interface AttentionMask {
  source: string;
  dtype: Dtype;
  /** what the pattern adds to the scores of dropped tokens: Attention's mask_filter_value */
  fill: number;
}

type Trace = (name: string) => Value | Bail;
interface Context {
  g: FusionGraph;
  trace: Trace;
  /** a shape vector or a scalar size the graph computes */
  terms: (name: string) => Term[] | undefined;
}
type Step = (node: NodeProto, c: Context) => Value | Bail;

/** Both inputs traced, or the first reason one is not. */
function both(node: NodeProto, c: Context): [Value, Value] | Bail {
  const a = c.trace(node.input[0]);
  if (isBail(a)) return a;
  const b = c.trace(node.input[1]);
  return isBail(b) ? b : [a, b];
}

/**
 * An elementwise op of two inputs: the mask with a uniform value on either side (applied to both
 * mask values, the shapes broadcast), two uniform numbers, or (with `positions`) integer positions.
 */
function elementwise(op: (a: number, b: number) => number, resultKind?: Kind, positions?: (a: Positions, b: Value) => Value | undefined): Step {
  return (node, c) => {
    const operands = both(node, c);
    if (isBail(operands)) return operands;
    const [a, b] = operands;
    const withPositions = positions && (isPositions(a) ? positions(a, b) : isPositions(b) ? positions(b, a) : undefined);
    if (withPositions) return withPositions;
    if (isUniform(a) && isUniform(b) && isNumber(a.uniform) && isNumber(b.uniform)) {
      const shape = broadcastTerms(a.shape, b.shape);
      const kind = resultKind ?? a.kind;
      if (shape) return { uniform: num(convert(op(a.uniform.k, b.uniform.k), kind)), kind, shape };
    }
    for (const [x, y, maskFirst] of [[a, b, true], [b, a, false]] as const) {
      if (!isBias(x) || !isUniform(y) || !isNumber(y.uniform)) continue;
      const kind = resultKind ?? x.kind;
      const apply = (v: number) => convert(maskFirst ? op(v, y.uniform.k) : op(y.uniform.k, v), kind);
      const shape = broadcast(x.shape, y.shape);
      if (shape) return { ...x, kind, keep: apply(x.keep), drop: apply(x.drop), shape };
    }
    return bail(`'${node.name}' does not combine the mask with a constant in a way tdeploy can follow`);
  };
}

/** Positions plus positions (their shapes broadcast), or times a size. */
function addPositions(a: Positions, b: Value): Value | undefined {
  if (!isPositions(b)) return undefined;
  const shape = broadcastTerms(a.shape, b.shape);
  if (!shape) return undefined;
  const at = (v: Positions, i: number) => v.stride[i - shape.length + v.stride.length] ?? num(0);
  const stride = shape.map((_, i) => {
    const [x, y] = [at(a, i), at(b, i)];
    return isNumber(x, 0) ? y : isNumber(y, 0) ? x : undefined;
  });
  return stride.every(Boolean) ? { stride: stride as Term[], shape } : undefined;
}
function scalePositions(a: Positions, b: Value): Value | undefined {
  if (!isUniform(b) || b.shape.some((t) => !isNumber(t, 1)) || b.shape.length > a.shape.length) return undefined;
  return { stride: a.stride.map((s) => (s.k === 0 ? s : times(s, b.uniform))), shape: a.shape };
}
/** Positions (never negative) compared with a number at most 0: true everywhere. */
function atLeast(a: Positions, b: Value): Value | undefined {
  if (!isUniform(b) || !isNumber(b.uniform) || b.uniform.k > 0 || !a.stride.every((s) => s.k >= 0)) return undefined;
  const shape = broadcastTerms(a.shape, b.shape);
  return shape && { uniform: num(1), kind: 'bool', shape };
}

/** Reshape and Expand: the mask's shape changed by a target the graph computes. */
function toShape(apply: (shape: string[][], target: Term[]) => string[][] | undefined, verb: string): Step {
  return (node, c) => {
    const a = c.trace(node.input[0]);
    if (isBail(a)) return a;
    const target = c.terms(node.input[1]);
    if (isBias(a)) {
      const shape = target && apply(a.shape, target);
      if (shape) return { ...a, shape };
    } else if (isUniform(a) && verb === 'expands') {
      const shape = target && broadcastTerms(a.shape, target);
      if (shape) return { ...a, shape };
    }
    return bail(`'${node.name}' ${verb} the mask in a way tdeploy cannot follow`);
  };
}

/** Unsqueeze's axes put size-1 axes in. */
function unsqueeze(node: NodeProto, c: Context): Value | Bail {
  const a = c.trace(node.input[0]);
  if (isBail(a)) return a;
  const axes = node.input[1] ? c.terms(node.input[1])?.map((t) => t.k) : intsAttr(node, 'axes');
  if (!axes) return bail(`the axes of '${node.name}' are not constant`);
  const rank = a.shape.length + axes.length;
  const sorted = axes.map((x) => (x < 0 ? x + rank : x)).sort((x, y) => x - y);
  const insert = <T>(list: T[], item: T) => {
    const out = [...list];
    for (const axis of sorted) out.splice(axis, 0, item);
    return out;
  };
  if (isBias(a)) return { ...a, shape: insert(a.shape, []) };
  if (isUniform(a)) return { ...a, shape: insert(a.shape, num(1)) };
  return { stride: insert(a.stride, num(0)), shape: insert(a.shape, num(1)) };
}

const steps: Record<string, Step> = {
  Identity: (node, c) => c.trace(node.input[0]),
  Cast(node, c) {
    const a = c.trace(node.input[0]);
    const kind = kindOf(intAttr(node, 'to', 0));
    if (isBail(a) || !kind) return isBail(a) ? a : bail(`'${node.name}' casts to an unsupported type`);
    if (isPositions(a)) return kind === 'int' ? a : bail(`'${node.name}' casts positions to a ${kind}`);
    if (isUniform(a)) return isNumber(a.uniform) ? { ...a, kind, uniform: num(convert(a.uniform.k, kind)) } : kind === 'int' ? { ...a, kind } : bail(`'${node.name}' casts a size to a ${kind}`);
    return { ...a, kind, keep: convert(a.keep, kind), drop: convert(a.drop, kind) };
  },
  Not(node, c) {
    const a = c.trace(node.input[0]);
    if (isBail(a)) return a;
    if (isBias(a)) return { ...a, keep: Number(!a.keep), drop: Number(!a.drop) };
    return isUniform(a) && isNumber(a.uniform) ? { ...a, uniform: num(Number(!a.uniform.k)) } : bail(`'${node.name}' negates positions`);
  },
  Equal: elementwise((a, b) => Number(a === b), 'bool'),
  And: elementwise((a, b) => Number(a !== 0 && b !== 0), 'bool'),
  Or: elementwise((a, b) => Number(a !== 0 || b !== 0), 'bool'),
  GreaterOrEqual: elementwise((a, b) => Number(a >= b), 'bool', atLeast),
  Add: elementwise((a, b) => a + b, undefined, addPositions),
  Mul: elementwise((a, b) => a * b, undefined, scalePositions),
  Sub: elementwise((a, b) => a - b),
  Div: elementwise((a, b) => a / b),
  Unsqueeze: unsqueeze,
  Reshape: toShape(regroup, 'reshapes'),
  Expand: toShape(broadcast, 'expands'),
  Flatten(node, c) {
    const a = c.trace(node.input[0]);
    if (isBail(a) || !isBias(a)) return isBail(a) ? a : bail(`'${node.name}' flattens something other than the mask`);
    const at = intAttr(node, 'axis', 1);
    const axis = at < 0 ? at + a.shape.length : at;
    return { ...a, shape: [a.shape.slice(0, axis).flat(), a.shape.slice(axis).flat()] };
  },
  Range(node, c) {
    const [start, limit, delta] = [0, 1, 2].map((i) => c.terms(node.input[i]));
    if (start?.length !== 1 || limit?.length !== 1 || delta?.length !== 1 || !isNumber(start[0], 0) || !isNumber(delta[0], 1)) {
      return bail(`'${node.name}' is not a Range from 0 by 1`);
    }
    return { stride: [num(1)], shape: [limit[0]] };
  },
  Gather: gather,
  ConstantOfShape(node, c) {
    const shape = c.terms(node.input[0]);
    const value = node.attribute.find((a) => a.name === 'value')?.t;
    // ONNX: without a value attribute the output is float32 zeros.
    const kind = value ? kindOf(value.dataType) : 'float';
    const values = value && smallValues(c.g, value);
    if (!shape || !kind || (value && !values)) return bail(`'${node.name}' fills a shape tdeploy cannot follow`);
    return { uniform: num(values ? numberAt(values, 0) : 0), kind, shape };
  },
  Where(node, c) {
    const cond = c.trace(node.input[0]);
    if (isBail(cond)) return cond;
    const [a, b] = [c.trace(node.input[1]), c.trace(node.input[2])];
    if (!isBias(cond) || isBail(a) || isBail(b) || !isUniform(a) || !isUniform(b) || !isNumber(a.uniform) || !isNumber(b.uniform)) {
      return bail(`'${node.name}' does not choose between two constants by the mask`);
    }
    const branches = broadcastTerms(a.shape, b.shape);
    const shape = branches && broadcast(cond.shape, branches);
    if (!shape) return bail(`'${node.name}' broadcasts the mask in a way tdeploy cannot follow`);
    const pick = (v: number) => (v ? a.uniform.k : b.uniform.k);
    return { ...cond, kind: a.kind, keep: pick(cond.keep), drop: pick(cond.drop), shape };
  },
};

/**
 * Gather(flattened mask, positions, axis 0): positions that step through the flattened atoms
 * with their row-major strides, each atom along an axis of its size, pick every element once,
 * so the result is the mask laid out along the positions' axes (the rest of them size 1).
 */
function gather(node: NodeProto, c: Context): Value | Bail {
  const operands = both(node, c);
  if (isBail(operands)) return operands;
  const [data, index] = operands;
  const why = bail(`'${node.name}' does not pick the mask's elements in a way tdeploy can follow`);
  if (!isBias(data) || !isPositions(index) || intAttr(node, 'axis', 0) !== 0 || data.shape.length === 0) return why;
  const atoms = data.shape[0];
  const stride = (j: number) => product(atoms.slice(j + 1).map(atomSize));
  const used = new Set<number>();
  const shape: string[][] = [];
  for (const [a, n] of index.shape.entries()) {
    if (isNumber(n, 1)) {
      shape.push([]);
      continue;
    }
    const j = atoms.findIndex((atom, i) => !used.has(i) && sameTerm(atomSize(atom), n) && sameTerm(index.stride[a], stride(i)));
    if (j < 0) return why;
    used.add(j);
    shape.push([atoms[j]]);
  }
  return used.size === atoms.length ? { ...data, shape: [...shape, ...data.shape.slice(1)] } : why;
}

/**
 * Follows the additive mask the scores get back to a [B, S] graph input of 0s and 1s, and checks
 * that it adds exactly 0 where a token is kept, a negative constant where one is dropped, and is
 * shaped as the layout's scores read it (`expected`; the mask may also repeat along the queries'
 * axis, as transformers 5 expands it to [B, 1, S, S]). Anything else is left unfused.
 */
export function recogniseMask(g: FusionGraph, bias: string, expected: string[][], x: string, shapeOf: ShapeOf): AttentionMask | Bail {
  const sizes = namedSizes(g, x, shapeOf);
  const traced = new Map<string, Value | Bail>();
  const trace = (name: string, depth: number): Value | Bail => {
    if (!traced.has(name)) traced.set(name, depth > 64 ? bail('the attention mask is computed by too long a chain') : follow(name, depth));
    return traced.get(name)!;
  };
  const c: Context = {
    g,
    trace: (name) => trace(name, 0),
    terms: (name) => evaluate(g, name, maskShapeOf)?.terms,
  };
  const maskShapeOf: ShapeOf = (name) => {
    const known = shapeOf(name) ?? sizes(name);
    if (known) return known;
    const v = traced.get(name) ?? c.trace(name);
    return isBail(v) ? undefined : shapeOfValue(v);
  };
  const follow = (name: string, depth: number): Value | Bail => {
    const constant = constantTensor(g.view, name);
    if (constant) return uniform(g, constant) ?? bail(`the attention mask reads '${name}', a constant with more than one value`);
    if (g.view.graph.input.some((i) => i.name === name)) return source(g, name);
    const computed = evaluate(g, name, maskShapeOf);
    if (computed?.terms.length === 1) return { uniform: computed.terms[0], kind: computed.kind, shape: (g.types.get(name)?.shape ?? []).map(() => num(1)) };
    const node = g.view.producers.get(name);
    const step = node && isOnnxOp(node) && Object.hasOwn(steps, node.opType) ? steps[node.opType] : undefined;
    if (!step) return bail(`the attention mask is computed by '${node?.name || node?.opType || name}', which tdeploy does not follow`);
    return step(node!, { ...c, trace: (n) => trace(n, depth + 1) });
  };
  const mask = c.trace(bias);
  if (isBail(mask)) return mask;
  if (!isBias(mask) || mask.kind !== 'float' || mask.keep !== 0 || !(mask.drop < 0)) {
    const says = isBias(mask) ? `adds ${mask.keep} to kept tokens and ${mask.drop} to dropped ones` : 'does not depend on the mask';
    return bail(`the attention mask ${says}, not 0 and a negative constant`);
  }
  const query = expected.length - 2;
  const fits = mask.shape.length === expected.length && mask.shape.every((axis, i) => axis.join() === expected[i].join()
    || (i === query && expected[i].length === 0 && axis.join() === '*S'));
  if (!fits) return bail('the attention mask is not shaped [batch, sequence] as the scores read it');
  return { source: mask.source, dtype: mask.dtype, fill: mask.drop };
}

/** A constant whose elements are all one value. */
function uniform(g: FusionGraph, tensor: NonNullable<ReturnType<typeof constantTensor>>): Uniform | undefined {
  const values = smallValues(g, tensor);
  const kind = kindOf(tensor.dataType);
  if (!values || !kind || values.data.length === 0) return undefined;
  const first = numberAt(values, 0);
  for (let i = 1; i < values.data.length; i++) if (numberAt(values, i) !== first) return undefined;
  return { uniform: num(first), kind, shape: values.shape.map(num) };
}

/**
 * Values' shapes in the attention's sizes B and S, from the shapes ONNX Runtime infers in terms of
 * the inputs' symbolic dims (symbolic.ts): x's dims say which symbolic dim is B and which is S.
 */
function namedSizes(g: FusionGraph, x: string, shapeOf: ShapeOf): ShapeOf {
  const names = new Map<string, string>();
  const [symbolic, known] = [g.sizes.get(x), shapeOf(x)];
  for (const [i, t] of (symbolic ?? []).entries()) {
    const atom = known?.[i];
    if (t.k === 1 && t.dims.length === 1 && atom?.k === 1 && atom.dims.length === 1) names.set(t.dims[0], atom.dims[0]);
  }
  return (name) => {
    const terms = g.sizes.get(name)?.map((t) => ({ k: t.k, dims: t.dims.map((d) => names.get(d) ?? '').sort() }));
    return terms?.every((t) => t.dims.every(Boolean)) ? terms : undefined;
  };
}

/** Where a mask starts: a graph input of integers or booleans of rank 2 ([B, S]). */
function source(g: FusionGraph, name: string): Bias | Bail {
  const input = g.view.graph.input.find((i) => i.name === name);
  const info = input ? tensorInfo(input) : undefined;
  const dtype = info?.dtype;
  const kind = dtype ? kindOf(onnxFromDtype(dtype)) : undefined;
  if (!info || info.container || !dtype || !kind || kind === 'float' || info.shape?.length !== 2) {
    return bail(`the attention mask does not come from a [batch, sequence] integer input ('${name}')`);
  }
  return { keep: 1, drop: 0, kind, shape: [['B'], ['S']], source: name, dtype };
}
