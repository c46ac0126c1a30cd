import type { NodeProto } from '../../onnx/gen/onnx_pb.js';
import { dropUnused, importOpset, nodeLabel, sortTopologically } from '../graph.js';
import type { BlockedNode } from '../result.js';
import type { Int8Context } from './context.js';
import { MICROSOFT, type OpQuantizer } from './quantizer.js';
import { quantizerFor } from './registry.js';
import { opt } from '../../option-ref.js';

export interface Int8Plan {
  selected: { node: NodeProto; quantizer: OpQuantizer }[];
  /** nodes of a known op type left in float32, and why */
  blocked: BlockedNode[];
  /** activations static mode needs calibrated ranges for */
  activations: string[];
}

export interface PlanRules {
  opTypes: string[];
  excludeNodes: string[];
}

/** Which nodes get quantized: known op types the user did not exclude whose quantizer accepts them. */
export function planInt8(ctx: Int8Context, rules: PlanRules): Int8Plan {
  const plan: Int8Plan = { selected: [], blocked: [], activations: [] };
  const activations = new Set<string>();
  for (const node of ctx.view.graph.node) {
    const quantizer = quantizerFor(node);
    if (!quantizer || !rules.opTypes.includes(node.opType)) continue;
    const verdict = rules.excludeNodes.includes(node.name) ? { blocked: `named by ${opt('excludeNodes')}` } : quantizer.check(node, ctx);
    if (verdict === 'ignore') continue;
    if (verdict !== 'quantize') {
      plan.blocked.push({ node: nodeLabel(node), op: node.opType, reason: verdict.blocked });
      continue;
    }
    plan.selected.push({ node, quantizer });
    for (const a of quantizer.activations(node)) activations.add(a);
  }
  plan.activations = [...activations];
  return plan;
}

/** Replaces every selected node by its quantized form and tidies the graph. */
export async function applyInt8(ctx: Int8Context, plan: Int8Plan): Promise<void> {
  const graph = ctx.view.graph;
  const replaced = new Map<NodeProto, NodeProto[]>();
  const absorbed = new Set<NodeProto>();
  for (const { node, quantizer } of plan.selected) {
    const rewrite = await (ctx.settings.mode === 'dynamic' ? quantizer.dynamic(node, ctx) : quantizer.static(node, ctx));
    replaced.set(node, rewrite.nodes);
    for (const a of rewrite.absorbed ?? []) absorbed.add(a);
  }
  graph.node = sortTopologically([...graph.node.flatMap((n) => (absorbed.has(n) ? [] : replaced.get(n) ?? [n])), ...ctx.added]);
  graph.initializer.push(...ctx.initializers);
  for (const tensor of dropUnused(graph)) ctx.model.ranges.delete(tensor);
  if (graph.node.some((n) => n.domain === MICROSOFT)) importOpset(ctx.model.proto, MICROSOFT, 1);
}
