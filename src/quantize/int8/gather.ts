import { attr, intAttr, makeNode } from '../graph.js';
import type { OpQuantizer } from './quantizer.js';

/**
 * Embedding lookups: Gather from a constant [vocab, hidden] table. The table is stored as int8
 * (it is most of a small encoder's bytes) and only the gathered rows are dequantized, with one
 * scale per hidden column, so no float copy of the table is ever made at run time.
 */
export const gather: OpQuantizer = {
  domain: '',
  check(node, ctx) {
    const table = ctx.constant(node.input[0]);
    if (!table || ctx.constant(node.input[1])) return 'ignore';
    if (intAttr(node, 'axis', 0) !== 0) return { blocked: 'it gathers along an axis other than 0' };
    return table.dims.length === 2 ? 'quantize' : { blocked: `its table has rank ${table.dims.length}, not 2` };
  },
  activations: () => [],
  async dynamic(node, ctx) {
    const table = await ctx.weight(node.input[0], 1);
    const rows = ctx.name(`${node.output[0]}_quantized`);
    const attributes = table.axis === undefined ? [] : [attr.int('axis', -1)];
    return {
      nodes: [
        makeNode('Gather', [table.values, node.input[1]], [rows], { name: node.name, attributes: node.attribute }),
        makeNode('DequantizeLinear', [rows, table.scale, table.zeroPoint], node.output, { name: ctx.name(`DequantizeLinear_${node.output[0]}`), attributes }),
      ],
    };
  },
  static(node, ctx) {
    return gather.dynamic(node, ctx);
  },
};
