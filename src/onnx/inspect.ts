import { type Dtype, byteLength, dtypeInfo } from '../tensor/dtype.js';
import { elementCount } from '../tensor/tensor.js';
import { hasExternalData, loadModel } from './model.js';
import { allGraphs, weightTensors } from './nodes.js';
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
  /** nodes of every graph: the main graph and the If/Loop/Scan bodies inside it */
  nodes: number;
  /** the subgraphs (If branches, Loop and Scan bodies), at any depth */
  subgraphs: number;
  /** nodes of every graph by op type, most frequent first; ops of other domains as `domain.Op` */
  ops: Record<string, number>;
  /** elements of the weights: float and 8-bit-or-narrower integer (quantized) tensors held by initializers and Constant nodes, in every graph */
  parameters: number;
  parameterBytes: number;
  /** bytes of those weights by dtype */
  dtypes: Partial<Record<Dtype, number>>;
  externalData: boolean;
  notes: string[];
}

/** What a model is: its I/O, ops and weights. Loading it checks every external-data file. */
export async function inspect(file: string): Promise<InspectReport> {
  const model = await loadModel(file, { deferAbove: 0 });
  const proto = model.proto;
  const ops: Record<string, number> = {};
  let nodes = 0;
  const graphs = [...allGraphs(proto.graph!)];
  for (const graph of graphs) {
    for (const node of graph.node) {
      nodes++;
      const key = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.opType}` : node.opType;
      ops[key] = (ops[key] ?? 0) + 1;
    }
  }
  let parameters = 0;
  const dtypes: Partial<Record<Dtype, number>> = {};
  for (const tensor of weightTensors(proto.graph!)) {
    const dtype = tensorDtype(tensor, `${file}: `);
    if (!isWeight(dtype)) continue;
    const count = elementCount(tensorShape(tensor));
    parameters += count;
    dtypes[dtype] = (dtypes[dtype] ?? 0) + byteLength(dtype, count);
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
    nodes,
    subgraphs: graphs.length - 1,
    ops: Object.fromEntries(Object.entries(ops).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))),
    parameters,
    parameterBytes: Object.values(dtypes).reduce((a, b) => a + b, 0),
    dtypes,
    externalData: hasExternalData(model),
    notes: [],
  };
}

/** Float tensors, and integers of 8 bits or fewer (quantized weights); not int32/int64 shapes and indices. */
function isWeight(dtype: Dtype): boolean {
  const { kind, bits } = dtypeInfo(dtype);
  return kind === 'float' || ((kind === 'int' || kind === 'uint') && bits <= 8);
}
