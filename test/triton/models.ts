import { create, toBinary } from '@bufbuild/protobuf';
import fs from 'node:fs';
import path from 'node:path';
import { ModelProtoSchema, type ValueInfoProto, ValueInfoProtoSchema } from '../../src/onnx/gen/onnx_pb.js';
import { type Dtype, dtypeInfo } from '../../src/tensor/dtype.js';
import { fixture } from '../helpers.js';

export interface Io {
  name: string;
  dtype: Dtype;
  /** numbers are fixed dims, strings symbolic */
  shape: (number | string)[];
}

function valueInfo(io: Io): ValueInfoProto {
  const dim = io.shape.map((d) => ({ value: typeof d === 'number' ? { case: 'dimValue' as const, value: BigInt(d) } : { case: 'dimParam' as const, value: d } }));
  return create(ValueInfoProtoSchema, {
    name: io.name,
    type: { value: { case: 'tensorType', value: { elemType: dtypeInfo(io.dtype).onnx, shape: { dim } } } },
  });
}

/** A one-node ONNX model (Identity from `input` to `output`) with the signature a test needs. */
export function identityModel(dir: string, file: string, input: Io, output: Io): string {
  const model = create(ModelProtoSchema, {
    irVersion: 8n,
    opsetImport: [{ domain: '', version: 17n }],
    graph: {
      name: 'identity',
      node: [{ opType: 'Identity', input: [input.name], output: [output.name] }],
      input: [valueInfo(input)],
      output: [valueInfo(output)],
    },
  });
  const dest = path.join(dir, file);
  fs.writeFileSync(dest, toBinary(ModelProtoSchema, model));
  return dest;
}

/** The encoder with a field ONNX does not define appended: the same tensors, other bytes, so a model's origin shows. */
export function encoderVariant(dir: string): string {
  const file = path.join(dir, 'variant.onnx');
  fs.writeFileSync(file, Buffer.concat([fs.readFileSync(fixture('encoder.onnx')), Buffer.from([0xc0, 0x3e, 0x01])]));
  return file;
}
