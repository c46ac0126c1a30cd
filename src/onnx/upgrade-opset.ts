import { create } from '@bufbuild/protobuf';
import { InputError } from '../errors.js';
import {
  type GraphProto, type ModelProto, type NodeProto,
  AttributeProtoSchema, AttributeProto_AttributeType, NodeProtoSchema,
} from './gen/onnx_pb.js';
import { opsetVersion } from './signature.js';

/**
 * Upgrades an opset-6 model to opset 7 in place, the step ONNX's version converter takes:
 * ONNX Runtime implements no operator version older than opset 7, so such models cannot run
 * as they are. Opset 7 replaced the legacy `broadcast`/`axis` attributes of the elementwise ops
 * with numpy broadcasting, made PRelu's slope broadcast the numpy way and dropped `is_test`.
 * Returns what changed, one line per kind of op; throws an InputError when it cannot upgrade.
 */
export function upgradeToOpset7(proto: ModelProto): string[] {
  const opset = opsetVersion(proto);
  if (opset === undefined || opset >= 7) return [];
  const cannot = (why: string) => new InputError(`cannot upgrade the model from opset ${opset} to 7: ${why}`, { kind: 'opset-upgrade' });
  if (opset < 6) throw cannot('tdeploy upgrades opset 6 models only; older opsets changed more operators (Reshape, Concat, ...)');
  const graph = proto.graph!;
  const ranks = knownRanks(graph);
  const single = new Set(graph.initializer.filter((t) => t.dims.every((d) => d === 1n)).map((t) => t.name));
  const changes = new Map<string, string>();
  const nodes: NodeProto[] = [];
  for (const node of graph.node) {
    if (node.domain !== '' && node.domain !== 'ai.onnx') {
      nodes.push(node);
      continue;
    }
    if (node.attribute.some((a) => a.g || a.graphs.length > 0)) throw cannot(`${node.opType} holds subgraphs, which tdeploy does not upgrade`);
    const adapter = ADAPTERS[node.opType];
    if (adapter === 'refuse') throw cannot(`${node.opType} changed in opset 7 in ways tdeploy does not convert`);
    const added = adapter ? adapter(node, { ranks, single, fresh: (base) => freshName(base, graph, nodes), cannot }) : undefined;
    if (added) {
      nodes.push(...added.nodes);
      changes.set(`${node.opType}:${added.change}`, `${node.opType}: ${added.change}`);
    }
    nodes.push(node);
  }
  graph.node = nodes;
  for (const entry of proto.opsetImport) if (entry.domain === '' || entry.domain === 'ai.onnx') entry.version = 7n;
  return [...changes.values()];
}

interface AdapterContext {
  ranks: Map<string, number>;
  /** initializers holding one value, which broadcast the same under both rules */
  single: Set<string>;
  fresh: (base: string) => string;
  cannot: (why: string) => InputError;
}

type Adapter = (node: NodeProto, ctx: AdapterContext) => { nodes: NodeProto[]; change: string } | undefined;

/** Legacy broadcasting: B's dims line up with A's from `axis` on; numpy lines them up from the end, so B gets trailing 1s. */
const legacyBroadcast: Adapter = (node, { ranks, fresh, cannot }) => {
  const broadcast = intAttribute(node, 'broadcast');
  const axis = intAttribute(node, 'axis');
  dropAttributes(node, ['broadcast', 'axis']);
  if (broadcast === undefined) return undefined;
  if (!broadcast || axis === undefined) return { nodes: [], change: 'broadcast attributes dropped' };
  const [a, b] = node.input;
  const n = ranks.get(a);
  const r = ranks.get(b);
  if (n === undefined || r === undefined) throw cannot(`${node.opType} broadcasts on axis ${axis} but the ranks of its inputs are unknown`);
  const trailing = n - (axis < 0 ? axis + n : axis) - r;
  if (trailing <= 0) return { nodes: [], change: 'broadcast attributes dropped' };
  return { nodes: [unsqueeze(node, 1, range(r, r + trailing), ranks, fresh)], change: `second input unsqueezed to broadcast from axis ${axis}` };
};

/** PRelu-6 applied a [C] slope along the channel axis; opset 7 broadcasts it numpy-style, so it needs trailing 1s. */
const preluSlope: Adapter = (node, { ranks, single, fresh, cannot }) => {
  const [x, slope] = node.input;
  const n = ranks.get(x);
  const r = ranks.get(slope);
  if ((r !== undefined && r === n) || r === 0 || single.has(slope)) return undefined;
  if (n === undefined || r !== 1) throw cannot(`the ranks of PRelu's input and slope are unknown or do not fit (${n ?? '?'} and ${r ?? '?'})`);
  if (n < 3) return undefined;
  return { nodes: [unsqueeze(node, 1, range(1, n - 1), ranks, fresh)], change: 'slope unsqueezed to broadcast along channels' };
};

const drop = (names: string[], change: string): Adapter => (node) => {
  if (!node.attribute.some((a) => names.includes(a.name))) return undefined;
  dropAttributes(node, names);
  return { nodes: [], change };
};

/** BatchNormalization-7 decides training or inference from its outputs; only the inference form converts by dropping is_test. */
const batchNormalization: Adapter = (node, ctx) => {
  if (intAttribute(node, 'is_test') === 0 && node.output.length > 1) throw ctx.cannot('BatchNormalization runs in training mode (is_test=0)');
  return drop(['is_test'], 'is_test dropped')(node, ctx);
};

/** Every op with a new version in opset 7 that an opset-6 model can hold; the rest mean the same at 7. */
const ADAPTERS: Record<string, Adapter | 'refuse'> = {
  Add: legacyBroadcast, Sub: legacyBroadcast, Mul: legacyBroadcast, Div: legacyBroadcast, Pow: legacyBroadcast,
  And: legacyBroadcast, Or: legacyBroadcast, Xor: legacyBroadcast, Equal: legacyBroadcast, Greater: legacyBroadcast, Less: legacyBroadcast,
  Gemm: drop(['broadcast'], 'broadcast attribute dropped'),
  BatchNormalization: batchNormalization,
  Dropout: drop(['is_test'], 'is_test dropped'),
  PRelu: preluSlope,
  // AveragePool-7 only added count_include_pad, whose default keeps the old behaviour.
  GRU: 'refuse', LSTM: 'refuse', RNN: 'refuse', Upsample: 'refuse',
};

function unsqueeze(node: NodeProto, input: number, axes: number[], ranks: Map<string, number>, fresh: (base: string) => string): NodeProto {
  const source = node.input[input];
  const output = fresh(`${source}_unsqueezed`);
  node.input[input] = output;
  ranks.set(output, (ranks.get(source) ?? 0) + axes.length);
  return create(NodeProtoSchema, {
    opType: 'Unsqueeze',
    name: output,
    input: [source],
    output: [output],
    attribute: [create(AttributeProtoSchema, { name: 'axes', type: AttributeProto_AttributeType.INTS, ints: axes.map(BigInt) })],
  });
}

/** Ranks the model states: graph inputs, outputs and value_info with shapes, initializers, Constant outputs. */
function knownRanks(graph: GraphProto): Map<string, number> {
  const ranks = new Map<string, number>();
  for (const value of [...graph.input, ...graph.valueInfo, ...graph.output]) {
    const type = value.type?.value;
    if (type?.case === 'tensorType' && type.value.shape) ranks.set(value.name, type.value.shape.dim.length);
  }
  for (const tensor of graph.initializer) ranks.set(tensor.name, tensor.dims.length);
  for (const node of graph.node) {
    const value = node.opType === 'Constant' ? node.attribute.find((a) => a.name === 'value')?.t : undefined;
    if (value) ranks.set(node.output[0], value.dims.length);
  }
  return ranks;
}

function intAttribute(node: NodeProto, name: string): number | undefined {
  const attribute = node.attribute.find((a) => a.name === name);
  return attribute ? Number(attribute.i) : undefined;
}

function dropAttributes(node: NodeProto, names: string[]): void {
  node.attribute = node.attribute.filter((a) => !names.includes(a.name));
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

function freshName(base: string, graph: GraphProto, added: NodeProto[]): string {
  const taken = new Set([...graph.input, ...graph.output, ...graph.valueInfo].map((v) => v.name));
  for (const n of [...graph.node, ...added]) for (const o of n.output) taken.add(o);
  for (const t of graph.initializer) taken.add(t.name);
  let name = base;
  for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
  return name;
}
