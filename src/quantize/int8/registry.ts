import type { NodeProto } from '../../onnx/gen/onnx_pb.js';
import { attention } from './attention.js';
import { conv } from './conv.js';
import { gather } from './gather.js';
import { gemm } from './gemm.js';
import { matmul } from './matmul.js';
import type { OpQuantizer } from './quantizer.js';

/** The op types INT8 quantization knows, one quantizer each. Add a row to support another op. */
export const quantizers: Record<string, OpQuantizer> = {
  MatMul: matmul,
  Gemm: gemm,
  Conv: conv,
  Gather: gather,
  Attention: attention,
};

export const INT8_OP_TYPES = Object.keys(quantizers);

/** The quantizer for a node, when its op type (in its domain) is in the registry. */
export function quantizerFor(node: NodeProto): OpQuantizer | undefined {
  const quantizer = Object.hasOwn(quantizers, node.opType) ? quantizers[node.opType] : undefined;
  const domain = node.domain === 'ai.onnx' ? '' : node.domain;
  return quantizer && quantizer.domain === domain ? quantizer : undefined;
}
