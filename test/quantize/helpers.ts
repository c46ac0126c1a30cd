import { create } from '@bufbuild/protobuf';
import path from 'node:path';
import { type NodeProto, ModelProtoSchema, ValueInfoProtoSchema } from '../../src/onnx/gen/onnx_pb.js';
import { saveModel } from '../../src/onnx/save.js';
import { tensorToProto } from '../../src/onnx/tensor-proto.js';
import { type Session, openSession } from '../../src/runtime/session.js';
import { type Dtype, onnxFromDtype } from '../../src/tensor/dtype.js';
import { type Tensor, type TensorMap, floatToHalf, toFloat64 } from '../../src/tensor/tensor.js';

/** A value of the graph's signature: name, dtype and dims (strings are symbolic). */
export function value(name: string, dtype: Dtype, dims: (number | string)[]) {
  return create(ValueInfoProtoSchema, {
    name,
    type: {
      value: {
        case: 'tensorType',
        value: {
          elemType: onnxFromDtype(dtype),
          shape: { dim: dims.map((d) => ({ value: typeof d === 'number' ? { case: 'dimValue' as const, value: BigInt(d) } : { case: 'dimParam' as const, value: d } })) },
        },
      },
    },
  });
}

export const floats = (shape: number[], values: number[] | ((i: number) => number)): Tensor => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: 'float32', shape, data: Float32Array.from({ length: n }, (_, i) => (typeof values === 'function' ? values(i) : values[i])) };
};

/** Writes a small model built in the test, so tests need no Python. */
export async function writeModel(
  file: string, nodes: NodeProto[], inputs: ReturnType<typeof value>[], outputs: ReturnType<typeof value>[],
  initializers: Record<string, Tensor> = {}, opsets: Record<string, number> = { '': 17 },
): Promise<string> {
  const proto = create(ModelProtoSchema, {
    irVersion: 8n,
    producerName: 'tdeploy-test',
    opsetImport: Object.entries(opsets).map(([domain, version]) => ({ domain, version: BigInt(version) })),
    graph: { name: 'test', node: nodes, input: inputs, output: outputs, initializer: Object.entries(initializers).map(([n, t]) => tensorToProto(n, t)) },
  });
  await saveModel({ path: path.resolve(file), proto, sizeBytes: 0, ranges: new Map() }, file);
  return file;
}

/** Cosine similarity and max absolute error of two tensors, as float64 (a local yardstick for acceptance tests). */
export function drift(expected: Tensor, actual: Tensor): { cosine: number; maxAbs: number } {
  const e = toFloat64(expected);
  const a = toFloat64(actual);
  let dot = 0;
  let ne = 0;
  let na = 0;
  let maxAbs = 0;
  for (let i = 0; i < e.length; i++) {
    dot += e[i] * a[i];
    ne += e[i] * e[i];
    na += a[i] * a[i];
    maxAbs = Math.max(maxAbs, Math.abs(e[i] - a[i]));
  }
  return { cosine: dot / Math.sqrt(ne * na), maxAbs };
}

/** Runs a model on inputs, converting float32 inputs to float16 where the model wants float16. */
export async function run(file: string, feeds: TensorMap): Promise<TensorMap> {
  const session: Session = await openSession(file);
  try {
    const wanted = new Map(session.ort.inputMetadata.map((m) => [m.name, m.isTensor ? m.type : '']));
    const adapted: TensorMap = new Map([...feeds].filter(([name]) => wanted.has(name)).map(([name, t]) => [
      name, wanted.get(name) === 'float16' && t.dtype === 'float32' ? { dtype: 'float16', shape: t.shape, data: Uint16Array.from(t.data as Float32Array, floatToHalf) } : t,
    ]));
    return await session.run(adapted);
  } finally {
    await session.release();
  }
}
