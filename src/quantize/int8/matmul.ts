import type { NodeProto } from '../../onnx/gen/onnx_pb.js';
import { isOnnxOp, makeNode } from '../graph.js';
import type { Int8Context } from './context.js';
import { MICROSOFT, type OpQuantizer, checkWeight } from './quantizer.js';

/**
 * MatMul with a constant [K, N] weight. Dynamic: com.microsoft DynamicQuantizeMatMul, which
 * quantizes the activation and multiplies in one kernel, with a following bias Add folded in
 * (ORT fuses a bias only when it is an input of the kernel). Static: the weight int8 behind
 * DequantizeLinear, the bias Add left to follow (ONNX Runtime folds a 2-D MatMul, Add and the
 * QuantizeLinear after them into QGemm; a [B, S, E] one it runs as MatMulIntegerToFloat and the Add).
 */
export const matmul: OpQuantizer = {
  domain: '',
  check: (node, ctx) => checkWeight(node, ctx, 1, [2]),
  activations: (node) => [node.input[0]],
  async dynamic(node, ctx) {
    const w = await ctx.weight(node.input[1], 1);
    const bias = biasAdd(node, ctx);
    const inputs = [node.input[0], w.values, w.scale, w.zeroPoint, ...(bias ? [bias.input] : [])];
    const output = bias ? bias.add.output[0] : node.output[0];
    return { nodes: [makeNode('DynamicQuantizeMatMul', inputs, [output], { name: node.name, domain: MICROSOFT })], absorbed: bias ? [bias.add] : [] };
  },
  async static(node, ctx) {
    const b = await ctx.dequantizedWeight(node.input[1], 1);
    const product = makeNode('MatMul', [node.input[0], b], node.output, { name: node.name });
    const bias = biasAdd(node, ctx);
    if (!bias || ctx.settings.target !== 'cpu' || !feedsGelu(bias.add.output[0], ctx)) return { nodes: [product] };
    // ORT fuses Add(x, 1-D bias) + Gelu into BiasGelu, which on CPU took 9.6 ms where Gelu and the
    // Add took 4.4 (BERT-base, 12 layers, 1 thread, ORT 1.30; the static model ran 0.91x the dynamic
    // one for it). A [1, N] bias adds the same and is no BiasGelu pattern (that wants a 1-D bias).
    const values = await ctx.read(ctx.constant(bias.input)!);
    const row = await ctx.initializer(`${bias.input}_row`, { ...values, shape: [1, values.shape[0]] });
    const add = makeNode('Add', bias.add.input.map((i) => (i === bias.input ? row : i)), bias.add.output, { name: bias.add.name });
    return { nodes: [product, add], absorbed: [bias.add] };
  },
  unitOutput: (node, ctx) => biasAdd(node, ctx)?.add.output[0] ?? node.output[0],
};

/** Whether a Gelu reads the value: the op, or the erf form ORT fuses into it (x / √2 or x · 1/√2, then Erf). */
function feedsGelu(value: string, ctx: Int8Context): boolean {
  const readers = ctx.view.consumers.get(value) ?? [];
  return readers.some((r) => isOnnxOp(r) && (r.opType === 'Gelu'
    || (['Div', 'Mul'].includes(r.opType) && (ctx.view.consumers.get(r.output[0]) ?? []).some((e) => e.opType === 'Erf'))));
}

/** The Add that follows a MatMul with a constant 1-D bias of N values, when nothing else reads the product. */
function biasAdd(node: NodeProto, ctx: Int8Context): { add: NodeProto; input: string } | undefined {
  const product = node.output[0];
  const readers = ctx.view.consumers.get(product) ?? [];
  const add = readers[0];
  if (readers.length !== 1 || add.opType !== 'Add' || !isOnnxOp(add) || ctx.view.graphOutputs.has(product)) return undefined;
  const input = add.input[0] === product ? add.input[1] : add.input[0];
  const bias = ctx.constant(input);
  const n = ctx.constant(node.input[1])!.dims[1];
  return bias && bias.dims.length === 1 && bias.dims[0] === n ? { add, input } : undefined;
}
