import { castInputs } from '../accuracy/inputs.js';
import { readDataSets } from '../accuracy/reference.js';
import { InputError } from '../errors.js';
import type { TensorInfo } from '../onnx/signature.js';
import { checkInputs, generateInputs, generatedRoles } from '../runtime/inputs.js';
import type { ShapeSpec } from '../runtime/shapes.js';
import type { TensorMap } from '../tensor/tensor.js';
import { type BenchCase, batchOf, benchCases } from './sweep.js';
import { opt } from '../option-ref.js';

export interface InputSource {
  /** a tensor file or an ONNX test data folder holding every input (one case; its shapes are the tensors') */
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
 * per case (seeded, so the same for every model), or read from one file; with notes on how.
 */
export async function runCases(inputs: TensorInfo[], spec: ShapeSpec, batch: number[] | undefined, source: InputSource): Promise<{ cases: FedCase[]; notes: string[] }> {
  if (!source.inputs) {
    const cases = benchCases(inputs, spec, batch).map((c) => ({
      ...c,
      feeds: generateInputs(inputs, new Map(Object.entries(c.shapes)), { seed: source.seed, intRange: source.intRange }),
    }));
    const defaulted = [...new Set(cases.flatMap((c) => c.defaulted))];
    const roles = generatedRoles(inputs);
    return {
      cases,
      notes: [
        ...(defaulted.length ? [`dims not given take defaults: ${defaulted.join(', ')}`] : []),
        ...(roles.length ? [`generated inputs: ${roles.join(', ')}`] : []),
      ],
    };
  }
  if (batch || Object.keys(spec.shapes).length || Object.keys(spec.dims).length) {
    throw new InputError(`${opt('inputs')} fixes every shape; it cannot be combined with ${opt('shapes')}, ${opt('dims')} or ${opt('batch')}`, { kind: 'usage' });
  }
  const { sets, notes } = await readDataSets(source.inputs, { inputs, outputs: [] }, false);
  const [{ inputs: feeds, source: from }] = sets;
  const shapes = Object.fromEntries(inputs.map((i) => [i.name, feeds.get(i.name)!.shape]));
  return {
    cases: [{ shapes, batch: batchOf(inputs, shapes), defaulted: [], feeds }],
    notes: [...notes, ...(sets.length > 1 ? [`timing ${from}, the first of ${sets.length} data sets`] : [])],
  };
}

/**
 * The case's tensors for one model. A model converted to float16 with float16 inputs gets the
 * same values converted, so an FP32 and an FP16 model are timed on the same data.
 */
export function feedsFor(inputs: TensorInfo[], feeds: TensorMap, model: string): TensorMap {
  const missing = inputs.find((i) => !feeds.has(i.name));
  if (missing) {
    throw new InputError(`${model} takes an input '${missing.name}' that the first model of the run does not`, {
      hint: 'models benchmarked side by side must take the same inputs',
    });
  }
  const cast = castInputs(inputs, feeds);
  const out: TensorMap = new Map(inputs.map((i) => [i.name, cast.get(i.name)!]));
  checkInputs(inputs, out, model);
  return out;
}
