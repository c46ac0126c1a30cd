import { InputError } from '../errors.js';
import type { TensorInfo } from '../onnx/signature.js';
import { checkInputs, generateInputs } from '../runtime/inputs.js';
import { type ShapeSpec } from '../runtime/shapes.js';
import { dtypeInfo } from '../tensor/dtype.js';
import { readTensorFile } from '../tensor/files.js';
import { type Tensor, type TensorMap, floatToBfloat16, floatToHalf, toFloat64, zeros } from '../tensor/tensor.js';
import { type BenchCase, batchOf, benchCases } from './sweep.js';

export interface InputSource {
  /** a tensor file holding every input (one case; its shapes are the tensors') */
  inputs?: string;
  seed?: number;
  intRange?: [number, number];
}

/** A case with the tensors every model of the run is fed. */
export interface FedCase extends BenchCase {
  feeds: TensorMap;
}

/**
 * The cases of a run and their inputs, built once from the first model's signature: generated
 * per case (seeded, so the same for every model), or read from one file.
 */
export async function runCases(inputs: TensorInfo[], spec: ShapeSpec, batch: number[] | undefined, source: InputSource): Promise<FedCase[]> {
  if (!source.inputs) {
    return benchCases(inputs, spec, batch).map((c) => ({
      ...c,
      feeds: generateInputs(inputs, new Map(Object.entries(c.shapes)), { seed: source.seed, intRange: source.intRange }),
    }));
  }
  if (batch || Object.keys(spec.shapes).length || Object.keys(spec.dims).length) {
    throw new InputError('--inputs fixes every shape; it cannot be combined with --shape, --dim or --batch', { kind: 'usage' });
  }
  const all = await readTensorFile(source.inputs);
  checkInputs(inputs, all, source.inputs);
  const feeds: TensorMap = new Map(inputs.map((i) => [i.name, all.get(i.name)!]));
  const shapes = Object.fromEntries(inputs.map((i) => [i.name, feeds.get(i.name)!.shape]));
  return [{ shapes, batch: batchOf(inputs, shapes), defaulted: [], feeds }];
}

/**
 * The case's tensors for one model. A model converted to float16 with float16 inputs gets the
 * same values converted, so an FP32 and an FP16 model are timed on the same data.
 */
export function feedsFor(inputs: TensorInfo[], feeds: TensorMap, model: string): TensorMap {
  const out: TensorMap = new Map();
  for (const input of inputs) {
    const tensor = feeds.get(input.name);
    if (!tensor) {
      throw new InputError(`${model} takes an input '${input.name}' that the first model of the run does not`, {
        hint: 'models benchmarked side by side must take the same inputs',
      });
    }
    out.set(input.name, tensor.dtype !== input.dtype && bothFloat(tensor, input) ? castFloat(tensor, input) : tensor);
  }
  checkInputs(inputs, out, model);
  return out;
}

function bothFloat(tensor: Tensor, input: TensorInfo): boolean {
  return dtypeInfo(tensor.dtype).kind === 'float' && dtypeInfo(input.dtype).kind === 'float' && !input.dtype.startsWith('float8');
}

const encoders: Partial<Record<Tensor['dtype'], (v: number) => number>> = { float16: floatToHalf, bfloat16: floatToBfloat16 };

function castFloat(tensor: Tensor, input: TensorInfo): Tensor {
  const values = toFloat64(tensor);
  const out = zeros(input.dtype, tensor.shape);
  const encode = encoders[input.dtype] ?? ((v: number) => v);
  const data = out.data as Float32Array;
  for (let i = 0; i < values.length; i++) data[i] = encode(values[i]);
  return out;
}
