import { onnxFromDtype } from '../../tensor/dtype.js';
import { attr, makeNode } from '../graph.js';
import { kernelVerdict, losingReason, tooSmall } from './kernels.js';
import { convMacs } from './placement.js';
import { type OpQuantizer, checkDynamicInput, checkWeight } from './quantizer.js';

/**
 * Conv with a constant [M, C/group, k...] weight. Dynamic: DynamicQuantizeLinear → ConvInteger
 * → Cast → one multiply by (input scale × per-channel weight scale) → bias, only where the kernel
 * table says ConvInteger beats float Conv (on x64 it runs at under half float speed). Static: an int8
 * weight per output channel and an int32 bias behind DequantizeLinear, for QLinearConv.
 */
export const conv: OpQuantizer = {
  domain: '',
  check(node, ctx, form) {
    const weight = checkWeight(node, ctx, 1, [3, 4, 5]);
    if (weight !== 'quantize') return weight;
    if (node.input[2] && !ctx.constant(node.input[2])) return { blocked: 'its bias is computed at run time' };
    if (ctx.settings.target === 'tensorrt') return 'quantize';
    if (form === 'static') {
      const small = tooSmall('static-conv', convMacs(ctx, node), ctx.settings.cpu);
      return small ? { blocked: small } : 'quantize';
    }
    const input = checkDynamicInput(ctx, form);
    if (input !== 'quantize') return input;
    const verdict = kernelVerdict('dynamic-conv', ctx.settings.cpu);
    return verdict.wins ? 'quantize' : { blocked: losingReason(verdict) };
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
    const w = await ctx.weight(node.input[1], 0);
    const weight = ctx.dequantize(w, `${node.input[1]}_dequantized`);
    const bias = node.input[2] ? [await ctx.dequantizedBias(node.input[2], node.input[0], w)] : [];
    return { nodes: [makeNode('Conv', [node.input[0], weight, ...bias], node.output, { name: node.name, attributes: node.attribute })] };
  },
};
