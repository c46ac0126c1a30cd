/**
 * Input samples read from a file or folder, split into the batches a model runs: one reader for
 * static calibration, quantize's drift and check's `inputs`, so that one file gives the same
 * numbers everywhere.
 */
import fs from 'node:fs';
import { InputError, fileError } from '../errors.js';
import { type ModelSignature, type TensorInfo, formatShape } from '../onnx/signature.js';
import { checkInputs } from '../runtime/inputs.js';
import { batchDims } from '../runtime/shapes.js';
import { dtypeInfo } from '../tensor/dtype.js';
import { type Tensor, type TensorMap, elementCount } from '../tensor/tensor.js';
import { type DataSet, readDataSets } from './reference.js';

/** Samples per batch when a file of stacked samples is split. */
export const DEFAULT_BATCH = 8;

export interface Batches {
  batches: TensorMap[];
  notes: string[];
}

/**
 * Input samples as batches the model can run: what static calibration, quantize's drift and
 * check's `inputs` read, so that one file gives the same numbers everywhere. A folder of ONNX test
 * data sets gives one batch per set, as it is (a set is one sample of a stateful model, never
 * split). A tensor file holds samples stacked along axis 0 of the inputs whose first dim is the
 * model's batch; they are split into batches of `batchSize` (Infinity: one batch when the model
 * takes them together). Inputs without a batch axis (a
 * recurrent state, a scalar sample rate, a fixed leading dim given once) are repeated with every
 * batch, and then a batch is one sample: such a state holds one sample's worth.
 */
export async function readSamples(source: string, sig: ModelSignature, batchSize = DEFAULT_BATCH): Promise<Batches> {
  let folder: boolean;
  try {
    folder = fs.statSync(source).isDirectory();
  } catch (error) {
    throw fileError(source, error, 'inputs');
  }
  if (folder) {
    const { sets, notes } = await readDataSets(source, sig, false);
    return { batches: sets.map((s) => s.inputs), notes };
  }
  // A fixed first dim (batch 1) is checked batch by batch, after splitting the stacked samples.
  const stacked = sig.inputs.map((i) => (typeof i.shape?.[0] === 'number' ? { ...i, shape: [null, ...i.shape.slice(1)] } : i));
  const { sets, notes } = await readDataSets(source, { inputs: stacked, outputs: sig.outputs }, false);
  const batches = sets.flatMap((set) => {
    const split = splitSamples(set, sig.inputs, batchSize);
    if (split.note) notes.push(split.note);
    return split.batches.map((batch, i, all) => {
      checkInputs(sig.inputs, batch, all.length > 1 ? `${set.source} (batch ${i + 1})` : set.source);
      return batch;
    });
  });
  return { batches, notes };
}

/**
 * Rows of one sample of an input: 1 along a batch dim, the fixed size of a fixed first dim when
 * the tensor stacks several of them; undefined when the tensor is given once (repeated).
 */
function rowsPerSample(input: TensorInfo, tensor: Tensor, batch: Set<string>): number | undefined {
  if (tensor.shape.length === 0) return undefined;
  const first = input.shape?.[0];
  if (first === null || (typeof first === 'string' && batch.has(first))) return 1;
  if (typeof first === 'number' && first > 0 && tensor.shape[0] !== first && tensor.shape[0] % first === 0) return first;
  return undefined;
}

function splitSamples({ inputs: all, source }: DataSet, inputs: TensorInfo[], batchSize: number): { batches: TensorMap[]; note?: string } {
  const batch = batchDims(inputs);
  const rows = new Map(inputs.map((input) => [input.name, rowsPerSample(input, all.get(input.name)!, batch)]));
  const split = inputs.filter((input) => rows.get(input.name) !== undefined);
  if (split.length === 0) return { batches: [all] };
  const counts = split.map((input) => all.get(input.name)!.shape[0] / rows.get(input.name)!);
  if (counts.some((n) => n !== counts[0])) {
    const shapes = split.map((input) => `${input.name} ${formatShape(all.get(input.name)!.shape)}`).join(', ');
    throw new InputError(`${source}: inputs hold different numbers of samples along axis 0 (${shapes})`, {
      hint: 'inputs whose first dim is the batch are split into samples; the others are given once and repeated with each',
    });
  }
  const repeated = inputs.filter((input) => rows.get(input.name) === undefined && all.get(input.name)!.shape.length > 0);
  // A fixed first dim takes exactly its rows, and a repeated state one sample's worth.
  const perBatch = repeated.length > 0 || split.some((i) => rows.get(i.name)! > 1 || typeof i.shape?.[0] === 'number') ? 1 : batchSize;
  const samples = counts[0];
  if (perBatch >= samples) return { batches: [all] };
  const batches = Array.from({ length: Math.ceil(samples / perBatch) }, (_, b) => new Map([...all].map(([name, tensor]) => {
    const r = rows.get(name);
    return [name, r === undefined ? tensor : sliceRows(tensor, b * perBatch * r, perBatch * r)];
  })));
  const note = repeated.length === 0 ? undefined
    : `${source}: ${samples} sample(s) along axis 0 of ${split.map((i) => i.name).join(', ')}, run one at a time with ${repeated.map((i) => i.name).join(', ')} as given (no batch axis to split)`;
  return { batches, note };
}

function sliceRows(tensor: Tensor, from: number, count: number): Tensor {
  const rows = Math.min(count, tensor.shape[0] - from);
  const rowSize = elementCount(tensor.shape.slice(1)) * dtypeInfo(tensor.dtype).lanes;
  const data = Array.isArray(tensor.data)
    ? tensor.data.slice(from * rowSize, (from + rows) * rowSize)
    : tensor.data.subarray(from * rowSize, (from + rows) * rowSize);
  return { dtype: tensor.dtype, shape: [rows, ...tensor.shape.slice(1)], data };
}
