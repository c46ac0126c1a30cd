import { makeNode } from '../graph.js';
import { MICROSOFT, type OpQuantizer, checkDynamicInput, checkWeight } from './quantizer.js';

/** Attention attributes QAttention accepts as well. */
const SHARED_ATTRIBUTES = new Set(['num_heads', 'unidirectional', 'scale', 'mask_filter_value']);

/**
 * com.microsoft Attention (as ONNX Runtime's transformer optimizer fuses it), with its packed
 * [hidden, 3·hidden] QKV weight. Dynamic: QAttention, the fused integer kernel, fed by one
 * DynamicQuantizeLinear. Static: QDQ on its input, an int8 weight behind DequantizeLinear.
 */
export const attention: OpQuantizer = {
  domain: MICROSOFT,
  check(node, ctx, form) {
    if (node.input.slice(4).some(Boolean)) return { blocked: 'it reads past state or an attention bias, which QAttention does not take' };
    const unsupported = node.attribute.find((a) => !SHARED_ATTRIBUTES.has(a.name));
    if (unsupported) return { blocked: `its attribute ${unsupported.name} has no QAttention equivalent` };
    const weight = checkWeight(node, ctx, 1, [2]);
    return weight === 'quantize' ? checkDynamicInput(ctx, form) : weight;
  },
  activations: (node) => [node.input[0]],
  async dynamic(node, ctx) {
    const [input, scale, zeroPoint] = ctx.dynamicQuantize(node.input[0]);
    const w = await ctx.weight(node.input[1], 1);
    const inputs = [input, w.values, node.input[2] ?? '', scale, w.scale, node.input[3] ?? '', zeroPoint, w.zeroPoint];
    return { nodes: [makeNode('QAttention', inputs, node.output, { name: node.name, domain: MICROSOFT, attributes: node.attribute })] };
  },
  async static(node, ctx) {
    const weight = await ctx.dequantizedWeight(node.input[1], 1);
    return { nodes: [makeNode('Attention', [node.input[0], weight, ...node.input.slice(2)], node.output, { name: node.name, domain: MICROSOFT, attributes: node.attribute })] };
  },
};
