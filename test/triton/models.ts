import { create, toBinary } from '@bufbuild/protobuf';
import fs from 'node:fs';
import path from 'node:path';
import { ModelProtoSchema, type ValueInfoProto, ValueInfoProtoSchema } from '../../src/onnx/gen/onnx_pb.js';
import { type Dtype, dtypeInfo } from '../../src/tensor/dtype.js';

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
