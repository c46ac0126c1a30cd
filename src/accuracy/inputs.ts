/**
 * The inputs a comparison feeds: generated from a signature when none are given, and cast to the
 * float type each model declares (an fp16 model with fp16 I/O against its fp32 original).
 */
import { InputError } from '../errors.js';
import type { ModelSignature, TensorInfo } from '../onnx/signature.js';
import { generateInputs, generatedRoles } from '../runtime/inputs.js';
import { type ShapeSpec, emptyShapeSpec, resolveShapes } from '../runtime/shapes.js';
import { isFloat } from '../tensor/dtype.js';
import { type Tensor, type TensorMap, floatToBfloat16, floatToHalf, toFloat64 } from '../tensor/tensor.js';
import type { DataSet } from './reference.js';
import { opt } from '../option-ref.js';

/** One input set generated from the signature, and notes saying how (seed, range, dims that took defaults). */
export function generatedSets(sig: ModelSignature, spec: ShapeSpec = emptyShapeSpec(), seed = 0, intRange: [number, number] = [0, 100]): { sets: DataSet[]; notes: string[] } {
  const { shapes, defaulted } = resolveShapes(sig.inputs, spec);
  const [lo, hi] = intRange;
  const inputs = generateInputs(sig.inputs, shapes, { seed, intRange: [lo, hi] });
  const roles = generatedRoles(sig.inputs);
  const notes = [`inputs generated with seed ${seed} (floats standard normal, integers in ${lo}..${hi}${roles.length ? `; ${roles.join(', ')}` : ''})`];
  if (defaulted.length) notes.push(`symbolic dims without ${opt('dims')} took defaults: ${defaulted.join(', ')}`);
  return { sets: [{ source: 'generated inputs', inputs, outputs: new Map() }], notes };
}

/** Float inputs converted to the float type the model declares; everything else passes as given. */
export function castInputs(inputs: TensorInfo[], set: TensorMap): TensorMap {
  const out: TensorMap = new Map(set);
  for (const info of inputs) {
    const tensor = set.get(info.name);
    if (tensor && tensor.dtype !== info.dtype && isFloat(tensor.dtype) && isFloat(info.dtype)) out.set(info.name, castFloat(tensor, info.dtype));
  }
  return out;
}

const FLOAT_ENCODERS: Record<string, (values: Float64Array) => Tensor['data']> = {
  float32: (v) => Float32Array.from(v),
  float64: (v) => v,
  float16: (v) => Uint16Array.from(v, floatToHalf),
  bfloat16: (v) => Uint16Array.from(v, floatToBfloat16),
};

function castFloat(tensor: Tensor, dtype: TensorInfo['dtype']): Tensor {
  const encode = FLOAT_ENCODERS[dtype];
  if (!encode) throw new InputError(`cannot feed ${tensor.dtype} values to a ${dtype} input`);
  return { dtype, shape: tensor.shape, data: encode(toFloat64(tensor)) };
}

/** Notes on the dtypes the two models disagree on. */
export function castSummary(reference: ModelSignature, candidate: ModelSignature): string[] {
  const differ = (list: TensorInfo[], other: TensorInfo[]) => list.flatMap((t) => {
    const o = other.find((x) => x.name === t.name);
    return o && o.dtype !== t.dtype ? [`${t.name} ${t.dtype}→${o.dtype}`] : [];
  });
  const inputs = differ(reference.inputs, candidate.inputs);
  const outputs = differ(reference.outputs, candidate.outputs);
  return [
    ...(inputs.length ? [`inputs cast for the candidate: ${inputs.join(', ')}`] : []),
    ...(outputs.length ? [`outputs compared across float types: ${outputs.join(', ')}`] : []),
  ];
}
