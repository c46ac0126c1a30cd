import fs from 'node:fs';
import { InputError, fileError } from '../../errors.js';
import { type DataSet, readDataSets } from '../../accuracy/reference.js';
import { type ModelSignature, type TensorInfo, formatShape } from '../../onnx/signature.js';
import { checkInputs } from '../../runtime/inputs.js';
import { isBatchLike } from '../../runtime/shapes.js';
import { dtypeInfo } from '../../tensor/dtype.js';
import { type Tensor, type TensorMap, elementCount } from '../../tensor/tensor.js';

export const DEFAULT_BATCH = 8;

export interface Batches {
  batches: TensorMap[];
  notes: string[];
}

/**
 * Calibration data as batches the model can run. The data is read as check's input data is read
 * (a tensor file keyed by input name, or a folder of ONNX test data sets) and every set is split
 * along axis 0 into batches of `batchSize` samples, so one stacked .npz calibrates in steps.
 */
export async function readCalibration(source: string, sig: ModelSignature, batchSize = DEFAULT_BATCH): Promise<Batches> {
  try {
    fs.statSync(source);
  } catch (error) {
    throw fileError(source, error, 'calibration data');
  }
  // A fixed first dim (batch 1) is checked batch by batch, after splitting the stacked samples.
  const stacked = sig.inputs.map((i) => (typeof i.shape?.[0] === 'number' ? { ...i, shape: [null, ...i.shape.slice(1)] } : i));
  try {
    const { sets, notes } = await readDataSets(source, { inputs: stacked, outputs: sig.outputs }, false);
    const batches = sets.flatMap((set) => splitBatches(set, sig.inputs, batchSize).map((batch, i, all) => {
      checkInputs(sig.inputs, batch, all.length > 1 ? `${set.source} (batch ${i + 1})` : set.source);
      return batch;
    }));
    if (batches.length === 0) throw new InputError(`${source} holds no samples`);
    return { batches, notes };
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    throw new InputError(`calibration data ${error.message}`, { hint: error.hint, kind: error.kind, cause: error });
  }
}

/**
 * Splits stacked samples along axis 0. Inputs whose first dim is fixed keep that many rows per
 * batch; a batch-like symbolic first dim takes `batchSize`; any other input is not split.
 */
function splitBatches({ inputs: all, source }: DataSet, inputs: TensorInfo[], batchSize: number): TensorMap[] {
  const rowsPerBatch = new Map(inputs.map((input) => {
    const first = input.shape?.[0];
    if (typeof first === 'number' && first > 0) return [input.name, first];
    return [input.name, first === null || (typeof first === 'string' && isBatchLike(first)) ? batchSize : undefined];
  }));
  const split = inputs.filter((input) => rowsPerBatch.get(input.name) !== undefined && all.get(input.name)!.shape.length > 0);
  if (split.length === 0) return [all];
  const samples = split.map((input) => all.get(input.name)!.shape[0]);
  if (samples.some((n) => n !== samples[0])) {
    const rows = split.map((input) => `${input.name} ${formatShape(all.get(input.name)!.shape)}`).join(', ');
    throw new InputError(`${source}: inputs hold different numbers of samples along axis 0 (${rows})`);
  }
  const batches = Math.ceil(samples[0] / rowsPerBatch.get(split[0].name)!);
  return Array.from({ length: batches }, (_, b) => new Map([...all].map(([name, tensor]) => {
    const rows = rowsPerBatch.get(name);
    return [name, rows === undefined || tensor.shape.length === 0 ? tensor : sliceRows(tensor, b * rows, rows)];
  })));
}

function sliceRows(tensor: Tensor, from: number, count: number): Tensor {
  const rows = Math.min(count, tensor.shape[0] - from);
  const rowSize = elementCount(tensor.shape.slice(1)) * dtypeInfo(tensor.dtype).lanes;
  const data = Array.isArray(tensor.data)
    ? tensor.data.slice(from * rowSize, (from + rows) * rowSize)
    : tensor.data.subarray(from * rowSize, (from + rows) * rowSize);
  return { dtype: tensor.dtype, shape: [rows, ...tensor.shape.slice(1)], data };
}
