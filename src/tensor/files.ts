import path from 'node:path';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { InputError } from '../errors.js';
import { TensorProtoSchema } from '../onnx/gen/onnx_pb.js';
import { tensorFromProto, tensorToProto } from '../onnx/tensor-proto.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readTensorJson } from './json.js';
import { parseNpy } from './npy.js';
import { readNpz } from './npz.js';
import type { Tensor, TensorMap } from './tensor.js';
import { readBytes } from '../io/read.js';

/** Reads one ONNX TensorProto file (`input_0.pb`); small by nature, so read whole. */
export async function readTensorPb(file: string): Promise<{ name: string; tensor: Tensor }> {
  const bytes = await readBytes(file);
  let proto;
  try {
    proto = fromBinary(TensorProtoSchema, bytes);
  } catch (error) {
    throw new InputError(`${file}: not an ONNX TensorProto (${(error as Error).message})`);
  }
  try {
    return { name: proto.name, tensor: tensorFromProto(proto) };
  } catch (error) {
    throw new InputError(`${file}: ${(error as Error).message}`);
  }
}

/** Writes one tensor as an ONNX TensorProto file (raw_data), as ONNX test data sets hold them. */
export function writeTensorPb(file: string, name: string, tensor: Tensor): Promise<void> {
  return writeFileAtomic(file, toBinary(TensorProtoSchema, tensorToProto(name, tensor)));
}

/**
 * Reads named tensors from any supported file: `.npz` (names are the keys), `.npy` and `.pb`
 * (one tensor, named by the file or the TensorProto), `.json` (tdeploy's JSON form).
 */
export async function readTensorFile(file: string): Promise<TensorMap> {
  const ext = path.extname(file).toLowerCase();
  switch (ext) {
    case '.npz':
      return readNpz(file);
    case '.npy':
      return new Map([[path.basename(file, ext), parseNpy(await readBytes(file), file)]]);
    case '.pb': {
      const { name, tensor } = await readTensorPb(file);
      return new Map([[name || path.basename(file, ext), tensor]]);
    }
    case '.json':
      return readTensorJson(file);
    default:
      throw new InputError(`${file}: unknown tensor file type '${ext}'`, { hint: 'use .npz, .npy, .pb or .json' });
  }
}
