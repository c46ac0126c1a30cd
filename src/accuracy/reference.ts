/**
 * Expected data for a model: a tensor file whose keys are the model's input and output names
 * (the `.npz` convert writes), or ONNX test data sets (`test_data_set_N/input_i.pb, output_i.pb`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { InputError, fileError } from '../errors.js';
import type { ModelSignature, TensorInfo } from '../onnx/signature.js';
import { checkInputs, checkTensor } from '../runtime/inputs.js';
import { isBatchLike } from '../runtime/shapes.js';
import { readTensorFile, readTensorPb } from '../tensor/files.js';
import type { Tensor, TensorMap } from '../tensor/tensor.js';
import { castInputs } from './inputs.js';

export interface DataSet {
  /** where the set came from, for messages: the file, or the data-set folder */
  source: string;
  inputs: TensorMap;
  /** empty when only inputs were asked for */
  outputs: TensorMap;
}

export interface DataSets {
  sets: DataSet[];
  notes: string[];
}

const DATA_SET = /^test_data_set_(\d+)$/;

/** The model and data sets of an ONNX test folder (`<dir>/model.onnx`), or undefined for a model file. */
export function testFolder(location: string): { model: string; dir: string } | undefined {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(location);
  } catch (error) {
    throw fileError(location, error, 'model');
  }
  if (!stat.isDirectory()) return undefined;
  const model = path.join(location, 'model.onnx');
  if (!fs.existsSync(model)) {
    throw new InputError(`${location} is a folder without model.onnx`, { hint: 'give a model file, or an ONNX test folder: model.onnx and test_data_set_N/input_i.pb, output_i.pb' });
  }
  return { model, dir: location };
}

/**
 * Reads every input set (and, with `withOutputs`, the expected outputs) at `location` and checks
 * them against the model: every input and output present, dtypes equal, shapes fitting.
 * A reference (`withOutputs`) made for the fp32 model also serves its fp16 copy (quantize to fp16
 * without keepIoTypes): float inputs are cast to the model's float types and float outputs of
 * another float type are compared (both widen to float64), with notes; an int against a float
 * stays an error.
 */
export async function readDataSets(location: string, sig: ModelSignature, withOutputs: boolean): Promise<DataSets> {
  let isDir: boolean;
  try {
    isDir = fs.statSync(location).isDirectory();
  } catch (error) {
    throw fileError(location, error, withOutputs ? 'reference' : 'inputs');
  }
  const result = isDir ? await readFolder(location, sig, withOutputs) : await readFile(location, sig, withOutputs);
  const widened = new Set<string>();
  for (const set of result.sets) {
    for (const info of sig.inputs) refuseEmptyBatch(info, set.inputs.get(info.name)!, set.source);
    for (const info of withOutputs ? sig.outputs : []) {
      const tensor = set.outputs.get(info.name);
      if (!tensor) {
        throw new InputError(`${set.source} has no expected value for output '${info.name}'`, {
          kind: 'missing-output',
          hint: `it holds ${[...set.inputs.keys(), ...set.outputs.keys()].join(', ') || 'nothing'}; the model's outputs are ${names(sig.outputs)}`,
        });
      }
      checkTensor(info, tensor, set.source, { anyFloat: true });
      if (tensor.dtype !== info.dtype) widened.add(`${info.name} ${tensor.dtype}→${info.dtype}`);
    }
  }
  if (widened.size) result.notes.push(`outputs compared across float types (both widened to float64): ${[...widened].join(', ')}`);
  return result;
}

/** With `cast`, float inputs converted to the model's float types, each conversion named once in `casts`. */
function castFloats(inputs: TensorInfo[], tensors: TensorMap, cast: boolean, casts: Set<string>): TensorMap {
  if (!cast) return tensors;
  const out = castInputs(inputs, tensors);
  for (const [name, tensor] of out) {
    const given = tensors.get(name)!.dtype;
    if (tensor.dtype !== given) casts.add(`${name} ${given}→${tensor.dtype}`);
  }
  return out;
}

const castNote = (casts: Set<string>) => (casts.size ? [`reference inputs cast to the model's float types: ${[...casts].join(', ')}`] : []);

/**
 * A batch of 0 samples gives the model nothing to run on (onnxruntime then fails deep inside a
 * Reshape). Other dims may be 0 (a decoder's past key/values start with no past), and so may a
 * list: a 1-D input of no elements (ONNX's test_sequence_model8 splits one).
 */
function refuseEmptyBatch(info: TensorInfo, tensor: Tensor, source: string): void {
  if (tensor.shape.length < 2) return;
  const axis = tensor.shape.findIndex((size, i) => size === 0 && isBatchAxis(info.shape?.[i]));
  if (axis < 0) return;
  throw new InputError(`${source}: input '${info.name}' is empty (shape [${tensor.shape.join(', ')}]): a batch of 0 samples gives the model nothing to run on`, {
    kind: 'empty-input',
    hint: 'give at least one sample of every input',
  });
}

const isBatchAxis = (dim: string | number | null | undefined) => typeof dim === 'string' && isBatchLike(dim);

async function readFile(file: string, sig: ModelSignature, withOutputs: boolean): Promise<DataSets> {
  const casts = new Set<string>();
  const tensors = castFloats(sig.inputs, await readTensorFile(file), withOutputs, casts);
  // Checked before picking, against all the file holds, so that a missing input's hint names what is there.
  checkInputs(sig.inputs, tensors, file);
  const pick = (infos: TensorInfo[]) => new Map(infos.filter((i) => tensors.has(i.name)).map((i) => [i.name, tensors.get(i.name)!]));
  const known = new Set([...sig.inputs, ...(withOutputs ? sig.outputs : [])].map((i) => i.name));
  const unused = [...tensors.keys()].filter((k) => !known.has(k));
  return {
    sets: [{ source: file, inputs: pick(sig.inputs), outputs: withOutputs ? pick(sig.outputs) : new Map() }],
    notes: [...castNote(casts), ...(unused.length ? [`${file}: ignored ${unused.join(', ')} (not ${withOutputs ? 'an input or output' : 'an input'} of the model)`] : [])],
  };
}

async function readFolder(dir: string, sig: ModelSignature, withOutputs: boolean): Promise<DataSets> {
  const folders = fs.readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && DATA_SET.test(e.name))
    .map((e) => e.name)
    .sort((a, b) => Number(DATA_SET.exec(a)![1]) - Number(DATA_SET.exec(b)![1]));
  if (folders.length === 0) {
    throw new InputError(`${dir} holds no test_data_set_* folders`, { hint: 'an ONNX test folder holds test_data_set_N/input_i.pb and output_i.pb (and model.onnx)' });
  }
  const sets: DataSet[] = [];
  const casts = new Set<string>();
  for (const folder of folders) {
    const source = path.join(dir, folder);
    const inputs = castFloats(sig.inputs, await readProtos(source, 'input', sig.inputs), withOutputs, casts);
    checkInputs(sig.inputs, inputs, source);
    sets.push({ source, inputs, outputs: withOutputs ? await readProtos(source, 'output', sig.outputs) : new Map() });
  }
  return { sets, notes: castNote(casts) };
}

/** `input_N.pb` files of one data set: matched by the TensorProto's name when it has one, else by position N. */
async function readProtos(source: string, what: 'input' | 'output', infos: TensorInfo[]): Promise<TensorMap> {
  const pattern = new RegExp(`^${what}_(\\d+)\\.pb$`);
  const files = fs.readdirSync(source)
    .map((f) => ({ f, m: pattern.exec(f) }))
    .filter((x): x is { f: string; m: RegExpExecArray } => x.m !== null)
    .sort((a, b) => Number(a.m[1]) - Number(b.m[1]));
  const tensors: TensorMap = new Map();
  for (const { f, m } of files) {
    const file = path.join(source, f);
    const { name, tensor } = await readTensorPb(file);
    const info = name ? infos.find((i) => i.name === name) : infos[Number(m[1])];
    if (!info) {
      const problem = name ? `holds '${name}', which is not an ${what} of the model` : `is ${what} ${m[1]} but the model has ${infos.length} ${what}s`;
      throw new InputError(`${file} ${problem}`, { kind: `unknown-${what}`, hint: `the model's ${what}s are ${names(infos)}` });
    }
    if (tensors.has(info.name)) throw new InputError(`${file}: a second tensor for ${what} '${info.name}'`, { kind: `duplicate-${what}` });
    tensors.set(info.name, tensor);
  }
  return tensors;
}

function names(infos: TensorInfo[]): string {
  return infos.map((i) => i.name).join(', ') || 'none';
}
