import type { NodeProto, TensorProto } from '../../onnx/gen/onnx_pb.js';
import { intsAttr } from '../graph.js';
import { type ShapeOf, type Term, evaluate, isNumber, num } from './shape-expr.js';
import { type Bail, type FusionGraph, bail } from './types.js';
import { floatConstant, otherInput, producer } from './walk.js';

/**
 * q, k or v before the head split: x·W (+ b) with a constant W [E_in, N], or one slice of such a
 * product along its last axis, as torch's MultiheadAttention packs q, k and v in one [E_in, 3E] weight.
 */
export interface Projection {
  /** what the MatMul reads */
  input: string;
  weight: TensorProto;
  /** the names the nodes read W and b by (an initializer's, or an alias torch made for a shared one) */
  weightName: string;
  bias?: TensorProto;
  biasName?: string;
  /** x·W + b, before any slice */
  product: string;
  slice?: NodeProto;
  output: string;
  nodes: NodeProto[];
}

export function findProjection(g: FusionGraph, output: string): Projection | Bail {
  const slice = producer(g, output, 'Slice');
  const product = slice ? slice.input[0] : output;
  const add = producer(g, product, 'Add');
  const matmulOut = add ? add.input.find((i) => producer(g, i, 'MatMul')) : product;
  const matmul = matmulOut ? producer(g, matmulOut, 'MatMul') : undefined;
  if (!matmul) return bail(`${slice ? 'a slice of ' : ''}'${product}' is not x·W + b (MatMul and Add)`);
  const weight = floatConstant(g, matmul.input[1]);
  if (!weight || weight.dims.length !== 2) return bail(`the projection '${matmul.name}' has no constant 2-D float32 weight`);
  const biasName = add ? otherInput(add, matmulOut!) : undefined;
  const bias = biasName ? floatConstant(g, biasName) : undefined;
  if (add && (!bias || bias.dims.length !== 1 || bias.dims[0] !== weight.dims[1])) {
    return bail(`the bias of '${matmul.name}' is not a constant vector of ${weight.dims[1]} values`);
  }
  return { input: matmul.input[0], weight, weightName: matmul.input[1], bias, biasName, product, slice, output, nodes: [matmul, ...(add ? [add] : []), ...(slice ? [slice] : [])] };
}

export const width = (p: Projection): number => Number(p.weight.dims[1]);

/**
 * The columns of W (and b) a projection keeps: all of them, or the range its Slice takes along
 * the last axis, whose bounds torch computes from the product's Shape at run time.
 */
export function columns(g: FusionGraph, p: Projection, shapeOf: ShapeOf): [number, number] | Bail {
  const n = width(p);
  if (!p.slice) return [0, n];
  const rank = shapeOf(p.product)?.length;
  const [starts, ends, axes, steps] = p.slice.input.length > 1
    ? [1, 2, 3, 4].map((i) => (p.slice!.input[i] ? evaluate(g, p.slice!.input[i], shapeOf)?.terms : undefined))
    : ['starts', 'ends', 'axes', 'steps'].map((a) => intsAttr(p.slice!, a)?.map(num));
  const single = (terms: Term[] | undefined) => (terms?.length === 1 && isNumber(terms[0]) ? terms[0].k : undefined);
  const axis = axes ? single(axes) : 0;
  const [start, end] = [single(starts), single(ends)];
  if (start === undefined || end === undefined || axis === undefined || (steps && single(steps) !== 1)) {
    return bail(`the bounds of the slice '${p.slice.name}' are not constants tdeploy can work out`);
  }
  if (!rank || (axis !== -1 && axis !== rank - 1)) return bail(`the slice '${p.slice.name}' is not along the last axis`);
  const clamp = (v: number) => Math.min(n, Math.max(0, v < 0 ? v + n : v));
  return [clamp(start), clamp(end)];
}
