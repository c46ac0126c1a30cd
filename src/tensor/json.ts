import { z } from 'zod';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { DTYPES, dtypeInfo } from './dtype.js';
import { type Tensor, type TensorMap, elementCount, floatToBfloat16, floatToHalf, numberAt, zeros } from './tensor.js';
import { readText } from '../io/read.js';

/**
 * tdeploy's JSON form of named tensors:
 * `{"name": {"dtype": "float32", "shape": [2, 3], "data": [...row-major values...]}}`.
 * float16/bfloat16 values are written as numbers; 64-bit integers beyond 2^53 and non-finite
 * floats as strings ("9007199254740993", "NaN", "Infinity", "-Infinity").
 */
const Value = z.union([z.number(), z.string(), z.boolean()]);
const JsonTensor = z.object({ dtype: z.enum(DTYPES), shape: z.array(z.number().int().nonnegative()), data: z.array(Value) }).strict();
const JsonTensors = z.record(z.string(), JsonTensor);

export function tensorsToJson(tensors: TensorMap): string {
  const out: Record<string, z.infer<typeof JsonTensor>> = {};
  for (const [name, tensor] of tensors) {
    const data: (number | string | boolean)[] = [];
    for (let i = 0; i < tensor.data.length; i++) data.push(jsonValue(tensor, i));
    out[name] = { dtype: tensor.dtype, shape: tensor.shape, data };
  }
  return JSON.stringify(out);
}

function jsonValue(tensor: Tensor, i: number): number | string | boolean {
  if (tensor.dtype === 'string') return (tensor.data as string[])[i];
  if (tensor.dtype === 'bool') return (tensor.data as Uint8Array)[i] !== 0;
  const raw = (tensor.data as ArrayLike<number | bigint>)[i];
  if (typeof raw === 'bigint') return Number.isSafeInteger(Number(raw)) ? Number(raw) : raw.toString();
  const v = numberAt(tensor, i);
  return Number.isFinite(v) ? v : String(v);
}

export function tensorsFromJson(text: string, where: string): TensorMap {
  let parsed: z.infer<typeof JsonTensors>;
  try {
    parsed = JsonTensors.parse(JSON.parse(text));
  } catch (error) {
    throw new InputError(`${where}: not a tdeploy tensor JSON file (${error instanceof z.ZodError ? error.issues[0].message : (error as Error).message})`);
  }
  const out: TensorMap = new Map();
  for (const [name, { dtype, shape, data }] of Object.entries(parsed)) {
    const tensor = zeros(dtype, shape);
    const info = dtypeInfo(dtype);
    const expected = elementCount(shape) * info.lanes;
    if (info.bits > 0 && info.bits < 8) throw new InputError(`${where}: '${name}': ${dtype} is not supported in JSON`);
    if (data.length !== expected) throw new InputError(`${where}: '${name}' has ${data.length} values, shape [${shape.join(', ')}] needs ${expected}`);
    const target = tensor.data as unknown as Record<number, unknown>;
    data.forEach((v, i) => {
      if (dtype === 'string') target[i] = String(v);
      else if (info.array.startsWith('Big')) target[i] = BigInt(typeof v === 'boolean' ? Number(v) : v);
      else {
        const n = Number(v);
        target[i] = dtype === 'float16' ? floatToHalf(n) : dtype === 'bfloat16' ? floatToBfloat16(n) : n;
      }
    });
    out.set(name, tensor);
  }
  return out;
}

export async function readTensorJson(file: string): Promise<TensorMap> {
  const text = await readText(file);
  return tensorsFromJson(text, file);
}

export function writeTensorJson(file: string, tensors: TensorMap): Promise<void> {
  return writeFileAtomic(file, tensorsToJson(tensors));
}
