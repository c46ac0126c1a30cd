import { create } from '@bufbuild/protobuf';
import { type Dtype, byteLength, dtypeInfo, onnxFromDtype } from '../tensor/dtype.js';
import { type GraphProto, type NodeProto, type TensorProto, TensorProtoSchema } from './gen/onnx_pb.js';
import { elementCount } from '../tensor/tensor.js';
import { hasExternalData, loadModel } from './model.js';
import { type TensorInfo, signature } from './signature.js';
import { tensorDtype, tensorShape } from './tensor-proto.js';

export interface InspectReport {
  path: string;
  sizeBytes: number;
  irVersion: number;
  producer: { name: string; version: string };
  opsets: Record<string, number>;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** nodes of every graph: the main graph and the If/Loop/Scan bodies inside it */
  nodes: number;
  /** the subgraphs (If branches, Loop and Scan bodies), at any depth */
  subgraphs: number;
  /** nodes of every graph by op type, most frequent first; ops of other domains as `domain.Op` */
  ops: Record<string, number>;
  /** elements of the weights: float and 8-bit-or-narrower integer (quantized) tensors held by initializers and Constant nodes, in every graph */
  parameters: number;
  parameterBytes: number;
  /** bytes of those weights by dtype */
  dtypes: Partial<Record<Dtype, number>>;
  externalData: boolean;
  notes: string[];
}

/** What a model is: its I/O, ops and weights. Loading it checks every external-data file. */
export async function inspect(file: string): Promise<InspectReport> {
  const model = await loadModel(file, { deferAbove: 0 });
  const proto = model.proto;
  const ops: Record<string, number> = {};
  let nodes = 0;
  let subgraphs = 0;
  const weights: TensorProto[] = [];
  for (const graph of graphs(proto.graph!)) {
    weights.push(...graph.initializer);
    for (const node of graph.node) {
      nodes++;
      const key = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.opType}` : node.opType;
      ops[key] = (ops[key] ?? 0) + 1;
      subgraphs += node.attribute.reduce((n, a) => n + (a.g ? 1 : 0) + a.graphs.length, 0);
      if (node.opType === 'Constant' && (node.domain === '' || node.domain === 'ai.onnx')) weights.push(...constantValue(node));
    }
  }
  let parameters = 0;
  const dtypes: Partial<Record<Dtype, number>> = {};
  for (const tensor of weights) {
    const dtype = tensorDtype(tensor, `${file}: `);
    if (!isWeight(dtype)) continue;
    const count = elementCount(tensorShape(tensor));
    parameters += count;
    dtypes[dtype] = (dtypes[dtype] ?? 0) + byteLength(dtype, count);
  }
  const { inputs, outputs } = signature(proto);
  return {
    path: model.path,
    sizeBytes: model.sizeBytes,
    irVersion: Number(proto.irVersion),
    producer: { name: proto.producerName, version: proto.producerVersion },
    opsets: Object.fromEntries(proto.opsetImport.map((o) => [o.domain || 'ai.onnx', Number(o.version)])),
    inputs,
    outputs,
    nodes,
    subgraphs,
    ops: Object.fromEntries(Object.entries(ops).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))),
    parameters,
    parameterBytes: Object.values(dtypes).reduce((a, b) => a + b, 0),
    dtypes,
    externalData: hasExternalData(model),
    notes: [],
  };
}

/** Float tensors, and integers of 8 bits or fewer (quantized weights); not int32/int64 shapes and indices. */
function isWeight(dtype: Dtype): boolean {
  const { kind, bits } = dtypeInfo(dtype);
  return kind === 'float' || ((kind === 'int' || kind === 'uint') && bits <= 8);
}

/** A graph and every subgraph its nodes hold, at any depth. */
function* graphs(graph: GraphProto): Generator<GraphProto> {
  yield graph;
  for (const node of graph.node) for (const a of node.attribute) for (const inner of a.g ? [a.g, ...a.graphs] : a.graphs) yield* graphs(inner);
}

/** The tensor a Constant node holds, as a TensorProto (value_float(s) as float32). */
function constantValue(node: NodeProto): TensorProto[] {
  return node.attribute.flatMap((a) => {
    if (a.name === 'value' && a.t) return [a.t];
    if (a.name === 'value_float') return [create(TensorProtoSchema, { dataType: onnxFromDtype('float32'), dims: [], floatData: [a.f] })];
    if (a.name === 'value_floats') return [create(TensorProtoSchema, { dataType: onnxFromDtype('float32'), dims: [BigInt(a.floats.length)], floatData: a.floats })];
    return [];
  });
}
