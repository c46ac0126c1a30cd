import fs from 'node:fs';
import path from 'node:path';
import { InputError, fileError } from '../../errors.js';
import { type ModelSignature, type TensorInfo, formatShape } from '../../onnx/signature.js';
import { checkInputs } from '../../runtime/inputs.js';
import { isBatchLike } from '../../runtime/shapes.js';
import { dtypeInfo } from '../../tensor/dtype.js';
import { readTensorFile } from '../../tensor/files.js';
import { type Tensor, type TensorMap, elementCount } from '../../tensor/tensor.js';

export const DEFAULT_BATCH = 8;

/**
 * Calibration data as batches the model can run: one file (`.npz` keyed by input name, every
 * input stacked along axis 0) split into batches of `batchSize` samples, or a folder of
 * `.npz` files or ONNX test data sets (`test_data_set_N` folders of `input_M.pb`), one batch each.
 * Names, dtypes and shapes are checked against the model's inputs. Arrays named like the
 * model's outputs are dropped, so a reference file (inputs and expected outputs) serves too.
 */
export async function readCalibration(source: string, { inputs, outputs }: ModelSignature, batchSize = DEFAULT_BATCH): Promise<TensorMap[]> {
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(source);
  } catch (error) {
    throw fileError(source, error, 'calibration data');
  }
  const sets = stat.isDirectory() ? await readFolder(source, inputs) : splitBatches(await readTensorFile(source), inputs, batchSize, source);
  if (sets.length === 0) throw new InputError(`calibration data ${source} holds no samples`);
  for (const set of sets) for (const output of outputs) set.delete(output.name);
  sets.forEach((set, i) => checkSet(set, inputs, sets.length > 1 ? `calibration data ${source} (batch ${i + 1})` : `calibration data ${source}`));
  return sets;
}

function checkSet(set: TensorMap, inputs: TensorInfo[], where: string): void {
  const names = new Set(inputs.map((i) => i.name));
  for (const name of set.keys()) {
    if (!names.has(name)) {
      throw new InputError(`${where} has '${name}', which is not an input of the model`, { hint: `the model's inputs are ${[...names].join(', ')}` });
    }
  }
  checkInputs(inputs, set, where);
}

async function readFolder(dir: string, inputs: TensorInfo[]): Promise<TensorMap[]> {
  const entries = (await fs.promises.readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  const dataSets = entries.filter((e) => e.isDirectory() && e.name.startsWith('test_data_set_'));
  if (dataSets.length > 0) return Promise.all(dataSets.map((e) => readDataSet(path.join(dir, e.name), inputs)));
  const files = entries.filter((e) => e.isFile() && e.name.endsWith('.npz'));
  if (files.length === 0) {
    throw new InputError(`calibration folder ${dir} has no test_data_set_* folders and no .npz files`, { hint: 'give an .npz file keyed by input name, or a folder of them' });
  }
  return Promise.all(files.map((e) => readTensorFile(path.join(dir, e.name))));
}

/** input_N.pb files; a TensorProto without a name takes the name of the model's N-th input. */
async function readDataSet(dir: string, inputs: TensorInfo[]): Promise<TensorMap> {
  const files = (await fs.promises.readdir(dir)).filter((f) => /^input_\d+\.pb$/.test(f));
  const set: TensorMap = new Map();
  for (const file of files) {
    const index = Number(/\d+/.exec(file)![0]);
    const [[name, tensor]] = await readTensorFile(path.join(dir, file));
    const named = name === path.basename(file, '.pb') ? inputs[index]?.name ?? name : name;
    set.set(named, tensor);
  }
  return set;
}

/**
 * Splits stacked samples along axis 0. Inputs whose first dim is fixed keep that many rows per
 * batch; a batch-like symbolic first dim takes `batchSize`; any other input is not split.
 */
function splitBatches(all: TensorMap, inputs: TensorInfo[], batchSize: number, where: string): TensorMap[] {
  const rowsPerBatch = inputs.map((input) => {
    const first = input.shape?.[0];
    if (typeof first === 'number' && first > 0) return first;
    return first === null || (typeof first === 'string' && isBatchLike(first)) ? batchSize : undefined;
  });
  const split = inputs.filter((input, i) => rowsPerBatch[i] !== undefined && (all.get(input.name)?.shape.length ?? 0) > 0);
  if (split.length === 0) return [all];
  const samples = split.map((input) => all.get(input.name)!.shape[0]);
  if (samples.some((n) => n !== samples[0])) {
    const rows = split.map((input) => `${input.name} ${formatShape(all.get(input.name)!.shape)}`).join(', ');
    throw new InputError(`calibration data ${where}: inputs hold different numbers of samples along axis 0 (${rows})`);
  }
  const batches = Math.ceil(samples[0] / rowsPerBatch[inputs.indexOf(split[0])]!);
  return Array.from({ length: batches }, (_, b) => {
    const set: TensorMap = new Map();
    for (const [name, tensor] of all) {
      const i = inputs.findIndex((input) => input.name === name);
      const rows = i >= 0 ? rowsPerBatch[i] : undefined;
      set.set(name, rows === undefined || tensor.shape.length === 0 ? tensor : sliceRows(tensor, b * rows, rows));
    }
    return set;
  });
}

function sliceRows(tensor: Tensor, from: number, count: number): Tensor {
  const rows = Math.min(count, tensor.shape[0] - from);
  const rowSize = elementCount(tensor.shape.slice(1)) * dtypeInfo(tensor.dtype).lanes;
  const data = Array.isArray(tensor.data)
    ? tensor.data.slice(from * rowSize, (from + rows) * rowSize)
    : tensor.data.subarray(from * rowSize, (from + rows) * rowSize);
  return { dtype: tensor.dtype, shape: [rows, ...tensor.shape.slice(1)], data };
}
