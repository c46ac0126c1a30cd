import type { NodeProto, TensorProto } from '../../onnx/gen/onnx_pb.js';
import { readTensor } from '../../onnx/model.js';
import { onnxFromDtype } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import { attr, freshName, makeNode } from '../graph.js';
import { MICROSOFT } from '../int8/quantizer.js';
import { transpose2d } from '../int8/weights.js';
import type { AttentionMask } from './attention-mask.js';
import type { OutputProjection } from './output-projection.js';
import type { Projection } from './projection.js';
import type { FusionGraph } from './types.js';

/** What matching found, all the fused nodes need. */
export interface AttentionParts {
  /** the Softmax's name, to name the fused node after */
  name: string;
  x: string;
  /** q, k and v, and the columns of each weight they keep */
  projections: Projection[];
  ranges: [number, number][];
  heads: number;
  headSize: number;
  /** the product of the scalings on the scores, q and k */
  scale: number;
  mask?: AttentionMask;
  /** the value the fused nodes produce in place of the pattern's result */
  output: string;
  outputProjection?: OutputProjection;
}

/** com.microsoft Attention's default mask_filter_value */
const DEFAULT_FILL = -10000;

/** Whether q, k and v are already the columns of one [E_in, 3E] weight, in order, so it is used as it is. */
function packedInOrder(parts: AttentionParts): boolean {
  const [q] = parts.projections;
  const hidden = parts.heads * parts.headSize;
  return Number(q.weight.dims[1]) === 3 * hidden
    && parts.projections.every((p, i) => p.weightName === q.weightName && p.biasName === q.biasName && parts.ranges[i][0] === i * hidden);
}

/** Existing tensors the fused nodes read by name, which must therefore stay. */
export function tensorsRead(parts: AttentionParts): string[] {
  const [q] = parts.projections;
  const out = parts.outputProjection;
  return [
    ...(packedInOrder(parts) ? [q.weightName, q.biasName ?? ''] : []),
    ...(out && !out.transposed ? [out.weightName] : []),
    out?.biasName ?? '',
  ].filter(Boolean);
}

/**
 * Attention(x, W_qkv, b_qkv, mask_index) with num_heads, the scale when it is not 1/√d and the
 * mask's fill when it is not Attention's -10000; for layouts whose pattern includes the output
 * projection, MatMul(·, W) + b after it, on [B, S, E] as Attention gives it.
 */
export async function buildAttention(g: FusionGraph, parts: AttentionParts): Promise<{ nodes: NodeProto[]; initializers: TensorProto[] }> {
  const nodes: NodeProto[] = [];
  const initializers: TensorProto[] = [];
  const put = async (base: string, tensor: Tensor) => {
    const proto = await g.scratch.put(freshName(g.view, base), tensor);
    initializers.push(proto);
    return proto.name;
  };
  const fused = freshName(g.view, parts.name.includes('/') ? parts.name.replace(/[^/]*$/, 'Attention') : 'Attention');
  const [q] = parts.projections;
  const hidden = parts.heads * parts.headSize;
  let weight: string;
  let bias: string;
  if (packedInOrder(parts)) {
    weight = q.weightName;
    bias = q.biasName ?? await put(`${fused}_qkv_bias`, { dtype: 'float32', shape: [3 * hidden], data: new Float32Array(3 * hidden) });
  } else {
    const packed = await packQkv(g, parts);
    weight = await put(`${fused}_qkv_weight`, packed.weight);
    bias = await put(`${fused}_qkv_bias`, packed.bias);
  }
  const inputs = [parts.x, weight, bias, ...(parts.mask ? [maskIndex(g, parts.mask, nodes)] : [])];
  const attributes = [attr.int('num_heads', parts.heads)];
  // Attention scales by 1/√d, computed in float32, unless told otherwise.
  const usual = Math.fround(1 / Math.sqrt(parts.headSize));
  if (Math.abs(parts.scale - usual) > 1e-6 * usual) attributes.push(attr.float('scale', parts.scale));
  if (parts.mask && parts.mask.fill !== DEFAULT_FILL) attributes.push(attr.float('mask_filter_value', parts.mask.fill));
  const projection = parts.outputProjection;
  const attended = projection ? freshName(g.view, `${fused}_output`) : parts.output;
  nodes.push(makeNode('Attention', inputs, [attended], { name: fused, domain: MICROSOFT, attributes }));
  if (projection) {
    const w = projection.transposed
      ? await put(`${projection.weightName}_transposed`, transpose2d(await readTensor(g.model, projection.weight)))
      : projection.weightName;
    const product = projection.biasName ? freshName(g.view, `${fused}_projected`) : parts.output;
    nodes.push(makeNode('MatMul', [attended, w], [product], { name: freshName(g.view, `${fused}_output_MatMul`) }));
    if (projection.biasName) nodes.push(makeNode('Add', [product, projection.biasName], [parts.output], { name: freshName(g.view, `${fused}_output_Add`) }));
  }
  return { nodes, initializers };
}

/** [W_q | W_k | W_v] and [b_q | b_k | b_v] from the columns each projection keeps (zeros for a missing bias). */
async function packQkv(g: FusionGraph, parts: AttentionParts): Promise<{ weight: Tensor; bias: Tensor }> {
  const hidden = parts.heads * parts.headSize;
  const rows = Number(parts.projections[0].weight.dims[0]);
  const weight = new Float32Array(rows * 3 * hidden);
  const bias = new Float32Array(3 * hidden);
  for (const [j, p] of parts.projections.entries()) {
    const [start, end] = parts.ranges[j];
    const columns = Number(p.weight.dims[1]);
    const w = (await readTensor(g.model, p.weight)).data as Float32Array;
    for (let r = 0; r < rows; r++) weight.set(w.subarray(r * columns + start, r * columns + end), r * 3 * hidden + j * hidden);
    if (p.bias) bias.set(((await readTensor(g.model, p.bias)).data as Float32Array).subarray(start, end), j * hidden);
  }
  return {
    weight: { dtype: 'float32', shape: [rows, 3 * hidden], data: weight },
    bias: { dtype: 'float32', shape: [3 * hidden], data: bias },
  };
}

/** Attention takes the mask as int32; one Cast serves every fused attention of the model. */
function maskIndex(g: FusionGraph, mask: AttentionMask, nodes: NodeProto[]): string {
  if (mask.dtype === 'int32') return mask.source;
  const key = `mask_index\u0000${mask.source}`;
  let name = g.shared.get(key);
  if (!name) {
    name = freshName(g.view, `${mask.source}_int32`);
    nodes.push(makeNode('Cast', [mask.source], [name], { name: freshName(g.view, `Cast_${name}`), attributes: [attr.int('to', onnxFromDtype('int32'))] }));
    g.shared.set(key, name);
  }
  return name;
}
