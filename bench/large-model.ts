/**
 * A model over 2 GiB for benchmarks: a chain of 8192x8192 float32 MatMuls whose weights live in
 * one sparse external-data file (so it costs no disk until something writes it out).
 */
import { create, toBinary } from '@bufbuild/protobuf';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  GraphProtoSchema, ModelProtoSchema, NodeProtoSchema, OperatorSetIdProtoSchema, StringStringEntryProtoSchema,
  TensorProtoSchema, TensorProto_DataLocation, TypeProtoSchema, TypeProto_TensorSchema, TensorShapeProtoSchema,
  TensorShapeProto_DimensionSchema, ValueInfoProtoSchema,
} from '../src/onnx/gen/onnx_pb.js';

export const N = 8192;
const tensorBytes = N * N * 4;

export interface LargeModel {
  dir: string;
  modelPath: string;
  count: number;
  /** model file plus external data, in bytes */
  total: number;
}

export function buildLargeModel(gib: number): LargeModel {
  const count = Math.ceil((gib * 2 ** 30) / tensorBytes);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tdeploy-large-'));
  const modelPath = path.join(dir, 'large.onnx');

  const fd = fs.openSync(`${modelPath}.data`, 'w');
  fs.ftruncateSync(fd, count * tensorBytes);
  fs.closeSync(fd);

  const entry = (key: string, value: string) => create(StringStringEntryProtoSchema, { key, value });
  const valueInfo = (name: string) => create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, {
      value: {
        case: 'tensorType',
        value: create(TypeProto_TensorSchema, {
          elemType: 1,
          shape: create(TensorShapeProtoSchema, {
            dim: [
              create(TensorShapeProto_DimensionSchema, { value: { case: 'dimParam', value: 'batch' } }),
              create(TensorShapeProto_DimensionSchema, { value: { case: 'dimValue', value: BigInt(N) } }),
            ],
          }),
        }),
      },
    }),
  });
  const weights = Array.from({ length: count }, (_, i) => create(TensorProtoSchema, {
    name: `w${i}`,
    dims: [BigInt(N), BigInt(N)],
    dataType: 1,
    dataLocation: TensorProto_DataLocation.EXTERNAL,
    externalData: [entry('location', 'large.onnx.data'), entry('offset', String(i * tensorBytes)), entry('length', String(tensorBytes))],
  }));
  const nodes = weights.map((w, i) => create(NodeProtoSchema, {
    opType: 'MatMul', name: `matmul${i}`, input: [i === 0 ? 'x' : `h${i}`, w.name], output: [i === count - 1 ? 'y' : `h${i + 1}`],
  }));
  const model = create(ModelProtoSchema, {
    irVersion: 8n,
    producerName: 'tdeploy-bench',
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 17n })],
    graph: create(GraphProtoSchema, { name: 'large', node: nodes, initializer: weights, input: [valueInfo('x')], output: [valueInfo('y')] }),
  });
  fs.writeFileSync(modelPath, toBinary(ModelProtoSchema, model));
  const total = fs.statSync(modelPath).size + fs.statSync(`${modelPath}.data`).size;
  return { dir, modelPath, count, total };
}
