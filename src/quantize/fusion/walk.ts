/** Small steps for walking a pattern: who produces and who reads a value, and constant operands. */
import type { NodeProto, TensorProto } from '../../onnx/gen/onnx_pb.js';
import { tensorDtype } from '../../onnx/tensor-proto.js';
import { numberAt } from '../../tensor/tensor.js';
import { constantTensor, intsAttr, isOnnxOp } from '../graph.js';
import { type FusionGraph, smallValues } from './types.js';

/** The node producing a value, when it is an ONNX op of one of the given types. */
export function producer(g: FusionGraph, name: string, ...opTypes: string[]): NodeProto | undefined {
  const node = g.view.producers.get(name);
  return node && isOnnxOp(node) && opTypes.includes(node.opType) ? node : undefined;
}

/**
 * The one node that reads a value besides `Shape` nodes (shape reads die with the pattern, and
 * the fusion is refused later if one does not), when it is an ONNX op of the given type.
 */
export function soleReader(g: FusionGraph, name: string, opType: string): NodeProto | undefined {
  if (g.view.graphOutputs.has(name)) return undefined;
  const readers = (g.view.consumers.get(name) ?? []).filter((n) => !(n.opType === 'Shape' && isOnnxOp(n)));
  return readers.length === 1 && readers[0].opType === opType && isOnnxOp(readers[0]) ? readers[0] : undefined;
}

/** A float32 constant (initializer or Constant node). */
export function floatConstant(g: FusionGraph, name: string): TensorProto | undefined {
  const tensor = constantTensor(g.view, name);
  return tensor && tensorDtype(tensor) === 'float32' ? tensor : undefined;
}

/** The value of a one-element float32 constant. */
export function scalar(g: FusionGraph, name: string): number | undefined {
  const tensor = floatConstant(g, name);
  const values = tensor && smallValues(g, tensor);
  return values && values.data.length === 1 ? numberAt(values, 0) : undefined;
}

/** The other operand of a binary node whose operand `known` is one of its inputs. */
export const otherInput = (node: NodeProto, known: string): string => (node.input[0] === known ? node.input[1] : node.input[0]);

/** x·c, c·x or x/c with a float scalar constant c: x and the factor. */
export function scaling(g: FusionGraph, node: NodeProto): { input: string; factor: number } | undefined {
  if (!isOnnxOp(node) || node.input.length !== 2) return undefined;
  if (node.opType === 'Div') {
    const c = scalar(g, node.input[1]);
    return c ? { input: node.input[0], factor: 1 / c } : undefined;
  }
  if (node.opType !== 'Mul') return undefined;
  for (const [x, c] of [[0, 1], [1, 0]]) {
    const value = scalar(g, node.input[c]);
    if (value !== undefined) return { input: node.input[x], factor: value };
  }
  return undefined;
}

/** What a value is, looking back through Transposes and scalings: where it came from, the composite permutation and factor. */
export interface Traced {
  source: string;
  /** output axis i is source axis perm[i]; undefined when no Transpose was passed */
  perm?: number[];
  factor: number;
  nodes: NodeProto[];
}

export function traceBack(g: FusionGraph, name: string, allowScaling = true): Traced | undefined {
  const traced: Traced = { source: name, factor: 1, nodes: [] };
  for (let node = g.view.producers.get(name); node; node = g.view.producers.get(traced.source)) {
    const scaled = allowScaling ? scaling(g, node) : undefined;
    if (scaled) {
      traced.factor *= scaled.factor;
      traced.source = scaled.input;
    } else if (node.opType === 'Transpose' && isOnnxOp(node)) {
      const step = intsAttr(node, 'perm');
      if (!step) return undefined;
      traced.perm = traced.perm ? traced.perm.map((i) => step[i]) : step;
      traced.source = node.input[0];
    } else break;
    traced.nodes.push(node);
  }
  return traced;
}

/** Looks forward from a value through a chain of Transposes, each the sole reader of the one before. */
export function traceForward(g: FusionGraph, name: string): { end: string; perm?: number[]; nodes: NodeProto[] } {
  const nodes: NodeProto[] = [];
  let perm: number[] | undefined;
  let end = name;
  for (let t = soleReader(g, end, 'Transpose'); t; t = soleReader(g, end, 'Transpose')) {
    const step = intsAttr(t, 'perm');
    if (!step) break;
    const before = perm;
    perm = before ? step.map((i) => before[i]) : step;
    end = t.output[0];
    nodes.push(t);
  }
  return { end, perm, nodes };
}

export const samePerm = (a: number[] | undefined, b: number[]): boolean => a !== undefined && a.length === b.length && a.every((v, i) => v === b[i]);
