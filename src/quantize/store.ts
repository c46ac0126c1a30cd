import fs from 'node:fs';
import path from 'node:path';
import { OutputSet } from '../io/atomic.js';
import { writeFully } from '../io/ranges.js';
import { create } from '@bufbuild/protobuf';
import { type TensorProto, TensorProtoSchema } from '../onnx/gen/onnx_pb.js';
import type { OnnxModel } from '../onnx/model.js';
import { tensorToProto } from '../onnx/tensor-proto.js';
import { onnxFromDtype } from '../tensor/dtype.js';
import { type Tensor, toBytes } from '../tensor/tensor.js';

/** Tensors this small stay in the message; larger ones go to the scratch file. */
const INLINE_BELOW = 4096;

/**
 * Where a rewrite puts the tensors it creates. Their bytes are appended to a scratch file beside
 * the output and the new TensorProto is registered in `model.ranges`, exactly as loadModel
 * registers tensors it leaves on disk; saveModel then streams them into the output. Memory stays
 * bounded by the tensor being converted, not the model. The scratch folder also holds the
 * temporary models that calibration runs, and is removed by `dispose` (or on SIGINT).
 */
export interface ScratchSpace {
  dir: string;
  /** a TensorProto holding `tensor`, its bytes on disk when large */
  put(name: string, tensor: Tensor): Promise<TensorProto>;
  dispose(): Promise<void>;
}

export async function openScratch(model: OnnxModel, besideFile: string): Promise<ScratchSpace> {
  const owner = new OutputSet();
  const dir = await owner.folder(path.join(path.dirname(path.resolve(besideFile)), 'tdeploy-scratch'));
  const file = path.join(dir, 'tensors.bin');
  const handle = await fs.promises.open(file, 'w');
  let length = 0;
  return {
    dir,
    async put(name, tensor) {
      const bytes = toBytes(tensor);
      if (bytes.length < INLINE_BELOW) return tensorToProto(name, tensor);
      const proto = create(TensorProtoSchema, { name, dims: tensor.shape.map(BigInt), dataType: onnxFromDtype(tensor.dtype) });
      await writeFully(handle, bytes, length);
      model.ranges.set(proto, { file, offset: length, length: bytes.length });
      length += bytes.length;
      return proto;
    },
    async dispose() {
      await handle.close().catch(() => {});
      await owner.abort();
    },
  };
}
