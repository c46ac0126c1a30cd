import type { NodeProto, TensorProto } from '../../onnx/gen/onnx_pb.js';
import { floatAttr, intAttr } from '../graph.js';
import { type Bail, type FusionGraph, bail } from './types.js';
import { floatConstant, otherInput, soleReader } from './walk.js';

/** The attention's output projection y = c·W (+ b), as a Gemm (torch's Linear on 2-D) or MatMul and Add. */
export interface OutputProjection {
  /** W as the node reads it: [E, E'], or [E', E] when `transposed` (Gemm transB) */
  weight: TensorProto;
  weightName: string;
  transposed: boolean;
  bias?: TensorProto;
  biasName?: string;
  width: number;
  output: string;
  nodes: NodeProto[];
}

export function findOutputProjection(g: FusionGraph, context: string, hidden: number): OutputProjection | Bail {
  const gemm = soleReader(g, context, 'Gemm');
  if (gemm) {
    const weight = floatConstant(g, gemm.input[1]);
    const transposed = intAttr(gemm, 'transB', 0) === 1;
    const bias = gemm.input[2] ? floatConstant(g, gemm.input[2]) : undefined;
    const width = weight ? Number(weight.dims[transposed ? 0 : 1]) : 0;
    if (gemm.input[0] !== context || intAttr(gemm, 'transA', 0) !== 0 || floatAttr(gemm, 'alpha', 1) !== 1 || floatAttr(gemm, 'beta', 1) !== 1
      || !weight || weight.dims.length !== 2 || Number(weight.dims[transposed ? 1 : 0]) !== hidden
      || (gemm.input[2] && (!bias || bias.dims.length !== 1 || Number(bias.dims[0]) !== width))) {
      return bail(`the output projection '${gemm.name}' is not c·W + b with constant W and b`);
    }
    return { weight, weightName: gemm.input[1], transposed, bias, biasName: gemm.input[2] || undefined, width, output: gemm.output[0], nodes: [gemm] };
  }
  const matmul = soleReader(g, context, 'MatMul');
  const weight = matmul && matmul.input[0] === context ? floatConstant(g, matmul.input[1]) : undefined;
  if (!matmul || !weight || weight.dims.length !== 2 || Number(weight.dims[0]) !== hidden) return bail('the context does not go through an output projection with a constant weight');
  const width = Number(weight.dims[1]);
  const add = soleReader(g, matmul.output[0], 'Add');
  const biasName = add ? otherInput(add, matmul.output[0]) : undefined;
  const bias = biasName ? floatConstant(g, biasName) : undefined;
  const biased = bias && bias.dims.length === 1 && Number(bias.dims[0]) === width;
  return {
    weight, weightName: matmul.input[1], transposed: false, width,
    ...(biased ? { bias, biasName, output: add!.output[0], nodes: [matmul, add!] } : { output: matmul.output[0], nodes: [matmul] }),
  };
}
