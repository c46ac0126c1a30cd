import type { NodeProto } from '../../onnx/gen/onnx_pb.js';
import { dropUnused, importOpset, nodeLabel, renameInputs, sortTopologically } from '../graph.js';
import type { BlockedNode } from '../result.js';
import type { Int8Form } from '../targets.js';
import type { Int8Context, Int8Settings } from './context.js';
import { type Placement, losingIslands, placeStatic } from './placement.js';
import { AUTO_FORMS, MICROSOFT, type OpQuantizer } from './quantizer.js';
import { quantizerFor } from './registry.js';
import { opt } from '../../option-ref.js';

/** Why `auto` leaves a node float without calibration data. */
export const NEEDS_CALIBRATION = `its INT8 form that pays is static, which needs calibration data (${opt('calibration')})`;

export interface Int8Plan {
  selected: { node: NodeProto; quantizer: OpQuantizer; mode: Int8Form }[];
  /** nodes of a known op type left in float32, and why */
  blocked: BlockedNode[];
  /** where static nodes put their QDQ pairs: the values calibration needs ranges for */
  placement: Placement;
  /** nodes named by `excludeNodes`: they keep reading float values, even one quantized for its other readers */
  excluded: Set<NodeProto>;
}

export interface PlanRules {
  opTypes: string[];
  excludeNodes: string[];
}

/**
 * Which nodes get quantized: known op types the user did not exclude whose quantizer accepts
 * them; then, for the static ones, where the QDQ pairs go.
 */
export function planInt8(ctx: Int8Context, rules: PlanRules): Int8Plan {
  const selected: Int8Plan['selected'] = [];
  const blocked: BlockedNode[] = [];
  const excluded = new Set(ctx.view.graph.node.filter((n) => rules.excludeNodes.includes(n.name)));
  for (const node of ctx.view.graph.node) {
    const quantizer = quantizerFor(node);
    if (!quantizer || !rules.opTypes.includes(node.opType)) continue;
    const mode = formOf(node, ctx.settings);
    const verdict = rules.excludeNodes.includes(node.name) ? { blocked: `named by ${opt('excludeNodes')}` } : quantizer.check(node, ctx, mode);
    if (verdict === 'ignore') continue;
    const reason = verdict !== 'quantize' ? verdict.blocked : mode === 'static' && !ctx.settings.calibrated ? NEEDS_CALIBRATION : undefined;
    if (reason) blocked.push({ node: nodeLabel(node), op: node.opType, reason });
    else selected.push({ node, quantizer, mode });
  }
  return { selected, blocked, placement: placeIslands(ctx, selected, blocked), excluded };
}

/**
 * Places the static nodes' QDQ pairs, leaving float (moved from `selected` to `blocked`) the Convs
 * whose int8 island loses on CPU. Each one left float can only add float edges to its neighbours,
 * so this repeats until no island loses.
 */
function placeIslands(ctx: Int8Context, selected: Int8Plan['selected'], blocked: BlockedNode[]): Placement {
  for (;;) {
    const units = selected.filter((s) => s.mode === 'static');
    const placement = placeStatic(ctx, units);
    const losing = ctx.settings.target === 'cpu' ? losingIslands(ctx, units, placement) : new Map<NodeProto, string>();
    if (losing.size === 0) return placement;
    for (const [node, reason] of losing) blocked.push({ node: nodeLabel(node), op: node.opType, reason });
    selected.splice(0, selected.length, ...selected.filter((s) => !losing.has(s.node)));
  }
}

/** Each node's form: TensorRT reads QDQ only; `auto` takes the op's winning form on CPU. */
function formOf(node: NodeProto, settings: Int8Settings): Int8Form {
  if (settings.target === 'tensorrt') return 'static';
  return settings.mode === 'auto' ? AUTO_FORMS[node.opType] : settings.mode;
}

/** Replaces every selected node by its quantized form, puts the QDQ pairs in place and tidies the graph. */
export async function applyInt8(ctx: Int8Context, plan: Int8Plan): Promise<void> {
  const graph = ctx.view.graph;
  const replaced = new Map<NodeProto, NodeProto[]>();
  const absorbed = new Set<NodeProto>();
  for (const { node, quantizer, mode } of plan.selected) {
    const rewrite = await (mode === 'dynamic' ? quantizer.dynamic(node, ctx) : quantizer.static(node, ctx));
    replaced.set(node, rewrite.nodes);
    for (const a of rewrite.absorbed ?? []) absorbed.add(a);
  }
  const dequantized = new Map<string, string>();
  for (const value of plan.placement.values) dequantized.set(value, await ctx.quantizeDequantize(value));
  const nodes = [...graph.node.flatMap((n) => (absorbed.has(n) ? [] : replaced.get(n) ?? [n])), ...ctx.added];
  for (const node of nodes) if (!ctx.activationQuantizers.has(node) && !plan.excluded.has(node)) renameInputs(node, dequantized);
  graph.node = sortTopologically(nodes);
  graph.initializer.push(...ctx.initializers);
  for (const tensor of dropUnused(graph)) ctx.model.ranges.delete(tensor);
  if (graph.node.some((n) => n.domain === MICROSOFT)) importOpset(ctx.model.proto, MICROSOFT, 1);
}
