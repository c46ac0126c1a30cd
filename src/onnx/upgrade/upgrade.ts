import { InputError } from '../../errors.js';
import type { GraphProto, ModelProto, NodeProto } from '../gen/onnx_pb.js';
import { opsetVersion } from '../signature.js';
import { rawLength, tensorFromProto, tensorToProto } from '../tensor-proto.js';
import { toFloat64 } from '../../tensor/tensor.js';
import { allGraphs, isOnnxOp, subgraphs } from '../nodes.js';
import { type Known, type StepContext, knownValues } from './context.js';
import { type Step, UPGRADES } from './table.js';

/** The opset quantize brings older models to: per-axis DequantizeLinear, and Split/Squeeze/ReduceSum taking their axes as inputs. */
export const QUANTIZE_OPSET = 13;
/** ONNX Runtime implements no operator version older than opset 7. */
export const RUNNABLE_OPSET = 7;
/** The oldest opset tdeploy upgrades from: older ones changed more operators (Reshape, Concat, ...). */
const OLDEST = 6;

/**
 * Upgrades the model's ai.onnx opset to `target` in place, as ONNX's version converter does: op
 * by op, each node taken through the adapters of the versions its op changed at (table.ts), in
 * every graph (If/Loop/Scan bodies read the model's opset too). Returns what changed, one line
 * per op and change; throws an InputError naming the ops it cannot upgrade, before changing anything.
 */
export function upgradeOpset(proto: ModelProto, target: number): string[] {
  const from = opsetVersion(proto);
  if (from === undefined || from >= target) return [];
  const cannot = (why: string) => new InputError(`cannot upgrade the model from opset ${from} to ${target}: ${why}`, {
    kind: 'opset-upgrade', hint: 'convert it with onnx.version_converter, or export it again at a newer opset',
  });
  if (from < OLDEST) throw cannot(`tdeploy upgrades opset ${OLDEST} and later; older opsets changed more operators (Reshape, Concat, ...)`);
  const graphs = [...allGraphs(proto.graph!)];
  const unknown = new Set(graphs.flatMap((g) => g.node.filter((n) => isOnnxOp(n) && !UPGRADES[n.opType]).map((n) => n.opType)));
  if (unknown.size > 0) throw cannot(`tdeploy's opset table has no entry for ${[...unknown].sort().join(', ')}`);
  const names = new Set<string>();
  const read = new Set<string>();
  for (const g of graphs) {
    for (const v of [...g.input, ...g.output, ...g.valueInfo, ...g.initializer]) names.add(v.name);
    for (const v of g.output) read.add(v.name);
    for (const n of g.node) {
      names.add(n.name);
      n.output.forEach((o) => names.add(o));
      n.input.forEach((i) => read.add(i));
    }
  }
  const changes = new Map<string, string>();
  const upgradeGraph = (graph: GraphProto, outer: Known) => {
    const known = knownValues(graph, outer);
    const single = new Set(graph.initializer.filter((t) => t.dims.every((d) => d === 1n)).map((t) => t.name));
    const context = (stepFrom: number): StepContext => ({
      from: stepFrom,
      rank: (name) => known.ranks.get(name),
      setRank: (name, rank) => known.ranks.set(name, rank),
      elemType: (name) => known.types.get(name),
      single: (name) => single.has(name),
      values: (name) => {
        const tensor = known.constants.get(name);
        return tensor && rawLength(tensor) !== undefined ? [...toFloat64(tensorFromProto(tensor))] : undefined;
      },
      consumed: (name) => read.has(name),
      fresh,
      constant: (base, tensor) => {
        const name = fresh(base);
        const proto = tensorToProto(name, tensor);
        graph.initializer.push(proto);
        known.constants.set(name, proto);
        known.ranks.set(name, tensor.shape.length);
        return name;
      },
      cannot,
    });
    const upgradeNode = (node: NodeProto, version: number): NodeProto[] => {
      for (const body of subgraphs(node)) upgradeGraph(body, known);
      if (!isOnnxOp(node)) return [node];
      const before: NodeProto[] = [];
      const after: NodeProto[] = [];
      for (let step = nextStep(node.opType, version, target); step; step = nextStep(node.opType, version, target)) {
        const [since, adapter] = step;
        const op = node.opType;
        if ('refuse' in adapter) throw cannot(`${op} changed in opset ${since}: ${adapter.refuse}`);
        const result = adapter(node, context(version));
        version = since;
        if (!result) continue;
        changes.set(`${op}: ${result.change}`, `${op}: ${result.change}`);
        // what an adapter adds is written at the step's opset, so it takes the later steps too
        const added = (nodes: NodeProto[] = []) => nodes.flatMap((n) => {
          n.name = fresh(`${node.name || op}_${n.opType}`);
          return upgradeNode(n, since);
        });
        before.push(...added(result.before));
        after.unshift(...added(result.after));
      }
      return [...before, node, ...after];
    };
    graph.node = graph.node.flatMap((node) => upgradeNode(node, from));
  };
  const fresh = (base: string) => {
    let name = base;
    for (let i = 1; names.has(name); i++) name = `${base}_${i}`;
    names.add(name);
    return name;
  };
  upgradeGraph(proto.graph!, { ranks: new Map(), types: new Map(), constants: new Map() });
  for (const entry of proto.opsetImport) if (entry.domain === '' || entry.domain === 'ai.onnx') entry.version = BigInt(target);
  return [...changes.values()];
}

/** The first change of `op` after `version`, up to `target`. */
function nextStep(op: string, version: number, target: number): Step | undefined {
  return (UPGRADES[op] ?? []).find(([since]) => since > version && since <= target);
}
