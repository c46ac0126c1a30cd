import { create, toBinary } from '@bufbuild/protobuf';
import fs from 'node:fs';
import {
  type NodeProto, type TypeProto,
  AttributeProtoSchema, GraphProtoSchema, ModelProtoSchema, NodeProtoSchema, OperatorSetIdProtoSchema,
  TypeProtoSchema, ValueInfoProtoSchema, AttributeProto_AttributeType,
} from '../../src/onnx/gen/onnx_pb.js';
import { tensorToProto } from '../../src/onnx/tensor-proto.js';
import { type Dtype, onnxFromDtype } from '../../src/tensor/dtype.js';
import type { Tensor } from '../../src/tensor/tensor.js';

/** Small ONNX models for tests, written with the project's own protobuf types (no Python needed). */
export interface Value {
  name: string;
  dtype: Dtype;
  shape: (number | string)[];
  /** a sequence of such tensors instead of one */
  sequence?: boolean;
}

export function tensorType(dtype: Dtype, shape: (number | string)[]): TypeProto {
  return create(TypeProtoSchema, {
    value: {
      case: 'tensorType',
      value: {
        elemType: onnxFromDtype(dtype),
        shape: { dim: shape.map((d) => ({ value: typeof d === 'number' ? { case: 'dimValue' as const, value: BigInt(d) } : { case: 'dimParam' as const, value: d } })) },
      },
    },
  });
}

function valueInfo(v: Value) {
  const type = v.sequence
    ? create(TypeProtoSchema, { value: { case: 'sequenceType', value: { elemType: tensorType(v.dtype, v.shape) } } })
    : tensorType(v.dtype, v.shape);
  return create(ValueInfoProtoSchema, { name: v.name, type });
}

export function node(opType: string, inputs: string[], outputs: string[], ints: Record<string, number> = {}): NodeProto {
  return create(NodeProtoSchema, {
    opType,
    input: inputs,
    output: outputs,
    attribute: Object.entries(ints).map(([name, i]) => create(AttributeProtoSchema, { name, i: BigInt(i), type: AttributeProto_AttributeType.INT })),
  });
}

export function writeModel(file: string, graph: { inputs: Value[]; outputs: Value[]; nodes: NodeProto[]; initializers?: Record<string, Tensor>; opset?: number }): string {
  const model = create(ModelProtoSchema, {
    irVersion: 8n,
    producerName: 'tdeploy-test',
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(graph.opset ?? 17) })],
    graph: create(GraphProtoSchema, {
      name: 'test',
      node: graph.nodes,
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
      initializer: Object.entries(graph.initializers ?? {}).map(([name, t]) => tensorToProto(name, t)),
    }),
  });
  fs.writeFileSync(file, toBinary(ModelProtoSchema, model));
  return file;
}
