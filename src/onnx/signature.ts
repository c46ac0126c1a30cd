import { InputError } from '../errors.js';
import { type Dtype, dtypeFromOnnx } from '../tensor/dtype.js';
import type { ModelProto, TensorShapeProto_Dimension, TypeProto, ValueInfoProto } from './gen/onnx_pb.js';

/** A dimension: a fixed size, a symbolic name (`batch`), or null when the model says nothing. */
export type Dim = number | string | null;

export interface TensorInfo {
  name: string;
  /** element type; for sequences, optionals and maps, the type of the tensors they hold */
  dtype: Dtype;
  /** null when the model does not state the rank */
  shape: Dim[] | null;
  /** set for values that are not plain tensors */
  container?: 'sequence' | 'map' | 'optional' | 'sparse';
}

export interface ModelSignature {
  inputs: TensorInfo[];
  outputs: TensorInfo[];
}

/** The model's inputs (graph inputs that are not initializers) and outputs. */
export function signature(proto: ModelProto): ModelSignature {
  const graph = proto.graph;
  if (!graph) throw new InputError('the model has no graph');
  const initializers = new Set(graph.initializer.map((t) => t.name));
  return {
    inputs: graph.input.filter((v) => !initializers.has(v.name)).map(tensorInfo),
    outputs: graph.output.map(tensorInfo),
  };
}

export function tensorInfo(value: ValueInfoProto): TensorInfo {
  if (!value.type) throw new InputError(`'${value.name}' has no type in the model`);
  return { name: value.name, ...describeType(value.type, value.name) };
}

function describeType(type: TypeProto, name: string): Omit<TensorInfo, 'name'> {
  const v = type.value;
  switch (v.case) {
    case 'tensorType':
    case 'sparseTensorType': {
      const dtype = dtypeFromOnnx(v.value.elemType);
      if (!dtype) throw new InputError(`'${name}' has unknown element type ${v.value.elemType}`);
      const shape = v.value.shape ? v.value.shape.dim.map(dim) : null;
      return v.case === 'tensorType' ? { dtype, shape } : { dtype, shape, container: 'sparse' };
    }
    case 'sequenceType':
    case 'optionalType': {
      if (!v.value.elemType) throw new InputError(`'${name}' has a ${v.case} without an element type`);
      const inner = describeType(v.value.elemType, name);
      return { dtype: inner.dtype, shape: inner.shape, container: v.case === 'sequenceType' ? 'sequence' : 'optional' };
    }
    case 'mapType': {
      if (!v.value.valueType) throw new InputError(`'${name}' is a map without a value type`);
      return { ...describeType(v.value.valueType, name), container: 'map' };
    }
    default:
      throw new InputError(`'${name}' has a type tdeploy does not handle (${v.case ?? 'none'})`);
  }
}

function dim(d: TensorShapeProto_Dimension): Dim {
  if (d.value.case === 'dimValue') return Number(d.value.value);
  if (d.value.case === 'dimParam') return d.value.value || null;
  return null;
}

/** The opset version the model imports for a domain ('' and 'ai.onnx' are the same domain). */
export function opsetVersion(proto: ModelProto, domain = 'ai.onnx'): number | undefined {
  const wanted = domain === '' ? 'ai.onnx' : domain;
  const entry = proto.opsetImport.find((o) => (o.domain === '' ? 'ai.onnx' : o.domain) === wanted);
  return entry ? Number(entry.version) : undefined;
}

/** Shape as text: `[batch, 3, 224, 224]`, `?` for unknown dims, `[?]` for unknown rank. */
export function formatShape(shape: Dim[] | null): string {
  return shape ? `[${shape.map((d) => d ?? '?').join(', ')}]` : '[?]';
}
