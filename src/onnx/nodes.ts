import { create } from '@bufbuild/protobuf';
import { onnxFromDtype } from '../tensor/dtype.js';
import {
  type AttributeProto, type GraphProto, type NodeProto, type TensorProto,
  AttributeProtoSchema, AttributeProto_AttributeType, NodeProtoSchema, TensorProtoSchema,
} from './gen/onnx_pb.js';

/** Building and walking ONNX graphs: what the opset upgrade, inspect and the quantizers share. */

export interface NodeSpec {
  name?: string;
  domain?: string;
  attributes?: AttributeProto[];
}

export function makeNode(opType: string, input: string[], output: string[], spec: NodeSpec = {}): NodeProto {
  return create(NodeProtoSchema, { opType, input, output, name: spec.name ?? '', domain: spec.domain ?? '', attribute: spec.attributes ?? [] });
}

export const attr = {
  int: (name: string, value: number) => create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INT, i: BigInt(value) }),
  ints: (name: string, values: number[]) => create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INTS, ints: values.map(BigInt) }),
  float: (name: string, value: number) => create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.FLOAT, f: value }),
  string: (name: string, value: string) => create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.STRING, s: new TextEncoder().encode(value) }),
  tensor: (name: string, t: TensorProto) => create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.TENSOR, t }),
};

/** Whether the node belongs to the default ONNX domain. */
export function isOnnxOp(node: NodeProto): boolean {
  return node.domain === '' || node.domain === 'ai.onnx';
}

/** The graphs a node holds in its attributes: If branches, Loop and Scan bodies. */
export function subgraphs(node: NodeProto): GraphProto[] {
  return node.attribute.flatMap((a) => (a.g ? [a.g, ...a.graphs] : a.graphs));
}

/** A graph and every subgraph its nodes hold, at any depth. */
export function* allGraphs(graph: GraphProto): Generator<GraphProto> {
  yield graph;
  for (const node of graph.node) for (const body of subgraphs(node)) yield* allGraphs(body);
}

/** The weights of a graph and its subgraphs: initializers and the values of Constant nodes (value_float(s) as float32). */
export function weightTensors(graph: GraphProto): TensorProto[] {
  return [...allGraphs(graph)].flatMap((g) => [...g.initializer, ...g.node.filter((n) => n.opType === 'Constant' && isOnnxOp(n)).flatMap(constantValue)]);
}

function constantValue(node: NodeProto): TensorProto[] {
  return node.attribute.flatMap((a) => {
    if (a.name === 'value' && a.t) return [a.t];
    if (a.name === 'value_float') return [create(TensorProtoSchema, { dataType: onnxFromDtype('float32'), dims: [], floatData: [a.f] })];
    if (a.name === 'value_floats') return [create(TensorProtoSchema, { dataType: onnxFromDtype('float32'), dims: [BigInt(a.floats.length)], floatData: a.floats })];
    return [];
  });
}
