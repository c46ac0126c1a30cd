import type { NodeProto } from '../../onnx/gen/onnx_pb.js';
import type { OnnxModel } from '../../onnx/model.js';
import {
  type GraphView, dropUnused, importOpset, isOnnxOp, nodeLabel, sortTopologically, subgraphFreeNames, viewGraph,
} from '../graph.js';
import { MICROSOFT } from '../int8/quantizer.js';
import type { ScratchSpace } from '../store.js';
import { inferTypes } from '../types.js';
import { attention } from './attention.js';
import { symbolicShapes } from './symbolic.js';
import { type Bail, type Fusion, type FusionGraph, type Match, bail, isBail } from './types.js';
import { opt } from '../../option-ref.js';

/**
 * The fusions tdeploy applies before INT8 dynamic quantization: patterns ONNX Runtime has one
 * kernel for but does not fuse itself at session creation. Measured with ORT 1.30 on CPU
 * (bench/quantize-speed.ts, BERT-base): at level 'all' ORT already fuses Gelu and BiasGelu and
 * folds transposes and scales into FusedMatMul, so those need no row; SkipLayerNormalization
 * (Add + LayerNormalization) made the INT8 model 23 % slower, so it has none either; FastGelu
 * would change the values (tanh approximation). Add a row to fuse another pattern.
 */
export const fusions: Fusion[] = [attention];

export interface FusionReport {
  /** how many nodes of each fused op were made */
  applied: Record<string, number>;
  /** candidates left as they were, and why */
  skipped: { fusion: string; node: string; reason: string }[];
}

/**
 * Replaces every pattern of the table that matches exactly, in place, except patterns holding a
 * node named in `keep` (left for the int8 exclusion list to find). New tensors (a packed QKV weight) go
 * to the scratch space like every tensor a rewrite makes; what the fused nodes no longer need is
 * dropped.
 */
export async function fuseModel(model: OnnxModel, scratch: ScratchSpace, options: { keep?: string[] } = {}): Promise<FusionReport> {
  const keep = new Set(options.keep ?? []);
  const graph = model.proto.graph!;
  const types = await inferTypes(model.proto, model.path);
  const anchored = graph.node.some((n) => fusions.some((f) => f.anchor === n.opType));
  const sizes = anchored ? await symbolicShapes(model.proto, model.path) : new Map();
  const g: FusionGraph = { model, view: viewGraph(graph), scratch, types, sizes, shared: new Map() };
  const report: FusionReport = { applied: {}, skipped: [] };
  for (const fusion of fusions) {
    for (const anchor of graph.node.filter((n) => n.opType === fusion.anchor && isOnnxOp(n))) {
      // An earlier fusion may have replaced this anchor.
      if (g.view.producers.get(anchor.output[0]) !== anchor) continue;
      const found = fusion.match(anchor, g);
      if (!found) continue;
      const outcome = isBail(found) ? found : replaceable(g.view, found, keep);
      if (isBail(outcome)) {
        report.skipped.push({ fusion: fusion.name, node: nodeLabel(anchor), reason: outcome.bail });
        continue;
      }
      const built = await outcome.match.build();
      const gone = new Set([...outcome.match.remove, ...outcome.unread]);
      graph.node = [...graph.node.filter((n) => !gone.has(n)), ...built.nodes];
      graph.initializer.push(...built.initializers);
      report.applied[fusion.name] = (report.applied[fusion.name] ?? 0) + 1;
      g.view = viewGraph(graph);
    }
  }
  if (Object.keys(report.applied).length > 0) {
    graph.node = sortTopologically(graph.node);
    importOpset(model.proto, MICROSOFT, 1);
    for (const tensor of dropUnused(graph)) model.ranges.delete(tensor);
  }
  return report;
}

const readsOf = (node: NodeProto) => [...new Set([...node.input, ...subgraphFreeNames(node)])].filter(Boolean);

/**
 * The nodes nothing reads once the match is replaced (the shape arithmetic and mask
 * computations only the pattern used), or why the match cannot be replaced: it holds a node
 * the int8 exclusion list names, or one of its values is also read elsewhere (a graph output, another
 * branch), which would lose it.
 */
function replaceable(view: GraphView, match: Match, keep: Set<string>): { match: Match; unread: NodeProto[] } | Bail {
  const kept = match.remove.find((n) => keep.has(n.name));
  const unread = kept ? bail(`it contains '${kept.name}', named by ${opt('excludeNodes')}`) : unreadAfter(view, match);
  return isBail(unread) ? unread : { match, unread };
}

function unreadAfter(view: GraphView, match: Match): NodeProto[] | Bail {
  const removed = new Set(match.remove);
  const reads = new Map<string, number>();
  const count = (name: string, by: number) => reads.set(name, (reads.get(name) ?? 0) + by);
  for (const node of view.graph.node) if (!removed.has(node)) readsOf(node).forEach((name) => count(name, 1));
  for (const name of [...view.graphOutputs, ...match.reads]) count(name, 1);
  const unread: NodeProto[] = [];
  const seen = new Set<NodeProto>(removed);
  for (const work = [...removed]; work.length > 0;) {
    for (const input of readsOf(work.pop()!)) {
      const p = view.producers.get(input);
      if (!p || seen.has(p) || p.output.some((o) => o && reads.get(o))) continue;
      seen.add(p);
      unread.push(p);
      readsOf(p).forEach((name) => count(name, -1));
      work.push(p);
    }
  }
  const produced = new Set(match.outputs);
  for (const node of removed) {
    for (const o of node.output) {
      if (!o || produced.has(o) || !reads.get(o)) continue;
      const reader = view.graphOutputs.has(o) ? 'the graph outputs' : nodeLabel((view.consumers.get(o) ?? []).find((c) => !seen.has(c))!);
      return bail(`its value '${o}' is also read by ${reader}`);
    }
  }
  return unread;
}

/** The report's lines: what was fused, how many, and every candidate left alone with its reason. */
export function fusionNotes(report: FusionReport): string[] {
  const applied = Object.entries(report.applied).map(([op, n]) => `${n} ${op}`);
  const lines = [applied.length > 0
    ? `fused ${applied.join(', ')} (com.microsoft ops ONNX Runtime runs as one kernel; ${opt('fuse', false)} keeps the graph as exported)`
    : `fusion: no pattern of ${fusions.map((f) => f.name).join(', ')} matched`];
  const byReason = new Map<string, string[]>();
  for (const s of report.skipped) byReason.set(`${s.fusion}\u0000${s.reason}`, [...(byReason.get(`${s.fusion}\u0000${s.reason}`) ?? []), s.node]);
  for (const [key, nodes] of byReason) {
    const [fusion, reason] = key.split('\u0000');
    const named = nodes.length > 2 ? `${nodes.slice(0, 2).join(', ')} and ${nodes.length - 2} more` : nodes.join(', ');
    lines.push(`not fused into ${fusion}: ${named}, because ${reason}`);
  }
  return lines;
}
