import { fromBinary } from '@bufbuild/protobuf';
import fs from 'node:fs';
import path from 'node:path';
import { InputError, fileError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { type FileRange, readRange } from '../io/ranges.js';
import { externalRange, isExternal } from './external-data.js';
import {
  type GraphProto, type ModelProto, type NodeProto, type TensorProto,
  GraphProtoSchema, ModelProtoSchema, TensorProtoSchema,
} from './gen/onnx_pb.js';
import { rawLength, tensorFromProto } from './tensor-proto.js';
import { WireReader, concat } from './wire.js';

/**
 * A loaded ONNX model. Large tensor payloads stay on disk: external data always, and raw_data
 * embedded in the model file above `deferAbove` bytes; `readTensor` fetches one tensor's values.
 */
export interface OnnxModel {
  /** absolute path of the .onnx file */
  path: string;
  proto: ModelProto;
  /** model file plus every external-data file it uses, in bytes */
  sizeBytes: number;
  /** where each tensor's data lives when it is not held in the message */
  ranges: Map<TensorProto, FileRange>;
}

export interface LoadOptions {
  /** embedded raw_data of initializers at least this large is left on disk (default 4 KiB) */
  deferAbove?: number;
}

const MODEL_GRAPH = ModelProtoSchema.field.graph.number;
const GRAPH_INITIALIZER = GraphProtoSchema.field.initializer.number;
const TENSOR_RAW_DATA = TensorProtoSchema.field.rawData.number;
/** the wire type of length-delimited fields (messages, bytes) */
const LEN = 2;

export async function loadModel(file: string, options: LoadOptions = {}): Promise<OnnxModel> {
  const absolute = path.resolve(file);
  let fd: number;
  let size: number;
  try {
    fd = fs.openSync(absolute, 'r');
    const stat = fs.fstatSync(fd);
    if (stat.isDirectory()) {
      fs.closeSync(fd);
      throw Object.assign(new Error('directory'), { code: 'EISDIR' });
    }
    size = stat.size;
  } catch (error) {
    throw fileError(file, error, 'model');
  }
  try {
    const { proto, deferred } = decodeModel(WireReader.overFile(fd, size, file), options.deferAbove ?? 4096, absolute);
    const ranges = new Map(deferred);
    const sizes = new Map<string, number>();
    for (const tensor of allTensors(proto)) {
      if (isExternal(tensor)) ranges.set(tensor, externalRange(absolute, tensor, rawLength(tensor), sizes));
    }
    const sizeBytes = size + [...sizes.values()].reduce((a, b) => a + b, 0);
    return { path: absolute, proto, sizeBytes, ranges };
  } finally {
    fs.closeSync(fd);
  }
}

function decodeModel(win: WireReader, deferAbove: number, file: string): { proto: ModelProto; deferred: [TensorProto, FileRange][] } {
  if (win.size === 0) throw new InputError(`${file}: empty file, not an ONNX model`, { kind: 'invalid-model' });
  const modelParts: Uint8Array[] = [];
  let graph: GraphProto | undefined;
  const deferred: [TensorProto, FileRange][] = [];
  for (const field of win.fields(0, win.size)) {
    if (field.number === MODEL_GRAPH && field.wireType === LEN) {
      if (graph) throw new InputError(`${file}: the model has more than one graph field`, { kind: 'invalid-model' });
      graph = decodeGraph(win, field.payload, field.end, deferAbove, file, deferred);
    } else modelParts.push(win.bytes(field.start, field.end - field.start));
  }
  const proto = decode(() => fromBinary(ModelProtoSchema, concat(modelParts)), file);
  if (!graph || proto.irVersion <= 0n) {
    throw new InputError(`${file}: not an ONNX model (no ${graph ? 'IR version' : 'graph'})`, { kind: 'invalid-model' });
  }
  proto.graph = graph;
  return { proto, deferred };
}

function decodeGraph(win: WireReader, start: number, end: number, deferAbove: number, file: string, deferred: [TensorProto, FileRange][]): GraphProto {
  const graphParts: Uint8Array[] = [];
  const initializers: TensorProto[] = [];
  for (const field of win.fields(start, end)) {
    if (field.number !== GRAPH_INITIALIZER || field.wireType !== LEN) {
      graphParts.push(win.bytes(field.start, field.end - field.start));
      continue;
    }
    const tensorParts: Uint8Array[] = [];
    let range: FileRange | undefined;
    for (const tf of win.fields(field.payload, field.end)) {
      if (tf.number === TENSOR_RAW_DATA && tf.wireType === LEN && tf.end - tf.payload >= deferAbove) {
        range = { file, offset: tf.payload, length: tf.end - tf.payload };
      } else tensorParts.push(win.bytes(tf.start, tf.end - tf.start));
    }
    const tensor = decode(() => fromBinary(TensorProtoSchema, concat(tensorParts)), file);
    if (range) deferred.push([tensor, range]);
    initializers.push(tensor);
  }
  const graph = decode(() => fromBinary(GraphProtoSchema, concat(graphParts)), file);
  graph.initializer = initializers;
  return graph;
}

function decode<T>(parse: () => T, file: string): T {
  try {
    return parse();
  } catch (error) {
    throw new InputError(`${file}: not an ONNX model (${(error as Error).message})`, { kind: 'invalid-model' });
  }
}

/** Every TensorProto of the model: initializers and tensors in node attributes, subgraphs included. */
export function* allTensors(proto: ModelProto): Generator<TensorProto> {
  const graphs: GraphProto[] = proto.graph ? [proto.graph] : [];
  const nodeLists: NodeProto[][] = proto.functions.map((fn) => fn.node);
  while (graphs.length > 0 || nodeLists.length > 0) {
    const graph = graphs.pop();
    if (graph) {
      yield* graph.initializer;
      for (const sparse of graph.sparseInitializer) {
        if (sparse.values) yield sparse.values;
        if (sparse.indices) yield sparse.indices;
      }
      nodeLists.push(graph.node);
    }
    for (const node of nodeLists.pop() ?? []) {
      for (const attr of node.attribute) {
        if (attr.t) yield attr.t;
        yield* attr.tensors;
        if (attr.g) graphs.push(attr.g);
        graphs.push(...attr.graphs);
      }
    }
  }
}

/** Reads one tensor's values, from the message or from disk. */
export async function readTensor(model: OnnxModel, tensor: TensorProto): Promise<Tensor> {
  const range = model.ranges.get(tensor);
  return tensorFromProto(tensor, range ? await readRange(range) : undefined);
}

/** Whether any tensor of the model keeps its data in external files. */
export function hasExternalData(model: OnnxModel): boolean {
  for (const tensor of allTensors(model.proto)) if (isExternal(tensor)) return true;
  return false;
}

/** The distinct external-data files of a model (absolute paths), e.g. to copy them beside it. */
export function externalDataFiles(model: OnnxModel): string[] {
  const files = new Set<string>();
  for (const tensor of allTensors(model.proto)) {
    const range = model.ranges.get(tensor);
    if (range && isExternal(tensor)) files.add(range.file);
  }
  return [...files];
}
