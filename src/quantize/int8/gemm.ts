import type { NodeProto } from '../../onnx/gen/onnx_pb.js';
import { floatAttr, intAttr, makeNode } from '../graph.js';
import { tooSmall } from './kernels.js';
import { MICROSOFT, type OpQuantizer, checkWeight } from './quantizer.js';

/**
 * Gemm Y = A·B (+ C) with constant B. Dynamic: DynamicQuantizeMatMul with B as [K, N] (transposed
 * when transB) and C as its bias. Static: B int8 per output channel and C int32, behind DequantizeLinear (QGemm).
 */
export const gemm: OpQuantizer = {
  domain: '',
  check(node, ctx, form) {
    if (intAttr(node, 'transA', 0) !== 0) return { blocked: 'transA is set' };
    if (floatAttr(node, 'alpha', 1) !== 1) return { blocked: 'alpha is not 1' };
    const weight = checkWeight(node, ctx, 1, [2]);
    if (weight !== 'quantize') return weight;
    if (node.input[2]) {
      const c = ctx.constant(node.input[2]);
      if (floatAttr(node, 'beta', 1) !== 1 || !c || c.dims.length !== 1 || c.dims[0] !== ctx.constant(node.input[1])!.dims[outputAxis(node)]) {
        return { blocked: 'its bias C is not a constant vector of the output size (with beta 1)' };
      }
    }
    const small = form === 'static' && ctx.settings.target === 'cpu' ? tooSmall('static-gemm', ctx.knownSize(node.input[1], 0), ctx.settings.cpu) : undefined;
    return small ? { blocked: small } : 'quantize';
  },
  activations: (node) => [node.input[0]],
  async dynamic(node, ctx) {
    const w = await ctx.weight(node.input[1], 1, outputAxis(node) === 0);
    const inputs = [node.input[0], w.values, w.scale, w.zeroPoint, ...(node.input[2] ? [node.input[2]] : [])];
    return { nodes: [makeNode('DynamicQuantizeMatMul', inputs, node.output, { name: node.name, domain: MICROSOFT })] };
  },
  async static(node, ctx) {
    const w = await ctx.weight(node.input[1], outputAxis(node));
    const weight = ctx.dequantize(w, `${node.input[1]}_dequantized`);
    const bias = node.input[2] ? [await ctx.dequantizedBias(node.input[2], node.input[0], w)] : [];
    return { nodes: [makeNode('Gemm', [node.input[0], weight, ...bias], node.output, { name: node.name, attributes: node.attribute })] };
  },
};

/** B's output-channel axis: 0 when Gemm transposes it. */
function outputAxis(node: NodeProto): number {
  return intAttr(node, 'transB', 0) === 1 ? 0 : 1;
}
