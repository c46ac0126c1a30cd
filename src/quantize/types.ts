import { create, toBinary } from '@bufbuild/protobuf';
import ort from 'onnxruntime-node';
import { type GraphProto, type ModelProto, ModelProtoSchema, ValueInfoProtoSchema } from '../onnx/gen/onnx_pb.js';
import { freeNames } from './graph.js';
import type { Dim } from '../onnx/signature.js';
import { type Dtype, dtypeFromOrt, onnxFromDtype } from '../tensor/dtype.js';
import { ortError } from '../runtime/ort-errors.js';
import { tensorDtype } from '../onnx/tensor-proto.js';
import type { TensorMap } from '../tensor/tensor.js';

export interface ValueType {
  dtype: Dtype;
  shape: Dim[];
}

/**
 * The element type (and shape, where it is known) of every value of the main graph, as ONNX
 * Runtime infers them. Models exported by torch carry no value_info, and writing a type table
 * for every ONNX operator would duplicate what ORT already knows. ORT loads a skeleton: the
 * graph without weights (initializers become typed inputs) and every node output exposed, so
 * this costs milliseconds and no memory, whatever the model's size.
 */
export async function inferTypes(proto: ModelProto, where: string): Promise<Map<string, ValueType>> {
  return graphTypes(proto, proto.graph!, where, new Map());
}

/**
 * The model with its inputs' dims fixed to those of a sample it will run on, so that shapes
 * inferred from it are numbers where the model says only "height" or "width" (a detector's
 * input): the sizes static INT8 weighs each Conv by.
 */
export function withSampleShapes(proto: ModelProto, sample: TensorMap): ModelProto {
  const input = proto.graph!.input.map((v) => {
    const tensor = sample.get(v.name);
    if (!tensor || v.type?.value.case !== 'tensorType') return v;
    const dim = tensor.shape.map((d) => ({ value: { case: 'dimValue' as const, value: BigInt(d) } }));
    return create(ValueInfoProtoSchema, { name: v.name, type: { value: { case: 'tensorType', value: { elemType: v.type.value.value.elemType, shape: { dim } } } } });
  });
  return { ...proto, graph: { ...proto.graph!, input } };
}

/**
 * The types of a subgraph's values (an If branch, a Loop or Scan body): the body loaded as a
 * model of its own, whose inputs are its formal inputs and the values it reads from the
 * enclosing scopes, typed as `outer` (the enclosing graphs' types) says.
 */
export async function inferBodyTypes(proto: ModelProto, body: GraphProto, outer: Map<string, ValueType>, where: string): Promise<Map<string, ValueType>> {
  // Element types only: a rank known outside may be unknown (or known wrongly as 0) here.
  const inputs = freeNames(body).filter((name) => outer.has(name)).map((name) =>
    create(ValueInfoProtoSchema, { name, type: { value: { case: 'tensorType', value: { elemType: onnxFromDtype(outer.get(name)!.dtype) } } } }));
  return graphTypes(proto, { ...body, input: [...body.input, ...inputs] } as GraphProto, where, outer);
}

async function graphTypes(proto: ModelProto, graph: GraphProto, where: string, outer: Map<string, ValueType>): Promise<Map<string, ValueType>> {
  const g = { ...graph, initializer: [], sparseInitializer: [] } as typeof graph;
  const types = new Map<string, ValueType>();
  const asInput = graph.initializer.map((t) => {
    const dtype = tensorDtype(t);
    types.set(t.name, { dtype, shape: t.dims.map(Number) });
    return create(ValueInfoProtoSchema, {
      name: t.name,
      type: { value: { case: 'tensorType', value: { elemType: onnxFromDtype(dtype), shape: { dim: t.dims.map((d) => ({ value: { case: 'dimValue' as const, value: d } })) } } } },
    });
  });
  const known = new Set([...graph.input, ...graph.output].map((v) => v.name));
  const exposed = graph.node.flatMap((n) => n.output).filter((o) => o && !known.has(o) && !types.has(o));
  g.input = [...graph.input.filter((i) => !types.has(i.name)), ...asInput];
  g.output = [...graph.output, ...exposed.map((name) => create(ValueInfoProtoSchema, { name }))];
  const skeleton: ModelProto = { ...proto, graph: g };
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(toBinary(ModelProtoSchema, skeleton), { graphOptimizationLevel: 'disabled', logSeverityLevel: 3 });
  } catch (error) {
    throw ortError('load', where, error);
  }
  try {
    for (const meta of [...session.inputMetadata, ...session.outputMetadata]) {
      if (!meta.isTensor || types.has(meta.name)) continue;
      const dtype = dtypeFromOrt(meta.type);
      if (dtype) types.set(meta.name, { dtype, shape: meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : typeof d === 'string' ? d : null)) });
    }
  } finally {
    await session.release();
  }
  return new Map([...outer, ...types]);
}
