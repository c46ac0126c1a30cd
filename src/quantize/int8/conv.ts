import { onnxFromDtype } from '../../tensor/dtype.js';
import { attr, makeNode } from '../graph.js';
import { type OpQuantizer, checkDynamicInput, checkWeight } from './quantizer.js';

/**
 * Conv with a constant [M, C/group, k...] weight. Dynamic: DynamicQuantizeLinear → ConvInteger
 * → Cast → one multiply by (input scale × per-channel weight scale) → bias. Static: QDQ around
 * the Conv, per-channel along the output channels.
 */
export const conv: OpQuantizer = {
  domain: '',
  check(node, ctx) {
    const weight = checkWeight(node, ctx, 1, [3, 4, 5]);
    if (weight !== 'quantize') return weight;
    if (node.input[2] && !ctx.constant(node.input[2])) return { blocked: 'its bias is computed at run time' };
    return checkDynamicInput(ctx);
  },
  activations: (node) => [node.input[0]],
  async dynamic(node, ctx) {
    const [input, inputScale, inputZero] = ctx.dynamicQuantize(node.input[0]);
    const w = await ctx.weight(node.input[1], 0);
    const rank = ctx.constant(node.input[1])!.dims.length;
    // Per-channel values broadcast over [N, M, spatial...] as [M, 1, ...].
    const channelShape = (n: number) => (n === 1 && w.axis === undefined ? [] : [n, ...Array(rank - 2).fill(1)]);
    const scale = await ctx.initializer(`${w.scale}_broadcast`, { dtype: 'float32', shape: channelShape(w.scales.length), data: w.scales });
    const out = node.output[0];
    const [integer, float, combined, scaled] = ['int32', 'float', 'scale', 'scaled'].map((s) => ctx.name(`${out}_${s}`));
    const nodes = [
      // The weights' zero point is 0, ConvInteger's default (ORT refuses a per-channel one).
      makeNode('ConvInteger', [input, w.values, inputZero], [integer], { name: node.name, attributes: node.attribute }),
      makeNode('Cast', [integer], [float], { name: ctx.name(`Cast_${float}`), attributes: [attr.int('to', onnxFromDtype('float32'))] }),
      makeNode('Mul', [inputScale, scale], [combined], { name: ctx.name(`Mul_${combined}`) }),
      makeNode('Mul', [float, combined], [node.input[2] ? scaled : out], { name: ctx.name(`Mul_${scaled}`) }),
    ];
    if (node.input[2]) {
      const biasValues = await ctx.read(ctx.constant(node.input[2])!);
      const bias = await ctx.initializer(`${node.input[2]}_broadcast`, { ...biasValues, shape: channelShape(biasValues.shape[0]) });
      nodes.push(makeNode('Add', [scaled, bias], [out], { name: ctx.name(`Add_${out}`) }));
    }
    return { nodes };
  },
  async static(node, ctx) {
    const x = await ctx.quantizeDequantize(node.input[0]);
    const w = await ctx.dequantizedWeight(node.input[1], 0);
    return { nodes: [makeNode('Conv', [x, w, ...node.input.slice(2)], node.output, { name: node.name, attributes: node.attribute })] };
  },
};
