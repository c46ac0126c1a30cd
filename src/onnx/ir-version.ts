import { InputError } from '../errors.js';
import {
  type AttributeProto, type FunctionProto, type GraphProto, type ModelProto, type NodeProto, type TensorProto,
  AttributeProto_AttributeType, TensorProto_DataType,
} from './gen/onnx_pb.js';
import { opt } from '../option-ref.js';

/**
 * Which IR version a model needs, decided from the fields and types it uses. Each IR version of
 * ONNX added fields or tensor types (the version history in onnx/onnx.proto, quoted per row
 * below); a model that uses none of a version's additions means the same under the version
 * before it, so its IR version can be written lower and older runtimes load it.
 */

/** A feature of the model and the IR version that introduced it. */
export interface IrNeed {
  version: number;
  /** what in the model needs it, e.g. "the FLOAT8E4M3FN tensor 'w'" */
  reason: string;
}

/**
 * IR 3 brought opset_import, which every model tdeploy reads has; below it the operator
 * versions are not stated at all.
 */
export const LOWEST_IR = 3;

/**
 * The IR version whose additions tdeploy knows (src/onnx/proto/onnx.proto). What IR 14 added is
 * not stated in the proto's history, so a model at 14 is never lowered.
 */
const KNOWN_HISTORY = 13;

/** Tensor element types by the IR version that added them (onnx.proto: IR 4 BFLOAT16, IR 9-13 the small floats and ints). */
const TYPE_IR: Partial<Record<TensorProto_DataType, number>> = {
  [TensorProto_DataType.BFLOAT16]: 4,
  [TensorProto_DataType.FLOAT8E4M3FN]: 9,
  [TensorProto_DataType.FLOAT8E4M3FNUZ]: 9,
  [TensorProto_DataType.FLOAT8E5M2]: 9,
  [TensorProto_DataType.FLOAT8E5M2FNUZ]: 9,
  [TensorProto_DataType.UINT4]: 10,
  [TensorProto_DataType.INT4]: 10,
  [TensorProto_DataType.FLOAT4E2M1]: 11,
  [TensorProto_DataType.FLOAT8E8M0]: 12,
  [TensorProto_DataType.UINT2]: 13,
  [TensorProto_DataType.INT2]: 13,
};

/** ai.onnx attributes whose integer value is a tensor element type: a Cast to INT4 uses INT4 with no INT4 tensor declared. */
const TYPE_ATTRIBUTES: Record<string, string> = {
  Cast: 'to',
  RandomNormal: 'dtype',
  RandomUniform: 'dtype',
  RandomNormalLike: 'dtype',
  RandomUniformLike: 'dtype',
  EyeLike: 'dtype',
  Multinomial: 'dtype',
  Bernoulli: 'dtype',
  QuantizeLinear: 'output_dtype',
  DequantizeLinear: 'output_dtype',
};

type Found = (version: number, reason: string) => void;

function tensorType(type: number, what: string, found: Found): void {
  const version = TYPE_IR[type as TensorProto_DataType];
  if (version) found(version, `${what} of type ${TensorProto_DataType[type]}`);
}

/** One row per message type: the fields whose use needs a newer IR version than 3. */
const RULES: Record<string, (message: never, found: Found) => void> = {
  'onnx.ModelProto': (m: ModelProto, found) => {
    if (m.trainingInfo.length) found(7, 'training_info (TrainingInfoProto)');
    if (m.functions.length) found(8, `local functions (${m.functions.map((f) => f.name).join(', ')})`);
    if (m.configuration.length) found(11, 'multi-device configuration');
  },
  'onnx.GraphProto': (g: GraphProto, found) => {
    const inputs = new Set(g.input.map((i) => i.name));
    const loose = g.initializer.find((t) => !inputs.has(t.name));
    // IR 4 relaxed "initializers are a subset of the graph inputs"; below it a weight must be an input.
    if (loose) found(4, `the initializer '${loose.name}', which is not a graph input`);
    if (g.quantizationAnnotation.length) found(5, 'quantization_annotation');
    if (g.sparseInitializer.length) found(6, 'sparse initializers');
    if (g.metadataProps.length) found(10, `metadata_props on graph '${g.name}'`);
  },
  'onnx.NodeProto': (n: NodeProto, found) => {
    const attribute = (n.domain === '' || n.domain === 'ai.onnx') ? TYPE_ATTRIBUTES[n.opType] : undefined;
    const typed = attribute && n.attribute.find((a) => a.name === attribute);
    if (typed) tensorType(Number(typed.i), `${n.opType} '${n.name}' (${attribute})`, found);
    if (n.overload) found(10, `the overload '${n.overload}' on node '${n.name}'`);
    if (n.metadataProps.length) found(10, `metadata_props on node '${n.name}'`);
    if (n.deviceConfigurations.length) found(11, `device configurations on node '${n.name}'`);
  },
  'onnx.AttributeProto': (a: AttributeProto, found) => {
    const sparse = [AttributeProto_AttributeType.SPARSE_TENSOR, AttributeProto_AttributeType.SPARSE_TENSORS];
    if (a.sparseTensor || a.sparseTensors.length || sparse.includes(a.type)) found(6, `the sparse tensor attribute '${a.name}'`);
  },
  'onnx.FunctionProto': (f: FunctionProto, found) => {
    if (f.attributeProto.length) found(9, `default attribute values in function '${f.name}'`);
    if (f.overload) found(10, `the overload '${f.overload}' of function '${f.name}'`);
    if (f.metadataProps.length) found(10, `metadata_props on function '${f.name}'`);
  },
  'onnx.TensorProto': (t: TensorProto, found) => {
    tensorType(t.dataType, `the tensor '${t.name}'`, found);
    if (t.metadataProps.length) found(10, `metadata_props on tensor '${t.name}'`);
  },
  'onnx.ValueInfoProto': (v: { name: string; metadataProps: unknown[] }, found) => {
    if (v.metadataProps.length) found(10, `metadata_props on '${v.name}'`);
  },
  'onnx.TypeProto': (t: { value: { case?: string } }, found) => {
    if (t.value.case === 'optionalType') found(8, 'an optional type');
    if (t.value.case === 'sparseTensorType') found(8, 'a sparse tensor type');
  },
  'onnx.TypeProto.Tensor': (t: { elemType: number }, found) => tensorType(t.elemType, 'a value', found),
  'onnx.TypeProto.SparseTensor': (t: { elemType: number }, found) => tensorType(t.elemType, 'a sparse value', found),
};

interface Message { $typeName: string; $unknown?: unknown[] }

function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && '$typeName' in value;
}

/**
 * Every feature of the model that needs an IR version above 3, the first occurrence per version.
 * Fields the schema does not know (kept as unknown fields) cannot be judged: they count as
 * needing the model's own IR version.
 */
export function irNeeds(proto: ModelProto): IrNeed[] {
  const byVersion = new Map<number, string>();
  const found: Found = (version, reason) => {
    if (!byVersion.has(version)) byVersion.set(version, reason);
  };
  const own = Number(proto.irVersion);
  if (own > KNOWN_HISTORY) found(own, `IR ${own}, whose additions tdeploy does not know`);
  const stack: unknown[] = [proto];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      // arrays are of one kind: numbers and bytes (tensor data) hold no messages
      if (typeof value[0] === 'object') stack.push(...value);
      continue;
    }
    if (!isMessage(value)) continue;
    if (value.$unknown?.length) found(own, `fields of ${value.$typeName} that tdeploy's ONNX schema does not know`);
    RULES[value.$typeName]?.(value as never, found);
    for (const [key, field] of Object.entries(value)) {
      if (key === '$unknown' || ArrayBuffer.isView(field)) continue;
      if (typeof field === 'object' && field !== null) stack.push(isMessage(field) || Array.isArray(field) ? field : Object.values(field));
    }
  }
  return [...byVersion].map(([version, reason]) => ({ version, reason })).sort((a, b) => b.version - a.version);
}

/** The lowest IR version the model can be written with, and the feature that decides it. */
export function requiredIrVersion(proto: ModelProto): IrNeed {
  return irNeeds(proto)[0] ?? { version: LOWEST_IR, reason: 'opset_import (every model has it)' };
}

/**
 * Rewrites the model's IR version down to `target`, or says what in the model needs a newer one.
 * The opsets stay: ONNX's versioning doc makes the opset version "largely independent" of the IR
 * version and leaves any dependency between them open, and onnxruntime checks each on its own.
 */
export function lowerIrVersion(proto: ModelProto, target: number): void {
  const own = Number(proto.irVersion);
  if (target > own) throw new InputError(`${opt('irVersion', target)}: the model is IR ${own} already; ${opt('irVersion')} only lowers it`);
  if (target < LOWEST_IR) throw new InputError(`${opt('irVersion', target)}: IR versions below ${LOWEST_IR} have no opset imports`);
  const need = requiredIrVersion(proto);
  if (need.version > target) {
    throw new InputError(`${opt('irVersion', target)}: the model needs IR ${need.version} for ${need.reason}`, {
      hint: need.version >= own ? 'the model cannot be written with an older IR version' : `IR ${need.version} is the lowest it can have`,
    });
  }
  proto.irVersion = BigInt(target);
}

/**
 * tdeploy's own outputs keep the IR version of the model they came from, unless what the rewrite
 * added (a type, a field) needs a newer one: a model exported for an old runtime stays loadable
 * there after quantization.
 */
export function keepIrVersion(sourceIr: bigint, output: ModelProto): IrNeed | undefined {
  const need = requiredIrVersion(output);
  const version = Math.max(Number(sourceIr), need.version);
  output.irVersion = BigInt(version);
  return version > Number(sourceIr) ? need : undefined;
}
