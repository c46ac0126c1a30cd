import { type Dtype, byteLength } from '../tensor/dtype.js';
import { elementCount } from '../tensor/tensor.js';
import { hasExternalData, loadModel } from './model.js';
import { type TensorInfo, signature } from './signature.js';
import { tensorDtype, tensorShape } from './tensor-proto.js';

export interface InspectReport {
  path: string;
  sizeBytes: number;
  irVersion: number;
  producer: { name: string; version: string };
  opsets: Record<string, number>;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  nodes: number;
  /** main-graph nodes by op type, most frequent first; ops of other domains as `domain.Op` */
  ops: Record<string, number>;
  /** initializer elements */
  parameters: number;
  parameterBytes: number;
  /** initializer bytes by dtype */
  dtypes: Partial<Record<Dtype, number>>;
  externalData: boolean;
  notes: string[];
}

/** What a model is: its I/O, ops and weights. Loading it checks every external-data file. */
export async function inspect(file: string): Promise<InspectReport> {
  const model = await loadModel(file, { deferAbove: 0 });
  const proto = model.proto;
  const graph = proto.graph!;
  const ops: Record<string, number> = {};
  for (const node of graph.node) {
    const key = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.opType}` : node.opType;
    ops[key] = (ops[key] ?? 0) + 1;
  }
  let parameters = 0;
  const dtypes: Partial<Record<Dtype, number>> = {};
  for (const tensor of graph.initializer) {
    const dtype = tensorDtype(tensor, `${file}: `);
    const count = elementCount(tensorShape(tensor));
    parameters += count;
    const bytes = dtype === 'string' ? tensor.stringData.reduce((n, s) => n + s.length, 0) : byteLength(dtype, count);
    dtypes[dtype] = (dtypes[dtype] ?? 0) + bytes;
  }
  const { inputs, outputs } = signature(proto);
  return {
    path: model.path,
    sizeBytes: model.sizeBytes,
    irVersion: Number(proto.irVersion),
    producer: { name: proto.producerName, version: proto.producerVersion },
    opsets: Object.fromEntries(proto.opsetImport.map((o) => [o.domain || 'ai.onnx', Number(o.version)])),
    inputs,
    outputs,
    nodes: graph.node.length,
    ops: Object.fromEntries(Object.entries(ops).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))),
    parameters,
    parameterBytes: Object.values(dtypes).reduce((a, b) => a + b, 0),
    dtypes,
    externalData: hasExternalData(model),
    notes: [],
  };
}
