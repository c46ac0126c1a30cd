import type { NodeProto } from '../../onnx/gen/onnx_pb.js';
import { tensorInfo } from '../../onnx/signature.js';
import { type Dtype, onnxFromDtype } from '../../tensor/dtype.js';
import { numberAt } from '../../tensor/tensor.js';
import { constantTensor, intAttr, intsAttr, isOnnxOp } from '../graph.js';
import { type Kind, type ShapeOf, type Term, evaluate, isNumber, kindOf, num, sameTerm, size, times } from './shape-expr.js';
import { type Bail, type FusionGraph, bail, isBail, smallValues } from './types.js';
import { producer } from './walk.js';

/** An attention mask as com.microsoft Attention takes it: a [B, S] tensor, 1 keeps a token, 0 drops it. */
export interface AttentionMask {
  source: string;
  dtype: Dtype;
  /** what the pattern adds to the scores of dropped tokens: Attention's mask_filter_value */
  fill: number;
}

/**
 * The mask bias, evaluated for the two values a [B, S] mask of 0 and 1 can hold: what it adds
 * where the mask keeps a token and where it drops one, and its shape as the sizes merged into
 * each axis. Tokenizers give such masks; other values (2, -1) would make the pattern and the
 * fused op differ, as they do for ONNX Runtime's own fusion.
 */
interface Bias {
  keep: number;
  drop: number;
  kind: Kind;
  shape: string[][];
  source: string;
  dtype: Dtype;
}

function convert(v: number, kind: Kind): number {
  return kind === 'bool' ? Number(v !== 0) : kind === 'int' ? Math.trunc(v) : Math.fround(v);
}

function scalarOf(g: FusionGraph, name: string): number | undefined {
  const tensor = constantTensor(g.view, name);
  const values = tensor && smallValues(g, tensor);
  return values && values.data.length === 1 ? numberAt(values, 0) : undefined;
}

const atomTerm = (atom: string): Term => (/^\d+$/.test(atom) ? num(Number(atom)) : size(atom));

/** The shape after Reshape(x, target): target sizes made of x's sizes, merged or split in order. */
function regroup(shape: string[][], target: Term[]): string[][] | undefined {
  const atoms = shape.flat();
  const out: string[][] = [];
  let next = 0;
  for (const t of target) {
    const group: string[] = [];
    let made = num(1);
    while (!sameTerm(made, t) && next < atoms.length) {
      group.push(atoms[next]);
      made = times(made, atomTerm(atoms[next++]));
    }
    if (!sameTerm(made, t)) return undefined;
    out.push(group);
  }
  return next === atoms.length ? out : undefined;
}

function expand(shape: string[][], target: Term[]): string[][] | undefined {
  if (target.length < shape.length || !target.every((t) => isNumber(t) && t.k >= 1)) return undefined;
  const padded = [...Array<string[]>(target.length - shape.length).fill([]), ...shape];
  const out: string[][] = [];
  for (const [i, group] of padded.entries()) {
    const k = target[i].k;
    if (k === 1 || (group.length === 1 && group[0] === String(k))) out.push(group);
    else if (group.length === 0) out.push([String(k)]);
    else return undefined;
  }
  return out;
}

type Step = (node: NodeProto, g: FusionGraph, trace: (name: string) => Bias | Bail, shapeOf: ShapeOf) => Bias | Bail;

/** x op c with a scalar constant c on either side (as allowed), applied to both mask values. */
function arithmetic(op: (a: number, b: number) => number, constantFirst: boolean): Step {
  return (node, g, trace) => {
    for (const [x, c] of constantFirst ? [[0, 1], [1, 0]] : [[0, 1]]) {
      const value = scalarOf(g, node.input[c]);
      if (value === undefined) continue;
      const a = trace(node.input[x]);
      if (isBail(a)) return a;
      const apply = (v: number) => convert(c === 1 ? op(v, value) : op(value, v), a.kind);
      return { ...a, keep: apply(a.keep), drop: apply(a.drop) };
    }
    return bail(`'${node.name}' is not an operation with a scalar constant`);
  };
}

/** Reshape and Expand: the mask's shape changed by a target the graph computes. */
function toShape(apply: (shape: string[][], target: Term[]) => string[][] | undefined, verb: string): Step {
  return (node, g, trace, shapeOf) => {
    const a = trace(node.input[0]);
    if (isBail(a)) return a;
    const target = evaluate(g, node.input[1], shapeOf)?.terms;
    const shape = target && apply(a.shape, target);
    return shape ? { ...a, shape } : bail(`'${node.name}' ${verb} the mask in a way tdeploy cannot follow`);
  };
}

const steps: Record<string, Step> = {
  Identity: (node, _, trace) => trace(node.input[0]),
  Cast(node, _, trace) {
    const a = trace(node.input[0]);
    const kind = kindOf(intAttr(node, 'to', 0));
    if (isBail(a) || !kind) return isBail(a) ? a : bail(`'${node.name}' casts to an unsupported type`);
    return { ...a, kind, keep: convert(a.keep, kind), drop: convert(a.drop, kind) };
  },
  Not(node, _, trace) {
    const a = trace(node.input[0]);
    return isBail(a) ? a : { ...a, keep: Number(!a.keep), drop: Number(!a.drop) };
  },
  Equal: (node, g, trace, shapeOf) => {
    const r = arithmetic((a, b) => Number(a === b), true)(node, g, trace, shapeOf);
    return isBail(r) ? r : { ...r, kind: 'bool' };
  },
  Add: arithmetic((a, b) => a + b, true),
  Mul: arithmetic((a, b) => a * b, true),
  Sub: arithmetic((a, b) => a - b, true),
  Div: arithmetic((a, b) => a / b, false),
  Unsqueeze(node, g, trace, shapeOf) {
    const a = trace(node.input[0]);
    if (isBail(a)) return a;
    const axes = node.input[1] ? evaluate(g, node.input[1], shapeOf)?.terms.map((t) => t.k) : intsAttr(node, 'axes');
    if (!axes) return bail(`the axes of '${node.name}' are not constant`);
    const rank = a.shape.length + axes.length;
    const shape = [...a.shape];
    for (const axis of axes.map((x) => (x < 0 ? x + rank : x)).sort((x, y) => x - y)) shape.splice(axis, 0, []);
    return { ...a, shape };
  },
  Reshape: toShape(regroup, 'reshapes'),
  Expand: toShape(expand, 'expands'),
  Where(node, g, trace) {
    const cond = trace(node.input[0]);
    if (isBail(cond)) return cond;
    const [a, b] = [fill(g, node.input[1], cond, trace), fill(g, node.input[2], cond, trace)];
    if (a === undefined || b === undefined) return bail(`'${node.name}' does not choose between two constants`);
    return { ...cond, kind: 'float', keep: cond.keep ? a : b, drop: cond.drop ? a : b };
  },
};

/**
 * A constant Where picks: a scalar, or ConstantOfShape(Shape(v)) where v is a value of the mask
 * chain shaped like the condition (torch fills a zeros tensor shaped like the mask).
 */
function fill(g: FusionGraph, name: string, cond: Bias, trace: (name: string) => Bias | Bail): number | undefined {
  const value = scalarOf(g, name);
  if (value !== undefined) return value;
  const constant = producer(g, name, 'ConstantOfShape');
  const shape = constant && producer(g, constant.input[0], 'Shape');
  const like = shape && shape.attribute.length === 0 ? trace(shape.input[0]) : undefined;
  if (!like || isBail(like) || JSON.stringify(like.shape) !== JSON.stringify(cond.shape)) return undefined;
  const t = constant!.attribute.find((a) => a.name === 'value')?.t;
  return t ? numberAt(smallValues(g, t)!, 0) : 0;
}

/**
 * Follows the additive mask the scores get back to a [B, S] graph input of 0s and 1s, and checks
 * that it adds exactly 0 where a token is kept, a negative constant where one is dropped, and is
 * shaped as the layout's scores read it (`expected`). Anything else is left unfused.
 */
export function recogniseMask(g: FusionGraph, bias: string, expected: string[][], shapeOf: ShapeOf): AttentionMask | Bail {
  const trace = (name: string, depth: number): Bias | Bail => {
    const node = g.view.producers.get(name);
    if (!node) return source(g, name);
    const step = isOnnxOp(node) && Object.hasOwn(steps, node.opType) ? steps[node.opType] : undefined;
    if (!step || depth > 32) return bail(`the attention mask is computed by '${node.name || node.opType}', which tdeploy does not follow`);
    return step(node, g, (n) => trace(n, depth + 1), shapeOf);
  };
  const mask = trace(bias, 0);
  if (isBail(mask)) return mask;
  if (mask.kind !== 'float' || mask.keep !== 0 || !(mask.drop < 0)) {
    return bail(`the attention mask adds ${mask.keep} to kept tokens and ${mask.drop} to dropped ones, not 0 and a negative constant`);
  }
  if (JSON.stringify(mask.shape) !== JSON.stringify(expected)) return bail('the attention mask is not shaped [batch, sequence] as the scores read it');
  return { source: mask.source, dtype: mask.dtype, fill: mask.drop };
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
