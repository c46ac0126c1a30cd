import { InputError } from '../errors.js';
import type { TensorInfo } from '../onnx/signature.js';
import { generateInputs, checkInputs } from '../runtime/inputs.js';
import { GENERATED_DIMS, isBatchLike } from '../runtime/shapes.js';
import type { Dtype } from '../tensor/dtype.js';
import type { TensorMap } from '../tensor/tensor.js';
import { opt } from '../option-ref.js';

/**
 * The model inputs a convert declares: `input_ids:int64:batch,seq`. Each dim is a size or
 * a symbolic name; symbolic names become the ONNX model's dynamic axes.
 */
export interface InputSpec {
  name: string;
  dtype: Dtype;
  dims: (number | string)[];
}

/** dtypes that numpy, torch and onnxruntime-node all carry, so example data can cross every boundary. */
export const CONVERT_DTYPES: readonly Dtype[] = ['float32', 'float16', 'float64', 'int8', 'uint8', 'int16', 'int32', 'int64', 'bool'];

/** Names become ONNX value names and .npz member names. */
const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const SYMBOL = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function checkName(name: string, where: string): void {
  if (!NAME.test(name)) {
    throw new InputError(`${where}: '${name}' is not a usable tensor name`, { kind: 'usage', hint: 'use letters, digits, _ . - (starting with a letter or _)' });
  }
}

/** Parses `name:dtype:dims` (dims comma-separated; empty for a scalar). */
export function parseInputSpec(text: string): InputSpec {
  const parts = text.split(':');
  const usage = { kind: 'usage', hint: `e.g. ${opt('inputs', 'input_ids:int64:batch,seq')} or ${opt('inputs', 'image:float32:batch,3,224,224')}` };
  if (parts.length !== 3) throw new InputError(`${opt('inputs', text)}: expected name:dtype:dims`, usage);
  const [name, dtype, dimText] = parts;
  checkName(name, opt('inputs', text));
  if (!(CONVERT_DTYPES as readonly string[]).includes(dtype)) {
    throw new InputError(`${opt('inputs', text)}: dtype '${dtype}' is not one of ${CONVERT_DTYPES.join(', ')}`, { kind: 'usage' });
  }
  const dims = dimText === '' ? [] : dimText.split(',').map((d) => {
    if (/^\d+$/.test(d) && Number(d) > 0) return Number(d);
    if (SYMBOL.test(d)) return d;
    throw new InputError(`${opt('inputs', text)}: dim '${d}' is neither a positive size nor a symbolic name`, usage);
  });
  return { name, dtype: dtype as Dtype, dims };
}

export function checkSpecs(specs: InputSpec[]): void {
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.name)) throw new InputError(`${opt('inputs', spec.name)} is declared twice`, { kind: 'usage' });
    seen.add(spec.name);
  }
}

export const asTensorInfo = (spec: InputSpec): TensorInfo => ({ name: spec.name, dtype: spec.dtype, shape: spec.dims });

/**
 * The generated-input sizes every command uses, except that a batch-like dim exports at 2: at 1,
 * tracing may bake the size in, and torch.export specializes sizes 0 and 1 to constants.
 */
export const EXAMPLE_DIMS = { batch: Math.max(2, GENERATED_DIMS.batch), other: GENERATED_DIMS.other } as const;

export function exampleDimDefault(name: string): number {
  return isBatchLike(name) ? EXAMPLE_DIMS.batch : EXAMPLE_DIMS.other;
}

/** The concrete example shapes: `dims` values, else the defaults above. */
export function exampleShapes(specs: InputSpec[], dims: Record<string, number>): Map<string, number[]> {
  const symbols = new Set(specs.flatMap((s) => s.dims.filter((d): d is string => typeof d === 'string')));
  for (const name of Object.keys(dims)) {
    if (!symbols.has(name)) {
      throw new InputError(`${opt('exampleDims', name)}: no ${opt('inputs')} has a symbolic dim '${name}'`, {
        kind: 'usage', hint: symbols.size ? `the symbolic dims are ${[...symbols].join(', ')}` : 'every declared dim is fixed',
      });
    }
  }
  return new Map(specs.map((s) => [s.name, s.dims.map((d) => (typeof d === 'number' ? d : dims[d] ?? exampleDimDefault(d)))]));
}

/** Generated example tensors: floats standard normal, integers 0..99, as `check` generates them. */
export function generateExamples(specs: InputSpec[], dims: Record<string, number>): TensorMap {
  return generateInputs(specs.map(asTensorInfo), exampleShapes(specs, dims), { seed: 0, intRange: [0, 100] });
}

/**
 * Example tensors from a file. With declared inputs, every one must be there with its dtype and
 * dims; without, the file's members (in order) are the inputs, with fixed dims.
 */
export function specsFromExamples(specs: InputSpec[], tensors: TensorMap, file: string): InputSpec[] {
  if (specs.length > 0) {
    checkInputs(specs.map(asTensorInfo), tensors, opt('exampleInputs', file));
    return specs;
  }
  return [...tensors].map(([name, tensor]) => {
    checkName(name, opt('exampleInputs', file));
    if (!CONVERT_DTYPES.includes(tensor.dtype)) {
      throw new InputError(`${opt('exampleInputs', file)}: '${name}' is ${tensor.dtype}, not one of ${CONVERT_DTYPES.join(', ')}`);
    }
    return { name, dtype: tensor.dtype, dims: tensor.shape };
  });
}
