/** What precision a model computes in, read from its graph: how tdeploy tells a quantized model. */
import type { ModelProto } from '../onnx/gen/onnx_pb.js';
import { allTensors } from '../onnx/model.js';
import { signature } from '../onnx/signature.js';
import { onnxFromDtype } from '../tensor/dtype.js';
import { allNodes } from './graph.js';

export type Precision = 'fp32' | 'fp16' | 'int8';

/** Ops that only a quantized model has. */
export const QUANTIZED_OPS = new Set([
  'QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear', 'MatMulInteger', 'ConvInteger', 'QLinearMatMul', 'QLinearConv',
  'DynamicQuantizeMatMul', 'MatMulIntegerToFloat', 'QAttention', 'QGemm', 'QLinearAdd', 'QLinearMul', 'QEmbedLayerNormalization',
  'DynamicQuantizeLSTM', 'MatMulNBits', 'MatMulBnb4', 'GatherBlockQuantized',
]);

const HALF_TYPES = new Set([onnxFromDtype('float16'), onnxFromDtype('bfloat16')]);

/**
 * int8 when any node (subgraphs included) is a quantized op; fp16 when any weight or graph
 * input or output is float16 or bfloat16; else fp32.
 */
export function modelPrecision(proto: ModelProto): Precision {
  if (proto.graph && [...allNodes(proto.graph)].some((n) => QUANTIZED_OPS.has(n.opType))) return 'int8';
  if ([...allTensors(proto)].some((t) => HALF_TYPES.has(t.dataType))) return 'fp16';
  const { inputs, outputs } = signature(proto);
  return [...inputs, ...outputs].some((t) => t.dtype === 'float16' || t.dtype === 'bfloat16') ? 'fp16' : 'fp32';
}
