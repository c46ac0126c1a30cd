/** Conversions between ONNX TensorProto messages and plain tensors. */
import { create } from '@bufbuild/protobuf';
import { InputError } from '../errors.js';
import { type Dtype, byteLength, dtypeFromOnnx, dtypeInfo, onnxFromDtype } from '../tensor/dtype.js';
import { type Tensor, elementCount, fromBytes, toBytes, zeros } from '../tensor/tensor.js';
import { type TensorProto, TensorProtoSchema } from './gen/onnx_pb.js';

export function tensorDtype(tensor: TensorProto, where = ''): Dtype {
  const dtype = dtypeFromOnnx(tensor.dataType);
  if (!dtype) throw new InputError(`${where}tensor '${tensor.name}' has unknown data type ${tensor.dataType}`);
  return dtype;
}

export function tensorShape(tensor: TensorProto): number[] {
  return tensor.dims.map(Number);
}

/** Bytes the tensor's values take in raw form (undefined for strings). */
export function rawLength(tensor: TensorProto): number | undefined {
  const dtype = dtypeFromOnnx(tensor.dataType);
  if (!dtype || dtype === 'string') return undefined;
  return byteLength(dtype, elementCount(tensorShape(tensor)));
}

/**
 * The tensor's values. `raw` supplies the bytes when they are not in the message (external data,
 * or raw_data left on disk when the model was loaded); otherwise raw_data or the typed fields are read.
 */
export function tensorFromProto(proto: TensorProto, raw?: Uint8Array): Tensor {
  const dtype = tensorDtype(proto);
  const shape = tensorShape(proto);
  const bytes = raw ?? (proto.rawData.length > 0 || elementCount(shape) === 0 ? proto.rawData : undefined);
  if (bytes && dtype !== 'string') {
    const needed = rawLength(proto);
    if (bytes.length !== needed) throw new InputError(`tensor '${proto.name}' has ${bytes.length} bytes of data, its shape [${shape.join(', ')}] needs ${needed}`);
    return fromBytes(dtype, shape, bytes);
  }
  const out = zeros(dtype, shape);
  const n = out.data.length;
  const take = <T>(values: ArrayLike<T>, field: string) => {
    if (values.length !== n) {
      throw new InputError(`tensor '${proto.name}' has ${values.length} values in ${field}, its shape [${shape.join(', ')}] needs ${n}`);
    }
    return values;
  };
  const info = dtypeInfo(dtype);
  const target = out.data as unknown as Record<number, unknown>;
  if (dtype === 'string') {
    const values = take(proto.stringData, 'string_data');
    for (let i = 0; i < n; i++) target[i] = new TextDecoder().decode(values[i]);
  } else if (info.kind === 'complex' || dtype === 'float32' || dtype === 'float64') {
    const values = dtype === 'float32' || dtype === 'complex64' ? take(proto.floatData, 'float_data') : take(proto.doubleData, 'double_data');
    for (let i = 0; i < n; i++) target[i] = values[i];
  } else if (dtype === 'int64') {
    const values = take(proto.int64Data, 'int64_data');
    for (let i = 0; i < n; i++) target[i] = values[i];
  } else if (dtype === 'uint32' || dtype === 'uint64') {
    const values = take(proto.uint64Data, 'uint64_data');
    for (let i = 0; i < n; i++) target[i] = dtype === 'uint64' ? values[i] : Number(values[i]);
  } else {
    // Every other type (ints up to 32 bits, bool, fp16/bf16 bits, fp8, packed sub-byte) lives in int32_data.
    const values = take(proto.int32Data, 'int32_data');
    for (let i = 0; i < n; i++) target[i] = values[i];
  }
  return out;
}

/** A TensorProto holding the tensor in raw_data (strings in string_data), as ONNX writers do. */
export function tensorToProto(name: string, tensor: Tensor): TensorProto {
  const proto = create(TensorProtoSchema, {
    name,
    dims: tensor.shape.map(BigInt),
    dataType: onnxFromDtype(tensor.dtype),
  });
  if (tensor.dtype === 'string') proto.stringData = (tensor.data as string[]).map((s) => new TextEncoder().encode(s));
  else proto.rawData = toBytes(tensor);
  return proto;
}
