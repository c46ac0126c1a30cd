import { create, toBinary } from '@bufbuild/protobuf';
import fs from 'node:fs';
import path from 'node:path';
import { OutputSet } from '../io/atomic.js';
import { toBytes } from '../tensor/tensor.js';
import { type FileRange, copyRange, readRange, writeFully } from '../io/ranges.js';
import { isExternal } from './external-data.js';
import {
  type GraphProto, type TensorProto,
  GraphProtoSchema, ModelProtoSchema, StringStringEntryProtoSchema, TensorProtoSchema, TensorProto_DataLocation,
} from './gen/onnx_pb.js';
import { type OnnxModel, allTensors } from './model.js';
import { tensorDtype, tensorFromProto } from './tensor-proto.js';
import { type Chunk, lengthDelimited, spliceField } from './chunks.js';

export interface SaveOptions {
  /**
   * 'auto' (default): external data when the source model had it or its tensors pass what one
   * protobuf file can hold; 'always' / 'never' force the choice.
   */
  externalData?: 'auto' | 'always' | 'never';
  /** with external data, tensors smaller than this stay in the model file (default 1 KiB) */
  sizeThreshold?: number;
  /** external-data file name, relative to the model (default `<model file name>.data`) */
  location?: string;
  /** join a larger group of outputs that the caller commits; otherwise the model is committed here */
  outputs?: OutputSet;
}

export interface SavedModel {
  path: string;
  dataFile?: string;
  sizeBytes: number;
}

/** Protobuf refuses messages of 2 GiB; stay well under it. */
const PROTOBUF_LIMIT = 1.8 * 2 ** 30;
const MODEL_GRAPH = ModelProtoSchema.field.graph.number;
const GRAPH_INITIALIZER = GraphProtoSchema.field.initializer.number;
const TENSOR_RAW_DATA = TensorProtoSchema.field.rawData.number;

/**
 * Writes the model to `dest`. Tensor data left on disk is streamed from its source, so memory
 * stays bounded by the model's structure, not its weights. An unmodified model saved the way it
 * was loaded comes out byte for byte identical.
 */
export async function saveModel(model: OnnxModel, dest: string, options: SaveOptions = {}): Promise<SavedModel> {
  const tensors = [...allTensors(model.proto)];
  const initializers = new Set(model.proto.graph?.initializer ?? []);
  const sizeOf = (t: TensorProto) => model.ranges.get(t)?.length ?? t.rawData.length;
  const total = tensors.reduce((n, t) => n + sizeOf(t), 0);
  const mode = options.externalData ?? 'auto';
  const external = mode === 'always' || (mode === 'auto' && (tensors.some(isExternal) || total > PROTOBUF_LIMIT));
  const threshold = options.sizeThreshold ?? 1024;
  const location = options.location ?? `${path.basename(dest)}.data`;
  const dataFile = path.join(path.dirname(path.resolve(dest)), location);

  // Decide where every tensor's bytes go; the message edits are applied only while encoding.
  const edits = new Map<TensorProto, Partial<TensorProto>>();
  const rawFromDisk = new Map<TensorProto, FileRange>();
  const dataChunks: Chunk[] = [];
  let dataLength = 0;
  for (const tensor of tensors) {
    const range = model.ranges.get(tensor);
    const bytes: Chunk | undefined = external && tensorDtype(tensor) !== 'string' ? range ?? rawBytes(tensor) : undefined;
    if (bytes && bytes.length >= threshold) {
      const length = bytes.length;
      const offset = align(dataLength, length >= 1 << 20 ? 4096 : 64);
      if (offset > dataLength) dataChunks.push(new Uint8Array(offset - dataLength));
      dataChunks.push(bytes);
      dataLength = offset + length;
      edits.set(tensor, externalEdit(location, offset, length));
    } else if (range && initializers.has(tensor)) {
      rawFromDisk.set(tensor, range);
      if (isExternal(tensor)) edits.set(tensor, { externalData: [], dataLocation: undefined });
    } else if (range) {
      edits.set(tensor, { rawData: await readRange(range), externalData: [], dataLocation: undefined });
    }
  }

  const modelChunks = withEdits(edits, () => encodeModel(model, rawFromDisk));
  const outputs = options.outputs ?? new OutputSet();
  const write = async (set: OutputSet) => {
    if (dataChunks.length > 0) await writeChunks(await set.temp(dataFile), dataChunks);
    await writeChunks(await set.temp(dest), modelChunks);
  };
  if (options.outputs) await write(outputs);
  else await outputs.run(write);
  const modelLength = modelChunks.reduce((n, c) => n + c.length, 0);
  return { path: path.resolve(dest), dataFile: dataChunks.length > 0 ? dataFile : undefined, sizeBytes: modelLength + dataLength };
}

function align(offset: number, to: number): number {
  return Math.ceil(offset / to) * to;
}

/** Raw little-endian bytes of a tensor held in the message (typed fields converted). */
function rawBytes(tensor: TensorProto): Uint8Array {
  return tensor.rawData.length > 0 ? tensor.rawData : toBytes(tensorFromProto(tensor));
}

function externalEdit(location: string, offset: number, length: number): Partial<TensorProto> {
  const entry = (key: string, value: string) => create(StringStringEntryProtoSchema, { key, value });
  return {
    externalData: [entry('location', location), entry('offset', String(offset)), entry('length', String(length))],
    dataLocation: TensorProto_DataLocation.EXTERNAL,
    rawData: undefined, floatData: [], int32Data: [], int64Data: [], doubleData: [], uint64Data: [],
  };
}

/**
 * Applies message edits for the duration of `encode`, then restores the messages exactly.
 * protobuf-es keeps a proto2 field's presence as an own property, so snapshotting own properties
 * restores presence too.
 */
function withEdits<T>(edits: Map<TensorProto, Partial<TensorProto>>, encode: () => T): T {
  const saved = new Map<TensorProto, Record<string, unknown>>();
  for (const [tensor, edit] of edits) {
    saved.set(tensor, { ...tensor });
    for (const [key, value] of Object.entries(edit)) {
      if (value === undefined) delete (tensor as Record<string, unknown>)[key];
      else (tensor as Record<string, unknown>)[key] = value;
    }
  }
  try {
    return encode();
  } finally {
    for (const [tensor, fields] of saved) {
      for (const key of Object.keys(tensor)) delete (tensor as Record<string, unknown>)[key];
      Object.assign(tensor, fields);
    }
  }
}

/**
 * Encodes the model as chunks. Tensors whose raw_data stays on disk are spliced in as file ranges
 * at the position protobuf would have written them, so nothing large is ever copied into memory.
 */
function encodeModel(model: OnnxModel, rawFromDisk: Map<TensorProto, FileRange>): Chunk[] {
  const proto = model.proto;
  if (rawFromDisk.size === 0 || !proto.graph) return [toBinary(ModelProtoSchema, proto)];
  const graph = proto.graph;
  const withoutGraph = detach(proto, 'graph', () => toBinary(ModelProtoSchema, proto));
  return spliceField(withoutGraph, proto.$unknown, MODEL_GRAPH, lengthDelimited(MODEL_GRAPH, encodeGraph(graph, rawFromDisk)));
}

function encodeGraph(graph: GraphProto, rawFromDisk: Map<TensorProto, FileRange>): Chunk[] {
  const initializers = graph.initializer;
  const withoutInitializers = detach(graph, 'initializer', () => toBinary(GraphProtoSchema, graph));
  const encoded = initializers.flatMap((tensor) => {
    const range = rawFromDisk.get(tensor);
    const bytes = toBinary(TensorProtoSchema, tensor);
    const chunks = range ? spliceField(bytes, tensor.$unknown, TENSOR_RAW_DATA, lengthDelimited(TENSOR_RAW_DATA, [range])) : [bytes];
    return lengthDelimited(GRAPH_INITIALIZER, chunks);
  });
  return spliceField(withoutInitializers, graph.$unknown, GRAPH_INITIALIZER, encoded);
}

/** Runs `fn` with one field of a message temporarily removed. */
function detach<M extends object, K extends keyof M, T>(message: M, key: K, fn: () => T): T {
  const value = message[key];
  const own = Object.prototype.hasOwnProperty.call(message, key);
  if (Array.isArray(value)) (message as Record<K, unknown>)[key] = [];
  else delete message[key];
  try {
    return fn();
  } finally {
    if (own) message[key] = value;
  }
}

async function writeChunks(file: string, chunks: Chunk[]): Promise<void> {
  const out = await fs.promises.open(file, 'w');
  try {
    for (const chunk of chunks) {
      if (chunk instanceof Uint8Array) await writeFully(out, chunk);
      else await copyRange(out, chunk);
    }
  } finally {
    await out.close();
  }
}
