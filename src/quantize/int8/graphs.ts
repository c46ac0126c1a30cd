import type { GraphProto } from '../../onnx/gen/onnx_pb.js';
import type { OnnxModel } from '../../onnx/model.js';
import { allNames, nodeLabel, subgraphs, viewGraph } from '../graph.js';
import type { ScratchSpace } from '../store.js';
import { type ValueType, inferBodyTypes } from '../types.js';
import { Int8Context, type Int8Settings } from './context.js';
import { placeStatic } from './placement.js';
import { type Int8Plan, type PlanRules, applyInt8, planInt8 } from './rewrite.js';

/** The ops whose bodies are quantized: the ones calibration can fetch body values through (calibration/expose.ts). */
const BODY_HOLDERS = new Set(['If', 'Loop', 'Scan']);

export interface GraphPlan {
  ctx: Int8Context;
  plan: Int8Plan;
}

/**
 * One Int8Context and plan per graph: the main graph, then every If/Loop/Scan body, walked as
 * FP16 walks them (bodies typed from their enclosing graph by inferBodyTypes, fresh names unique
 * across all scopes). A quantized node keeps its float32 inputs and outputs (only its weights
 * and its arithmetic change), so the edges of a node holding bodies, and the output types If
 * branches must agree on, stay as they were. A body reads constants of the enclosing graphs
 * through its parent context, and all graphs share one table of calibrated ranges.
 */
export async function planGraphs(model: OnnxModel, settings: Int8Settings, scratch: ScratchSpace, rules: PlanRules, types?: Map<string, ValueType>): Promise<GraphPlan[]> {
  const names = allNames(model.proto.graph!);
  const plans: GraphPlan[] = [];
  const visit = async (graph: GraphProto, graphTypes: Map<string, ValueType>, outer?: Int8Context) => {
    const ctx = new Int8Context(model, viewGraph(graph, names), settings, scratch, graphTypes, outer);
    plans.push({ ctx, plan: planInt8(ctx, rules) });
    for (const node of graph.node.filter((n) => BODY_HOLDERS.has(n.opType))) {
      for (const body of subgraphs(node)) await visit(body, types ? await inferBodyTypes(model.proto, body, graphTypes, model.path) : new Map(), ctx);
    }
  };
  await visit(model.proto.graph!, types ?? new Map());
  return plans;
}

/** Rewrites every graph, bodies before the graphs holding them: a graph drops an initializer only once no body reads it. */
export async function applyGraphs(plans: GraphPlan[]): Promise<void> {
  for (const { ctx, plan } of [...plans].reverse()) await applyInt8(ctx, plan);
}

/**
 * A body none of whose values ran on the calibration data (an If branch no set took) has no
 * ranges to quantize with: its static nodes stay float32, with the reason, rather than being
 * quantized with a made-up scale. Returns how many nodes that kept float.
 */
export function keepUncalibratedBodies(graphs: GraphPlan[], seen: (value: string) => boolean): number {
  let kept = 0;
  for (const g of graphs.slice(1)) {
    // values read from enclosing graphs have ranges whether or not the body ran
    const own = g.plan.placement.values.filter((v) => g.ctx.view.producers.has(v));
    if (own.length === 0 || own.some(seen)) continue;
    const graph = g.ctx.view.graph.name || 'a body';
    const statics = g.plan.selected.filter((s) => s.mode === 'static');
    g.plan.selected = g.plan.selected.filter((s) => s.mode !== 'static');
    g.plan.blocked.push(...statics.map((s) => ({ node: nodeLabel(s.node), op: s.node.opType, reason: `${graph} never ran on the calibration data, so its values have no range` })));
    g.plan.placement = placeStatic(g.ctx, []);
    kept += statics.length;
  }
  return kept;
}
