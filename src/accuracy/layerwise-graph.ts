/**
 * The graph side of a layerwise comparison: which of the original's tensors the candidate also
 * computes (by name, or through the node that produces it), in the original's topological order,
 * and how errors flow: a layer's error jump is its error minus the largest error of the compared
 * layers it is computed from.
 */
import type { GraphProto, NodeProto } from '../onnx/gen/onnx_pb.js';
import { sortTopologically } from '../quantize/graph.js';

/** One tensor of the original that the candidate computes too. */
export interface LayerMatch {
  /** the tensor in the original */
  tensor: string;
  /** its name in the candidate (the same, unless matched through its node) */
  candidateTensor: string;
  node: string;
  op: string;
  matchedBy: 'name' | 'node';
}

/** Ops whose outputs are not computed from their inputs' values (constants, random draws): comparing them says nothing about drift. */
const NOT_COMPUTED = new Set(['Constant', 'ConstantOfShape', 'RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli']);

/**
 * The original's node outputs in topological order, each matched in the candidate by name, else
 * through a node of the same name (output at the same position) whose output name the original
 * does not use: a quantizer that folds a bias Add into a MatMul gives the MatMul's node the Add's
 * output, which must not pass for the MatMul's product. `comparable` filters by type.
 */
export function matchLayers(original: GraphProto, candidate: GraphProto, comparable: (tensor: string) => boolean): { matched: LayerMatch[]; unmatched: string[] } {
  const produced = new Set(candidate.node.flatMap((n) => n.output).filter(Boolean));
  const byName = new Map(candidate.node.filter((n) => n.name).map((n) => [n.name, n]));
  const originalNames = new Set([...original.input.map((i) => i.name), ...original.initializer.map((t) => t.name), ...original.node.flatMap((n) => n.output)]);
  const matched: LayerMatch[] = [];
  const unmatched: string[] = [];
  // Values from constants alone (a weight behind an Identity or Transpose) do not follow the inputs.
  const constant = new Set(original.initializer.map((t) => t.name));
  for (const node of sortTopologically(original.node)) {
    if (NOT_COMPUTED.has(node.opType) || node.input.every((i) => !i || constant.has(i))) {
      node.output.forEach((o) => constant.add(o));
      continue;
    }
    node.output.forEach((tensor, k) => {
      if (!tensor || !comparable(tensor)) return;
      const layer = { tensor, node: node.name || `${node.opType}(${tensor})`, op: node.opType };
      const twin = node.name ? byName.get(node.name)?.output[k] : undefined;
      if (produced.has(tensor)) matched.push({ ...layer, candidateTensor: tensor, matchedBy: 'name' });
      else if (twin && !originalNames.has(twin)) matched.push({ ...layer, candidateTensor: twin, matchedBy: 'node' });
      else unmatched.push(tensor);
    });
  }
  return { matched, unmatched };
}

/**
 * Walks up from a tensor through the tensors that were not compared, to the compared ones (or
 * the graph's inputs and constants) it is computed from. `visit` sees every producing node on
 * the way, the tensor's own producer first; `stop` the compared tensors reached.
 */
export function walkUp(graph: GraphProto, tensor: string, compared: Set<string>, visit: (node: NodeProto) => void, stop: (tensor: string) => void): void {
  const producers = producerMap(graph);
  const seen = new Set<string>();
  const pending = [tensor];
  let first = true;
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    if (!first && compared.has(name)) {
      stop(name);
      continue;
    }
    first = false;
    const node = producers.get(name);
    if (!node) continue;
    visit(node);
    pending.push(...node.input.filter(Boolean));
  }
}

const producerCache = new WeakMap<GraphProto, Map<string, NodeProto>>();

function producerMap(graph: GraphProto): Map<string, NodeProto> {
  let map = producerCache.get(graph);
  if (!map) {
    map = new Map(graph.node.flatMap((n) => n.output.filter(Boolean).map((o) => [o, n] as const)));
    producerCache.set(graph, map);
  }
  return map;
}

/**
 * Each compared tensor's error minus the largest error among the compared tensors it is computed
 * from (0 for graph inputs and constants): where the error is made rather than carried.
 */
export function errorJumps(graph: GraphProto, errors: Map<string, number>): Map<string, number> {
  const compared = new Set(errors.keys());
  const jumps = new Map<string, number>();
  for (const [tensor, error] of errors) {
    let upstream = 0;
    walkUp(graph, tensor, compared, () => {}, (input) => {
      upstream = Math.max(upstream, errors.get(input) ?? 0);
    });
    jumps.set(tensor, error - upstream);
  }
  return jumps;
}
