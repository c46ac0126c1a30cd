import path from 'node:path';
import { InputError } from '../errors.js';
import { statIfExists } from '../io/read.js';
import type { FileRange } from '../io/ranges.js';
import type { TensorProto } from './gen/onnx_pb.js';
import { TensorProto_DataLocation } from './gen/onnx_pb.js';

export interface ExternalDataRef {
  location: string;
  offset: number;
  /** undefined when the entry omits it: the tensor's size decides */
  length?: number;
}

export function isExternal(tensor: TensorProto): boolean {
  return tensor.dataLocation === TensorProto_DataLocation.EXTERNAL;
}

/** The `external_data` key/value entries of a tensor as typed values. */
export function externalRef(tensor: TensorProto, where: string): ExternalDataRef {
  const entries = new Map(tensor.externalData.map((e) => [e.key, e.value]));
  const location = entries.get('location');
  if (!location) throw new InputError(`${where}: tensor '${tensor.name}' is marked external but names no location`);
  const number = (key: string) => {
    const value = entries.get(key);
    if (value === undefined) return undefined;
    if (!/^\d+$/.test(value)) throw new InputError(`${where}: tensor '${tensor.name}' has a bad external-data ${key} '${value}'`);
    return Number(value);
  };
  return { location, offset: number('offset') ?? 0, length: number('length') };
}

/**
 * Resolves an external-data location against the model's folder. ONNX requires a relative path
 * inside that folder; one that escapes it (absolute, or through '..') is refused.
 */
export function resolveLocation(modelDir: string, location: string, tensorName: string): string {
  const resolved = path.resolve(modelDir, location);
  const relative = path.relative(modelDir, resolved);
  if (path.isAbsolute(location) || relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) {
    throw new InputError(`external data path '${location}' of tensor '${tensorName}' escapes the model's folder`, {
      hint: 'external data files must sit in the model folder or below it',
      kind: 'external-data',
    });
  }
  return resolved;
}

/**
 * The byte range of an external tensor, checked against the file: it must exist and be long
 * enough. `expectedLength` is the tensor's size from its dims and dtype.
 */
export function externalRange(modelPath: string, tensor: TensorProto, expectedLength: number | undefined, sizes: Map<string, number>): FileRange {
  const ref = externalRef(tensor, modelPath);
  const file = resolveLocation(path.dirname(modelPath), ref.location, tensor.name);
  let size = sizes.get(file);
  if (size === undefined) {
    const stat = statIfExists(file);
    if (!stat?.isFile()) {
      throw new InputError(`external data file '${ref.location}' of tensor '${tensor.name}' is missing (looked for ${file})`, {
        hint: 'copy the data files that sit beside the model together with it',
        kind: 'external-data',
      });
    }
    size = stat.size;
    sizes.set(file, size);
  }
  const length = ref.length ?? expectedLength ?? size - ref.offset;
  if (expectedLength !== undefined && length !== expectedLength) {
    throw new InputError(`tensor '${tensor.name}' says its external data is ${length} bytes but its shape needs ${expectedLength}`, { kind: 'external-data' });
  }
  if (ref.offset + length > size) {
    throw new InputError(`external data file '${ref.location}' is too short: tensor '${tensor.name}' needs bytes ${ref.offset}..${ref.offset + length}, the file has ${size}`, {
      hint: 'the data file is truncated or belongs to another model',
      kind: 'external-data',
    });
  }
  return { file, offset: ref.offset, length };
}
